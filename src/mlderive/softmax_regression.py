"""Softmax regression: logits ``Z = X W + b``, mean cross-entropy, optional L2 penalty.

Shapes: ``X: (n, d)``, ``W: (d, K)``, ``b: (K,)``, labels integer ``(n,)`` or probabilities
``(n, K)``. The loss is ``J(W, b) = mean_i CE(softmax(z_i), y_i) + (l2 / 2) * ||W||_F^2``
(the bias is not penalised). Its gradients are ``dJ/dW = X^T (Y_hat - Y) / n + l2 W`` and
``dJ/db = mean_i (y_hat_i - y_i)``.

* :func:`loss_and_gradients` -- the loss and both gradients, vectorised;
* :func:`loss_and_gradients_by_example` -- the same by a loop over examples (a reference);
* :func:`gradient_descent` -- plain full-batch gradient descent for a fixed number of steps;
* :func:`fit` -- accelerated gradient descent until the gradient norm is below ``tol``;
* :func:`curvature_bound` -- an upper bound on the Hessian, the safe step ``1 / L``;
* :func:`predict`, :func:`accuracy`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .functions import cross_entropy, cross_entropy_grad, label_distribution, log_softmax, softmax
from .validation import (
    as_float_array,
    check_int_labels,
    nonnegative_int,
    nonnegative_number,
    positive_int,
    positive_number,
)

LogitGradient = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _check_parameters(W, b, X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = as_float_array(X, "X", ndim=2, finite=True, min_rows=1)
    W = as_float_array(W, "W", ndim=2, finite=True)
    b = as_float_array(b, "b", ndim=1, finite=True)
    if W.shape[0] != X.shape[1]:
        raise ValueError(
            f"W must have shape ({X.shape[1]}, K) to match X {X.shape}, got {W.shape}."
        )
    if b.shape != (W.shape[1],):
        raise ValueError(f"b must have shape ({W.shape[1]},) to match W {W.shape}, got {b.shape}.")
    return W, b, X


def loss_and_gradients(
    W,
    b,
    X,
    labels,
    l2: float = 0.0,
    logit_gradient: LogitGradient = cross_entropy_grad,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Return ``(J, dJ/dW: (d, K), dJ/db: (K,))``.

    ``logit_gradient(Z, labels)`` gives ``dJ/dZ`` (default: ``(softmax(Z) - Y) / n``); the chain
    rule through ``Z = X W + b`` then gives ``dW = X^T dZ + l2 W`` and ``db = sum_i dZ_i``.
    """
    W, b, X = _check_parameters(W, b, X)
    return _loss_and_gradients(W, b, X, labels, _check_l2(l2), logit_gradient)


def _loss_and_gradients(W, b, X, labels, l2: float, logit_gradient: LogitGradient):
    """:func:`loss_and_gradients` for arrays already checked (the inner loop of
    :func:`gradient_descent`, which checks ``X``, the shapes and the labels once)."""
    Z = X @ W + b
    loss = cross_entropy(Z, labels) + 0.5 * l2 * float(np.sum(W * W))
    dZ = logit_gradient(Z, labels)
    return loss, X.T @ dZ + l2 * W, dZ.sum(axis=0)


def predict(W, b, X) -> np.ndarray:
    """Predicted classes ``(n,)``: the arg-max of the logits."""
    W, b, X = _check_parameters(W, b, X)
    return np.argmax(X @ W + b, axis=1)


def accuracy(W, b, X, labels) -> float:
    """Fraction of rows of ``X`` whose predicted class equals the integer label ``(n,)``."""
    predicted = predict(W, b, X)
    labels = check_int_labels(labels, predicted.shape[0], np.shape(W)[1])
    return float(np.mean(predicted == labels))


def gradient_descent(
    X,
    labels,
    num_classes: int,
    lr: float,
    steps: int,
    l2: float = 0.0,
    logit_gradient: LogitGradient = cross_entropy_grad,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full-batch gradient descent from zero weights.

    Returns ``(W: (d, K), b: (K,), losses: (steps + 1,))`` where ``losses[t]`` is the loss
    after ``t`` steps. Raises ``FloatingPointError`` naming the learning rate if the loss
    stops being finite.
    """
    X = as_float_array(X, "X", ndim=2, finite=True, min_rows=1)
    num_classes = _check_classes(num_classes)
    lr = positive_number(lr, "lr", " (the learning rate)")
    steps = nonnegative_int(steps, "steps")
    l2 = _check_l2(l2)
    label_distribution(labels, (X.shape[0], num_classes))  # every label, before any step
    W = np.zeros((X.shape[1], num_classes), dtype=X.dtype)
    b = np.zeros(num_classes, dtype=X.dtype)
    losses = np.empty(steps + 1)
    for t in range(steps + 1):
        # X and the labels were checked above; W and b stay finite while the loss does.
        loss, dW, db = _loss_and_gradients(W, b, X, labels, l2, logit_gradient)
        if not np.isfinite(loss):
            raise FloatingPointError(
                f"the loss became {loss} at step {t} with learning rate {lr}: "
                "the step is too large; try a learning rate 10 times smaller."
            )
        losses[t] = loss
        if t < steps:
            W -= lr * dW
            b -= lr * db
    return W, b, losses


def loss_and_gradients_by_example(W, b, X, labels, l2: float = 0.0):
    """Reference version of :func:`loss_and_gradients`: a Python loop over the examples.

    For each row ``x_i`` it forms ``y_hat_i = softmax(x_i W + b)`` and adds the per-example
    gradients ``x_i (y_hat_i - y_i)^T`` (an outer product, ``(d, K)``) and ``y_hat_i - y_i``;
    then it divides by ``n`` and adds ``l2 W``. Slow; meant only to check the matrix formulas.
    Returns ``(J, dJ/dW: (d, K), dJ/db: (K,))``.
    """
    W, b, X = _check_parameters(W, b, X)
    l2 = _check_l2(l2)
    n, k = X.shape[0], W.shape[1]
    Y = label_distribution(labels, (n, k), dtype=X.dtype)
    loss, dW, db = 0.0, np.zeros_like(W), np.zeros_like(b)
    for x, y in zip(X, Y, strict=True):
        z = x @ W + b
        y_hat = softmax(z)
        loss -= float(y @ log_softmax(z))
        dW += np.outer(x, y_hat - y)
        db += y_hat - y
    return loss / n + 0.5 * l2 * float(np.sum(W * W)), dW / n + l2 * W, db / n


def curvature_bound(X, l2: float = 0.0) -> float:
    """An upper bound ``L`` on the curvature of the softmax-regression loss, for any labels.

    ``L = lambda_max(X1^T X1 / n) / 2 + l2`` where ``X1 = [X, 1]: (n, d + 1)``. Every
    eigenvalue of the Hessian of ``J`` in ``(W, b)`` is at most ``L``, because the Hessian of
    the cross-entropy in one example's logits is ``diag(p) - p p^T``, whose eigenvalues are at
    most ``max_k 2 p_k (1 - p_k) <= 1/2`` (Gershgorin). So gradient steps of size ``1 / L``
    never overshoot. Cost: one ``(d + 1, d + 1)`` Gram matrix, ``O(n d^2)``.
    """
    X = as_float_array(X, "X", ndim=2, finite=True, min_rows=1)
    l2 = _check_l2(l2)
    n = X.shape[0]
    column_sums = X.sum(axis=0, dtype=np.float64)
    gram = np.empty((X.shape[1] + 1, X.shape[1] + 1))
    gram[:-1, :-1] = X.T @ X
    gram[:-1, -1] = gram[-1, :-1] = column_sums
    gram[-1, -1] = n
    return 0.5 * float(np.linalg.eigvalsh(gram / n)[-1]) + l2


@dataclass(frozen=True)
class FitResult:
    """Outcome of :func:`fit`.

    ``W: (d, K)``, ``b: (K,)`` the returned parameters; ``losses: (steps + 1,)`` the loss at
    every point where a gradient was taken (the last one is at the returned parameters);
    ``grad_norm`` the norm of the full gradient ``(dJ/dW, dJ/db)`` there; ``steps`` the number
    of updates made; ``converged`` whether ``grad_norm <= tol``.
    """

    W: np.ndarray
    b: np.ndarray
    losses: np.ndarray
    grad_norm: float
    steps: int
    converged: bool


def fit(
    X,
    labels,
    num_classes: int,
    l2: float = 0.0,
    tol: float = 1e-6,
    max_steps: int = 10_000,
    W=None,
    b=None,
) -> FitResult:
    """Minimise the softmax-regression loss until the gradient norm is at most ``tol``.

    ``X: (n, d)``, ``labels`` integer ``(n,)`` or probabilities ``(n, K)``; optional start
    ``W: (d, K)``, ``b: (K,)`` (default zeros). Works in the dtype of ``X`` (float32 is fine
    with a ``tol`` above its round-off, say ``1e-4``).

    Method: full-batch Nesterov accelerated gradient descent with adaptive restart (the
    momentum is reset whenever it points uphill; O'Donoghue and Candes, 2015). The step is
    found by backtracking: it grows by 25% after each update and is halved until the loss
    drops by at least ``step / 2 * |gradient|^2``, never going below ``1 / L`` from
    :func:`curvature_bound`, a step that always passes that test. With ``l2 > 0`` the
    minimiser's ``W`` is unique.

    Check ``result.converged``: after ``max_steps`` updates the last point is returned anyway.
    Raises ``FloatingPointError`` if the loss stops being finite.
    """
    X = as_float_array(X, "X", ndim=2, finite=True, min_rows=1)
    num_classes = _check_classes(num_classes)
    l2 = _check_l2(l2)
    tol = positive_number(tol, "tol", " (a gradient-norm threshold)")
    max_steps = nonnegative_int(max_steps, "max_steps")
    W = np.zeros((X.shape[1], num_classes), dtype=X.dtype) if W is None else W
    b = np.zeros(num_classes, dtype=X.dtype) if b is None else b
    W, b, X = _check_parameters(W, b, X)
    W, b = W.astype(X.dtype, copy=True), b.astype(X.dtype, copy=True)
    Y = label_distribution(labels, (X.shape[0], W.shape[1]), dtype=X.dtype)
    min_step = 1.0 / curvature_bound(X, l2)
    step = min_step
    W_ahead, b_ahead, t = W, b, 1.0  # the extrapolated point where the gradient is taken
    losses = []
    for steps in range(int(max_steps) + 1):
        loss, dW, db = _objective(W_ahead, b_ahead, X, Y, l2)
        if not np.isfinite(loss):
            raise FloatingPointError(
                f"the loss became {loss} after {steps} steps; check X for inf/NaN or huge values."
            )
        losses.append(loss)
        squared_norm = float(np.sum(dW * dW, dtype=np.float64) + np.sum(db * db, dtype=np.float64))
        grad_norm = math.sqrt(squared_norm)
        if grad_norm <= tol or steps == max_steps:
            break
        while True:
            W_next, b_next = W_ahead - step * dW, b_ahead - step * db
            if (
                step <= min_step
                or _objective(W_next, b_next, X, Y, l2, gradients=False)
                <= loss - 0.5 * step * squared_norm
            ):
                break
            step = max(0.5 * step, min_step)
        uphill = np.sum(dW * (W_next - W)) + np.sum(db * (b_next - b)) > 0
        t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * (1.0 if uphill else t) ** 2))
        momentum = 0.0 if uphill else (t - 1.0) / t_next
        W_ahead = W_next + momentum * (W_next - W)
        b_ahead = b_next + momentum * (b_next - b)
        W, b, t = W_next, b_next, t_next
        step *= 1.25
    return FitResult(W_ahead, b_ahead, np.array(losses), grad_norm, steps, grad_norm <= tol)


def _objective(W, b, X, Y, l2: float, gradients: bool = True):
    """``J`` (and its gradients) for checked arrays and label probabilities ``Y: (n, K)``.

    The same formulas as :func:`loss_and_gradients`, with one log-softmax per call and no
    input checks: the inner loop of :func:`fit`.
    """
    log_p = log_softmax(X @ W + b)
    loss = -float(np.sum(Y * log_p)) / X.shape[0] + 0.5 * l2 * float(np.sum(W * W))
    if not gradients:
        return loss
    dZ = (np.exp(log_p) - Y) / X.shape[0]
    return loss, X.T @ dZ + l2 * W, dZ.sum(axis=0)


def _check_l2(l2) -> float:
    return nonnegative_number(l2, "l2", " (the penalty strength)")


def _check_classes(num_classes) -> int:
    if positive_int(num_classes, "num_classes") < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes!r}.")
    return int(num_classes)
