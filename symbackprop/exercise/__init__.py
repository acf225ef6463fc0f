"""Exercise sheets with checked answer keys, Moodle quizzes, and grading of students' answers.

Stages, one module each: :mod:`.architecture` (ARCH text or a spec -> the network to draw
numbers for), :mod:`.draw` (numbers fit for hand computation, checked exactly), :mod:`.key`
(the answers, exact and to 4 decimals, and the key as JSON), :mod:`.sheets` (Markdown and
LaTeX), :mod:`.moodle` (Moodle XML) and :mod:`.grade`.
"""
