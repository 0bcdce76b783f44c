"""Binomial standard errors of accuracies."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlderive.uncertainty import accuracy_standard_error, difference_standard_error


def test_standard_error_of_a_fair_coin_on_100_examples():
    assert accuracy_standard_error(0.5, 100) == pytest.approx(0.05)


@given(p=st.floats(0, 1), n=st.integers(1, 10**6))
def test_standard_error_never_exceeds_half_over_root_n(p, n):
    assert 0 <= accuracy_standard_error(p, n) <= 0.5 / math.sqrt(n) + 1e-15


def test_standard_error_matches_the_spread_of_simulated_accuracies():
    rng = np.random.default_rng(0)
    p, n = 0.9, 10_000
    simulated = rng.binomial(n, p, size=20_000) / n
    assert np.std(simulated) == pytest.approx(accuracy_standard_error(p, n), rel=0.03)


def test_difference_of_two_equal_errors_is_root_two_times_larger():
    one = accuracy_standard_error(0.8, 10_000)
    both = difference_standard_error(0.8, 0.8, 10_000, 10_000)
    assert both == pytest.approx(math.sqrt(2) * one)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: accuracy_standard_error(1.2, 100), "accuracy must be in \\[0, 1\\]"),
        (lambda: accuracy_standard_error(float("nan"), 100), "accuracy"),
        (lambda: accuracy_standard_error(0.5, 0), "n must be"),
        (lambda: difference_standard_error(0.5, -0.1, 10, 10), "accuracy"),
    ],
)
def test_bad_arguments_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()
