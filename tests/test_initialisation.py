"""Tests of mlderive.initialisation: the variance argument for He initialisation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlderive.initialisation import relu_stack_second_moments


def test_shapes_and_relu_halves_the_mean_square():
    X = np.random.default_rng(0).normal(size=(400, 50))
    z, h = relu_stack_second_moments(X, [300] * 4, gain=2.0, seed=1)
    assert z.shape == h.shape == (4,)
    # z = h W with symmetric W is symmetric, so relu keeps half of its mean square.
    assert np.allclose(h / z, 0.5, atol=0.12)  # one random network: finite-width noise


@settings(max_examples=10, deadline=None)
@given(gain=st.sampled_from([1.0, 2.0, 4.0]), seed=st.integers(0, 1000))
def test_each_layer_multiplies_the_mean_square_by_gain_over_two(gain, seed):
    X = np.random.default_rng(seed).normal(size=(300, 64))
    z, _ = relu_stack_second_moments(X, [512] * 3, gain=gain, seed=seed)
    # Layer 1 sees X itself: E[z_1^2] = gain * mean(x^2); later layers multiply by gain / 2.
    assert z[0] == pytest.approx(gain * np.mean(X**2), rel=0.15)
    assert np.allclose(z[1:] / z[:-1], gain / 2, rtol=0.35)  # gains differ by factors of 2


def test_same_seed_same_result_and_float32_input():
    X = np.random.default_rng(0).random((20, 8)).astype(np.float32)
    a = relu_stack_second_moments(X, [16, 16], seed=3)
    b = relu_stack_second_moments(X.astype(np.float64), [16, 16], seed=3)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"widths": []}, "widths"),
        ({"widths": [4], "gain": 0}, "gain"),
        ({"widths": [4, 0]}, "widths"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        relu_stack_second_moments(np.ones((3, 2)), **kwargs)


def test_one_dimensional_input_is_refused():
    with pytest.raises(ValueError, match="X"):
        relu_stack_second_moments(np.ones(3), [4])
