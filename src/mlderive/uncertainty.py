"""How far a measured accuracy could move by chance: binomial standard errors.

An accuracy ``p`` measured on ``n`` test examples is a proportion. Drawn afresh, the examples
would give another proportion; its standard error is ``sqrt(p (1 - p) / n)``, never more than
``0.5 / sqrt(n)`` because ``p (1 - p) <= 1/4``. Two accuracies measured on independent samples
differ by chance with the standard error ``sqrt(se_1^2 + se_2^2)``. Both cover the sampling of
the test examples only, not the randomness of training (other seeds move accuracies too).
"""

from __future__ import annotations

import math

from .validation import positive_int, proportion


def accuracy_standard_error(accuracy: float, n: int) -> float:
    """``sqrt(p (1 - p) / n)``: the binomial standard error of an accuracy ``p`` measured on
    ``n`` independent examples."""
    p = proportion(accuracy, "accuracy", " (a fraction of examples classified correctly)")
    n = positive_int(n, "n")
    return math.sqrt(p * (1 - p) / n)


def difference_standard_error(first: float, second: float, n_first: int, n_second: int) -> float:
    """The standard error of ``first - second``, two accuracies measured on independent
    samples of ``n_first`` and ``n_second`` examples: ``sqrt(se_1^2 + se_2^2)``."""
    return math.hypot(
        accuracy_standard_error(first, n_first), accuracy_standard_error(second, n_second)
    )


__all__ = ["accuracy_standard_error", "difference_standard_error"]
