"""Tests of the finite-difference checker: it must pass right formulas and fail wrong ones."""

import numpy as np
import pytest

import mlderive as ml
from mlderive.gradcheck import layer_gradient_errors


def test_gradient_of_a_quadratic_is_found():
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    x = np.array([0.3, -1.2])
    numeric = ml.numerical_derivative(lambda v: 0.5 * v @ A @ v, x)
    np.testing.assert_allclose(numeric, A @ x, rtol=1e-9)
    assert ml.gradcheck(lambda v: 0.5 * v @ A @ v, x, A @ x) < 1e-9


def test_jacobian_shape_is_output_shape_then_input_shape():
    x = np.arange(6.0).reshape(2, 3)
    jac = ml.numerical_derivative(lambda m: m.sum(axis=1), x)
    assert jac.shape == (2, 2, 3)
    np.testing.assert_allclose(jac[0], [[1, 1, 1], [0, 0, 0]], atol=1e-9)


def test_a_wrong_gradient_is_caught():
    x = np.array([0.5, 2.0])
    assert ml.gradcheck(lambda v: np.sum(v**3), x, 3 * x**2 * 1.01) > 1e-3


def test_gradcheck_does_not_modify_its_input():
    x = np.array([1.0, 2.0])
    ml.gradcheck(lambda v: np.sum(v**2), x, 2 * x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_gradcheck_names_the_expected_shape():
    with pytest.raises(ValueError, match=r"must have shape \(3,\)"):
        ml.gradcheck(lambda v: np.sum(v), np.zeros(3), np.zeros(2))


def test_relative_error_conventions():
    assert ml.relative_error([0.0], [0.0]) == 0.0
    assert ml.relative_error([1.0], [1.0 + 1e-6]) == pytest.approx(5e-7, rel=1e-3)
    assert ml.relative_error([1e-12], [0.0]) == pytest.approx(1e-4)  # below the floor
    assert ml.relative_error([np.nan], [0.0]) == np.inf
    with pytest.raises(ValueError, match="shapes"):
        ml.relative_error([1.0], [1.0, 2.0])


def test_steps_at_large_magnitude_stay_accurate():
    x = np.array([1e3 + 0.25])
    assert ml.gradcheck(lambda v: np.sum(v**2), x, 2 * x) < 1e-9


class _Scale:
    """out = a * X, with an optionally wrong backward (for layer_gradient_errors)."""

    def __init__(self, wrong: bool):
        self.params = {"a": np.array([1.5])}
        self.grads = {"a": np.zeros(1)}
        self.wrong = wrong

    def forward(self, X):
        return self.params["a"][0] * X, X

    def backward(self, upstream, cache):
        self.grads["a"][0] = np.sum(upstream * cache) * (2.0 if self.wrong else 1.0)
        return self.params["a"][0] * upstream


def test_layer_gradient_errors_checks_input_and_every_parameter():
    X = np.random.default_rng(0).normal(size=(3, 4))
    good = layer_gradient_errors(_Scale(wrong=False), X)
    assert set(good) == {"X", "a"} and max(good.values()) < 1e-9
    bad_layer = _Scale(wrong=True)
    bad = layer_gradient_errors(bad_layer, X)
    assert bad["X"] < 1e-9 and bad["a"] > 0.1
    assert bad_layer.params["a"][0] == 1.5  # the parameter is restored after the check
