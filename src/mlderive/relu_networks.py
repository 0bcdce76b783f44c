"""ReLU networks written out as explicit weight matrices, and the ones that compute a maximum.

A :class:`ReluNetwork` is a list of affine layers ``(W: (d_in, d_out), b: (d_out,))``. Each
layer maps ``H -> H @ W + b`` (one row per example, as ``Z = X W + b`` elsewhere in the book);
every layer but the last is followed by ``relu``.

Constructors:

* :func:`max2_four_units` -- ``max(x1, x2) = (x1 + x2)/2 + |x1 - x2|/2`` with 4 hidden units;
* :func:`max2_three_units` -- ``max(x1, x2) = relu(x1 - x2) + relu(x2) - relu(-x2)``;
* :func:`max_n_tree` -- ``max(x_1, ..., x_n)`` by a binary tournament of such blocks, with
  ``ceil(log2 n)`` hidden layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validation import as_float_array, check_choice, positive_int

# Each two-input block: the pre-activation columns it adds (one per hidden unit, acting on the
# pair (u, v)) and the readout weights that turn those units' outputs back into max(u, v).
_BLOCKS = {
    # units (u+v)/2, (u-v)/2, (-u+v)/2, (-u-v)/2; readout z1 + z2 + z3 - z4
    "four": (np.array([[0.5, 0.5, -0.5, -0.5], [0.5, -0.5, 0.5, -0.5]]), np.array([1, 1, 1, -1])),
    # units u - v, v, -v; readout z1 + z2 - z3
    "three": (np.array([[1.0, 0.0, 0.0], [-1.0, 1.0, -1.0]]), np.array([1, 1, -1])),
}
# Carrying one value w to the next layer unchanged: units w, -w; readout z1 - z2.
_PASS_THROUGH = (np.array([[1.0, -1.0]]), np.array([1, -1]))


@dataclass(frozen=True)
class ReluNetwork:
    """A fully connected ReLU network given by its layers ``((W, b), ...)``.

    ``W`` of layer ``l`` has shape ``(d_l, d_{l+1})`` and ``b`` shape ``(d_{l+1},)``. Hidden
    layers (all but the last) apply ``relu``; the last layer is affine (no activation).
    """

    layers: tuple[tuple[np.ndarray, np.ndarray], ...]

    def __post_init__(self):
        if len(self.layers) == 0:
            raise ValueError("a ReluNetwork needs at least one (W, b) layer, got none.")
        checked = []
        for index, layer in enumerate(self.layers):
            if len(layer) != 2:
                raise ValueError(f"layer {index} must be a pair (W, b), got {len(layer)} items.")
            W = as_float_array(layer[0], f"W of layer {index}", ndim=2, finite=True)
            b = as_float_array(layer[1], f"b of layer {index}", ndim=1, finite=True)
            if b.shape != (W.shape[1],):
                raise ValueError(
                    f"b of layer {index} must have shape ({W.shape[1]},) to match W {W.shape}, "
                    f"got {b.shape}."
                )
            if checked and checked[-1][0].shape[1] != W.shape[0]:
                raise ValueError(
                    f"W of layer {index} must have {checked[-1][0].shape[1]} rows (the width of "
                    f"layer {index - 1}), got shape {W.shape}."
                )
            checked.append((W, b))
        object.__setattr__(self, "layers", tuple(checked))

    @property
    def input_dim(self) -> int:
        """Number of inputs ``d``."""
        return self.layers[0][0].shape[0]

    @property
    def depth(self) -> int:
        """Number of hidden (ReLU) layers: one less than the number of affine layers."""
        return len(self.layers) - 1

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        """Number of ReLU units in each hidden layer."""
        return tuple(W.shape[1] for W, _ in self.layers[:-1])

    def hidden_outputs(self, X) -> list[np.ndarray]:
        """Outputs of the hidden layers for ``X: (n, d)``: a list of ``(n, width_l)`` arrays."""
        H = self._check_input(X)
        outputs = []
        for W, b in self.layers[:-1]:
            H = np.maximum(H @ W + b, 0.0)
            outputs.append(H)
        return outputs

    def forward(self, X) -> np.ndarray:
        """Network output for ``X: (n, d)``: an ``(n, d_out)`` array."""
        hidden = self.hidden_outputs(X)
        H = hidden[-1] if hidden else self._check_input(X)
        W, b = self.layers[-1]
        return H @ W + b

    def _check_input(self, X) -> np.ndarray:
        X = as_float_array(X, "X", ndim=2, finite=True)
        if X.shape[1] != self.input_dim:
            raise ValueError(
                f"X must have shape (n, {self.input_dim}) for this network, got {X.shape}; "
                "pass one example per row."
            )
        return X


def _block(kind: str) -> tuple[np.ndarray, np.ndarray]:
    if kind not in _BLOCKS:
        raise ValueError(f"block must be one of {sorted(_BLOCKS)}, got {kind!r}.")
    return _BLOCKS[kind]


def _max2(kind: str) -> ReluNetwork:
    pre, readout = _block(kind)
    width = pre.shape[1]
    return ReluNetwork(
        ((pre.copy(), np.zeros(width)), (readout.astype(float)[:, None], np.zeros(1)))
    )


def max2_four_units() -> ReluNetwork:
    """``max(x1, x2)`` with one hidden layer of 4 ReLU units (inputs ``(n, 2)``, output ``(n, 1)``).

    Hidden pre-activations ``(x1+x2)/2, (x1-x2)/2, (-x1+x2)/2, (-x1-x2)/2``; output
    ``z1 + z2 + z3 - z4 = (x1+x2)/2 + |x1-x2|/2``.
    """
    return _max2("four")


def max2_three_units() -> ReluNetwork:
    """``max(x1, x2) = relu(x1 - x2) + relu(x2) - relu(-x2)``: one hidden layer of 3 units."""
    return _max2("three")


def _tournament_layer(count: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """One round of the tournament on ``count`` values.

    Returns ``(pre: (count, width), readout: (width, ceil(count / 2)))``: the hidden units'
    pre-activations as a linear map of the values, and the linear map from the units' outputs
    to the winners. Values ``2i`` and ``2i+1`` meet in a block; an odd last value passes through.
    """
    block_pre, block_readout = _block(kind)
    pieces = [(block_pre, block_readout)] * (count // 2)
    if count % 2:
        pieces.append(_PASS_THROUGH)
    width = sum(p.shape[1] for p, _ in pieces)
    pre = np.zeros((count, width))
    readout = np.zeros((width, len(pieces)))
    row = column = 0
    for winner, (p, r) in enumerate(pieces):
        pre[row : row + p.shape[0], column : column + p.shape[1]] = p
        readout[column : column + p.shape[1], winner] = r
        row += p.shape[0]
        column += p.shape[1]
    return pre, readout


def max_n_tree(n: int, block: str = "four") -> ReluNetwork:
    """``max(x_1, ..., x_n)`` by a tournament: ``ceil(log2 n)`` hidden layers, output ``(N, 1)``.

    Round ``r`` pairs the surviving values and replaces each pair by its maximum, computed by
    a two-input ``block`` (``"four"`` or ``"three"`` units); an odd one out is carried by two
    units ``relu(w), relu(-w)``. The linear readout of one round and the pre-activations of
    the next are multiplied into a single weight matrix, so every layer is an ordinary affine
    map followed by ReLU. ``n = 1`` gives the identity (no hidden layer).
    """
    n = positive_int(n, "n")
    check_choice(block, "block", ("four", "three"))
    layers = []
    readout = np.eye(n)  # the current values as a linear map of the previous layer's outputs
    count = n
    while count > 1:
        pre, next_readout = _tournament_layer(count, block)
        W = readout @ pre
        layers.append((W, np.zeros(W.shape[1])))
        readout, count = next_readout, next_readout.shape[1]
    layers.append((readout, np.zeros(1)))
    return ReluNetwork(tuple(layers))
