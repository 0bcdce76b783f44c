"""The multiclass hinge loss (the multiclass-hinge chapter), without a bias.

Classes ``0 .. K-1``: ``W: (d, K)`` holds one weight vector per column, ``X: (n, d)`` one
example per row, ``labels: (n,)`` integers. The scores are ``S = X W``, the classifier
predicts ``argmax_j S[i, j]`` and the loss of example ``i`` is

    l_i(W) = max_j (S[i, j] - S[i, y_i] + 1[j != y_i]),      f(W) = mean_i l_i(W).

The Weston-Watkins variant (a sum over ``j != y_i`` instead of the max) is
:func:`weston_watkins_losses`. The binary SVM and its dual (another chapter) live in
:mod:`mlderive.svm`.
"""

from __future__ import annotations

import numpy as np

from .validation import (
    as_float_array,
    as_rng,
    check_int_labels,
    nonnegative_int,
    nonnegative_number,
    positive_int,
    positive_number,
)


def _check_multiclass(W, X, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = as_float_array(X, "X", ndim=2, finite=True, min_rows=1)
    W = as_float_array(W, "W", ndim=2, finite=True)
    if W.shape[0] != X.shape[1]:
        raise ValueError(
            f"W must have shape ({X.shape[1]}, K): one row per feature of X {X.shape}; "
            f"got {W.shape}."
        )
    labels = check_int_labels(labels, X.shape[0], W.shape[1])
    return W, X, labels


def hinge_margins(W, X, labels) -> np.ndarray:
    """The terms of the multiclass hinge, ``A[i, j] = s_ij - s_{i y_i} + 1[j != y_i]``: (n, K).

    ``s = X W``. The entry ``A[i, y_i]`` is exactly 0 (a float minus itself).
    """
    W, X, labels = _check_multiclass(W, X, labels)
    scores = X @ W
    rows = np.arange(X.shape[0])
    margins = scores - scores[rows, labels][:, None] + 1.0
    margins[rows, labels] = 0.0
    return margins


def multiclass_hinge_losses(W, X, labels) -> np.ndarray:
    """Per-example multiclass hinge loss ``l_i = max_j A[i, j]``: (n,), always >= 0."""
    return hinge_margins(W, X, labels).max(axis=1)


def multiclass_hinge_loss(W, X, labels) -> float:
    """The training objective ``f(W) = mean_i l_i(W)``."""
    return float(np.mean(multiclass_hinge_losses(W, X, labels)))


def weston_watkins_losses(W, X, labels, margin: float = 1.0) -> np.ndarray:
    """Per-example Weston-Watkins loss ``sum_{j != y_i} max(0, s_ij - s_{i y_i} + margin)``: (n,).

    The multiclass SVM loss of the CS231n notes, with ``s = X W`` and ``margin`` (their
    ``Delta``) > 0. It sums the positive parts of the terms that
    :func:`multiclass_hinge_losses` maximises, so with ``margin = 1`` it lies between that
    loss and ``K - 1`` times it, and for ``K = 2`` the two are equal.
    """
    W, X, labels = _check_multiclass(W, X, labels)
    margin = positive_number(margin, "margin")
    scores = X @ W
    rows = np.arange(X.shape[0])
    terms = np.maximum(0.0, scores - scores[rows, labels][:, None] + margin)
    terms[rows, labels] = 0.0
    return terms.sum(axis=1)


def multiclass_hinge_subgradient(W, X, labels) -> np.ndarray:
    """A subgradient of ``f`` at ``W``: (d, K).

    For each example take a maximising class ``j_i`` of row ``i`` of :func:`hinge_margins`;
    the subgradient of ``l_i`` is ``x_i (e_{j_i} - e_{y_i})^T``. Ties are broken in favour of
    the true class, so an example with ``l_i = 0`` contributes zero. Where every row has a
    unique maximiser, ``f`` is differentiable and this is its gradient.
    """
    W, X, labels = _check_multiclass(W, X, labels)
    margins = hinge_margins(W, X, labels)
    rows = np.arange(X.shape[0])
    chosen = np.argmax(margins, axis=1)
    chosen = np.where(margins[rows, labels] >= margins[rows, chosen], labels, chosen)
    coefficients = np.zeros_like(margins)
    coefficients[rows, chosen] += 1.0
    coefficients[rows, labels] -= 1.0
    return X.T @ coefficients / X.shape[0]


def predict_classes(W, X) -> np.ndarray:
    """Arg-max classifier ``argmax_j (X W)[i, j]``: (n,); ties go to the lowest index."""
    X = as_float_array(X, "X", ndim=2, finite=True)
    W = as_float_array(W, "W", ndim=2, finite=True)
    if W.shape[0] != X.shape[1]:
        raise ValueError(
            f"W must have shape ({X.shape[1]}, K) to match X {X.shape}, got {W.shape}."
        )
    return np.argmax(X @ W, axis=1)


def zero_one_losses(W, X, labels) -> np.ndarray:
    """Per-example 0-1 loss of the arg-max classifier: (n,) floats in {0, 1}."""
    W, X, labels = _check_multiclass(W, X, labels)
    return (predict_classes(W, X) != labels).astype(np.float64)


def margin_gaps(W, X, labels) -> np.ndarray:
    """``g_i = max_{j != y_i} (s_ij - s_{i y_i})``: (n,). Negative iff ``y_i`` wins strictly."""
    W, X, labels = _check_multiclass(W, X, labels)
    if W.shape[1] < 2:
        raise ValueError(f"margin gaps need at least 2 classes (columns of W), got {W.shape[1]}.")
    scores = X @ W
    rows = np.arange(X.shape[0])
    others = scores.copy()
    others[rows, labels] = -np.inf
    return others.max(axis=1) - scores[rows, labels]


def separating_scale(W, X, labels) -> float:
    """The factor ``-1/M`` with ``M = max_i g_i`` (see :func:`margin_gaps`).

    Scaling a strict separator by it makes every gap at most -1, so the hinge loss vanishes.
    Raises ValueError when ``M >= 0``: then ``W`` does not separate the data strictly (some
    example is misclassified or tied with another class) and no positive scale works.
    """
    largest_gap = float(np.max(margin_gaps(W, X, labels)))
    if not largest_gap < 0:
        raise ValueError(
            f"W does not separate the data strictly: the largest margin gap is M = {largest_gap} "
            f">= 0, so -1/M is not a positive scale. Pass a W with X W[i, y_i] > X W[i, j] for "
            f"every example i and every class j != y_i."
        )
    return -1.0 / largest_gap


def planted_separable_data(
    n: int, d: int, num_classes: int, rng=None, min_gap: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random data that a planted ``W_planted: (d, K)`` separates with every gap <= -min_gap.

    Rows of ``X: (n, d)`` are standard normal; ``labels: (n,)`` are the arg-max classes of
    ``X W_planted``. Rows with a gap above ``-min_gap`` are redrawn (``min_gap = 0`` still
    drops exact ties). ``rng``: a ``numpy.random.Generator`` or an integer seed. Returns
    ``(X, labels, W_planted)``.
    """
    n, d = positive_int(n, "n"), positive_int(d, "d")
    if positive_int(num_classes, "num_classes") < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}.")
    min_gap = nonnegative_number(min_gap, "min_gap")
    rng = as_rng(rng, "rng")
    W_planted = rng.normal(size=(d, num_classes))
    kept: list[np.ndarray] = []
    count = 0
    for _ in range(1000):
        candidates = rng.normal(size=(2 * n, d))
        scores = np.sort(candidates @ W_planted, axis=1)
        good = candidates[scores[:, -2] - scores[:, -1] < -min_gap]
        kept.append(good)
        count += good.shape[0]
        if count >= n:
            break
    else:
        raise ValueError(f"min_gap = {min_gap} is too large: almost no random point satisfies it.")
    X = np.concatenate(kept)[:n]
    return X, np.argmax(X @ W_planted, axis=1), W_planted


def hinge_subgradient_descent(
    X, labels, num_classes: int, lr: float, max_steps: int, W0=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Subgradient descent ``W <- W - lr * G(W)`` on ``f`` from ``W0`` (default: zeros).

    Stops as soon as ``f(W) == 0`` exactly (then the subgradient is zero and the iterates would
    stay put) or after ``max_steps`` steps. Returns ``(W: (d, K), losses, errors)`` where
    ``losses[t]`` is ``f`` and ``errors[t]`` the training error rate after ``t`` steps.
    """
    X = as_float_array(X, "X", ndim=2, finite=True, min_rows=1)
    lr = positive_number(lr, "lr", " (the learning rate)")
    max_steps = nonnegative_int(max_steps, "max_steps")
    if positive_int(num_classes, "num_classes") < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}.")
    if W0 is None:
        W = np.zeros((X.shape[1], num_classes))
    else:
        W = as_float_array(W0, "W0", ndim=2, finite=True).astype(np.float64)
    check_int_labels(labels, X.shape[0], W.shape[1])  # every label, before the first step
    losses = [multiclass_hinge_loss(W, X, labels)]
    errors = [float(np.mean(zero_one_losses(W, X, labels)))]
    for _ in range(max_steps):
        if losses[-1] == 0.0:
            break
        W = W - lr * multiclass_hinge_subgradient(W, X, labels)
        losses.append(multiclass_hinge_loss(W, X, labels))
        errors.append(float(np.mean(zero_one_losses(W, X, labels))))
    return W, np.array(losses), np.array(errors)


__all__ = [
    "hinge_margins",
    "hinge_subgradient_descent",
    "margin_gaps",
    "multiclass_hinge_loss",
    "multiclass_hinge_losses",
    "multiclass_hinge_subgradient",
    "planted_separable_data",
    "predict_classes",
    "separating_scale",
    "zero_one_losses",
]
