"""Tests for mlderive.optim: every update checked against its formula, step by step."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlderive.models import MLP
from mlderive.optim import SGD, Adam, Momentum


def problem(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    params = {"W": rng.normal(size=(3, 2)).astype(dtype), "b": rng.normal(size=2).astype(dtype)}
    return params, rng


def gradient_sequence(rng, steps=6):
    return [{"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2)} for _ in range(steps)]


def test_sgd_matches_its_formula():
    params, rng = problem()
    expected = {k: v.copy() for k, v in params.items()}
    opt = SGD(lr=0.3)
    for grads in gradient_sequence(rng):
        opt.step(params, grads)
        for k in expected:
            expected[k] = expected[k] - 0.3 * grads[k]
            np.testing.assert_allclose(params[k], expected[k], rtol=1e-14)


def test_sgd_weight_decay_on_matrices_only():
    params, rng = problem(1)
    expected = {k: v.copy() for k, v in params.items()}
    opt = SGD(lr=0.1, weight_decay=0.5)
    for grads in gradient_sequence(rng):
        opt.step(params, grads)
        expected["W"] = expected["W"] - 0.1 * (grads["W"] + 0.5 * expected["W"])
        expected["b"] = expected["b"] - 0.1 * grads["b"]
        np.testing.assert_allclose(params["W"], expected["W"], rtol=1e-14)
        np.testing.assert_allclose(params["b"], expected["b"], rtol=1e-14)


def test_sgd_weight_decay_equals_the_l2_penalty():
    rng = np.random.default_rng(2)
    X, labels = rng.normal(size=(16, 4)), rng.integers(0, 3, size=16)
    decayed = MLP([4, 5, 3], seed=0, dtype=np.float64)
    penalised = MLP([4, 5, 3], seed=0, l2=0.2, dtype=np.float64)
    opt_decayed, opt_plain = SGD(0.5, weight_decay=0.2), SGD(0.5)
    for _ in range(5):
        decayed.loss_and_gradients(X, labels)
        opt_decayed.step(decayed.params, decayed.grads)
        penalised.loss_and_gradients(X, labels)
        opt_plain.step(penalised.params, penalised.grads)
    for name in decayed.params:
        np.testing.assert_allclose(decayed.params[name], penalised.params[name], rtol=1e-12)


def test_momentum_matches_its_formula():
    params, rng = problem(3)
    expected = {k: v.copy() for k, v in params.items()}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    opt = Momentum(lr=0.05, beta=0.8)
    for grads in gradient_sequence(rng):
        opt.step(params, grads)
        for k in expected:
            velocity[k] = 0.8 * velocity[k] + grads[k]
            expected[k] = expected[k] - 0.05 * velocity[k]
            np.testing.assert_allclose(opt.velocity[k], velocity[k], rtol=1e-14)
            np.testing.assert_allclose(params[k], expected[k], rtol=1e-14)


def test_momentum_equals_the_other_common_form():
    params, rng = problem(4)
    theta = params["W"].copy()
    u = np.zeros_like(theta)
    opt = Momentum(lr=0.1, beta=0.9)
    for grads in gradient_sequence(rng, 8):
        opt.step(params, grads)
        u = 0.9 * u - 0.1 * grads["W"]
        theta = theta + u
    np.testing.assert_allclose(params["W"], theta, rtol=1e-12)


@pytest.mark.parametrize("lr, beta1, beta2, eps", [(1e-3, 0.9, 0.999, 1e-8), (0.1, 0.5, 0.9, 1e-3)])
def test_adam_matches_its_formula_step_by_step(lr, beta1, beta2, eps):
    params, rng = problem(5)
    expected = {k: v.copy() for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    opt = Adam(lr, beta1, beta2, eps)
    for t, grads in enumerate(gradient_sequence(rng, 7), start=1):
        opt.step(params, grads)
        assert opt.t == t
        for k in expected:
            m[k] = beta1 * m[k] + (1 - beta1) * grads[k]
            v[k] = beta2 * v[k] + (1 - beta2) * grads[k] ** 2
            m_hat = m[k] / (1 - beta1**t)
            v_hat = v[k] / (1 - beta2**t)
            expected[k] = expected[k] - lr * m_hat / (np.sqrt(v_hat) + eps)
            np.testing.assert_allclose(opt.m[k], m[k], rtol=1e-14)
            np.testing.assert_allclose(opt.v[k], v[k], rtol=1e-14)
            np.testing.assert_allclose(params[k], expected[k], rtol=1e-13)


def test_adam_defaults_are_the_papers():
    opt = Adam()
    assert (opt.lr, opt.beta1, opt.beta2, opt.eps) == (1e-3, 0.9, 0.999, 1e-8)


@settings(max_examples=50, deadline=None)
@given(st.floats(1e-3, 1e3), st.integers(0, 2**31 - 1))
def test_adam_first_step_moves_each_entry_by_lr(scale, seed):
    # Bias correction makes m_hat = g and v_hat = g^2 at t = 1, so the step is
    # lr * g / (|g| + eps), i.e. lr * sign(g) whatever the gradient's scale (up to eps);
    # without the correction it would be about 3.2 lr (0.1 / sqrt(0.001)).
    params, rng = problem(seed)
    start = {k: p.copy() for k, p in params.items()}
    grads = {k: scale * rng.normal(size=p.shape) for k, p in params.items()}
    Adam(lr=0.01).step(params, grads)
    for k in params:
        g = grads[k]
        np.testing.assert_allclose(start[k] - params[k], 0.01 * g / (np.abs(g) + 1e-8), rtol=1e-9)


@pytest.mark.parametrize("make", [lambda: SGD(0.1), lambda: Momentum(0.1), lambda: Adam(0.1)])
def test_float32_stays_float32_and_in_place(make):
    params, rng = problem(6, dtype=np.float32)
    arrays = dict(params)
    grads = {k: rng.normal(size=p.shape).astype(np.float32) for k, p in params.items()}
    make().step(params, grads)
    for k in params:
        assert params[k] is arrays[k] and params[k].dtype == np.float32


def test_mismatched_inputs_raise_and_change_nothing():
    params, rng = problem(7)
    start = {k: p.copy() for k, p in params.items()}
    opt = Adam(0.1)
    with pytest.raises(ValueError, match="same keys"):
        opt.step(params, {"W": np.zeros((3, 2))})
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        opt.step(params, {"W": np.ones((3, 2)), "b": np.ones(3)})
    assert opt.t == 0
    for k in params:
        np.testing.assert_array_equal(params[k], start[k])


def test_reset_forgets_state():
    params, rng = problem(8)
    opt = Adam(0.1)
    opt.step(params, gradient_sequence(rng, 1)[0])
    opt.reset()
    assert (opt.t, opt.m, opt.v) == (0, {}, {})
    momentum = Momentum(0.1)
    momentum.step(params, gradient_sequence(rng, 1)[0])
    momentum.reset()
    assert momentum.velocity == {}


def test_state_shape_change_is_reported():
    params, rng = problem(9)
    opt = Momentum(0.1)
    opt.step(params, gradient_sequence(rng, 1)[0])
    with pytest.raises(ValueError, match="reset"):
        opt.step(
            {"W": np.zeros((2, 2)), "b": np.zeros(2)}, {"W": np.zeros((2, 2)), "b": np.zeros(2)}
        )


def test_hyper_parameter_errors():
    with pytest.raises(ValueError, match="lr"):
        SGD(0)
    with pytest.raises(ValueError, match="weight_decay"):
        SGD(0.1, weight_decay=-1)
    with pytest.raises(ValueError, match="beta"):
        Momentum(0.1, beta=1.0)
    with pytest.raises(ValueError, match="beta2"):
        Adam(beta2=1.5)
    with pytest.raises(ValueError, match="eps"):
        Adam(eps=0)
