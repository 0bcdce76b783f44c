"""Tests for mlderive.relu_networks: explicit ReLU networks that compute a maximum."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlderive.relu_networks import ReluNetwork, max2_four_units, max2_three_units, max_n_tree

EPS = np.finfo(np.float64).eps
TINY = 2.0**-1074  # the smallest positive (subnormal) float64

# Dyadic numbers k / 2**s with |k| < 2**40: every sum and half that the networks form is
# again representable, so they must reproduce max exactly.
dyadic = st.builds(
    lambda k, s: k / 2.0**s,
    st.integers(-(2**40), 2**40),
    st.integers(0, 12),
)
# Any finite float64 small enough that no network below can overflow (2**1021 leaves room for
# x1 - x2 and for the sums in a tree).
finite = st.floats(-(2.0**1021), 2.0**1021, allow_nan=False, allow_infinity=False)


def net_max(network: ReluNetwork, x) -> np.ndarray:
    """Outputs ``(n,)`` of a max network for inputs ``x: (n, d)``."""
    return network.forward(np.atleast_2d(np.asarray(x, dtype=np.float64)))[:, 0]


def test_four_unit_weights_are_the_reports_construction():
    (W1, b1), (W2, b2) = max2_four_units().layers
    np.testing.assert_array_equal(W1.T, [[0.5, 0.5], [0.5, -0.5], [-0.5, 0.5], [-0.5, -0.5]])
    np.testing.assert_array_equal(W2[:, 0], [1, 1, 1, -1])
    assert not b1.any() and not b2.any()


def test_three_unit_weights():
    (W1, _), (W2, _) = max2_three_units().layers
    np.testing.assert_array_equal(W1.T, [[1, -1], [0, 1], [0, -1]])
    np.testing.assert_array_equal(W2[:, 0], [1, 1, -1])


@pytest.mark.parametrize("make", [max2_four_units, max2_three_units])
def test_max2_on_a_grid_is_exact(make):
    grid = np.arange(-64, 65) / 8.0
    x1, x2 = np.meshgrid(grid, grid)
    X = np.column_stack([x1.ravel(), x2.ravel()])
    np.testing.assert_array_equal(net_max(make(), X), X.max(axis=1))


@settings(max_examples=300, deadline=None)
@given(dyadic, dyadic)
def test_four_units_exact_on_dyadic_inputs(x1, x2):
    assert net_max(max2_four_units(), [x1, x2])[0] == max(x1, x2)


@settings(max_examples=300, deadline=None)
@given(dyadic, dyadic)
def test_three_units_exact_on_dyadic_inputs(x1, x2):
    assert net_max(max2_three_units(), [x1, x2])[0] == max(x1, x2)


@settings(max_examples=500, deadline=None)
@given(finite, finite)
def test_four_units_within_one_epsilon_of_the_larger_magnitude(x1, x2):
    # Rounding bound: |out - max| <= (2u + u^2) M with u = eps/2 and M = max(|x1|, |x2|),
    # plus at most one smallest subnormal when an input's half is not representable.
    out = net_max(max2_four_units(), [x1, x2])[0]
    bound = EPS * (1 + EPS) * max(abs(x1), abs(x2)) + TINY
    assert abs(out - max(x1, x2)) <= bound


@settings(max_examples=500, deadline=None)
@given(finite, finite)
def test_three_units_bound_and_exact_when_x2_wins(x1, x2):
    out = net_max(max2_three_units(), [x1, x2])[0]
    if x1 <= x2:
        assert out == x2  # relu(x1 - x2) = 0 and relu(x2) - relu(-x2) = x2 exactly
    else:
        assert abs(out - x1) <= 1.5 * EPS * (1 + EPS) * max(abs(x1), abs(x2))


def test_four_units_is_not_exact_for_all_floats():
    # The rounding of (x1 + x2)/2 is not undone by adding |x1 - x2|/2: one ulp lost...
    assert net_max(max2_four_units(), [2 + 2.0**-51, 2.0])[0] == 2.0
    # ... and cancellation loses a small maximum next to a huge negative input.
    assert net_max(max2_four_units(), [1.0, -1e20])[0] == 0.0


def test_overflow_limits_of_the_two_constructions():
    big = np.finfo(np.float64).max
    with np.errstate(over="ignore"):
        assert net_max(max2_four_units(), [1e308, -1e308])[0] == 1e308  # halves never overflow
        assert np.isinf(net_max(max2_three_units(), [1e308, -1e308])[0])  # x1 - x2 does
        assert np.isinf(net_max(max2_four_units(), [big, 2.0**1023])[0])  # a rounded-up sum


@pytest.mark.parametrize("n", range(1, 18))
@pytest.mark.parametrize("block", ["four", "three"])
def test_tree_depth_and_exact_max_on_dyadic_inputs(n, block):
    network = max_n_tree(n, block)
    assert network.depth == math.ceil(math.log2(n))
    assert network.input_dim == n and network.layers[-1][0].shape[1] == 1
    rng = np.random.default_rng(n)
    X = rng.integers(-(2**40), 2**40, size=(500, n)) / 2.0 ** rng.integers(0, 10, size=(500, 1))
    X[:50] = X[:50, :1]  # ties: all inputs equal
    np.testing.assert_array_equal(net_max(network, X), X.max(axis=1))


@pytest.mark.parametrize("n", [2, 3, 5, 8, 13, 17])
def test_tree_error_bound_on_random_floats(n):
    network = max_n_tree(n)
    rng = np.random.default_rng(100 + n)
    X = rng.normal(size=(2000, n)) * 10.0 ** rng.uniform(-200, 200, size=(2000, n))
    error = np.abs(net_max(network, X) - X.max(axis=1))
    bound = (1 + 3 * (network.depth - 1)) * EPS * (1 + 1e-6) * np.abs(X).max(axis=1)
    assert np.all(error <= bound)


def test_tree_widths():
    assert max_n_tree(5).hidden_widths == (10, 6, 4)  # 2 blocks + pass, block + pass, block
    assert max_n_tree(8, "three").hidden_widths == (12, 6, 3)


def test_hidden_outputs_of_the_four_unit_network():
    (hidden,) = max2_four_units().hidden_outputs([[3.0, 1.0]])
    np.testing.assert_array_equal(hidden, [[2.0, 1.0, 0.0, 0.0]])


def test_bad_input_raises():
    with pytest.raises(ValueError, match="shape"):
        max2_four_units().forward(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="2-D"):
        max2_four_units().forward(np.zeros(2))
    with pytest.raises(ValueError, match="positive integer"):
        max_n_tree(0)
    with pytest.raises(ValueError, match="block"):
        max_n_tree(4, block="five")
    with pytest.raises(ValueError, match="rows"):
        ReluNetwork(((np.ones((2, 3)), np.zeros(3)), (np.ones((4, 1)), np.zeros(1))))
    with pytest.raises(ValueError, match="match W"):
        ReluNetwork(((np.ones((2, 3)), np.zeros(2)),))
    with pytest.raises(ValueError, match="at least one"):
        ReluNetwork(())
