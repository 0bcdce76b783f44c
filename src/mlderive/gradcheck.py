"""Finite-difference checks of derivatives.

``numerical_derivative(f, x)`` estimates the derivative of any function of an array by centred
differences; ``gradcheck(f, x, analytic)`` compares it with a formula and returns the largest
relative error, in the CS231n convention ``|a - b| / max(|a| + |b|, floor)``;
``layer_gradient_errors(layer, X)`` does this for a layer's input and every parameter, and
``model_gradient_errors(model, X, labels)`` for every parameter of a model's loss.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .validation import ArgumentTypeError, as_float_array, positive_number


def numerical_derivative(f: Callable[[np.ndarray], np.ndarray], x, h: float = 1e-5) -> np.ndarray:
    """Centred finite differences ``(f(x + h e_i) - f(x - h e_i)) / (2h)`` for every entry i.

    ``x: any shape S`` (converted to float64). If ``f(x)`` has shape ``T`` the result has shape
    ``T + S`` (a Jacobian); for scalar ``f`` it has shape ``S`` (a gradient). The step actually
    taken is ``(x_i + h) - (x_i - h)`` as stored in floating point, so large ``|x_i|`` do not add
    a representation error to the quotient.
    """
    if not callable(f):
        raise ArgumentTypeError(f"f must be a function of an array, got {type(f).__name__}.")
    h = positive_number(h, "h", " (the finite-difference step, e.g. 1e-5)")
    x = np.array(as_float_array(x, "x", finite=True), dtype=np.float64)  # a copy to perturb
    out_shape = np.shape(f(x.copy()))
    deriv = np.empty(out_shape + x.shape)
    flat_x = x.reshape(-1)
    flat_d = deriv.reshape(out_shape + (flat_x.size,))
    for i in range(flat_x.size):
        original = flat_x[i]
        flat_x[i] = original + h
        upper_x = flat_x[i]
        f_plus = np.asarray(f(x.copy()), dtype=np.float64)
        flat_x[i] = original - h
        lower_x = flat_x[i]
        f_minus = np.asarray(f(x.copy()), dtype=np.float64)
        flat_x[i] = original
        flat_d[..., i] = (f_plus - f_minus) / (upper_x - lower_x)
    return deriv


def relative_error(a, b, floor: float = 1e-8) -> float:
    """Largest elementwise ``|a - b| / max(|a| + |b|, floor)``.

    ``floor`` keeps pairs of (near-)zero entries from dividing by zero: below it, entries are
    compared by absolute difference scaled by ``1 / floor``.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    floor = positive_number(floor, "floor")
    if a.shape != b.shape:
        raise ValueError(f"cannot compare arrays of shapes {a.shape} and {b.shape}.")
    if a.size == 0:
        return 0.0
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("inf")
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)))


def gradcheck(
    f: Callable[[np.ndarray], np.ndarray],
    x,
    analytic,
    h: float = 1e-5,
    floor: float = 1e-8,
) -> float:
    """Max relative error between ``analytic`` and the centred-difference derivative of f at x.

    ``analytic`` must have the shape :func:`numerical_derivative` returns (the gradient for a
    scalar ``f``, the Jacobian ``f(x).shape + x.shape`` otherwise).
    """
    numeric = numerical_derivative(f, x, h=h)
    analytic = np.asarray(analytic)
    if analytic.shape != numeric.shape:
        raise ValueError(
            f"analytic derivative has shape {analytic.shape}, but f(x) has shape "
            f"{numeric.shape[: numeric.ndim - np.ndim(x)]} and x has shape {np.shape(x)}, "
            f"so the derivative must have shape {numeric.shape}."
        )
    return relative_error(analytic, numeric, floor=floor)


def layer_gradient_errors(layer, X, seed=0) -> dict[str, float]:
    """Gradient-check a layer's ``backward`` at ``X`` (use float64 layers and inputs).

    The scalar checked is ``L = sum(forward(X) * G)`` for a fixed random ``G`` (so
    ``dL/d out = G``); returns ``{"X": error of dL/dX, name: error of grads[name], ...}`` for
    every parameter of the layer. The layer must be deterministic: a dropout layer, which
    draws a new mask at each forward pass, cannot be checked this way.
    """
    X = np.array(X, dtype=np.float64)
    out, cache = layer.forward(X)
    G = np.random.default_rng(seed).normal(size=np.shape(out))
    errors = {
        "X": gradcheck(lambda Z: np.sum(layer.forward(Z)[0] * G), X, layer.backward(G, cache))
    }
    params = getattr(layer, "params", {})
    for name, value in params.items():
        analytic, saved = layer.grads[name].copy(), value.copy()

        def loss_at(v, value=value):
            value[...] = v
            return np.sum(layer.forward(X)[0] * G)

        errors[name] = gradcheck(loss_at, saved, analytic)
        value[...] = saved
    return errors


def model_gradient_errors(
    model, X, labels, h: float = 1e-5, floor: float = 1e-8, prepare=None
) -> dict[str, float]:
    """Gradient-check a model's ``backward``: ``{name: error of grads[name]}`` per parameter.

    The scalar checked is ``model.loss(X, labels)[0]`` (the data loss plus any L2 penalty),
    differentiated in every parameter array by :func:`gradcheck`. Use a float64 model. Every
    parameter is restored afterwards (each finite difference writes into it). ``prepare``: an
    optional function called before every evaluation of the loss, e.g. to reseed a dropout
    layer so that every evaluation draws the same mask.
    """
    if prepare is not None:
        prepare()
    model.loss_and_gradients(X, labels)
    analytic = {name: grad.copy() for name, grad in model.grads.items()}
    saved = model.get_params()

    def loss_at(v, value):
        value[...] = v
        if prepare is not None:
            prepare()
        return model.loss(X, labels)[0]

    errors = {}
    try:
        for name, value in model.params.items():
            errors[name] = gradcheck(
                lambda v, value=value: loss_at(v, value), saved[name], analytic[name], h, floor
            )
            value[...] = saved[name]
    finally:
        model.set_params(saved)
    return errors
