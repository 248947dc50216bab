"""Learners (one module per algorithm) and the heuristics they are compared against.

``ALGOS`` maps an algorithm name to its module (each exposing ``Config`` and ``make_train``); the
training-stack issue fills it.
"""

ALGOS: dict = {}
