"""Tests for mlderive.logistic: stable loss, gradients, Hessian, predictions, label checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mlderive import logistic as lg
from mlderive.functions import cross_entropy, sigmoid
from mlderive.gradcheck import gradcheck
from mlderive.validation import check_01_labels


def problem(seed: int = 0, n: int = 30, d: int = 4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = rng.integers(0, 2, size=n)
    w = rng.normal(size=d)
    b = float(rng.normal())
    return X, y, w, b


def naive_loss(z, y):
    """The textbook formula, only safe for moderate logits."""
    p = 1 / (1 + np.exp(-z))
    return float(np.mean(-y * np.log(p) - (1 - y) * np.log(1 - p)))


def test_loss_matches_textbook_formula_for_moderate_logits():
    rng = np.random.default_rng(1)
    z = rng.normal(scale=3, size=50)
    y = rng.integers(0, 2, size=50)
    assert np.isclose(lg.logistic_loss_from_logits(z, y), naive_loss(z, y), rtol=1e-13)


def test_loss_is_finite_and_exact_for_extreme_logits():
    z = np.array([1000.0, -1000.0, 800.0, -800.0])
    y = np.array([0, 1, 1, 0])
    # wrong-side examples cost |z|, right-side ones cost exp(-|z|) = 0 in float64
    assert lg.logistic_loss_from_logits(z, y) == pytest.approx((1000 + 1000) / 4, rel=1e-15)


@settings(max_examples=50, deadline=None)
@given(
    z=hnp.arrays(np.float64, st.integers(1, 20), elements=st.floats(-700, 700)),
    data=st.data(),
)
def test_loss_symmetry_and_positivity(z, data):
    y = data.draw(hnp.arrays(np.int64, z.shape, elements=st.integers(0, 1)))
    value = lg.logistic_loss_from_logits(z, y)
    assert value >= 0
    # relabelling the classes and negating the logits describes the same model
    assert np.isclose(value, lg.logistic_loss_from_logits(-z, 1 - y), rtol=1e-12, atol=1e-300)


def test_binary_loss_equals_two_class_softmax_with_logits_zero_and_z():
    rng = np.random.default_rng(2)
    z = rng.normal(scale=5, size=40)
    y = rng.integers(0, 2, size=40)
    two_class = np.column_stack([np.zeros_like(z), z])
    assert np.isclose(lg.logistic_loss_from_logits(z, y), cross_entropy(two_class, y), rtol=1e-13)


@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_gradients_match_finite_differences(l2):
    X, y, w, b = problem()
    dw, db = lg.gradients(w, b, X, y, l2)
    assert gradcheck(lambda v: lg.loss(v, b, X, y, l2), w, dw) < 1e-7
    assert gradcheck(lambda c: lg.loss(w, float(c), X, y, l2), np.array(b), np.array(db)) < 1e-7


def test_gradient_is_mean_of_minus_y_minus_p_times_x():
    X, y, w, b = problem(3)
    p = sigmoid(X @ w + b)
    per_example = -(y - p)[:, None] * X
    dw, db = lg.gradients(w, b, X, y)
    assert np.allclose(dw, per_example.mean(axis=0), rtol=1e-13, atol=1e-15)
    assert np.isclose(db, np.mean(p - y))


@pytest.mark.parametrize("l2", [0.0, 0.5])
def test_hessian_is_the_jacobian_of_the_gradient(l2):
    X, y, w, b = problem(4, n=25, d=3)

    def gradient(theta):
        dw, db = lg.gradients(theta[:-1], theta[-1], X, y, l2)
        return np.append(dw, db)

    theta = np.append(w, b)
    H = lg.hessian(w, b, X, l2)
    assert H.shape == (4, 4)
    assert gradcheck(gradient, theta, H) < 1e-7
    assert np.allclose(H, H.T)
    assert np.linalg.eigvalsh(H).min() > 0


def test_hessian_does_not_penalise_the_bias():
    X, _, w, b = problem(5)
    difference = lg.hessian(w, b, X, l2=2.0) - lg.hessian(w, b, X, l2=0.0)
    assert np.allclose(difference, np.diag([2.0, 2.0, 2.0, 2.0, 0.0]))


def test_predictions():
    X = np.array([[1.0], [-1.0], [0.0]])
    w, b = np.array([3.0]), 0.0
    assert np.array_equal(lg.predict(w, b, X), [1, 0, 1])
    assert np.allclose(lg.predict_proba(w, b, X), sigmoid(np.array([3.0, -3.0, 0.0])))


@pytest.mark.parametrize(
    "labels",
    [np.array([0, 1, 2]), np.array([0, 1, -1]), np.array([0.0, 0.5, 1.0]), np.array(["a"] * 3)],
)
def test_non_binary_labels_are_rejected(labels):
    with pytest.raises(ValueError, match="0"):
        check_01_labels(labels, 3)


def test_bool_and_float_binary_labels_are_accepted():
    assert np.array_equal(check_01_labels(np.array([True, False]), 2), [1.0, 0.0])
    assert np.array_equal(check_01_labels(np.array([1.0, 0.0]), 2), [1.0, 0.0])


def test_bad_shapes_are_rejected():
    X, y, w, b = problem()
    with pytest.raises(ValueError, match="y must have shape"):
        lg.loss(w, b, X, y[:-1])
    with pytest.raises(ValueError, match="w must have shape"):
        lg.gradients(w[:-1], b, X, y)
    with pytest.raises(ValueError, match="b must be a scalar"):
        lg.loss(w, np.array([b, b]), X, y)
    with pytest.raises(ValueError, match="X must be 2-D"):
        lg.predict(w, b, X[0])
