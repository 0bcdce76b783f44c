"""The CNN chapter's model and its confusion matrix.

* :func:`small_cnn` -- conv 3x3 - max-pool - ReLU - conv 3x3 - max-pool - ReLU - dense, with
  optional batch norm (after each convolution) and dropout (before the dense layer): a
  :class:`mlderive.models.Network` of :mod:`mlderive.conv` and :mod:`mlderive.layers` layers;
* :func:`confusion_matrix` -- counts of (true class, predicted class);
* :class:`LowerRateAfter` -- an optimiser whose learning rate drops once, after a given number
  of steps (the best network's schedule, in one call to :func:`mlderive.training.train`).
"""

from __future__ import annotations

import numpy as np

from .conv import BatchNorm, Conv2d, Dropout, Flatten, MaxPool2d
from .layers import DEFAULT_DTYPE, Linear, ReLU
from .models import Network
from .validation import (
    ArgumentTypeError,
    check_int_labels,
    nonnegative_int,
    positive_int,
    positive_number,
    probability,
)


def small_cnn(
    channels: tuple[int, int] = (16, 32),
    batchnorm: bool = False,
    dropout: float = 0.0,
    hidden: int = 0,
    input_shape: tuple[int, int, int] = (1, 28, 28),
    classes: int = 10,
    seed: int = 0,
    dtype=DEFAULT_DTYPE,
) -> Network:
    """``conv(c1) [-BN] - pool - ReLU - conv(c2) [-BN] - pool - ReLU - flatten [- dropout]
    [- dense(hidden) - ReLU] - dense(classes)``, for flat inputs ``X: (n, C H W)`` with
    ``input_shape = (C, H, W)``.

    Max-pooling comes before the ReLU: the two commute (``max(max_i x_i, 0) = max_i max(x_i,
    0)``, and the gradients agree too), so this is the usual conv - ReLU - pool network, with
    the ReLU applied to a quarter as many values.

    Convolutions are 3x3 with padding 1 (they keep the size); each 2x2 max-pool halves it, so
    a 28x28 image becomes ``c2`` maps of 7x7 before the dense layer. ``dropout``: the
    probability of dropping each of those ``c2 * 7 * 7`` features in training (0: no dropout
    layer). ``hidden``: the width of a hidden dense layer (0: none). ``seed`` fixes every
    initial weight and the dropout masks.
    """
    if np.ndim(channels) != 1 or len(channels) != 2:
        raise ValueError(
            f"channels must be a pair (c1, c2) of positive integers, got {channels!r}."
        )
    c1, c2 = (positive_int(c, "channels") for c in channels)
    if np.ndim(input_shape) != 1 or len(input_shape) != 3:
        raise ValueError(f"input_shape must be (C, H, W), got {input_shape!r}.")
    C, H, W = (positive_int(size, "input_shape") for size in input_shape)
    dropout = probability(dropout, "dropout", " (the probability of dropping a feature)")
    hidden = nonnegative_int(hidden, "hidden")
    classes = positive_int(classes, "classes")
    if H % 4 or W % 4:
        raise ValueError(
            f"small_cnn halves the image twice, so it needs H and W divisible by 4; "
            f"got input_shape {input_shape}."
        )
    seeds = np.random.SeedSequence(nonnegative_int(seed, "seed")).spawn(5)
    layers: list = [Conv2d(C, c1, 3, padding=1, seed=seeds[0], dtype=dtype)]
    if batchnorm:
        layers.append(BatchNorm(c1, dtype=dtype))
    layers += [MaxPool2d(2), ReLU(), Conv2d(c1, c2, 3, padding=1, seed=seeds[1], dtype=dtype)]
    if batchnorm:
        layers.append(BatchNorm(c2, dtype=dtype))
    layers += [MaxPool2d(2), ReLU(), Flatten()]
    if dropout:
        layers.append(Dropout(dropout, seed=np.random.default_rng(seeds[2])))
    features = c2 * (H // 4) * (W // 4)
    if hidden:
        layers += [Linear(features, hidden, seed=seeds[4], dtype=dtype), ReLU()]
        features = hidden
    layers.append(Linear(features, classes, seed=seeds[3], dtype=dtype))
    return Network(layers, input_shape=(C, H, W))


def confusion_matrix(labels, predictions, classes: int) -> np.ndarray:
    """``(classes, classes)`` int counts: row = true class, column = predicted class."""
    classes = positive_int(classes, "classes")
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape or labels.ndim != 1:
        raise ValueError(
            f"labels and predictions must be 1-D and of the same length; got {labels.shape} "
            f"and {predictions.shape}."
        )
    n = labels.shape[0]
    if n == 0:  # np.asarray([]) is float64: an empty input is valid whatever its dtype
        return np.zeros((classes, classes), dtype=np.int64)
    labels = check_int_labels(labels, n, classes, "labels")
    predictions = check_int_labels(predictions, n, classes, "predictions")
    counts = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(counts, (labels, predictions), 1)
    return counts


class LowerRateAfter:
    """Wrap an optimiser: its first ``steps`` steps use its learning rate ``lr``, every later
    step ``factor * lr``. Its state (Adam's running averages, a momentum) carries over.

    Training "5 epochs at ``lr``, then 1 at ``lr / 10``" is then one call to
    :func:`mlderive.training.train` with ``epochs=6`` and
    ``LowerRateAfter(Adam(lr), steps=5 * steps_per_epoch, factor=0.1)``, which is what
    :func:`mlderive.parallel.train_in_parallel` can run. ``lr`` reads the rate of the next
    step; ``reset()`` forgets the state and restores the first rate.
    """

    def __init__(self, optimizer, steps: int, factor: float = 0.1):
        if not callable(getattr(optimizer, "step", None)) or not hasattr(optimizer, "lr"):
            raise ArgumentTypeError(
                f"optimizer must be an optimiser with a learning rate lr and a step(params, "
                f"grads) method (e.g. mlderive.optim.Adam(1e-3)), got {optimizer!r:.60}."
            )
        self.optimizer = optimizer
        self.steps = positive_int(steps, "steps")
        self.factor = positive_number(factor, "factor", " (the learning rate's multiplier)")
        self.first_lr = float(optimizer.lr)
        self.taken = 0

    def __repr__(self) -> str:
        return f"LowerRateAfter({self.optimizer!r}, steps={self.steps}, factor={self.factor})"

    @property
    def lr(self) -> float:
        """The learning rate of the next step."""
        return self.first_lr * (self.factor if self.taken >= self.steps else 1.0)

    def step(self, params, grads) -> None:
        """One step of the wrapped optimiser, at :attr:`lr`."""
        self.optimizer.lr = self.lr
        self.optimizer.step(params, grads)
        self.taken += 1

    def reset(self) -> None:
        """Forget the wrapped optimiser's state and the steps taken."""
        self.optimizer.reset()
        self.optimizer.lr = self.first_lr
        self.taken = 0


__all__ = ["LowerRateAfter", "confusion_matrix", "small_cnn"]
