"""The stages of :func:`symbackprop.check.check`, in pipeline order.

- :mod:`.precision`: the working precision, and how reports write exact numbers;
- :mod:`.exact_tables`: the exact values at a point, to 60 significant digits;
- :mod:`.compare`: the float64 oracles (lambdified, reference, finite differences, the user's
  backprop) against those values;
- :mod:`.documented`: the ``[expected]`` table against them, and what explains its differences;
- :mod:`.report`: :class:`~symbackprop.check.CheckReport`, as text and as JSON;
- :mod:`.diagnosis`: the report's closing sentences.

Import the public names from :mod:`symbackprop.check`.
"""
