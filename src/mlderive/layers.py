"""Layers with explicit forward and backward passes (the CS231n pattern).

Every layer has ``forward(...) -> (output, cache)`` and ``backward(upstream, cache) ->
gradient with respect to its input``. The cache holds exactly what the backward pass needs,
so several forward passes may be in flight at once. Shapes: one example per row, ``X: (n, d)``.

A layer with parameters exposes two dicts with the same keys: ``layer.params`` (the arrays
the optimiser updates in place) and ``layer.grads`` (overwritten in place by each backward
pass). The losses are fused with their output non-linearity, so their backward passes are
the short formulas ``(softmax(Z) - Y) / n`` and ``(sigmoid(z) - y) / n``.

Training runs in float32 (the default dtype: half the memory traffic of float64 and twice
the matrix-product speed); float64 is for gradient checks.
"""

from __future__ import annotations

import numpy as np

from .functions import label_distribution, log_softmax, logistic_loss_from_logits, sigmoid
from .validation import (
    as_float_array,
    as_rng,
    check_01_labels,
    check_choice,
    check_int_labels,
    check_upstream,
    positive_int,
)

DEFAULT_DTYPE = np.float32
INITS = ("he", "xavier", "zeros")


def check_dtype(dtype) -> np.dtype:
    """Return ``dtype`` as a numpy dtype after checking it is float32 or float64."""
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(
            f"dtype must be float32 (for training) or float64 (for gradient checks), got {dt}."
        )
    return dt


def _check_matrix(X, cols: int, dtype: np.dtype, what: str, name: str = "X") -> np.ndarray:
    """``X`` as an ``(n, cols)`` array of ``dtype`` (converted only if needed)."""
    if type(X) is np.ndarray and X.dtype == dtype and X.ndim == 2 and X.shape[1] == cols:
        return X  # the common case in training, checked without the general conversion
    X = as_float_array(X, name)
    if X.ndim != 2 or X.shape[1] != cols:
        raise ValueError(
            f"{what} expects {name} of shape (n, {cols}), one example per row; got {X.shape}."
        )
    return X if X.dtype == dtype else X.astype(dtype)


def initial_weights(shape: tuple[int, ...], init: str = "he", seed=None, dtype=DEFAULT_DTYPE):
    """Initial weights of the given shape for the named scheme, dense or convolutional.

    ``shape = (d_in, d_out)`` for a dense layer (``fan_in = d_in``, ``fan_out = d_out``) or
    ``(F, C, kh, kw)`` for ``F`` convolution filters (``fan_in = C kh kw``,
    ``fan_out = F kh kw``).

    * ``"he"``: normal with variance ``2 / fan_in`` (keeps the activations' scale through ReLUs);
    * ``"xavier"``: normal with variance ``2 / (fan_in + fan_out)`` (Glorot; for sigmoid/tanh);
    * ``"zeros"``: all zero (fine for convex models such as softmax regression).

    ``seed``: an int, None or a ``numpy.random.Generator``. Drawn in float64 and then rounded
    to ``dtype``, so a float32 and a float64 model built from the same seed hold the same
    weights up to rounding.
    """
    check_choice(init, "init", INITS)
    shape = tuple(positive_int(size, "shape") for size in shape)
    if len(shape) == 2:
        fan_in, fan_out = shape
    elif len(shape) == 4:
        receptive = shape[2] * shape[3]
        fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    else:
        raise ValueError(f"shape must be (d_in, d_out) or (F, C, kh, kw), got {shape}.")
    if init == "zeros":
        return np.zeros(shape, dtype=dtype)
    variance = 2.0 / fan_in if init == "he" else 2.0 / (fan_in + fan_out)
    return (as_rng(seed).standard_normal(shape) * np.sqrt(variance)).astype(dtype)


class Linear:
    """Affine layer ``out = X W + b``; ``X: (n, d_in)``, ``W: (d_in, d_out)``, ``b: (d_out,)``.

    Backward, with ``G = dL/d out: (n, d_out)``: ``dL/dW = X^T G``, ``dL/db = sum_i G_i`` and
    ``dL/dX = G W^T``. The first layer of a network may skip ``dL/dX`` (``input_grad=False``),
    which saves a third of its backward work.

    ``init``: "he", "xavier" or "zeros" (see :func:`initial_weights`; biases start at 0);
    ``seed``: an int or a ``numpy.random.Generator`` for the initial weights; ``dtype``:
    float32 (default) or float64.
    """

    skips_input_gradient = True  # backward(..., input_grad=False) skips dL/dX

    def __init__(self, d_in: int, d_out: int, init: str = "he", seed=None, dtype=DEFAULT_DTYPE):
        self.d_in = positive_int(d_in, "d_in")
        self.d_out = positive_int(d_out, "d_out")
        self.dtype = check_dtype(dtype)
        self.params = {
            "W": initial_weights((self.d_in, self.d_out), init, seed, self.dtype),
            "b": np.zeros(self.d_out, dtype=self.dtype),
        }
        self.grads = {name: np.zeros_like(value) for name, value in self.params.items()}

    def __repr__(self) -> str:
        return f"Linear({self.d_in}, {self.d_out}, dtype={self.dtype.name})"

    def forward(self, X) -> tuple[np.ndarray, np.ndarray]:
        """``X: (n, d_in)`` -> ``(out: (n, d_out), cache)``; X is converted to the layer's dtype."""
        X = _check_matrix(X, self.d_in, self.dtype, "Linear")
        out = X @ self.params["W"]
        out += self.params["b"]
        return out, X

    def backward(self, upstream, cache: np.ndarray, input_grad: bool = True):
        """Fill ``self.grads`` from ``upstream = dL/d out: (n, d_out)``; return dL/dX or None."""
        X = cache
        if np.shape(upstream) != (X.shape[0], self.d_out):
            raise ValueError(
                f"Linear.backward expects an upstream gradient of shape "
                f"({X.shape[0]}, {self.d_out}) (the shape of its forward output); "
                f"got {np.shape(upstream)}."
            )
        np.matmul(X.T, upstream, out=self.grads["W"])
        np.add.reduce(upstream, axis=0, out=self.grads["b"])
        return upstream @ self.params["W"].T if input_grad else None


class ReLU:
    """Elementwise ``max(x, 0)``; backward passes the gradient where the output is positive.

    At ``x = 0`` the subgradient 0 is used. With ``inplace=True`` the forward pass overwrites
    its input and the backward pass overwrites the upstream gradient (saves memory traffic;
    the network classes use it where nothing else reads those arrays).
    """

    def __init__(self, inplace: bool = False):
        self.inplace = bool(inplace)

    def __repr__(self) -> str:
        return "ReLU()"

    def forward(self, X) -> tuple[np.ndarray, np.ndarray]:
        """``X: (n, d)`` -> ``(max(X, 0), cache)``; the cache is the output itself."""
        if type(X) is not np.ndarray or X.dtype.kind != "f":
            X = as_float_array(X, "X")
        out = np.maximum(X, 0, out=X if self.inplace else None)
        return out, out

    def backward(self, upstream, cache: np.ndarray) -> np.ndarray:
        """``dL/dX = upstream * [out > 0]``, same shape as the input."""
        upstream = check_upstream(upstream, cache, "ReLU")
        return np.multiply(upstream, cache > 0, out=upstream if self.inplace else None)


class Sigmoid:
    """Elementwise logistic function ``s = 1 / (1 + exp(-x))``; ``ds/dx = s (1 - s)``."""

    def __repr__(self) -> str:
        return "Sigmoid()"

    def forward(self, X) -> tuple[np.ndarray, np.ndarray]:
        """``X: (n, d)`` -> ``(sigmoid(X), cache)``; the cache is the output ``s``."""
        out = sigmoid(X)
        return out, out

    def backward(self, upstream, cache: np.ndarray) -> np.ndarray:
        """``dL/dX = upstream * s * (1 - s)``."""
        upstream = check_upstream(upstream, cache, "Sigmoid")
        return upstream * cache * (1 - cache)


ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid}


class SoftmaxCrossEntropy:
    """Softmax followed by the mean cross-entropy, fused: ``L = -(1/n) sum_ik Y_ik log p_ik``.

    ``Z: (n, K)`` logits; labels integer ``(n,)`` or probability rows ``(n, K)``. Built on
    :func:`mlderive.functions.log_softmax`, so the loss is finite for all finite logits. The
    gradient is ``dL/dZ = (softmax(Z) - Y) / n`` (see :func:`mlderive.functions.cross_entropy`
    and :func:`mlderive.functions.cross_entropy_grad`, which it agrees with).
    """

    def __repr__(self) -> str:
        return "SoftmaxCrossEntropy()"

    def check_labels(self, labels, n: int, num_classes: int) -> None:
        """Raise unless ``labels`` are ``n`` integer classes in ``[0, num_classes)`` or ``(n, K)``
        probability rows (what :meth:`forward` accepts): all of them, before any training."""
        labels = np.asarray(labels)
        if labels.ndim == 1:
            check_int_labels(labels, n, num_classes)
        else:
            label_distribution(labels, (n, num_classes))

    def forward(self, Z, labels) -> tuple[float, tuple[np.ndarray, np.ndarray]]:
        """Return ``(loss, cache)``; the cache holds the log-probabilities and the targets."""
        Z = as_float_array(Z, "Z", ndim=2, min_rows=1)
        log_p = log_softmax(Z)  # refuses NaN and inf logits (a NonFiniteError)
        labels = np.asarray(labels)
        n = Z.shape[0]
        if labels.ndim == 1:
            labels = check_int_labels(labels, n, Z.shape[1])
            loss = -log_p[np.arange(n), labels].sum(dtype=np.float64) / n
        else:
            labels = label_distribution(labels, Z.shape, dtype=Z.dtype)
            loss = -np.sum(labels * log_p, dtype=np.float64) / n
        return float(loss), (log_p, labels)

    def backward(self, cache, upstream: float = 1.0) -> np.ndarray:
        """``dL/dZ = upstream * (softmax(Z) - Y) / n``, shape ``(n, K)``."""
        log_p, labels = cache
        n = log_p.shape[0]
        grad = np.exp(log_p)
        if labels.ndim == 1:
            grad[np.arange(n), labels] -= 1
        else:
            grad -= labels
        grad *= upstream / n
        return grad


class SigmoidBinaryCrossEntropy:
    """Logistic loss from logits, ``L = (1/n) sum_i [log(1 + e^{z_i}) - y_i z_i]``.

    ``z: (n,)`` logits of class 1, labels ``y: (n,)`` in ``{0, 1}``. The value comes from
    :func:`mlderive.functions.logistic_loss_from_logits` (stable: no overflow, no ``log(0)``);
    the gradient is ``dL/dz = (sigmoid(z) - y) / n``.
    """

    def __repr__(self) -> str:
        return "SigmoidBinaryCrossEntropy()"

    def check_labels(self, labels, n: int, num_classes: int = 2) -> None:
        """Raise unless ``labels`` are ``n`` binary labels in ``{0, 1}``."""
        check_01_labels(labels, n, "labels")

    def forward(self, z, labels) -> tuple[float, tuple[np.ndarray, np.ndarray]]:
        """Return ``(loss, cache)``; the cache holds the logits and the labels."""
        z = as_float_array(z, "z", ndim=1, min_rows=1)
        y = check_01_labels(labels, z.shape[0], "labels").astype(z.dtype)
        return logistic_loss_from_logits(z, y), (z, y)

    def backward(self, cache, upstream: float = 1.0) -> np.ndarray:
        """``dL/dz = upstream * (sigmoid(z) - y) / n``, shape ``(n,)``."""
        z, y = cache
        grad = sigmoid(z) - y
        grad *= upstream / z.shape[0]
        return grad
