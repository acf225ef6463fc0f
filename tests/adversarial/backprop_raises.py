"""A user backprop that raises: check must report it in one line with exit status 2."""


def backprop(params, x, y):
    raise ValueError("broken\nsymbackprop: error: a forged second line")
