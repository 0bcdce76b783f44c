"""Tests for mlderive.validation's conversion of array arguments."""

from __future__ import annotations

import numpy as np
import pytest

from mlderive.validation import ArgumentTypeError, NonFiniteError, as_float_array


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_a_float_array_comes_back_as_it_is(dtype):
    x = np.arange(6, dtype=dtype).reshape(2, 3)
    assert as_float_array(x, "x") is x  # no copy, no change of dtype


@pytest.mark.parametrize(
    "given", [[[1, 2], [3, 4]], np.array([[1, 2], [3, 4]]), np.array([[True, False]] * 2)]
)
def test_lists_integers_and_booleans_become_float64(given):
    x = as_float_array(given, "x")
    assert type(x) is np.ndarray and x.dtype == np.float64
    np.testing.assert_array_equal(x, np.asarray(given, dtype=np.float64))


def test_an_array_subclass_becomes_a_plain_array():
    x = as_float_array(np.ma.masked_array([1.0, 2.0]), "x")
    assert type(x) is np.ndarray


def test_the_checks_apply_to_float_arrays_too():
    with pytest.raises(ValueError, match="x must be 2-D"):
        as_float_array(np.zeros(3), "x", ndim=2)
    with pytest.raises(NonFiniteError, match="x must hold finite numbers"):
        as_float_array(np.array([1.0, np.nan]), "x", finite=True)
    with pytest.raises(ValueError, match="at least 2 rows"):
        as_float_array(np.zeros((1, 3)), "x", min_rows=2)
    with pytest.raises(ArgumentTypeError, match="dtype complex128"):
        as_float_array(np.zeros(2, dtype=complex), "x")
