"""Tests for mlderive.conv: float64 gradient checks, forward values, modes and shape errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlderive.conv import BatchNorm, Conv2d, Dropout, Flatten, MaxPool2d, conv2d_by_loops
from mlderive.gradcheck import gradcheck, layer_gradient_errors, model_gradient_errors
from mlderive.layers import Linear, ReLU
from mlderive.models import Network
from mlderive.optim import Adam
from mlderive.training import train

TOL = 1e-7  # float64 centred differences agree with the exact gradients to ~1e-9 here


def assert_layer_gradients(layer, X, names, rng):
    """Gradient-check dX and each named parameter of ``layer`` at ``X`` (float64)."""
    errors = layer_gradient_errors(layer, X, seed=rng)
    assert set(errors) == {"X", *names}
    assert max(errors.values()) < TOL, errors


def conv64(c_in, c_out, k, stride, padding, seed=0):
    layer = Conv2d(c_in, c_out, k, stride, padding, seed=seed, dtype=np.float64)
    layer.params["b"][:] = np.random.default_rng(seed + 1).normal(size=c_out)
    return layer


# ---------------------------------------------------------------------------------- Conv2d

CONV_CASES = [
    # (c_in, c_out, kernel, stride, padding, H, W)
    (1, 1, 3, 1, 0, 5, 5),
    (2, 3, 3, 1, 1, 5, 4),
    (3, 2, 3, 2, 0, 7, 6),
    (2, 4, 3, 2, 1, 5, 5),
    (3, 2, (2, 3), 2, 1, 4, 6),
]


@pytest.mark.parametrize(("c_in", "c_out", "k", "stride", "padding", "H", "W"), CONV_CASES)
def test_conv_forward_matches_naive_loops(c_in, c_out, k, stride, padding, H, W):
    layer = conv64(c_in, c_out, k, stride, padding)
    X = np.random.default_rng(2).normal(size=(2, c_in, H, W))
    out, _ = layer.forward(X)
    expected = conv2d_by_loops(X, layer.params["W"], layer.params["b"], stride, padding)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("c_in", "c_out", "k", "stride", "padding", "H", "W"), CONV_CASES)
def test_conv_gradients(c_in, c_out, k, stride, padding, H, W):
    layer = conv64(c_in, c_out, k, stride, padding)
    rng = np.random.default_rng(3)
    assert_layer_gradients(layer, rng.normal(size=(2, c_in, H, W)), ("W", "b"), rng)


def test_conv_skipping_input_gradient_keeps_parameter_gradients():
    layer = conv64(2, 3, 3, 1, 1)
    rng = np.random.default_rng(4)
    X = rng.normal(size=(2, 2, 4, 4))
    out, cache = layer.forward(X)
    G = rng.normal(size=out.shape)
    layer.backward(G, cache)
    dW = layer.grads["W"].copy()
    assert layer.backward(G, cache, input_grad=False) is None
    np.testing.assert_allclose(layer.grads["W"], dW, rtol=1e-14)


def test_conv_float32_default_and_output_shape():
    layer = Conv2d(1, 4, 5, padding=2, seed=0)
    out, _ = layer.forward(np.ones((3, 1, 28, 28)))
    assert out.dtype == np.float32 and out.shape == (3, 4, 28, 28)
    assert layer.output_shape(28, 28) == (28, 28)


def test_conv_he_initialisation_scale():
    W = Conv2d(8, 16, 3, seed=0, dtype=np.float64).params["W"]
    assert W.shape == (16, 8, 3, 3)
    assert abs(W.var() / (2 / 72) - 1) < 0.1


def test_conv_bad_channels_and_small_input_raise():
    layer = Conv2d(3, 2, 5, padding=1)
    with pytest.raises(ValueError, match=r"\(n, 3, H, W\)"):
        layer.forward(np.zeros((1, 2, 8, 8)))
    with pytest.raises(ValueError, match=r"\(n, 3, H, W\)"):
        layer.forward(np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match=r"H >= 3 and W >= 3"):
        layer.forward(np.zeros((1, 3, 2, 8)))
    out, cache = layer.forward(np.zeros((1, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"\(1, 2, 2, 2\)"):
        layer.backward(np.zeros((1, 2, 3, 3)), cache)
    with pytest.raises(ValueError, match="padding"):
        Conv2d(1, 1, 3, padding=-1)


# Small convolution geometries for the property tests: channels in and out, kernel size,
# stride, padding and image size.
GEOMETRY = {
    "c_in": st.integers(1, 3),
    "c_out": st.integers(1, 3),
    "k": st.integers(1, 3),
    "stride": st.integers(1, 2),
    "padding": st.integers(0, 2),
    "size": st.integers(3, 6),
}


@settings(max_examples=25)
@given(**GEOMETRY)
def test_conv_matches_naive_loops_property(c_in, c_out, k, stride, padding, size):
    layer = conv64(c_in, c_out, k, stride, padding, seed=size)
    X = np.random.default_rng(k).normal(size=(2, c_in, size, size + 1))
    expected = conv2d_by_loops(X, layer.params["W"], layer.params["b"], stride, padding)
    np.testing.assert_allclose(layer.forward(X)[0], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kh, kw", [(1, 1), (1, 3), (3, 1), (2, 2), (3, 3), (3, 5), (5, 5)])
def test_wide_stride_one_path_every_padding(kh, kw):
    """The stride-1 path reads the right padding of a row from the next row's left padding:
    check it for every padding from 0 to past the kernel (p > kw - 1 widens the rows), on
    the smallest and a larger image: forward against the loops, backward by adjointness
    (the convolution without its bias is linear in X and in W)."""
    rng = np.random.default_rng(kh * 10 + kw)
    for p in range(4):
        for H, W in [(max(kh - 2 * p, 1), max(kw - 2 * p, 1)), (kh + 3, kw + 4)]:
            layer = Conv2d(2, 3, (kh, kw), padding=p, seed=p, dtype=np.float64)
            layer.params["b"][:] = rng.normal(size=3)
            X = rng.normal(size=(2, 2, H, W))
            out, cache = layer.forward(X)
            expected = conv2d_by_loops(X, layer.params["W"], layer.params["b"], 1, p)
            np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
            G = rng.normal(size=out.shape)
            dX = layer.backward(G, cache)
            linear = np.sum(G * (out - layer.params["b"][:, None, None]))
            assert np.isclose(np.sum(X * dX), linear, rtol=1e-10)
            assert np.isclose(np.sum(layer.params["W"] * layer.grads["W"]), linear, rtol=1e-10)
            np.testing.assert_allclose(layer.grads["b"], G.sum(axis=(0, 2, 3)), rtol=1e-12)


def test_conv_reused_buffers_give_fresh_results():
    """The layer keeps its padded-input and gradient buffers between calls: a second call
    (same or other shape, other values, channel-major input) must not see the first's data."""
    rng = np.random.default_rng(1)
    layer = conv64(2, 3, 3, 1, 1, seed=0)
    W, b = layer.params["W"], layer.params["b"]
    for shape in [(2, 2, 5, 6), (2, 2, 5, 6), (3, 2, 4, 4), (2, 2, 5, 6)]:
        X = rng.normal(size=(shape[1], shape[0], *shape[2:])).transpose(1, 0, 2, 3)
        out, cache = layer.forward(X)
        np.testing.assert_allclose(out, conv2d_by_loops(X, W, b, 1, 1), rtol=1e-12, atol=1e-12)
        G = rng.normal(size=out.shape)
        dX = layer.backward(G, cache)
        expected = Conv2d(3, 2, 3, padding=1, dtype=np.float64)
        expected.params["W"][...] = W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
        np.testing.assert_allclose(dX, expected.forward(G)[0], atol=1e-12)


@given(**GEOMETRY, seed=st.integers(0, 2**31 - 1))
def test_col2im_is_the_adjoint_of_im2col(c_in, c_out, k, stride, padding, size, seed):
    """<im2col(X), D> = <X, col2im(D)> for every X and D: col2im is im2col's transpose."""
    layer = Conv2d(c_in, c_out, k, stride, padding, dtype=np.float64)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(2, c_in, size, size))
    cols = layer.im2col(X)
    D = rng.normal(size=cols.shape)
    assert np.vdot(cols, D) == pytest.approx(np.vdot(X, layer.col2im(D, X.shape)), rel=1e-10)


def test_conv_input_gradient_is_a_correlation_with_the_flipped_kernel():
    """For stride 1: dX = correlate(pad(G, k - 1 - p), flipped W with in/out swapped)."""
    rng = np.random.default_rng(0)
    conv = Conv2d(3, 4, 3, padding=1, seed=0, dtype=np.float64)
    X = rng.normal(size=(2, 3, 6, 6))
    out, cache = conv.forward(X)
    G = rng.normal(size=out.shape)
    dX = conv.backward(G, cache)
    flipped = Conv2d(4, 3, 3, padding=1, dtype=np.float64)
    flipped.params["W"][...] = conv.params["W"][:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    np.testing.assert_allclose(flipped.forward(G)[0], dX, atol=1e-12)


# ------------------------------------------------------------------------------- MaxPool2d


def test_maxpool_forward_values():
    X = np.arange(16.0).reshape(1, 1, 4, 4)
    out, _ = MaxPool2d().forward(X)
    np.testing.assert_array_equal(out[0, 0], [[5, 7], [13, 15]])


@pytest.mark.parametrize(
    ("k", "stride", "H", "W"), [(2, 2, 4, 4), (2, 2, 5, 7), (3, 2, 7, 5), (2, 3, 8, 8)]
)
def test_maxpool_gradient(k, stride, H, W):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(2, 3, H, W))  # distinct values: no ties, so f is smooth near X
    assert_layer_gradients(MaxPool2d(k, stride), X, (), rng)


def test_maxpool_ties_go_to_the_first_maximum_only():
    X = np.ones((1, 1, 2, 2))
    layer = MaxPool2d()
    _, cache = layer.forward(X)
    dX = layer.backward(np.array([[[[3.0]]]]), cache)
    np.testing.assert_array_equal(dX[0, 0], [[3.0, 0.0], [0.0, 0.0]])


@settings(max_examples=40)
@given(
    H=st.integers(2, 7),
    W=st.integers(2, 7),
    seed=st.integers(0, 2**31 - 1),
    layout=st.sampled_from(["standard", "channel-major", "channel-major view", "strided"]),
)
def test_maxpool_2x2_gradient_goes_to_the_first_argmax_with_ties(H, W, seed, layout):
    """The 2x2, stride-2 route: on small integers (many ties), each window's gradient goes to
    its first arg-max in row-major order (numpy.argmax over the flattened window), rows and
    columns past the last window get 0, and the output is the window maximum. For an input
    stored (n, C, H, W), channel-major (C, n, H, W) (whole, or with a junk column per row
    as a convolution's output has), or not contiguous at all; the gradient of a
    channel-major input is channel-major."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 3, size=(2, 3, H, W)).astype(float)
    if layout == "channel-major":
        X = np.ascontiguousarray(X.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    elif layout == "channel-major view":
        wide = np.full((3, 2, H, W + 1), np.nan)
        wide[..., :W] = X.transpose(1, 0, 2, 3)
        X = wide[..., :W].transpose(1, 0, 2, 3)
    elif layout == "strided":
        X = np.repeat(X, 2, axis=3)[:, :, :, ::2]
    layer = MaxPool2d()
    out, cache = layer.forward(X)
    G = rng.normal(size=out.shape)
    dX = layer.backward(G, cache)
    if layout.startswith("channel-major"):
        assert dX.transpose(1, 0, 2, 3).flags.c_contiguous
    Ho, Wo = H // 2, W // 2
    windows = X[:, :, : 2 * Ho, : 2 * Wo].reshape(2, 3, Ho, 2, Wo, 2).transpose(0, 1, 2, 4, 3, 5)
    windows = windows.reshape(2, 3, Ho, Wo, 4)
    np.testing.assert_array_equal(out, windows.max(axis=-1))
    expected = np.zeros_like(X)
    first = windows.argmax(axis=-1)
    for i, c, p, q in np.ndindex(2, 3, Ho, Wo):
        u, v = divmod(int(first[i, c, p, q]), 2)
        expected[i, c, 2 * p + u, 2 * q + v] = G[i, c, p, q]
    np.testing.assert_array_equal(dX, expected)


@settings(max_examples=30)
@given(H=st.integers(2, 7), W=st.integers(2, 7), seed=st.integers(0, 2**31 - 1))
def test_maxpool_and_relu_commute_in_value_and_gradient(H, W, seed):
    """ReLU then max-pool equals max-pool then ReLU, and so do the input gradients, exactly
    (ties and non-positive windows included): small_cnn pools first."""
    rng = np.random.default_rng(seed)
    X = rng.integers(-2, 3, size=(2, 3, H, W)).astype(float)
    pool, relu = MaxPool2d(), ReLU()
    relu_out, relu_cache = relu.forward(X)
    first_relu, first_relu_pool = pool.forward(relu_out)
    pooled, pool_cache = pool.forward(X)
    then_relu, then_relu_cache = relu.forward(pooled)
    np.testing.assert_array_equal(first_relu, then_relu)
    G = rng.normal(size=then_relu.shape)
    dX_relu_first = relu.backward(pool.backward(G, first_relu_pool), relu_cache)
    dX_pool_first = pool.backward(relu.backward(G, then_relu_cache), pool_cache)
    np.testing.assert_array_equal(dX_relu_first, dX_pool_first)


def test_maxpool_bad_shapes_raise():
    with pytest.raises(ValueError, match=r"\(n, C, H, W\)"):
        MaxPool2d().forward(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="H >= 2 and W >= 2"):
        MaxPool2d().forward(np.zeros((1, 1, 1, 4)))


# ------------------------------------------------------------------------------- BatchNorm


def batchnorm64(C, seed=0):
    layer = BatchNorm(C, dtype=np.float64)
    rng = np.random.default_rng(seed)
    layer.params["gamma"][:] = rng.uniform(0.5, 2.0, size=C)
    layer.params["beta"][:] = rng.normal(size=C)
    return layer


@pytest.mark.parametrize("shape", [(6, 4), (3, 2, 3, 2)])
def test_batchnorm_training_gradients(shape):
    layer = batchnorm64(shape[1])
    rng = np.random.default_rng(6)
    X = rng.normal(loc=1.5, scale=2.0, size=shape)
    assert_layer_gradients(layer, X, ("gamma", "beta"), rng)


def test_batchnorm_eval_gradient():
    layer = batchnorm64(3)
    layer.running_mean[:] = [0.5, -1.0, 2.0]
    layer.running_var[:] = [1.0, 4.0, 0.25]
    layer.training = False
    rng = np.random.default_rng(7)
    assert_layer_gradients(layer, rng.normal(size=(2, 3, 2, 2)), ("gamma", "beta"), rng)


def test_batchnorm_training_normalises_per_channel():
    layer = BatchNorm(3, dtype=np.float64)
    X = np.random.default_rng(8).normal(loc=[[[[3.0]], [[-2.0]], [[0.5]]]], size=(4, 3, 5, 5))
    out, _ = layer.forward(X)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, rtol=1e-4)


def test_batchnorm_running_stats_and_eval_mode():
    layer = BatchNorm(2, momentum=0.5, dtype=np.float64)
    X = np.random.default_rng(9).normal(loc=[4.0, -1.0], scale=[2.0, 0.5], size=(50, 2))
    layer.forward(X)
    np.testing.assert_allclose(layer.running_mean, 0.5 * X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, 0.5 + 0.5 * X.var(axis=0), rtol=1e-12)
    layer.training = False
    Y = np.array([[1.0, 2.0]])  # a single example: only possible with the running statistics
    out, _ = layer.forward(Y)
    expected = (Y - layer.running_mean) / np.sqrt(layer.running_var + layer.eps)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    before = layer.running_mean.copy()
    layer.forward(X)
    np.testing.assert_array_equal(layer.running_mean, before)  # eval leaves them alone


def test_batchnorm_bad_shapes_raise():
    layer = BatchNorm(3)
    with pytest.raises(ValueError, match=r"\(n, 3\) or \(n, 3, H, W\)"):
        layer.forward(np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"\(n, 3\) or \(n, 3, H, W\)"):
        layer.forward(np.zeros((4, 3, 2)))
    with pytest.raises(ValueError, match="at least 2 values"):
        layer.forward(np.zeros((1, 3)))


# --------------------------------------------------------------------------------- Dropout


def test_dropout_gradient_with_a_fixed_mask():
    rng = np.random.default_rng(10)
    X = rng.normal(size=(4, 2, 3, 3))
    layer = Dropout(0.3, seed=11)
    out, mask = layer.forward(X)
    G = rng.normal(size=out.shape)
    dX = layer.backward(G, mask)
    assert 0 < np.count_nonzero(mask) < mask.size  # some dropped, some kept

    def f(Z):  # the same seed draws the same mask
        return np.sum(Dropout(0.3, seed=11).forward(Z)[0] * G)

    assert gradcheck(f, X, dX) < TOL


def test_dropout_eval_is_identity():
    layer = Dropout(0.5, seed=0)
    layer.training = False
    X = np.random.default_rng(1).normal(size=(3, 4))
    out, cache = layer.forward(X)
    np.testing.assert_array_equal(out, X)
    G = np.ones_like(X)
    np.testing.assert_array_equal(layer.backward(G, cache), G)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_training_keeps_the_expected_value(p):
    layer = Dropout(p, seed=12)
    X = np.full((200, 500), 2.0)
    out, mask = layer.forward(X)
    kept = np.count_nonzero(mask) / mask.size
    assert abs(kept - (1 - p)) < 0.01  # 100000 draws: standard deviation below 0.002
    assert abs(out.mean() - 2.0) < 0.05
    np.testing.assert_allclose(out[mask > 0], 2.0 / (1 - p))


def test_dropout_draws_a_new_mask_each_pass_and_checks_p():
    layer = Dropout(0.5, seed=0)
    X = np.ones((10, 10))
    assert not np.array_equal(layer.forward(X)[1], layer.forward(X)[1])
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Dropout(1.0)


# --------------------------------------------------------------------------------- Flatten


def test_flatten_roundtrip_and_gradient():
    layer = Flatten()
    rng = np.random.default_rng(13)
    X = rng.normal(size=(2, 3, 2, 2))
    out, cache = layer.forward(X)
    assert out.shape == (2, 12)
    np.testing.assert_array_equal(out[1], X[1].ravel())
    assert_layer_gradients(layer, X, (), rng)
    with pytest.raises(ValueError, match=r"\(2, 12\)"):
        layer.backward(np.zeros((2, 11)), cache)
    with pytest.raises(ValueError, match=r"\(n, \.\.\.\)"):
        layer.forward(np.zeros(5))


# ------------------------------------------------------------------------------------- CNN


def tiny_cnn(seed=0, l2=0.0, p=0.25):
    f64 = np.float64
    layers = [
        Conv2d(1, 3, 3, padding=1, seed=seed, dtype=f64),
        BatchNorm(3, dtype=f64),
        ReLU(),
        MaxPool2d(),
        Conv2d(3, 2, 3, stride=2, padding=1, seed=seed + 1, dtype=f64),
        Flatten(),
        Dropout(p, seed=seed + 2),
        Linear(8, 4, seed=seed + 3, dtype=f64),
    ]
    return Network(layers, input_shape=(1, 6, 6), l2=l2)


def test_cnn_parameter_names():
    model = tiny_cnn()  # numbered by the layers that have parameters, in order
    assert list(model.params) == ["W1", "b1", "gamma2", "beta2", "W3", "b3", "W4", "b4"]
    assert model.weight_names == ["W1", "W3", "W4"]
    assert model.params["W1"] is model.layers[0].params["W"]
    assert model.names_of(model.layers[1]) == ["gamma2", "beta2"]
    assert model.names_of(model.layers[2]) == []


def test_cnn_end_to_end_gradients_in_training_mode():
    model = tiny_cnn(l2=0.1)
    rng = np.random.default_rng(14)
    X, y = rng.normal(size=(5, 36)), rng.integers(0, 4, size=5)
    for layer in model.layers:
        if "b" in getattr(layer, "params", {}):
            layer.params["b"][:] = rng.normal(scale=0.1, size=layer.params["b"].shape)
    dropout = model.layers[6]

    def same_mask():
        dropout.rng = np.random.default_rng(15)  # the same mask at every evaluation

    saved = model.get_params()
    errors = model_gradient_errors(model, X, y, prepare=same_mask)
    assert set(errors) == set(model.params)
    assert max(errors.values()) < TOL, errors
    for name, value in model.params.items():  # every parameter restored
        np.testing.assert_array_equal(value, saved[name])


def test_cnn_forward_is_evaluation_mode():
    model = tiny_cnn(p=0.5)
    X = np.random.default_rng(16).normal(size=(4, 36))
    model.loss(X, np.zeros(4, dtype=np.int64))  # a training pass moves the running stats
    running = model.layers[1].running_mean.copy()
    first = model.forward(X)
    np.testing.assert_array_equal(model.forward(X), first)  # no dropout: deterministic
    np.testing.assert_array_equal(model.layers[1].running_mean, running)  # untouched
    assert model.layers[6].training  # training mode restored for the next step
    assert model.predict(X).shape == (4,)
    model.layers[6].training = False
    _, cache = model.loss(X, np.zeros(4, dtype=np.int64))
    assert cache.layer_caches[6] is not None  # loss always runs in training mode (a mask)


def test_cnn_trains_with_the_package_training_loop():
    rng = np.random.default_rng(17)
    X = rng.normal(size=(32, 36))
    y = (X[:, :18].sum(axis=1) > X[:, 18:].sum(axis=1)).astype(np.int64)
    model = tiny_cnn(p=0.0)
    start, _ = model.evaluate(X, y)
    train(model, Adam(0.02), X, y, epochs=15, batch_size=16, progress=False)
    end, _ = model.evaluate(X, y)
    assert end < 0.7 * start


def test_cnn_bad_input_shape_raises():
    model = tiny_cnn()
    with pytest.raises(ValueError, match=r"\(n, 36\)"):
        model.loss(np.zeros((2, 35)), np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        Network([Linear(4, 2)], input_shape=(4,))


def test_cnn_float32_by_default_end_to_end():
    layers = [
        Conv2d(1, 2, 3, padding=1, seed=0),
        BatchNorm(2),
        ReLU(),
        MaxPool2d(),
        Flatten(),
        Dropout(0.5, seed=0),
        Linear(2 * 3 * 3, 3, seed=0),
    ]
    model = Network(layers, input_shape=(1, 6, 6))
    X = np.random.default_rng(18).random((4, 36))  # float64 input is converted
    loss, cache = model.loss(X, np.arange(4) % 3)
    model.backward(cache)
    assert np.isfinite(loss) and cache.logits.dtype == np.float32
    assert all(g.dtype == np.float32 for g in model.grads.values())
    assert model.forward(X).dtype == np.float32
