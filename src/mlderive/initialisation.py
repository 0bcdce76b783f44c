"""How the scale of the initial weights carries through a deep ReLU stack.

``relu_stack_second_moments(X, widths, gain, seed)`` draws a stack of dense layers with
weights of variance ``gain / d_in`` (``gain = 2`` is He's choice) and zero biases, pushes
``X`` through it and returns, for every layer, the mean square of its pre-activations
``z = h W`` and of its outputs ``relu(z)``. The variance argument predicts that each layer
multiplies the mean square of ``z`` by ``gain / 2``, and that ``relu`` halves it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .validation import as_float_array, as_rng, positive_int, positive_number


def relu_stack_second_moments(
    X, widths: Sequence[int], gain: float = 2.0, seed=0
) -> tuple[np.ndarray, np.ndarray]:
    """Mean squares of the pre-activations and ReLU outputs of each layer of a random stack.

    ``X: (n, d)`` inputs (float64 is used throughout); ``widths = [h_1, ..., h_L]``: the
    layers' output widths; weights of layer ``l`` are drawn from ``N(0, gain / d_{l-1})``
    with ``d_0 = d``, biases are zero. Layer 1 is applied to ``X`` itself, layer ``l > 1``
    to ``relu`` of layer ``l - 1``'s pre-activations. ``seed``: an int or a
    ``numpy.random.Generator``.

    Returns ``(z_moments: (L,), h_moments: (L,))``: ``mean(z_l ** 2)`` and
    ``mean(relu(z_l) ** 2)`` over all rows and units of layer ``l``.
    """
    X = np.asarray(as_float_array(X, "X", ndim=2, finite=True), dtype=np.float64)
    widths = [positive_int(width, "widths") for width in widths]
    if not widths:
        raise ValueError("widths must list at least one layer width, e.g. [256] * 10.")
    gain = positive_number(gain, "gain", " (the weights' variance times d_in, e.g. 2)")
    rng = as_rng(seed)
    z_moments, h_moments = [], []
    h = X
    for width in widths:
        d_in = h.shape[1]
        W = rng.standard_normal((d_in, width)) * np.sqrt(gain / d_in)
        z = h @ W
        h = np.maximum(z, 0)
        z_moments.append(float(np.mean(z * z)))
        h_moments.append(float(np.mean(h * h)))
    return np.array(z_moments), np.array(h_moments)
