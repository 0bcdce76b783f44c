"""Models: one container, :class:`Network`, for any stack of layers, and the book's models.

A layer's ``forward`` returns ``(out, cache)`` (see :mod:`mlderive.layers`); a model's
``forward`` returns the logits only, and its ``loss`` returns ``(loss, cache)``. Every model
has the interface that :func:`mlderive.training.train` relies on, written down once as the
:class:`mlderive.training.TrainableModel` protocol:

* ``forward(X) -> logits`` (evaluation mode, no cache kept; for prediction);
* ``loss(X, labels) -> (loss, cache)`` (training mode) and ``backward(cache)``, which fills
  ``model.grads``;
* ``params`` and ``grads``: dicts with the same keys (``"W1"``, ``"b1"``, ``"W2"``, ...) whose
  arrays an optimiser updates / reads in place (the layers hold the very same arrays);
* ``predict(X)``, ``accuracy(X, labels)``, ``evaluate(X, labels) -> (data loss, accuracy)``;
* ``check_labels(labels)``; ``get_params()`` / ``set_params(values)``.

Parameter names: the ``i``-th layer that has parameters (counting from 1) contributes
``"{name}{i}"`` for each of its parameters: ``W1 b1 W2 b2`` for a two-layer MLP,
``W1 b1 gamma2 beta2 W3 b3 ...`` for a CNN with batch norm. The optional L2 penalty
``(l2 / 2) sum ||W||_F^2`` applies to the ``W`` arrays (weight matrices and filters), never
to biases or batch-norm parameters; it is part of ``loss`` (the objective the gradients belong
to) and adds ``l2 W`` to each weight gradient. ``cache.data_loss`` holds the loss without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

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
from .validation import (
    ArgumentTypeError,
    as_float_array,
    as_rng,
    check_choice,
    check_finite,
    nonnegative_number,
    positive_int,
)

EVALUATION_CHUNK = 8192  # rows per forward pass in evaluate/predict: bounds the memory used
IMAGE_EVALUATION_CHUNK = 500  # for image input: an im2col matrix of 500 images is tens of MB


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


class Network:
    """A stack of layers ending in a fused loss layer: the one container of every model here.

    ``layers``: applied in order -- dense (:class:`~mlderive.layers.Linear`, activations) or
    convolutional (:mod:`mlderive.conv`); ``loss_layer``: a fused loss,
    :class:`~mlderive.layers.SoftmaxCrossEntropy` by default; ``l2``: the L2 strength;
    ``input_shape``: for image layers, ``(C, H, W)``: the model then takes FLAT rows
    ``X: (n, C H W)`` (like every model here) and reshapes them to ``(n, C, H, W)`` first.
    Without it the first layer must be a ``Linear`` layer, whose ``d_in`` fixes the input.

    Modes: ``loss`` (the training pass) runs every layer in training mode (dropout on, batch
    statistics, running statistics updated); ``forward``, ``predict``, ``evaluate`` and
    ``activations`` run them in evaluation mode (no dropout, running statistics, nothing
    updated). Layers with a ``training`` attribute are switched; others behave the same.
    """

    def __init__(
        self,
        layers: Sequence,
        loss_layer=None,
        l2: float = 0.0,
        input_shape: Sequence[int] | None = None,
        evaluation_chunk: int | None = None,
    ):
        self.layers = list(layers)
        self.loss_layer = SoftmaxCrossEntropy() if loss_layer is None else loss_layer
        self.l2 = nonnegative_number(l2, "l2", " (the penalty strength)")
        if input_shape is None:
            if not self.layers or not isinstance(self.layers[0], Linear):
                raise ValueError(
                    "a network without input_shape must start with a Linear layer; for image "
                    "layers pass input_shape=(C, H, W)."
                )
            self.input_shape = None
            self.d_in = self.layers[0].d_in
        else:
            if np.ndim(input_shape) != 1 or len(input_shape) != 3:
                raise ValueError(f"input_shape must be (C, H, W), got {input_shape!r}.")
            self.input_shape = tuple(positive_int(size, "input_shape") for size in input_shape)
            self.d_in = int(np.prod(self.input_shape))
        if evaluation_chunk is None:
            evaluation_chunk = EVALUATION_CHUNK if input_shape is None else IMAGE_EVALUATION_CHUNK
        self.evaluation_chunk = positive_int(evaluation_chunk, "evaluation_chunk")
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        with_params = [layer for layer in self.layers if getattr(layer, "params", None)]
        if not with_params:
            raise ValueError("a network needs at least one layer with parameters (e.g. Linear).")
        self._names: dict[int, list[str]] = {}  # id(layer) -> its keys in params
        for i, layer in enumerate(with_params, start=1):
            self._names[id(layer)] = [f"{name}{i}" for name in layer.params]
            for name in layer.params:
                self.params[f"{name}{i}"] = layer.params[name]
                self.grads[f"{name}{i}"] = layer.grads[name]
        self.dtype = with_params[0].dtype
        self.weight_names = [name for name in self.params if name.startswith("W")]
        self.num_classes = self._count_classes(with_params[-1])

    def _count_classes(self, last) -> int | None:
        """The number of classes: 2 for a sigmoid loss, else the last Linear layer's outputs
        (None when the stack ends in another kind of layer: then labels are checked per
        batch by the loss layer only)."""
        if isinstance(self.loss_layer, SigmoidBinaryCrossEntropy):
            return 2
        if not isinstance(last, Linear):
            return None
        if last.d_out < 2:
            raise ValueError(
                f"a classifier needs at least 2 classes; the last layer {last!r} gives "
                f"{last.d_out} output. Use LogisticRegression for two classes."
            )
        return last.d_out

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"{type(self).__name__}([{inner}], l2={self.l2})"

    def names_of(self, layer) -> list[str]:
        """The keys of ``layer``'s parameters in ``params`` (``[]`` for a layer without any)."""
        return list(self._names.get(id(layer), []))

    # ------------------------------------------------------------------ modes and input

    def set_training(self, training: bool) -> None:
        """Put every layer that has a mode (dropout, batch norm) in training or evaluation mode."""
        for layer in self.layers:
            if hasattr(layer, "training"):
                layer.training = bool(training)

    def _input(self, X) -> np.ndarray:
        """``X: (n, d_in)`` checked and in the model's dtype; images reshaped if needed."""
        if not (type(X) is np.ndarray and X.dtype == self.dtype and X.ndim == 2):
            X = as_float_array(X, "X", ndim=2)
        if X.shape[1] != self.d_in:
            shape = f" (one flattened {self.input_shape} image per row)" if self.input_shape else ""
            raise ValueError(
                f"X must have shape (n, {self.d_in}) to match the model's input{shape}; "
                f"got {X.shape}."
            )
        X = X.astype(self.dtype, copy=False)
        return X if self.input_shape is None else X.reshape((X.shape[0],) + self.input_shape)

    def check_labels(self, labels) -> None:
        """Raise unless ``labels`` suit the loss layer (all of them: before any training).

        A custom loss layer without a ``check_labels`` method gets the check of
        :class:`~mlderive.layers.SoftmaxCrossEntropy` (class indices or probability rows).
        """
        if self.num_classes is None:
            return
        labels = np.asarray(labels)
        check = getattr(self.loss_layer, "check_labels", SoftmaxCrossEntropy().check_labels)
        check(labels, labels.shape[0] if labels.ndim else -1, self.num_classes)

    # ------------------------------------------------------------------ forward and backward

    def _output(self, out: np.ndarray) -> np.ndarray:
        """Turn the last layer's output into the logits the loss layer takes."""
        return out

    def activations(self, X, upto: int) -> np.ndarray:
        """The output of ``layers[upto]`` for ``X: (n, d_in)``, every layer in evaluation mode
        (for a convolution or pooling layer: ``(n, channels, height, width)``)."""
        if isinstance(upto, bool) or not isinstance(upto, int | np.integer):
            raise ArgumentTypeError(f"upto must be a layer index (an int), got {upto!r}.")
        if not 0 <= upto < len(self.layers):
            raise ValueError(f"upto must index one of the {len(self.layers)} layers; got {upto}.")
        out = check_finite(self._input(X), "X")
        self.set_training(False)
        try:
            for layer in self.layers[: upto + 1]:
                out, _ = layer.forward(out)
        finally:
            self.set_training(True)
        return out

    def forward(self, X) -> np.ndarray:
        """Logits for ``X: (n, d_in)`` (evaluation mode)."""
        return self._output(self.activations(X, len(self.layers) - 1))

    def penalty(self) -> float:
        """``(l2 / 2) sum_l ||W_l||_F^2`` (0 without L2)."""
        if not self.l2:
            return 0.0
        total = sum(float(np.vdot(self.params[w], self.params[w])) for w in self.weight_names)
        return 0.5 * self.l2 * total

    def loss(self, X, labels) -> tuple[float, ForwardCache]:
        """Return ``(data loss + L2 penalty, cache)`` for ``X: (n, d_in)`` (training mode)."""
        out = self._input(X)
        self.set_training(True)
        caches = []
        for layer in self.layers:
            out, cache = layer.forward(out)
            caches.append(cache)
        logits = self._output(out)
        data_loss, loss_cache = self.loss_layer.forward(logits, labels)
        return data_loss + self.penalty(), ForwardCache(caches, loss_cache, logits, data_loss)

    def backward(self, cache: ForwardCache) -> None:
        """Overwrite ``self.grads`` with the gradient of ``loss`` at the cached forward pass.

        The first layer's input gradient is never needed, so a layer that can skip it (one
        with ``skips_input_gradient``: Linear, Conv2d) is told to.
        """
        upstream = self.loss_layer.backward(cache.loss_cache)
        upstream = upstream.reshape(np.shape(cache.logits)[0], -1)
        for index in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[index]
            if getattr(layer, "skips_input_gradient", False):
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
        """Predicted classes ``(n,)`` for ``X: (n, d_in)``."""
        X = as_float_array(X, "X", ndim=2, finite=True)
        chunk = self.evaluation_chunk
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
        self.check_labels(labels)
        return float(np.mean(self.predict(X) == labels))

    def evaluate(self, X, labels) -> tuple[float, float]:
        """``(mean data loss without L2, accuracy)`` over ``X: (n, d_in)``, in chunks."""
        X = as_float_array(X, "X", ndim=2, finite=True)
        labels = np.asarray(labels)
        if X.shape[0] == 0 or labels.shape[:1] != X.shape[:1]:
            raise ValueError(
                f"evaluate needs a non-empty X and one label per row; got X {X.shape} and "
                f"labels {labels.shape}."
            )
        total_loss, correct = 0.0, 0
        chunk = self.evaluation_chunk
        for i in range(0, X.shape[0], chunk):
            logits = self.forward(X[i : i + chunk])
            chunk_labels = labels[i : i + chunk]
            chunk_loss, _ = self.loss_layer.forward(logits, chunk_labels)
            total_loss += chunk_loss * logits.shape[0]
            truth = chunk_labels if chunk_labels.ndim == 1 else np.argmax(chunk_labels, axis=1)
            correct += int(np.sum(self.predictions_from_logits(logits) == truth))
        return total_loss / X.shape[0], correct / X.shape[0]

    # ------------------------------------------------------------------ parameters

    def get_params(self) -> dict[str, np.ndarray]:
        """A copy of every parameter array, keyed like ``params``."""
        return {name: value.copy() for name, value in self.params.items()}

    def set_params(self, values: Mapping[str, np.ndarray]) -> None:
        """Copy ``values`` (same keys and shapes as ``params``) into the parameters in place.

        Everything is checked before the first array is written.
        """
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
        for name, value in values.items():
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
        check_choice(activation, "activation", sorted(ACTIVATIONS))
        sizes = [positive_int(size, "sizes") for size in sizes]
        if sizes[-1] < 2:
            raise ValueError(
                f"the last size is the number of classes and must be at least 2, got {sizes}."
            )
        init = init or ("he" if activation == "relu" else "xavier")
        rng = as_rng(seed)
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


__all__ = [
    "ForwardCache",
    "LogisticRegression",
    "MLP",
    "Network",
    "SoftmaxRegression",
]
