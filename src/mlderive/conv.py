"""Layers for convolutional networks, with explicit forward and backward passes.

Same conventions as :mod:`mlderive.layers`: ``forward(X) -> (out, cache)``,
``backward(upstream, cache) -> dL/dX``; a layer with parameters exposes ``params`` and
``grads`` (dicts with the same keys, the gradients overwritten in place by each backward
pass); float32 by default, float64 for gradient checks. Images are ``(n, C, H, W)``: examples,
channels, height, width.

* :class:`Conv2d` -- im2col by one strided copy per kernel offset, one matrix product per pass;
* :class:`MaxPool2d` -- the gradient goes to the (first) arg-max of each window;
* :class:`BatchNorm` -- per channel for ``(n, C, H, W)``, per feature for ``(n, C)``;
* :class:`Dropout` -- inverted dropout (scaled at training time, identity at evaluation);
* :class:`Flatten` -- ``(n, C, H, W) -> (n, C H W)``.

This module holds layers only: :class:`mlderive.models.Network` (with ``input_shape``) stacks
them into a model, and :func:`mlderive.cnn.small_cnn` builds the book's CNN.

:class:`Dropout` and :class:`BatchNorm` behave differently in training and in evaluation:
their attribute ``training`` (True at construction) chooses.
"""

from __future__ import annotations

import numpy as np

from .layers import DEFAULT_DTYPE, check_dtype, initial_weights
from .validation import (
    NonFiniteError,
    as_float_array,
    as_rng,
    check_upstream,
    nonnegative_int,
    positive_int,
    positive_number,
    probability,
)


def _pair(value, name: str) -> tuple[int, int]:
    """``k`` or ``(kh, kw)`` -> ``(kh, kw)``, each a positive integer."""
    if np.ndim(value) == 0:
        value = (value, value)
    if len(value) != 2:
        raise ValueError(f"{name} must be an int or a pair (height, width), got {value!r}.")
    return positive_int(value[0], name), positive_int(value[1], name)


def _check_images(X, channels: int | None, what: str) -> np.ndarray:
    """``X`` as a float ``(n, C, H, W)`` array (with ``C == channels`` if given)."""
    if type(X) is not np.ndarray or X.dtype.kind != "f":
        X = as_float_array(X, "X")
    expected = f"(n, {channels}, H, W)" if channels is not None else "(n, C, H, W)"
    if X.ndim != 4 or (channels is not None and X.shape[1] != channels):
        raise ValueError(
            f"{what} expects X of shape {expected} (examples, channels, height, width); "
            f"got {X.shape}."
        )
    return X


def _output_size(size: int, kernel: int, stride: int) -> int:
    return (size - kernel) // stride + 1


def _window_slice(offset: int, count: int, stride: int) -> slice:
    """Rows (or columns) ``offset, offset + stride, ...`` (``count`` of them): the element at
    kernel offset ``offset`` of every window along one axis."""
    return slice(offset, offset + stride * (count - 1) + 1, stride)


def conv2d_by_loops(X, W, b, stride: int = 1, padding: int = 0) -> np.ndarray:
    """The definition of :class:`Conv2d`'s output, computed by plain loops (a slow reference).

    ``X: (n, C, H, W)``, ``W: (F, C, kh, kw)``, ``b: (F,)`` -> ``(n, F, Ho, Wo)``: one dot
    product of a filter with a window of the zero-padded input per example, filter and
    output pixel. For checking the fast version on small inputs only.
    """
    X, W, b = np.asarray(X, float), np.asarray(W, float), np.asarray(b, float)
    n, _, H, Wd = X.shape
    F, _, kh, kw = W.shape
    Xpad = np.pad(X, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    Ho = _output_size(H + 2 * padding, kh, stride)
    Wo = _output_size(Wd + 2 * padding, kw, stride)
    out = np.zeros((n, F, Ho, Wo))
    for i in range(n):
        for f in range(F):
            for p in range(Ho):
                for q in range(Wo):
                    window = Xpad[i, :, p * stride : p * stride + kh, q * stride : q * stride + kw]
                    out[i, f, p, q] = np.sum(window * W[f]) + b[f]
    return out


class Conv2d:
    """2-D convolution (cross-correlation, as in every deep-learning library).

    ``X: (n, C, H, W)``, filters ``W: (F, C, kh, kw)``, biases ``b: (F,)``; the output is
    ``(n, F, Ho, Wo)`` with ``Ho = (H + 2 padding - kh) // stride + 1`` (likewise ``Wo``) and

        out[i, f, p, q] = b[f] + sum_{c, u, v} W[f, c, u, v] Xpad[i, c, p s + u, q s + v].

    im2col: the windows of the zero-padded input become the columns of one matrix
    ``cols: (C kh kw, n Ho Wo)``; row ``(c, u, v)`` holds ``Xpad[i, c, p s + u, q s + v]`` for
    every example and output pixel. It is filled by ``kh kw`` strided copies (one per kernel
    offset; no Python loop over pixels), and the forward pass is the single product
    ``W_mat cols`` with ``W_mat = W.reshape(F, C kh kw)``. Backward, with ``G: (F, n Ho Wo)``
    the upstream gradient laid out like that product: ``dW_mat = G cols^T``,
    ``db = sum of G's columns`` and ``dcols = W_mat^T G``, which col2im (the transpose of
    im2col) adds back into the padded input -- overlapping windows add up -- before the
    padding is cut off.

    Memory layout: the output is a view with the axes ``(n, F, Ho, Wo)`` of a channel-major
    array ``(F, n, Ho, Wo)``, the layout of the product; the layers after it keep that layout,
    so the next convolution reads its input by channel without a transpose. With stride 1
    both passes use a "wide" im2col (see the comment above :meth:`_forward_wide`): the same
    products on a few more (zero-gradient) columns, with long contiguous copies.
    """

    skips_input_gradient = True  # backward(..., input_grad=False) skips dL/dX

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride: int = 1,
        padding: int = 0,
        init: str = "he",
        seed=None,
        dtype=DEFAULT_DTYPE,
    ):
        self.in_channels = positive_int(in_channels, "in_channels")
        self.out_channels = positive_int(out_channels, "out_channels")
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = positive_int(stride, "stride")
        self.padding = nonnegative_int(padding, "padding")
        self.dtype = check_dtype(dtype)
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        self.params = {
            "W": initial_weights(shape, init, seed, self.dtype),
            "b": np.zeros(self.out_channels, dtype=self.dtype),
        }
        self.grads = {name: np.zeros_like(value) for name, value in self.params.items()}

    def __repr__(self) -> str:
        return (
            f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, dtype={self.dtype.name})"
        )

    def output_shape(self, H: int, W: int) -> tuple[int, int]:
        """``(Ho, Wo)`` for an input of height ``H`` and width ``W``."""
        (kh, kw), p, s = self.kernel_size, self.padding, self.stride
        return _output_size(H + 2 * p, kh, s), _output_size(W + 2 * p, kw, s)

    def im2col(self, X: np.ndarray) -> np.ndarray:
        """``cols: (C kh kw, n Ho Wo)`` for ``X: (n, C, H, W)`` (already checked)."""
        (kh, kw), p, s = self.kernel_size, self.padding, self.stride
        n, C = X.shape[:2]
        Ho, Wo = self.output_shape(X.shape[2], X.shape[3])
        Xpad = np.pad(X, ((0, 0), (0, 0), (p, p), (p, p))) if p else X
        by_channel = Xpad.transpose(1, 0, 2, 3)  # (C, n, Hpad, Wpad), a view
        cols = np.empty((C, kh, kw, n, Ho, Wo), dtype=X.dtype)
        for u in range(kh):
            for v in range(kw):
                rows, columns = _window_slice(u, Ho, s), _window_slice(v, Wo, s)
                cols[:, u, v] = by_channel[:, :, rows, columns]
        return cols.reshape(C * kh * kw, n * Ho * Wo)

    def col2im(self, dcols: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
        """Transpose of :meth:`im2col`: ``dcols: (C kh kw, n Ho Wo)`` -> ``dX: (n, C, H, W)``.

        Entry ``(c, u, v), (i, p, q)`` is added to ``Xpad[i, c, p s + u, q s + v]``; the loop
        runs over the ``kh kw`` kernel offsets only, each a strided, vectorised addition.
        """
        (kh, kw), p, s = self.kernel_size, self.padding, self.stride
        n, C, H, W = input_shape
        Ho, Wo = self.output_shape(H, W)
        dcols = dcols.reshape(C, kh, kw, n, Ho, Wo)
        dXpad = np.zeros((n, C, H + 2 * p, W + 2 * p), dtype=self.dtype)
        by_channel = dXpad.transpose(1, 0, 2, 3)
        for u in range(kh):
            for v in range(kw):
                rows, columns = _window_slice(u, Ho, s), _window_slice(v, Wo, s)
                by_channel[:, :, rows, columns] += dcols[:, u, v]
        return dXpad[:, :, p : p + H, p : p + W] if p else dXpad

    def forward(self, X) -> tuple[np.ndarray, tuple]:
        """``X: (n, C, H, W)`` -> ``(out: (n, F, Ho, Wo), cache)``; X converted to the dtype."""
        X = _check_images(X, self.in_channels, "Conv2d")
        (kh, kw), p = self.kernel_size, self.padding
        if X.shape[2] + 2 * p < kh or X.shape[3] + 2 * p < kw:
            raise ValueError(
                f"Conv2d with kernel {kh}x{kw} and padding {p} expects X of shape "
                f"(n, {self.in_channels}, H, W) with H >= {kh - 2 * p} and W >= {kw - 2 * p}; "
                f"got {X.shape}."
            )
        X = X if X.dtype == self.dtype else X.astype(self.dtype)
        n, F = X.shape[0], self.out_channels
        Ho, Wo = self.output_shape(X.shape[2], X.shape[3])
        if self.stride == 1:
            return self._forward_wide(X, Ho, Wo)
        cols = self.im2col(X)
        out = self.params["W"].reshape(F, -1) @ cols  # (F, n Ho Wo)
        out += self.params["b"][:, None]
        # A view: channel-major memory, (n, F, Ho, Wo) axes. The next layers keep that layout.
        return out.reshape(F, n, Ho, Wo).transpose(1, 0, 2, 3), (cols, X.shape)

    # Stride 1, the fast path. The zero-padded input is stored channel-major in a buffer
    # Xbuf: (C, n, rows, R) whose rows are R = W + p values wide: p zeros, then the W pixels
    # of an image row (in the rare case p > kw - 1, R = Wo, with zeros after the pixels).
    # There is no right padding: reading past the end of a row lands on the next row's first
    # p zeros, which serve as the right padding of that row AND the left padding of the
    # next. Above the image p zero rows; below it p + 1 as a rule (the last window reads a
    # little past the bottom padding; see :meth:`_wide_shape`). With each image flattened
    # to one line of rows R values, pixel (y, x) of the padded image sits at y R + x for
    # every x < W + 2p, and the window element at offset (u, v) of output pixel (p', q) at
    # u R + v + (p' R + q). Taking q over the whole row length R (not only the Wo valid
    # columns) makes each offset's entries ONE contiguous run of Ho R values per image and
    # channel (instead of Ho runs of Wo):
    #     cols_wide[(c, u, v), (i, j)] = Xbuf[c, i, u R + v + j],   j < Ho R.
    # The columns with q >= Wo are junk (R - Wo = max(kw - 1 - p, 0): one junk column per
    # row for a size-keeping 3x3 convolution, padding 1; none for 5x5, padding 2). The
    # forward output drops them, and the backward pass gives them a zero gradient, so they
    # contribute nothing. A last row of ones in cols_wide multiplies the bias:
    # out = [W_mat b] cols_wide in one product, and the gradient's product gives db as its
    # last column.

    def _wide_shape(self, H: int, W: int) -> tuple[int, int]:
        """``(rows, R)`` of one image in the wide layout: the last read, at index
        ``(Ho + kh - 1) R + kw - 2``, stays inside ``rows R``. ``(H, W)`` -> ``(rows, R)``
        is one-to-one, so a buffer of that shape belongs to one input size."""
        (kh, kw), p = self.kernel_size, self.padding
        Ho, Wo = self.output_shape(H, W)
        R = max(W + p, Wo)
        return Ho + kh - 1 + -(-(kw - 1) // R), R  # the last term: ceil((kw - 1) / R)

    def _kept_zeros(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """A zero array that the layer keeps (attribute ``name``) and hands out again for
        the same shape. Used only inside one pass, never cached or returned, for the padded
        input and the upstream gradient: their callers write the same interior every time,
        so the rest stays zero without clearing it."""
        buffer = getattr(self, name, None)
        if buffer is None or buffer.shape != shape or buffer.dtype != self.dtype:
            buffer = np.zeros(shape, dtype=self.dtype)
            setattr(self, name, buffer)
        return buffer

    def _forward_wide(self, X: np.ndarray, Ho: int, Wo: int) -> tuple[np.ndarray, tuple]:
        """Stride-1 forward pass by the wide im2col; ``X: (n, C, H, W)`` -> ``(n, F, Ho, Wo)``."""
        (kh, kw), p = self.kernel_size, self.padding
        n, C, H, W = X.shape
        F = self.out_channels
        rows, R = self._wide_shape(H, W)
        span = Ho * R
        buffer = self._kept_zeros("_Xpad", (C, n, rows, R))
        buffer[:, :, p : p + H, p : p + W] = X.transpose(1, 0, 2, 3)
        flat = buffer.reshape(C, n, rows * R)
        cols = np.empty((C * kh * kw + 1, n, span), dtype=self.dtype)
        by_offset = cols[:-1].reshape(C, kh, kw, n, span)
        for u in range(kh):
            for v in range(kw):
                by_offset[:, u, v] = flat[:, :, u * R + v : u * R + v + span]
        cols[-1] = 1
        cols = cols.reshape(C * kh * kw + 1, n * span)
        W_and_b = np.empty((F, C * kh * kw + 1), dtype=self.dtype)
        W_and_b[:, :-1] = self.params["W"].reshape(F, -1)
        W_and_b[:, -1] = self.params["b"]
        out = (W_and_b @ cols).reshape(F, n, Ho, R)[:, :, :, :Wo]
        return out.transpose(1, 0, 2, 3), (cols, X.shape, "wide")

    def _backward_wide(self, upstream, cache: tuple, input_grad: bool):
        """Backward of :meth:`_forward_wide`: the transposed copies add into a zero buffer of
        the same layout, whose pixels are dL/dX (what lands on padding is dropped)."""
        cols, (n, C, H, W), _ = cache
        (kh, kw), p = self.kernel_size, self.padding
        F = self.out_channels
        Ho, Wo = self.output_shape(H, W)
        rows, R = self._wide_shape(H, W)
        span = Ho * R
        G = self._kept_zeros("_G", (F, n, Ho, R))  # only the valid columns are written
        G[:, :, :, :Wo] = upstream.transpose(1, 0, 2, 3)  # the junk columns stay zero
        G = G.reshape(F, n * span)
        # (F, C kh kw + 1), a sum over the n Ho R columns. OpenBLAS shares a product among
        # its threads by the rows of the result, so the operand with more rows goes first.
        # With two threads that makes the book's second convolution (F = 32 rows against
        # C kh kw + 1 = 145) clearly faster; with one thread the two orders tie.
        dW_and_db = (cols @ G.T).T if cols.shape[0] > F else G @ cols.T
        self.grads["W"].reshape(F, -1)[...] = dW_and_db[:, :-1]
        self.grads["b"][...] = dW_and_db[:, -1]
        if not input_grad:
            return None
        dcols = (self.params["W"].reshape(F, -1).T @ G).reshape(C, kh, kw, n, span)
        dX = np.zeros((C, n, rows, R), dtype=self.dtype)
        flat = dX.reshape(C, n, rows * R)
        for u in range(kh):
            for v in range(kw):
                flat[:, :, u * R + v : u * R + v + span] += dcols[:, u, v]
        return dX[:, :, p : p + H, p : p + W].transpose(1, 0, 2, 3)

    def backward(self, upstream, cache: tuple, input_grad: bool = True):
        """Fill ``self.grads`` from ``upstream: (n, F, Ho, Wo)``; return dL/dX or None."""
        input_shape = cache[1]
        n, F = input_shape[0], self.out_channels
        Ho, Wo = self.output_shape(input_shape[2], input_shape[3])
        if np.shape(upstream) != (n, F, Ho, Wo):
            raise ValueError(
                f"Conv2d.backward expects an upstream gradient of shape {(n, F, Ho, Wo)} "
                f"(the shape of its forward output); got {np.shape(upstream)}."
            )
        upstream = np.asarray(upstream, dtype=self.dtype)
        if len(cache) == 3:
            return self._backward_wide(upstream, cache, input_grad)
        cols = cache[0]
        G = np.ascontiguousarray(upstream.transpose(1, 0, 2, 3)).reshape(F, -1)
        W_mat = self.params["W"].reshape(F, -1)
        np.matmul(G, cols.T, out=self.grads["W"].reshape(F, -1))
        np.add.reduce(G, axis=1, out=self.grads["b"])
        if not input_grad:
            return None
        return self.col2im(W_mat.T @ G, input_shape)


class MaxPool2d:
    """Max over ``kernel_size`` windows taken every ``stride`` pixels, per channel.

    ``X: (n, C, H, W)`` -> ``(n, C, Ho, Wo)`` with ``Ho = (H - kh) // stride + 1``: rows and
    columns past the last full window are dropped (their gradient is 0). Backward routes each
    window's upstream gradient to its arg-max. Ties: to ONE element only, the first in
    row-major order within the window (the top-most, then left-most maximum; what
    ``numpy.argmax`` returns), so the input gradient sums to the upstream gradient's sum.
    Overlapping windows (``stride < kernel``) add their contributions.

    Both passes loop over the ``kh kw`` offsets inside a window, never over pixels: offset
    ``(u, v)`` of every window at once is the strided slice ``X[:, :, u::s, v::s]``. The
    common 2x2, stride-2 case on an even-sized input takes a shorter route (the max of each
    row of the window, then of the two rows; see :meth:`_forward_2x2`) with the same result
    and gradient. The cache holds the input itself (no copy, unless its memory is not
    contiguous), so no later layer may overwrite it: do not put a ``ReLU(inplace=True)``
    right after a pooling layer. The input gradient of a channel-major input (a view of a
    ``(C, n, H, W)`` array, as the convolutions produce) is channel-major too.
    """

    def __init__(self, kernel_size=2, stride: int | None = 2):
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size[0] if stride is None else positive_int(stride, "stride")

    def __repr__(self) -> str:
        return f"MaxPool2d(kernel_size={self.kernel_size}, stride={self.stride})"

    def _offsets(self, Ho: int, Wo: int):
        """``(rows, columns)`` slices of the window element at each offset, row-major."""
        (kh, kw), s = self.kernel_size, self.stride
        for u in range(kh):
            for v in range(kw):
                yield _window_slice(u, Ho, s), _window_slice(v, Wo, s)

    def forward(self, X) -> tuple[np.ndarray, tuple]:
        """``X: (n, C, H, W)`` -> ``(out: (n, C, Ho, Wo), cache)``."""
        X = _check_images(X, None, "MaxPool2d")
        kh, kw = self.kernel_size
        if X.shape[2] < kh or X.shape[3] < kw:
            raise ValueError(
                f"MaxPool2d with kernel {kh}x{kw} expects X of shape (n, C, H, W) with "
                f"H >= {kh} and W >= {kw}; got {X.shape}."
            )
        Ho = _output_size(X.shape[2], kh, self.stride)
        Wo = _output_size(X.shape[3], kw, self.stride)
        if kh == kw == self.stride == 2 and X.shape[2] == 2 * Ho and X.shape[3] == 2 * Wo:
            return self._forward_2x2(X)
        offsets = self._offsets(Ho, Wo)
        out = X[(..., *next(offsets))].copy()
        for rows, columns in offsets:
            np.maximum(out, X[:, :, rows, columns], out=out)
        return out, (X, out)

    @staticmethod
    def _forward_2x2(X: np.ndarray) -> tuple[np.ndarray, tuple]:
        """2x2 windows, stride 2, ``X: (n, C, 2 Ho, 2 Wo)``: the max of each window's top row,
        of its bottom row, then of the two. The cache keeps the input (as a C-contiguous
        array ``A``, see below) and both row maxima (a quarter of the input each), from which
        the backward pass finds the first arg-max in row-major order.

        ``A`` is X's memory read in storage order: ``X.transpose(1, 0, 2, 3)``, that is
        ``(C, n, H, W)``, if X is a view of a channel-major array (as a convolution's output
        is), else X itself; copied if not contiguous (a convolution's output skips a junk
        column per row, see :class:`Conv2d`). The pooling does not mind which two axes come
        first; the results are transposed back."""
        channel_major = X.shape[0] > 1 and X.strides[1] > X.strides[0]
        A = np.ascontiguousarray(X.transpose(1, 0, 2, 3) if channel_major else X)
        top = np.maximum(A[:, :, 0::2, 0::2], A[:, :, 0::2, 1::2])
        bottom = np.maximum(A[:, :, 1::2, 0::2], A[:, :, 1::2, 1::2])
        out = np.maximum(top, bottom)
        cache = (A, top, bottom, channel_major)
        return (out.transpose(1, 0, 2, 3) if channel_major else out), cache

    def backward(self, upstream, cache: tuple) -> np.ndarray:
        """``dL/dX: (n, C, H, W)``, non-zero only at the arg-max of each window."""
        if len(cache) == 4:  # the cache of _forward_2x2 (the general one is (X, out))
            return self._backward_2x2(upstream, cache)
        X, out = cache
        upstream = check_upstream(upstream, out, "MaxPool2d")
        (kh, kw), s = self.kernel_size, self.stride
        Ho, Wo = out.shape[2:]
        # Windows that tile X exactly cover every pixel once: each offset's slice is then
        # written once, with no need to zero dX first or to add.
        tiles = kh == kw == s and X.shape[2] == Ho * s and X.shape[3] == Wo * s
        dX = np.empty_like(X) if tiles else np.zeros_like(X)
        unclaimed = None  # windows whose arg-max is still unseen (None: all of them)
        for rows, columns in self._offsets(Ho, Wo):
            first_max = X[:, :, rows, columns] == out
            if unclaimed is None:
                unclaimed = ~first_max
            else:
                first_max &= unclaimed
                unclaimed ^= first_max  # first_max is a subset of unclaimed
            if tiles:
                np.multiply(upstream, first_max, out=dX[:, :, rows, columns])
            else:
                dX[:, :, rows, columns] += upstream * first_max
        return dX

    @staticmethod
    def _backward_2x2(upstream, cache: tuple) -> np.ndarray:
        """Backward of :meth:`_forward_2x2`: each window's gradient goes to the bottom row if
        its maximum is strictly larger than the top row's, else to the top row; within that
        row, to the right element if strictly larger than the left one, else to the left one.
        That is the first arg-max in row-major order. ``g - g * mask`` is exact: ``g`` or 0.

        In ``A``'s axis order (``top, bottom, g: (a, b, Ho, Wo)``, ``A, dA: (a, b, H, W)``):
        first ``to_rows: (a, b, H, Wo)``, the gradient reaching each row of each window; then
        its split between the row's two columns, each one NumPy call over all rows at once
        (a contiguous mask and output columns evenly spaced in memory: one long loop each,
        far faster than a call per row parity)."""
        A, top, bottom, channel_major = cache
        upstream = check_upstream(
            upstream, top.transpose(1, 0, 2, 3) if channel_major else top, "MaxPool2d"
        )
        g = np.ascontiguousarray(upstream.transpose(1, 0, 2, 3) if channel_major else upstream)
        to_rows = np.empty(A.shape[:3] + top.shape[3:], dtype=g.dtype)
        to_bottom = np.multiply(g, bottom > top, out=to_rows[:, :, 1::2])
        np.subtract(g, to_bottom, out=to_rows[:, :, 0::2])
        # right_wins[..., k] = A[..., 2k + 1] > A[..., 2k]: one comparison of the flat input
        # with itself shifted by one (contiguous, so fast; the pairs (2k + 1, 2k + 2) are
        # compared too and ignored, as is the last entry, never set), then the even
        # entries, copied into a contiguous mask.
        flat = A.reshape(-1)
        greater = np.empty(A.shape, dtype=bool)
        np.greater(flat[1:], flat[:-1], out=greater.reshape(-1)[:-1])
        right_wins = greater[..., 0::2].copy()
        dA = np.empty(A.shape, dtype=g.dtype)
        to_right = np.multiply(to_rows, right_wins, out=dA[..., 1::2])
        np.subtract(to_rows, to_right, out=dA[..., 0::2])
        return dA.transpose(1, 0, 2, 3) if channel_major else dA


class BatchNorm:
    """Batch normalisation (Ioffe and Szegedy, 2015) with learnt scale ``gamma`` and shift ``beta``.

    ``X: (n, C)`` -- statistics per feature, over the ``n`` examples -- or ``X: (n, C, H, W)``
    -- statistics per channel, over the ``m = n H W`` values of that channel (every pixel of
    a feature map shares the channel's ``gamma`` and ``beta``). Training mode::

        mu = mean(x),  var = mean((x - mu)^2)   (biased),   xhat = (x - mu) / sqrt(var + eps)
        out = gamma xhat + beta
        running <- momentum running + (1 - momentum) batch statistic   (for mu and var)

    Evaluation mode (``training = False``) normalises with the running mean and variance.
    Training-mode backward (all sums over the ``m`` values of a channel, ``g = dL/d out``)::

        dgamma = sum g xhat,   dbeta = sum g,
        dx = gamma / (m sqrt(var + eps)) (m g - sum g - xhat sum g xhat)

    which accounts for ``mu`` and ``var`` depending on every ``x`` of the batch.
    """

    def __init__(
        self,
        num_features: int,
        momentum: float = 0.9,
        eps: float = 1e-5,
        dtype=DEFAULT_DTYPE,
    ):
        self.num_features = positive_int(num_features, "num_features")
        self.momentum = probability(momentum, "momentum", " (weight of the old running value)")
        self.eps = positive_number(eps, "eps")
        self.dtype = check_dtype(dtype)
        self.training = True
        self.params = {
            "gamma": np.ones(self.num_features, dtype=self.dtype),
            "beta": np.zeros(self.num_features, dtype=self.dtype),
        }
        self.grads = {name: np.zeros_like(value) for name, value in self.params.items()}
        self.running_mean = np.zeros(self.num_features, dtype=self.dtype)
        self.running_var = np.ones(self.num_features, dtype=self.dtype)

    def __repr__(self) -> str:
        return (
            f"BatchNorm({self.num_features}, momentum={self.momentum}, eps={self.eps}, "
            f"dtype={self.dtype.name})"
        )

    def _check_input(self, X) -> tuple[np.ndarray, tuple[int, ...]]:
        """X (in the layer's dtype) and the shape that broadcasts ``(C,)`` against it."""
        if type(X) is not np.ndarray or X.dtype.kind != "f":
            X = as_float_array(X, "X")
        C = self.num_features
        if X.ndim not in (2, 4) or X.shape[1] != C:
            raise ValueError(
                f"BatchNorm({C}) expects X of shape (n, {C}) or (n, {C}, H, W); got {X.shape}."
            )
        X = X if X.dtype == self.dtype else X.astype(self.dtype)
        return X, (1, C) if X.ndim == 2 else (1, C, 1, 1)

    def _channel_sum(self, A: np.ndarray, B: np.ndarray | None = None) -> np.ndarray:
        """Per-channel sum of ``A`` (or of ``A * B``): ``(C,)``, without a temporary array.

        ``A, B: (n, C)`` or ``(n, C, H, W)``, viewed as ``(n, C, H W)`` so the sum runs along
        contiguous memory.
        """
        A3 = A.reshape(A.shape[0], self.num_features, -1)
        if B is None:
            return np.einsum("ncp->c", A3)
        return np.einsum("ncp,ncp->c", A3, B.reshape(A3.shape))

    def forward(self, X) -> tuple[np.ndarray, tuple]:
        """``X: (n, C)`` or ``(n, C, H, W)`` -> ``(out, cache)`` of the same shape."""
        X, bshape = self._check_input(X)
        if self.training:
            m = X.size // self.num_features
            if m < 2:
                raise ValueError(
                    f"BatchNorm in training mode needs at least 2 values per channel to "
                    f"estimate a variance; got X of shape {X.shape}. Use a larger batch or "
                    f"set training = False."
                )
            mean = self._channel_sum(X) / m
            xhat = X - mean.reshape(bshape)  # centred now, normalised below
            var = self._channel_sum(xhat, xhat) / m
            if not (np.isfinite(mean).all() and np.isfinite(var).all()):
                bad = np.flatnonzero(~(np.isfinite(mean) & np.isfinite(var)))
                raise NonFiniteError(
                    f"BatchNorm got NaN or inf input in channel(s) {bad[:5].tolist()}; the "
                    "running statistics were left unchanged. Check the input (or an earlier "
                    "layer) for NaN or inf."
                )
            self.running_mean *= self.momentum
            self.running_mean += (1 - self.momentum) * mean
            self.running_var *= self.momentum
            self.running_var += (1 - self.momentum) * var
        else:
            var = self.running_var
            xhat = X - self.running_mean.reshape(bshape)
        inv_std = 1.0 / np.sqrt(var + self.eps)
        xhat *= inv_std.reshape(bshape)
        out = xhat * self.params["gamma"].reshape(bshape)
        out += self.params["beta"].reshape(bshape)
        return out, (xhat, inv_std, bshape, self.training)

    def backward(self, upstream, cache: tuple) -> np.ndarray:
        """Fill ``grads`` (``gamma``, ``beta``) and return ``dL/dX`` (training-mode formula
        if the forward pass ran in training mode, else the plain affine map's gradient)."""
        xhat, inv_std, bshape, training = cache
        g = check_upstream(upstream, xhat, "BatchNorm")
        self.grads["gamma"][...] = self._channel_sum(g, xhat)
        self.grads["beta"][...] = self._channel_sum(g)
        scale = (self.params["gamma"] * inv_std).reshape(bshape)
        if not training:
            return g * scale
        m = xhat.size // self.num_features
        sum_g = self.grads["beta"].reshape(bshape)
        sum_g_xhat = self.grads["gamma"].reshape(bshape)
        dX = xhat * sum_g_xhat  # the same formula, with fewer temporaries
        dX += sum_g
        dX -= m * g
        dX *= -scale / m
        return dX


class Dropout:
    """Inverted dropout: in training, zero each entry with probability ``p`` and scale the
    survivors by ``1 / (1 - p)``, so every entry keeps its expected value; in evaluation
    (``training = False``) the identity.

    ``X``: any shape ``(n, ...)``. ``seed``: an int or a ``numpy.random.Generator``; the layer
    draws a fresh mask at every training forward pass from its own generator. Backward
    multiplies the upstream gradient by the same (scaled) mask.
    """

    def __init__(self, p: float = 0.5, seed=None):
        self.p = probability(p, "p", " (the probability of dropping)")
        self.rng = as_rng(seed)
        self.training = True

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"

    def forward(self, X) -> tuple[np.ndarray, np.ndarray | None]:
        """``X`` -> ``(out, cache)``; the cache is the scaled mask (None in evaluation)."""
        if type(X) is not np.ndarray or X.dtype.kind != "f":
            X = as_float_array(X, "X")
        if not self.training or self.p == 0:
            return X, None
        keep = self.rng.random(X.shape) >= self.p
        mask = keep.astype(X.dtype) / X.dtype.type(1 - self.p)
        return X * mask, mask

    def backward(self, upstream, cache: np.ndarray | None) -> np.ndarray:
        """``dL/dX = upstream * mask`` (the upstream gradient itself in evaluation)."""
        if type(upstream) is not np.ndarray or upstream.dtype.kind != "f":
            upstream = as_float_array(upstream, "upstream")
        if cache is None:
            return upstream
        upstream = check_upstream(upstream, cache, "Dropout")
        return upstream * cache


class Flatten:
    """``X: (n, d1, d2, ...) -> (n, d1 d2 ...)``; backward reshapes the gradient back."""

    def __repr__(self) -> str:
        return "Flatten()"

    def forward(self, X) -> tuple[np.ndarray, tuple[int, ...]]:
        """``X: (n, ...)`` -> ``(out: (n, prod ...), cache = X.shape)``."""
        if type(X) is not np.ndarray or X.dtype.kind != "f":
            X = as_float_array(X, "X")
        if X.ndim < 2:
            raise ValueError(
                f"Flatten expects X of shape (n, ...) with 2 or more axes; got {X.shape}."
            )
        return X.reshape(X.shape[0], -1), X.shape

    def backward(self, upstream, cache: tuple[int, ...]) -> np.ndarray:
        """``dL/dX``: the upstream gradient ``(n, prod ...)`` reshaped to the input shape."""
        n, d = cache[0], int(np.prod(cache[1:]))
        if np.shape(upstream) != (n, d):
            raise ValueError(
                f"Flatten.backward expects an upstream gradient of shape {(n, d)} (the shape "
                f"of its forward output); got {np.shape(upstream)}."
            )
        return np.asarray(upstream).reshape(cache)


__all__ = [
    "conv2d_by_loops",
    "BatchNorm",
    "Conv2d",
    "Dropout",
    "Flatten",
    "MaxPool2d",
]
