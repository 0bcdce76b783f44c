"""Numerically stable building blocks: softmax, log-softmax, cross-entropy, sigmoid, ReLU,
and the logistic loss from logits.

Conventions: logits ``Z: (n, K)`` hold one row per example (a single example may be
given as ``z: (K,)``); labels are integer classes ``(n,)``, one-hot rows ``(n, K)`` or any
rows of probabilities ``(n, K)`` (soft labels).
"""

from __future__ import annotations

import numpy as np

from .validation import (
    NonFiniteError,
    as_float_array,
    check_01_labels,
    check_int_labels,
    positive_int,
)


def _no_nan(x: np.ndarray, name: str) -> np.ndarray:
    """``x`` after checking it has no NaN (infinities are fine for elementwise functions)."""
    if np.isnan(x).any():
        raise NonFiniteError(
            f"{name} contains NaN ({int(np.count_nonzero(np.isnan(x)))} entries); NaN has no "
            "value to map. Check the input (or an earlier computation) for NaN."
        )
    return x


def log_softmax(z, axis: int = -1) -> np.ndarray:
    """Log of the softmax, computed as ``z - max(z) - log(sum(exp(z - max(z))))``.

    Subtracting the maximum makes every exponent <= 0, so ``exp`` never overflows, and the
    sum is >= 1, so its log is finite: no ``log(0)`` for any finite ``z``.
    """
    z = as_float_array(z, "z", finite=True)
    with np.errstate(over="ignore"):  # z - max(z) may round to -inf: exp gives the right 0
        shifted = z - z.max(axis=axis, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return shifted


def softmax(z, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis`` (default: the last); ``z: (..., K)`` -> same shape, rows sum to 1.

    ``z`` must be finite: ``+inf`` has no softmax (``inf - inf`` is undefined).
    """
    z = as_float_array(z, "z", finite=True)
    with np.errstate(over="ignore"):  # z - max(z) may round to -inf: exp gives the right 0
        e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_jacobian(z) -> np.ndarray:
    """Jacobian of softmax at one logit vector: ``J = diag(p) - p p^T`` with ``p = softmax(z)``.

    ``z: (K,)`` -> ``J: (K, K)`` with ``J[i, j] = d softmax(z)_i / d z_j``.
    """
    z = as_float_array(z, "z", ndim=1)
    p = softmax(z)
    return np.diag(p) - np.outer(p, p)


def one_hot(labels, num_classes: int, dtype=np.float64) -> np.ndarray:
    """Integer labels ``(n,)`` in ``[0, num_classes)`` -> one-hot matrix ``(n, num_classes)``."""
    num_classes = positive_int(num_classes, "num_classes")
    labels = np.asarray(labels)
    labels = check_int_labels(labels, labels.shape[0] if labels.ndim else -1, num_classes)
    out = np.zeros((labels.shape[0], num_classes), dtype=dtype)
    out[np.arange(labels.shape[0]), labels] = 1
    return out


def label_distribution(labels, logits_shape: tuple[int, int], dtype=np.float64) -> np.ndarray:
    """Turn any accepted label format into an ``(n, K)`` matrix of target probabilities.

    Integer labels ``(n,)`` become one-hot rows; an ``(n, K)`` array must hold non-negative
    rows that sum to 1 (checked to 1e-6).
    """
    n, k = logits_shape
    labels = np.asarray(labels)
    if labels.ndim == 1:
        return one_hot(check_int_labels(labels, n, k), k, dtype=dtype)
    if labels.shape != (n, k):
        raise ValueError(
            f"labels must be integer classes of shape ({n},) or probabilities of shape "
            f"({n}, {k}) to match logits {logits_shape}; got shape {labels.shape}."
        )
    y = as_float_array(labels, "labels").astype(dtype, copy=False)
    if np.any(y < 0) or not np.allclose(y.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError(
            "label rows must be probability vectors: non-negative entries summing to 1 "
            "(use integer class labels for hard targets)."
        )
    return y


def _batch(logits, labels) -> tuple[np.ndarray, np.ndarray, bool]:
    """Return ``(Z: (n, K), Y: (n, K) target probabilities, was_single_example)``.

    One example may be given as ``logits: (K,)`` with an integer label or a ``(K,)``
    probability vector.
    """
    z = as_float_array(logits, "logits", ndim=(1, 2), finite=True, min_rows=1)
    labels = np.asarray(labels)
    single = z.ndim == 1
    if single:
        z = z[None, :]
        labels = labels[None] if labels.ndim == 0 else labels[None, :]
    return z, label_distribution(labels, z.shape, dtype=z.dtype), single


def cross_entropy(logits, labels) -> float:
    """Mean cross-entropy ``-(1/n) sum_i sum_k Y_ik log softmax(Z_i)_k``.

    ``logits: (n, K)`` (or ``(K,)`` for one example); ``labels``: integer ``(n,)``, one-hot
    or soft ``(n, K)``. Computed from ``log_softmax`` so it is finite for any finite logits:
    a zero target times a very negative log-probability is 0, never ``0 * log(0)``.
    """
    z, y, _ = _batch(logits, labels)
    return float(-np.sum(y * log_softmax(z)) / z.shape[0])


def cross_entropy_grad(logits, labels) -> np.ndarray:
    """Gradient of :func:`cross_entropy` (the batch mean) with respect to the logits.

    Returns ``(softmax(Z) - Y) / n``, shaped like ``logits``.
    """
    z, y, single = _batch(logits, labels)
    grad = (softmax(z) - y) / z.shape[0]
    return grad[0] if single else grad


def sigmoid(x) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-x))`` without overflow for any finite ``x``.

    For ``x >= 0`` it uses ``1 / (1 + exp(-x))``; for ``x < 0`` the equal form
    ``exp(x) / (1 + exp(x))``; either way the exponent is <= 0.
    """
    x = _no_nan(as_float_array(x, "x"), "x")
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def relu(x) -> np.ndarray:
    """Rectified linear unit ``max(x, 0)``, elementwise, same shape and dtype (no NaN)."""
    x = _no_nan(as_float_array(x, "x"), "x")
    return np.maximum(x, 0)


def softmax_backward(logits, upstream) -> np.ndarray:
    """Backward pass of a standalone softmax layer: ``J^T u`` for each row.

    ``logits: (n, K)`` (or ``(K,)``), ``upstream = dL/d softmax(logits)`` of the same shape.
    Returns ``dL/d logits``. With ``p = softmax(z)`` and ``J = diag(p) - p p^T`` (symmetric),
    ``J u = p * u - p * (p . u)``, computed row by row without forming ``J``.
    """
    z = as_float_array(logits, "logits", ndim=(1, 2))
    u = as_float_array(upstream, "upstream", finite=True)
    if u.shape != z.shape:
        raise ValueError(f"upstream must have the logits' shape {z.shape}, got {u.shape}.")
    p = softmax(z)
    return p * u - p * np.sum(p * u, axis=-1, keepdims=True)


def logistic_loss_from_logits(z, y) -> float:
    """Mean logistic loss ``(1/n) sum_i [log(1 + e^{z_i}) - y_i z_i]`` for ``z, y: (n,)``.

    Labels ``y`` in ``{0, 1}``. For such a label the summand equals ``log(1 + e^{s_i})`` with
    ``s_i = z_i`` if ``y_i = 0`` and ``s_i = -z_i`` if ``y_i = 1`` (the logit of the wrong
    class). It is evaluated as ``logaddexp(0, s)``: no overflow, no ``log(0)``, and no
    cancellation when the loss is tiny (``log(1 + e^z) - z`` would lose digits for large ``z``).
    """
    z = as_float_array(z, "z", ndim=1, finite=True, min_rows=1)
    y = check_01_labels(y, z.shape[0])
    return float(np.mean(np.logaddexp(0.0, (1.0 - 2.0 * y) * z)))
