"""Models built from :mod:`mlderive.layers`: logistic regression, softmax regression, MLPs.

Every model has the same interface, which :func:`mlderive.training.train` relies on:

* ``forward(X) -> logits`` (no cache kept; for prediction);
* ``loss(X, labels) -> (loss, cache)`` and ``backward(cache)``, which fills ``model.grads``;
* ``params`` and ``grads``: dicts with the same keys (``"W1"``, ``"b1"``, ``"W2"``, ...) whose
  arrays an optimiser updates / reads in place (the layers hold the very same arrays);
* ``predict(X)``, ``accuracy(X, labels)``, ``evaluate(X, labels) -> (data loss, accuracy)``;
* ``get_params()`` / ``set_params(values)`` to copy the parameters out and back in.

The optional L2 penalty ``(l2 / 2) sum_l ||W_l||_F^2`` applies to the weight matrices, never to
the biases; it is part of ``loss`` (the objective the gradients belong to) and adds ``l2 W_l``
to each weight gradient. ``cache.data_loss`` holds the loss without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ._validate import as_float_array
from .functions import sigmoid
from .layers import (
    ACTIVATIONS,
    DEFAULT_DTYPE,
    Linear,
    ReLU,
    Sigmoid,
    SigmoidBinaryCrossEntropy,
    SoftmaxCrossEntropy,
)

EVALUATION_CHUNK = 8192  # rows per forward pass in evaluate/predict: bounds the memory used


@dataclass
class ForwardCache:
    """What ``Network.loss`` hands to ``Network.backward``.

    ``layer_caches``: one cache per layer; ``loss_cache``: the loss layer's cache; ``logits``:
    the network's output; ``data_loss``: the loss without the L2 penalty.
    """

    layer_caches: list
    loss_cache: tuple
    logits: np.ndarray
    data_loss: float


def _check_l2(l2) -> float:
    if not (np.isscalar(l2) and np.isfinite(l2) and l2 >= 0):
        raise ValueError(f"l2 must be a finite number >= 0 (the penalty strength), got {l2!r}.")
    return float(l2)


class Network:
    """A stack of layers ending in a fused loss layer (the base of every model here).

    ``layers``: :class:`~mlderive.layers.Linear` layers and activations, applied in order;
    ``loss_layer``: a fused loss (``SoftmaxCrossEntropy`` or ``SigmoidBinaryCrossEntropy``).
    The ``i``-th Linear layer's parameters appear in ``params`` as ``"W{i}"`` and ``"b{i}"``.
    """

    skippable_input_gradient: tuple[type, ...] = (Linear,)
    evaluation_chunk: int | None = None  # rows per forward pass in evaluate; None: the default

    def _chunk(self) -> int:
        return self.evaluation_chunk or EVALUATION_CHUNK

    def __init__(self, layers: Sequence, loss_layer, l2: float = 0.0):
        self.layers = list(layers)
        self.loss_layer = loss_layer
        self.l2 = _check_l2(l2)
        linear = [layer for layer in self.layers if isinstance(layer, Linear)]
        if not linear or not isinstance(self.layers[0], Linear):
            raise ValueError("a network must start with a Linear layer.")
        self.dtype = linear[0].dtype
        self.d_in = linear[0].d_in
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        for i, layer in enumerate(linear, start=1):
            for name in layer.params:
                self.params[f"{name}{i}"] = layer.params[name]
                self.grads[f"{name}{i}"] = layer.grads[name]
        self.weight_names = [f"W{i}" for i in range(1, len(linear) + 1)]

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"{type(self).__name__}([{inner}], l2={self.l2})"

    # ------------------------------------------------------------------ forward and backward

    def _output(self, out: np.ndarray) -> np.ndarray:
        """Turn the last layer's output into the logits the loss layer takes."""
        return out

    def forward(self, X) -> np.ndarray:
        """Logits for ``X: (n, d)`` (converted to the model's dtype)."""
        out = X
        for layer in self.layers:
            out, _ = layer.forward(out)
        return self._output(out)

    def penalty(self) -> float:
        """``(l2 / 2) sum_l ||W_l||_F^2`` (0 without L2)."""
        if not self.l2:
            return 0.0
        total = sum(float(np.vdot(self.params[w], self.params[w])) for w in self.weight_names)
        return 0.5 * self.l2 * total

    def loss(self, X, labels) -> tuple[float, ForwardCache]:
        """Return ``(data loss + L2 penalty, cache)`` for ``X: (n, d)`` and its labels."""
        out = X
        caches = []
        for layer in self.layers:
            out, cache = layer.forward(out)
            caches.append(cache)
        logits = self._output(out)
        data_loss, loss_cache = self.loss_layer.forward(logits, labels)
        return data_loss + self.penalty(), ForwardCache(caches, loss_cache, logits, data_loss)

    def backward(self, cache: ForwardCache) -> None:
        """Overwrite ``self.grads`` with the gradient of ``loss`` at the cached forward pass.

        The first layer's input gradient is never needed, so layers that can skip it (those in
        ``skippable_input_gradient``) are told to.
        """
        upstream = self.loss_layer.backward(cache.loss_cache)
        upstream = upstream.reshape(np.shape(cache.logits)[0], -1)
        for index in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[index]
            if isinstance(layer, self.skippable_input_gradient):
                upstream = layer.backward(upstream, cache.layer_caches[index], index > 0)
            else:
                upstream = layer.backward(upstream, cache.layer_caches[index])
        if self.l2:
            for w in self.weight_names:
                self.grads[w] += self.l2 * self.params[w]

    def loss_and_gradients(self, X, labels) -> float:
        """Forward and backward in one call: return the loss, leave the gradients in ``grads``."""
        value, cache = self.loss(X, labels)
        self.backward(cache)
        return value

    # ------------------------------------------------------------------ prediction

    def predictions_from_logits(self, logits: np.ndarray) -> np.ndarray:
        """Predicted classes ``(n,)``: the arg-max of each row of logits."""
        return np.argmax(logits, axis=1)

    def predict(self, X) -> np.ndarray:
        """Predicted classes ``(n,)`` for ``X: (n, d)``."""
        X = as_float_array(X, "X", ndim=2)
        chunk = self._chunk()
        chunks = [
            self.predictions_from_logits(self.forward(X[i : i + chunk]))
            for i in range(0, X.shape[0], chunk)
        ]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)

    def accuracy(self, X, labels) -> float:
        """Fraction of rows of ``X`` whose predicted class equals the integer label."""
        labels = np.asarray(labels)
        if labels.shape != (np.shape(X)[0],):
            raise ValueError(
                f"labels must be integer classes of shape ({np.shape(X)[0]},), one per row of "
                f"X; got shape {labels.shape}."
            )
        return float(np.mean(self.predict(X) == labels))

    def evaluate(self, X, labels) -> tuple[float, float]:
        """``(mean data loss without L2, accuracy)`` over ``X: (n, d)``, in chunks."""
        X = as_float_array(X, "X", ndim=2)
        labels = np.asarray(labels)
        if X.shape[0] == 0 or labels.shape[:1] != X.shape[:1]:
            raise ValueError(
                f"evaluate needs a non-empty X and one label per row; got X {X.shape} and "
                f"labels {labels.shape}."
            )
        total_loss, correct = 0.0, 0
        chunk = self._chunk()
        for i in range(0, X.shape[0], chunk):
            logits = self.forward(X[i : i + chunk])
            chunk_labels = labels[i : i + chunk]
            chunk_loss, _ = self.loss_layer.forward(logits, chunk_labels)
            total_loss += chunk_loss * logits.shape[0]
            if chunk_labels.ndim == 1:
                correct += int(np.sum(self.predictions_from_logits(logits) == chunk_labels))
            else:
                truth = np.argmax(chunk_labels, axis=1)
                correct += int(np.sum(self.predictions_from_logits(logits) == truth))
        return total_loss / X.shape[0], correct / X.shape[0]

    # ------------------------------------------------------------------ parameters

    def get_params(self) -> dict[str, np.ndarray]:
        """A copy of every parameter array, keyed like ``params``."""
        return {name: value.copy() for name, value in self.params.items()}

    def set_params(self, values: Mapping[str, np.ndarray]) -> None:
        """Copy ``values`` (same keys and shapes as ``params``) into the parameters in place."""
        if set(values) != set(self.params):
            raise ValueError(
                f"set_params needs exactly the keys {sorted(self.params)}, got {sorted(values)}."
            )
        for name, value in values.items():
            if np.shape(value) != self.params[name].shape:
                raise ValueError(
                    f"parameter {name} must have shape {self.params[name].shape}, "
                    f"got {np.shape(value)}."
                )
            self.params[name][...] = value

    @property
    def num_parameters(self) -> int:
        """Total number of scalar parameters."""
        return sum(value.size for value in self.params.values())


class MLP(Network):
    """Multi-layer perceptron with a softmax output and the mean cross-entropy loss.

    ``sizes = [d, h_1, ..., h_m, K]``: input dimension, hidden widths, number of classes
    (any depth; ``[d, K]`` is softmax regression). Hidden layers use ``activation`` ("relu" or
    "sigmoid"). ``init`` defaults to "he" for ReLU and "xavier" for sigmoid; biases start at
    zero. ``seed`` (an int or a ``numpy.random.Generator``) fixes the initial weights.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "relu",
        seed=0,
        l2: float = 0.0,
        init: str | None = None,
        dtype=DEFAULT_DTYPE,
    ):
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(
                f"sizes must list at least the input dimension and the number of classes, "
                f"e.g. [784, 256, 10]; got {sizes}."
            )
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}."
            )
        init = init or ("he" if activation == "relu" else "xavier")
        rng = np.random.default_rng(seed)
        layers = []
        for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            if i > 0:
                # In place is safe here: nothing else reads a hidden layer's pre-activation.
                layers.append(ReLU(inplace=True) if activation == "relu" else Sigmoid())
            layers.append(Linear(d_in, d_out, init=init, seed=rng, dtype=dtype))
        super().__init__(layers, SoftmaxCrossEntropy(), l2)
        self.sizes = sizes
        self.activation = activation


class SoftmaxRegression(MLP):
    """Softmax regression ``logits = X W + b`` with ``W: (d, K)``; zero initial weights."""

    def __init__(
        self, d: int, K: int, l2: float = 0.0, init: str = "zeros", seed=0, dtype=DEFAULT_DTYPE
    ):
        super().__init__([d, K], seed=seed, l2=l2, init=init, dtype=dtype)


class LogisticRegression(Network):
    """Binary logistic regression: logit ``z = X w + b``, ``P(y = 1 | x) = sigmoid(z)``.

    Stored as a Linear layer with ``W1: (d, 1)`` and ``b1: (1,)``; labels are 0/1 ``(n,)``;
    the logits returned by ``forward`` have shape ``(n,)``.
    """

    def __init__(self, d: int, l2: float = 0.0, init: str = "zeros", seed=0, dtype=DEFAULT_DTYPE):
        layer = Linear(d, 1, init=init, seed=seed, dtype=dtype)
        super().__init__([layer], SigmoidBinaryCrossEntropy(), l2)

    def _output(self, out: np.ndarray) -> np.ndarray:
        return out[:, 0]

    def predictions_from_logits(self, logits: np.ndarray) -> np.ndarray:
        """Class 1 where the logit is >= 0 (probability >= 1/2), else class 0."""
        return (logits >= 0).astype(np.int64)

    def predict_proba(self, X) -> np.ndarray:
        """``P(y = 1 | x)`` for each row of ``X``: shape ``(n,)``."""
        return sigmoid(self.forward(X))


__all__ = ["ForwardCache", "LogisticRegression", "MLP", "Network", "SoftmaxRegression"]
