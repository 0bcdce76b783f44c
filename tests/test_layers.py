"""Tests for mlderive.layers: forward values, gradient checks in float64, shapes and dtypes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlderive.functions import cross_entropy, cross_entropy_grad, logistic_loss_from_logits, softmax
from mlderive.gradcheck import gradcheck, layer_gradient_errors
from mlderive.layers import (
    Linear,
    ReLU,
    Sigmoid,
    SigmoidBinaryCrossEntropy,
    SoftmaxCrossEntropy,
    initial_weights,
)

TOL = 1e-7  # float64 centred differences agree with exact gradients to ~1e-9 here


def linear64(d_in=5, d_out=3, seed=0):
    layer = Linear(d_in, d_out, init="xavier", seed=seed, dtype=np.float64)
    layer.params["b"][:] = np.random.default_rng(seed + 1).normal(size=d_out)
    return layer


def test_linear_forward_is_affine():
    layer = linear64()
    X = np.random.default_rng(2).normal(size=(4, 5))
    out, _ = layer.forward(X)
    np.testing.assert_allclose(out, X @ layer.params["W"] + layer.params["b"], rtol=1e-14)


def test_linear_gradients():
    errors = layer_gradient_errors(linear64(), np.random.default_rng(3).normal(size=(6, 5)))
    assert set(errors) == {"X", "W", "b"}
    assert max(errors.values()) < TOL, errors


def test_skipping_the_input_gradient_keeps_the_parameter_gradients():
    layer = linear64()
    rng = np.random.default_rng(4)
    X, G = rng.normal(size=(6, 5)), rng.normal(size=(6, 3))
    _, cache = layer.forward(X)
    layer.backward(G, cache)
    dW = layer.grads["W"].copy()
    assert layer.backward(G, cache, input_grad=False) is None
    np.testing.assert_array_equal(layer.grads["W"], dW)


def test_linear_backward_overwrites_grads_in_place():
    layer = linear64()
    grad_W = layer.grads["W"]
    X = np.ones((2, 5))
    _, cache = layer.forward(X)
    layer.backward(np.ones((2, 3)), cache)
    layer.backward(np.ones((2, 3)), cache)  # a second call overwrites, it does not accumulate
    assert layer.grads["W"] is grad_W
    np.testing.assert_allclose(grad_W, X.T @ np.ones((2, 3)))


def test_linear_shape_errors_name_the_expected_shape():
    layer = Linear(4, 2)
    with pytest.raises(ValueError, match=r"\(n, 4\)"):
        layer.forward(np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"\(n, 4\)"):
        layer.forward(np.zeros(4))
    _, cache = layer.forward(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"\(3, 2\)"):
        layer.backward(np.zeros((3, 3)), cache)


def test_linear_keeps_its_dtype():
    layer = Linear(4, 2)  # float32 by default
    out, cache = layer.forward(np.ones((3, 4)))  # float64 input is converted
    assert out.dtype == np.float32 and cache.dtype == np.float32
    assert all(v.dtype == np.float32 for v in layer.params.values())
    with pytest.raises(ValueError, match="float32"):
        Linear(4, 2, dtype=np.float16)
    with pytest.raises(ValueError, match="positive integer"):
        Linear(0, 2)


def test_initialisations():
    rng_seed = 7
    he = initial_weights((400, 300), "he", rng_seed, np.float64)
    xavier = initial_weights((400, 300), "xavier", rng_seed, np.float64)
    assert abs(he.var() / (2 / 400) - 1) < 0.02
    assert abs(xavier.var() / (2 / 700) - 1) < 0.02
    assert not initial_weights((3, 2), "zeros", 0).any()
    w32 = initial_weights((5, 4), "he", 1, np.float32)
    w64 = initial_weights((5, 4), "he", 1, np.float64)
    assert w32.dtype == np.float32
    np.testing.assert_allclose(w32, w64, rtol=1e-7)
    with pytest.raises(ValueError, match="init must be one of"):
        initial_weights((3, 2), "gaussian", 0)
    with pytest.raises(ValueError, match="shape must be"):
        initial_weights((3, 2, 2), "he", 0)


def test_filter_initialisation_uses_the_receptive_field_as_fan_in():
    # 64 filters over 16 channels of 3x3 windows: fan_in = 16 * 9, fan_out = 64 * 9
    he = initial_weights((64, 16, 3, 3), "he", 3, np.float64)
    xavier = initial_weights((64, 16, 3, 3), "xavier", 3, np.float64)
    assert abs(he.var() / (2 / 144) - 1) < 0.03
    assert abs(xavier.var() / (2 / (144 + 576)) - 1) < 0.03


def test_relu_forward_backward():
    X = np.array([[-2.0, 0.5], [3.0, -0.1]])
    out, cache = ReLU().forward(X)
    np.testing.assert_array_equal(out, [[0.0, 0.5], [3.0, 0.0]])
    np.testing.assert_array_equal(ReLU().backward(np.ones((2, 2)), cache), [[0, 1], [1, 0]])
    Z = np.random.default_rng(5).normal(size=(5, 4))
    Z[np.abs(Z) < 0.1] = 0.5  # finite differences need distance from the kink
    assert layer_gradient_errors(ReLU(), Z, seed=5)["X"] < TOL


def test_relu_in_place_gives_the_same_numbers():
    rng = np.random.default_rng(6)
    X, G = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    expected_out, cache = ReLU().forward(X)
    expected_grad = ReLU().backward(G, cache)
    X_copy, G_copy = X.copy(), G.copy()
    out, cache = ReLU(inplace=True).forward(X_copy)
    assert out is X_copy
    grad = ReLU(inplace=True).backward(G_copy, cache)
    assert grad is G_copy
    np.testing.assert_array_equal(out, expected_out)
    np.testing.assert_array_equal(grad, expected_grad)


def test_sigmoid_gradient_and_extremes():
    X = np.random.default_rng(8).normal(size=(5, 3))
    assert layer_gradient_errors(Sigmoid(), X, seed=8)["X"] < TOL
    _, cache = Sigmoid().forward(X)
    out, _ = Sigmoid().forward(np.array([[-1000.0, 1000.0]], dtype=np.float32))
    np.testing.assert_array_equal(out, [[0.0, 1.0]])
    assert out.dtype == np.float32
    with pytest.raises(ValueError, match=r"shape \(5, 3\)"):
        Sigmoid().backward(np.ones((5, 2)), cache)


def test_softmax_cross_entropy_matches_the_functions_module():
    rng = np.random.default_rng(9)
    Z = rng.normal(size=(6, 4))
    for labels in (rng.integers(0, 4, size=6), softmax(rng.normal(size=(6, 4)))):
        loss, cache = SoftmaxCrossEntropy().forward(Z, labels)
        assert loss == pytest.approx(cross_entropy(Z, labels), rel=1e-13)
        np.testing.assert_allclose(
            SoftmaxCrossEntropy().backward(cache), cross_entropy_grad(Z, labels), atol=1e-15
        )


@pytest.mark.parametrize("soft", [False, True])
def test_softmax_cross_entropy_gradcheck(soft):
    rng = np.random.default_rng(10)
    Z = rng.normal(size=(5, 3))
    labels = softmax(rng.normal(size=(5, 3))) if soft else rng.integers(0, 3, size=5)
    layer = SoftmaxCrossEntropy()
    _, cache = layer.forward(Z, labels)
    assert gradcheck(lambda A: layer.forward(A, labels)[0], Z, layer.backward(cache)) < TOL


@settings(max_examples=50, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(2, 5),
    st.floats(-1e4, 1e4, allow_nan=False),
    st.integers(0, 2**31 - 1),
)
def test_softmax_cross_entropy_is_finite_and_gradient_rows_sum_to_zero(n, k, scale, seed):
    rng = np.random.default_rng(seed)
    Z = (scale * rng.normal(size=(n, k))).astype(np.float32)
    labels = rng.integers(0, k, size=n)
    loss, cache = SoftmaxCrossEntropy().forward(Z, labels)
    grad = SoftmaxCrossEntropy().backward(cache)
    assert np.isfinite(loss) and loss >= 0
    assert grad.dtype == np.float32
    np.testing.assert_allclose(grad.sum(axis=1), 0, atol=1e-6)


def test_softmax_cross_entropy_label_errors():
    with pytest.raises(ValueError, match=r"lie in \[0, 2\]"):
        SoftmaxCrossEntropy().forward(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        SoftmaxCrossEntropy().forward(np.zeros((2, 3)), np.array([0, 1, 2]))


def test_sigmoid_binary_cross_entropy():
    rng = np.random.default_rng(11)
    z, y = rng.normal(size=7), rng.integers(0, 2, size=7)
    layer = SigmoidBinaryCrossEntropy()
    loss, cache = layer.forward(z, y)
    assert loss == pytest.approx(logistic_loss_from_logits(z, y), rel=1e-14)
    assert gradcheck(lambda a: layer.forward(a, y)[0], z, layer.backward(cache)) < TOL
    big, _ = layer.forward(np.array([800.0, -800.0]), np.array([0, 1]))
    assert big == pytest.approx(800.0)  # log(1 + e^800) without overflow
    with pytest.raises(ValueError, match="0 or 1"):
        layer.forward(z, np.full(7, 2))
