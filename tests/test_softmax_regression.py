"""Tests for mlderive.softmax_regression: gradients, L2, the curvature bound and fit."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlderive.functions import softmax
from mlderive.gradcheck import gradcheck, numerical_derivative
from mlderive.softmax_regression import (
    accuracy,
    curvature_bound,
    fit,
    gradient_descent,
    loss_and_gradients,
    loss_and_gradients_by_example,
    predict,
)


def problem(seed: int, n: int = 12, d: int = 4, k: int = 3, soft: bool = False):
    """Random ``(W, b, X, labels)`` in float64; soft labels are random probability rows."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = rng.normal(size=(d, k))
    b = rng.normal(size=k)
    labels = softmax(rng.normal(size=(n, k))) if soft else rng.integers(0, k, size=n)
    return W, b, X, labels


@pytest.fixture(scope="module")
def blobs(blobs):
    """The shared cluster generator with this module's defaults."""
    return functools.partial(blobs, n=120, d=2)


@pytest.mark.parametrize("l2", [0.0, 0.3])
@pytest.mark.parametrize("soft", [False, True])
def test_gradients_match_finite_differences(l2, soft):
    W, b, X, labels = problem(1, soft=soft)
    _, dW, db = loss_and_gradients(W, b, X, labels, l2)
    assert gradcheck(lambda V: loss_and_gradients(V, b, X, labels, l2)[0], W, dW) < 1e-7
    assert gradcheck(lambda c: loss_and_gradients(W, c, X, labels, l2)[0], b, db) < 1e-7


def test_gradient_formula_explicitly():
    W, b, X, labels = problem(2)
    Y = np.eye(3)[labels]
    residual = softmax(X @ W + b) - Y
    _, dW, db = loss_and_gradients(W, b, X, labels, l2=0.5)
    np.testing.assert_allclose(dW, X.T @ residual / len(X) + 0.5 * W, rtol=1e-13)
    np.testing.assert_allclose(db, residual.mean(axis=0), rtol=1e-13)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 9),
    st.integers(1, 6),
    st.integers(2, 6),
    st.floats(0.0, 3.0),
    st.booleans(),
)
def test_vectorised_equals_loop_over_examples(seed, n, d, k, l2, soft):
    W, b, X, labels = problem(seed, n, d, k, soft)
    fast = loss_and_gradients(W, b, X, labels, l2)
    slow = loss_and_gradients_by_example(W, b, X, labels, l2)
    np.testing.assert_allclose(fast[0], slow[0], rtol=1e-12)
    np.testing.assert_allclose(fast[1], slow[1], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(fast[2], slow[2], rtol=1e-10, atol=1e-14)


def test_weight_decay_view_of_one_step():
    W, b, X, labels = problem(3)
    lr, l2 = 0.1, 0.7
    _, dW_penalised, _ = loss_and_gradients(W, b, X, labels, l2)
    _, dW_data, _ = loss_and_gradients(W, b, X, labels, 0.0)
    np.testing.assert_allclose(W - lr * dW_penalised, (1 - lr * l2) * W - lr * dW_data, rtol=1e-14)


def test_curvature_bound_dominates_the_hessian():
    W, b, X, labels = problem(4, n=30, d=3, k=4)
    l2 = 0.2
    theta = np.concatenate([W.ravel(), b])

    def gradient(t):
        _, dW, db = loss_and_gradients(t[:12].reshape(3, 4), t[12:], X, labels, l2)
        return np.concatenate([dW.ravel(), db])

    hessian = numerical_derivative(gradient, theta)
    largest = np.linalg.eigvalsh(0.5 * (hessian + hessian.T))[-1]
    bound = curvature_bound(X, l2)
    assert largest <= bound
    # The bound is not absurdly loose either: at W = 0 the softmax is uniform.
    assert bound < 5 * largest


def test_fit_converges_to_a_stationary_point(blobs):
    X, y = blobs(5)
    result = fit(X, y, 3, l2=0.01, tol=1e-9)
    assert result.converged and result.grad_norm <= 1e-9
    loss, dW, db = loss_and_gradients(result.W, result.b, X, y, 0.01)
    assert np.sqrt(np.sum(dW**2) + np.sum(db**2)) <= 1e-9
    assert loss == pytest.approx(result.losses[-1])
    assert result.losses[-1] < result.losses[0]
    assert accuracy(result.W, result.b, X, y) > 0.5


def test_fit_from_another_start_finds_the_same_weights(blobs):
    X, y = blobs(6)
    first = fit(X, y, 3, l2=0.1, tol=1e-10)
    rng = np.random.default_rng(0)
    second = fit(X, y, 3, l2=0.1, tol=1e-10, W=rng.normal(size=(2, 3)), b=rng.normal(size=3))
    np.testing.assert_allclose(first.W, second.W, atol=1e-8)


def test_fit_beats_plain_gradient_descent(blobs):
    X, y = blobs(7)
    result = fit(X, y, 3, l2=0.01, tol=1e-6)
    _, _, losses = gradient_descent(X, y, 3, lr=1.0 / curvature_bound(X, 0.01), steps=200, l2=0.01)
    assert result.losses[-1] <= losses[-1]


def test_weight_norm_falls_as_l2_grows(blobs):
    X, y = blobs(8)
    norms = [np.linalg.norm(fit(X, y, 3, l2=lam, tol=1e-9).W) for lam in np.geomspace(1e-3, 10, 6)]
    assert np.all(np.diff(norms) < 0)


def test_fit_keeps_float32(blobs):
    X, y = blobs(9)
    result = fit(X.astype(np.float32), y, 3, l2=0.01, tol=1e-4)
    assert result.W.dtype == np.float32 and result.b.dtype == np.float32
    assert result.converged


def test_fit_reports_non_convergence(blobs):
    X, y = blobs(10)
    result = fit(X, y, 3, l2=0.0, tol=1e-12, max_steps=3)
    assert not result.converged and result.steps == 3 and result.losses.shape == (4,)


def test_fit_rejects_bad_arguments(blobs):
    X, y = blobs(11)
    with pytest.raises(ValueError, match="l2"):
        fit(X, y, 3, l2=-1.0)
    with pytest.raises(ValueError, match="tol"):
        fit(X, y, 3, tol=0.0)
    with pytest.raises(ValueError, match="max_steps"):
        fit(X, y, 3, max_steps=2.5)
    with pytest.raises(ValueError, match="W must have shape"):
        fit(X, y, 3, W=np.zeros((5, 3)))
    with pytest.raises(ValueError, match="labels must lie"):
        fit(X, y, 2)


def test_predict_and_existing_gradient_descent_still_work(blobs):
    X, y = blobs(12)
    W, b, losses = gradient_descent(X, y, 3, lr=0.5, steps=50)
    assert losses[-1] < losses[0] and predict(W, b, X).shape == (len(X),)


@pytest.mark.parametrize("l2", [0.0, 0.2])
def test_gradient_descent_takes_the_steps_of_loss_and_gradients(blobs, l2):
    # The loop checks its inputs once; each step must still be exactly the checked one.
    X, y = blobs(14)

    def halved(Z, labels):  # a custom logit gradient, as the cross-entropy chapter passes
        return 0.5 * (softmax(Z) - np.eye(3)[labels]) / len(Z)

    W_run, b_run, losses = gradient_descent(X, y, 3, lr=0.7, steps=5, l2=l2, logit_gradient=halved)
    W, b = np.zeros((X.shape[1], 3)), np.zeros(3)
    for t in range(6):
        loss, dW, db = loss_and_gradients(W, b, X, y, l2, logit_gradient=halved)
        assert losses[t] == loss
        if t < 5:
            W, b = W - 0.7 * dW, b - 0.7 * db
    np.testing.assert_array_equal(W_run, W)
    np.testing.assert_array_equal(b_run, b)


def test_fit_accelerates_on_an_ill_conditioned_problem():
    # Feature scales from 0.1 to 10: plain gradient descent (or momentum without restarts)
    # needs tens of thousands of steps here; accelerated steps with backtracking about 1300.
    rng = np.random.default_rng(13)
    X = rng.normal(size=(200, 6)) * np.geomspace(0.1, 10, 6)
    y = rng.integers(0, 4, size=200)
    result = fit(X, y, 4, l2=1e-3, tol=1e-8, max_steps=1700)
    assert result.converged
