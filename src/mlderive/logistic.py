"""Binary logistic regression: ``p = sigmoid(X w + b)``, mean logistic loss, optional L2.

Shapes: ``X: (n, d)`` one row per example, ``w: (d,)``, ``b`` a scalar, labels ``y: (n,)``
with values in ``{0, 1}``. The loss is

    J(w, b) = (1/n) sum_i [log(1 + exp(z_i)) - y_i z_i] + (l2 / 2) ||w||^2,   z = X w + b,

which is the mean of ``-y log p - (1 - y) log(1 - p)`` written from the logits, so it is
finite for every finite ``z`` (no ``log(0)``). The bias is not penalised.
"""

from __future__ import annotations

import numpy as np

from .functions import logistic_loss_from_logits, sigmoid
from .validation import as_float_array, check_01_labels, nonnegative_number


def _check_parameters(w, b, X) -> tuple[np.ndarray, float, np.ndarray]:
    X = as_float_array(X, "X", ndim=2, finite=True, min_rows=1)
    w = as_float_array(w, "w", ndim=1, finite=True)
    if w.shape != (X.shape[1],):
        raise ValueError(f"w must have shape ({X.shape[1]},) to match X {X.shape}, got {w.shape}.")
    if np.ndim(b) != 0:
        raise ValueError(f"b must be a scalar (one bias for one logit), got shape {np.shape(b)}.")
    if not np.isfinite(b):
        raise ValueError(f"b must be a finite number, got {b!r}.")
    return w, float(b), X


def predict_proba(w, b, X) -> np.ndarray:
    """Probabilities of class 1, ``sigmoid(X w + b): (n,)``."""
    w, b, X = _check_parameters(w, b, X)
    return sigmoid(X @ w + b)


def predict(w, b, X) -> np.ndarray:
    """Predicted labels ``(n,)`` in ``{0, 1}``: 1 where the logit is >= 0 (probability >= 1/2)."""
    w, b, X = _check_parameters(w, b, X)
    return (X @ w + b >= 0).astype(np.int64)


def loss(w, b, X, y, l2: float = 0.0) -> float:
    """The regularised mean logistic loss ``J(w, b)`` of the module docstring."""
    w, b, X = _check_parameters(w, b, X)
    l2 = nonnegative_number(l2, "l2")
    return logistic_loss_from_logits(X @ w + b, y) + 0.5 * l2 * float(w @ w)


def gradients(w, b, X, y, l2: float = 0.0) -> tuple[np.ndarray, float]:
    """Return ``(dJ/dw: (d,), dJ/db: float)``.

    With ``p = sigmoid(X w + b)``: ``dJ/dw = X^T (p - y) / n + l2 w`` and
    ``dJ/db = mean(p - y)``. Per example this is ``-(y_i - p_i) x_i``.
    """
    w, b, X = _check_parameters(w, b, X)
    y = check_01_labels(y, X.shape[0])
    l2 = nonnegative_number(l2, "l2")
    residual = (sigmoid(X @ w + b) - y) / X.shape[0]
    return X.T @ residual + l2 * w, float(residual.sum())


def hessian(w, b, X, l2: float = 0.0) -> np.ndarray:
    """Hessian of ``J`` in the parameters ``theta = (w_1, ..., w_d, b)``: shape ``(d+1, d+1)``.

    With ``A = [X, 1]: (n, d+1)`` and ``p = sigmoid(X w + b)``, it is
    ``A^T diag(p (1 - p)) A / n + l2 diag(1, ..., 1, 0)``; the labels do not enter.
    """
    w, b, X = _check_parameters(w, b, X)
    l2 = nonnegative_number(l2, "l2")
    n, d = X.shape
    A = np.hstack([X, np.ones((n, 1), dtype=X.dtype)])
    p = sigmoid(X @ w + b)
    H = (A * (p * (1.0 - p))[:, None]).T @ A / n
    H[np.arange(d), np.arange(d)] += l2
    return H


__all__ = [
    "gradients",
    "hessian",
    "logistic_loss_from_logits",
    "loss",
    "predict",
    "predict_proba",
]
