"""Binary logistic regression: ``p = sigmoid(X w + b)``, mean logistic loss, optional L2.

Shapes: ``X: (n, d)`` one row per example, ``w: (d,)``, ``b`` a scalar, labels ``y: (n,)``
with values in ``{0, 1}``. The loss is

    J(w, b) = (1/n) sum_i [log(1 + exp(z_i)) - y_i z_i] + (l2 / 2) ||w||^2,   z = X w + b,

which is the mean of ``-y log p - (1 - y) log(1 - p)`` written from the logits, so it is
finite for every finite ``z`` (no ``log(0)``). The bias is not penalised.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_float_array
from .functions import sigmoid


def check_binary_labels(y, n: int) -> np.ndarray:
    """Return labels ``y: (n,)`` as float64 after checking every value is 0 or 1.

    Integer, boolean and float arrays are accepted as long as their values are exactly 0 or 1.
    """
    arr = np.asarray(y)
    if arr.shape != (n,):
        raise ValueError(f"y must have shape ({n},), one label per row of X; got {arr.shape}.")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"y must hold the numbers 0 and 1, got dtype {arr.dtype}.")
    values = arr.astype(np.float64)
    bad = ~((values == 0) | (values == 1))
    if np.any(bad):
        raise ValueError(
            "y must hold binary labels 0 or 1 (logistic regression has two classes); got "
            f"{np.unique(arr[bad])[:5]}. Map the two classes to 0 and 1, or use softmax "
            "regression for more than two classes."
        )
    return values


def _check_parameters(w, b, X) -> tuple[np.ndarray, float, np.ndarray]:
    X = as_float_array(X, "X", ndim=2)
    w = as_float_array(w, "w", ndim=1)
    if w.shape != (X.shape[1],):
        raise ValueError(f"w must have shape ({X.shape[1]},) to match X {X.shape}, got {w.shape}.")
    if np.ndim(b) != 0:
        raise ValueError(f"b must be a scalar (one bias for one logit), got shape {np.shape(b)}.")
    return w, float(b), X


def logistic_loss_from_logits(z, y) -> float:
    """Mean logistic loss ``(1/n) sum_i [log(1 + e^{z_i}) - y_i z_i]`` for ``z, y: (n,)``.

    For a label in ``{0, 1}`` the summand equals ``log(1 + e^{s_i})`` with ``s_i = z_i`` if
    ``y_i = 0`` and ``s_i = -z_i`` if ``y_i = 1`` (the logit of the wrong class). It is
    evaluated as ``logaddexp(0, s)``: no overflow, no ``log(0)``, and no cancellation when the
    loss is tiny (``log(1 + e^z) - z`` would lose digits for large ``z``).
    """
    z = as_float_array(z, "z", ndim=1)
    y = check_binary_labels(y, z.shape[0])
    return float(np.mean(np.logaddexp(0.0, (1.0 - 2.0 * y) * z)))


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
    return logistic_loss_from_logits(X @ w + b, y) + 0.5 * l2 * float(w @ w)


def gradients(w, b, X, y, l2: float = 0.0) -> tuple[np.ndarray, float]:
    """Return ``(dJ/dw: (d,), dJ/db: float)``.

    With ``p = sigmoid(X w + b)``: ``dJ/dw = X^T (p - y) / n + l2 w`` and
    ``dJ/db = mean(p - y)``. Per example this is ``-(y_i - p_i) x_i``.
    """
    w, b, X = _check_parameters(w, b, X)
    y = check_binary_labels(y, X.shape[0])
    residual = (sigmoid(X @ w + b) - y) / X.shape[0]
    return X.T @ residual + l2 * w, float(residual.sum())


def hessian(w, b, X, l2: float = 0.0) -> np.ndarray:
    """Hessian of ``J`` in the parameters ``theta = (w_1, ..., w_d, b)``: shape ``(d+1, d+1)``.

    With ``A = [X, 1]: (n, d+1)`` and ``p = sigmoid(X w + b)``, it is
    ``A^T diag(p (1 - p)) A / n + l2 diag(1, ..., 1, 0)``; the labels do not enter.
    """
    w, b, X = _check_parameters(w, b, X)
    n, d = X.shape
    A = np.hstack([X, np.ones((n, 1), dtype=X.dtype)])
    p = sigmoid(X @ w + b)
    H = (A * (p * (1.0 - p))[:, None]).T @ A / n
    H[np.arange(d), np.arange(d)] += l2
    return H
