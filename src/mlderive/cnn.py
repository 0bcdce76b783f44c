"""The book's small convolutional network (SPEC E8) and its confusion matrix.

* :func:`small_cnn` -- conv 3x3 - ReLU - max-pool - conv 3x3 - ReLU - max-pool - dense, with
  optional batch norm (after each convolution) and dropout (before the dense layer);
* :func:`confusion_matrix` -- counts of (true class, predicted class).
"""

from __future__ import annotations

import numpy as np

from .conv import CNN, BatchNorm, Conv2d, Dropout, Flatten, MaxPool2d
from .layers import DEFAULT_DTYPE, Linear, ReLU


def small_cnn(
    channels: tuple[int, int] = (16, 32),
    batchnorm: bool = False,
    dropout: float = 0.0,
    hidden: int = 0,
    input_shape: tuple[int, int, int] = (1, 28, 28),
    classes: int = 10,
    seed: int = 0,
    dtype=DEFAULT_DTYPE,
) -> CNN:
    """``conv(c1) [-BN] - ReLU - pool - conv(c2) [-BN] - ReLU - pool - flatten [- dropout]
    [- dense(hidden) - ReLU] - dense(classes)``, for flat inputs ``X: (n, C H W)`` with
    ``input_shape = (C, H, W)``.

    Convolutions are 3x3 with padding 1 (they keep the size); each 2x2 max-pool halves it, so
    a 28x28 image becomes ``c2`` maps of 7x7 before the dense layer. ``dropout``: the
    probability of dropping each of those ``c2 * 7 * 7`` features in training (0: no dropout
    layer). ``hidden``: the width of a hidden dense layer (0: none). ``seed`` fixes every
    initial weight and the dropout masks.
    """
    C, H, W = input_shape
    c1, c2 = channels
    if H % 4 or W % 4:
        raise ValueError(
            f"small_cnn halves the image twice, so it needs H and W divisible by 4; "
            f"got input_shape {input_shape}."
        )
    seeds = np.random.SeedSequence(seed).spawn(5)
    layers: list = [Conv2d(C, c1, 3, padding=1, seed=seeds[0], dtype=dtype)]
    if batchnorm:
        layers.append(BatchNorm(c1, dtype=dtype))
    layers += [ReLU(), MaxPool2d(2), Conv2d(c1, c2, 3, padding=1, seed=seeds[1], dtype=dtype)]
    if batchnorm:
        layers.append(BatchNorm(c2, dtype=dtype))
    layers += [ReLU(), MaxPool2d(2), Flatten()]
    if dropout:
        layers.append(Dropout(dropout, seed=np.random.default_rng(seeds[2])))
    features = c2 * (H // 4) * (W // 4)
    if hidden:
        layers += [Linear(features, hidden, seed=seeds[4], dtype=dtype), ReLU()]
        features = hidden
    layers.append(Linear(features, classes, seed=seeds[3], dtype=dtype))
    return CNN(layers, input_shape)


def confusion_matrix(labels, predictions, classes: int) -> np.ndarray:
    """``(classes, classes)`` int counts: row = true class, column = predicted class."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape or labels.ndim != 1:
        raise ValueError(
            f"labels and predictions must be 1-D and of the same length; got {labels.shape} "
            f"and {predictions.shape}."
        )
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values.size and (values.min() < 0 or values.max() >= classes):
            raise ValueError(
                f"{name} must be classes in 0..{classes - 1}; found values from "
                f"{values.min()} to {values.max()}."
            )
    counts = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(counts, (labels, predictions), 1)
    return counts


__all__ = ["confusion_matrix", "small_cnn"]
