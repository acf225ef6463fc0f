"""Issue 16: every computing command ends within its bound, with the answer or exit status 3."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from resource_specs import CASES

from symbackprop.deadline import STOPPED, stopped_message

LIMIT = 10  # seconds of --time-limit for each slow network
GRACE = 60  # the subprocess's own bound past it: start-up on a loaded machine; a hang fails


def _run(args: list[str], limit: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "symbackprop", *args],
        capture_output=True,
        text=True,
        timeout=limit + GRACE,
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_slow_networks_end_within_the_limit(name: str, tmp_path: Path) -> None:
    spec = tmp_path / f"{name}.toml"
    spec.write_text(CASES[name], encoding="utf-8")
    output = tmp_path / "out.txt"
    result = _run(["derive", str(spec), "--time-limit", str(LIMIT), "-o", str(output)], LIMIT)
    assert result.returncode in (0, STOPPED), result.stderr
    if result.returncode == 0:
        assert output.read_text(encoding="utf-8")
        assert result.stderr == ""
    else:
        assert result.stderr == stopped_message("derive", LIMIT) + "\n"
        assert not output.exists()
        assert not list(tmp_path.glob(".symbackprop-*"))
