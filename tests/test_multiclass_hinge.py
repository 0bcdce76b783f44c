"""Tests for mlderive.multiclass_hinge: the loss, its subgradient, separable data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mlderive import multiclass_hinge as hinge
from mlderive.gradcheck import gradcheck

# ----------------------------------------------------------------------------------------------
# Multiclass hinge loss
# ----------------------------------------------------------------------------------------------

X_SMALL = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
W_SMALL = np.array([[2.0, 0.0, 1.0], [0.0, 0.5, 0.0]])  # scores: [2,0,1], [0,.5,0], [2,.5,1]
LABELS_SMALL = np.array([0, 2, 1])


def test_hinge_losses_match_a_hand_computed_example():
    # example 0: class 0 wins by 1 over class 2 -> max(0, 0-2+1, 1-2+1) = 0
    # example 1: scores [0, .5, 0], y = 2 -> max(0-0+1, .5-0+1, 0) = 1.5
    # example 2: scores [2, .5, 1], y = 1 -> max(2-.5+1, 0, 1-.5+1) = 2.5
    losses = hinge.multiclass_hinge_losses(W_SMALL, X_SMALL, LABELS_SMALL)
    np.testing.assert_allclose(losses, [0.0, 1.5, 2.5])
    assert hinge.multiclass_hinge_loss(W_SMALL, X_SMALL, LABELS_SMALL) == pytest.approx(4.0 / 3.0)
    np.testing.assert_array_equal(hinge.zero_one_losses(W_SMALL, X_SMALL, LABELS_SMALL), [0, 1, 1])
    np.testing.assert_allclose(hinge.margin_gaps(W_SMALL, X_SMALL, LABELS_SMALL), [-1.0, 0.5, 1.5])


def test_subgradient_matches_a_hand_computed_example():
    # example 1 picks j = 1 (y = 2), example 2 picks j = 0 (y = 1); example 0 contributes 0
    expected = (np.outer(X_SMALL[1], [0, 1, -1]) + np.outer(X_SMALL[2], [1, -1, 0])) / 3
    got = hinge.multiclass_hinge_subgradient(W_SMALL, X_SMALL, LABELS_SMALL)
    np.testing.assert_allclose(got, expected)


@st.composite
def hinge_problems(draw):
    n = draw(st.integers(1, 6))
    d = draw(st.integers(1, 4))
    k = draw(st.integers(2, 4))
    small_ints = st.integers(-2, 2).map(float)  # small integers make ties frequent
    W = draw(hnp.arrays(np.float64, (d, k), elements=small_ints))
    X = draw(hnp.arrays(np.float64, (n, d), elements=small_ints))
    labels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    return W, X, labels


@given(hinge_problems())
@settings(max_examples=100, deadline=None)
def test_hinge_upper_bounds_the_zero_one_loss_even_with_ties(problem):
    W, X, labels = problem
    losses = hinge.multiclass_hinge_losses(W, X, labels)
    assert np.all(losses >= hinge.zero_one_losses(W, X, labels))
    assert np.all(losses >= 0)


@given(hinge_problems(), st.integers(0, 2**32 - 1))
@settings(max_examples=100, deadline=None)
def test_subgradient_inequality_holds_everywhere(problem, seed):
    W, X, labels = problem
    V = np.random.default_rng(seed).normal(scale=2.0, size=W.shape)
    G = hinge.multiclass_hinge_subgradient(W, X, labels)
    lower = hinge.multiclass_hinge_loss(W, X, labels) + np.sum(G * (V - W))
    assert hinge.multiclass_hinge_loss(V, X, labels) >= lower - 1e-12


def test_subgradient_is_the_gradient_where_there_are_no_ties():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 4))
    labels = rng.integers(0, 3, size=20)
    W = rng.normal(size=(4, 3))
    top_two = np.sort(hinge.hinge_margins(W, X, labels), axis=1)[:, -2:]
    assert np.min(top_two[:, 1] - top_two[:, 0]) > 1e-3  # no tie within the difference step

    def f(V):
        return hinge.multiclass_hinge_loss(V, X, labels)

    analytic = hinge.multiclass_hinge_subgradient(W, X, labels)
    assert gradcheck(f, W, analytic) < 1e-8


def test_ties_at_zero_loss_give_a_zero_subgradient():
    X = np.array([[1.0]])
    W = np.array([[0.0, 1.0]])  # label 1 leads by exactly 1: the term for j = 0 is 0 - 1 + 1 = 0
    assert hinge.multiclass_hinge_loss(W, X, [1]) == 0.0
    assert np.argmax(hinge.hinge_margins(W, X, [1])[0]) == 0  # np.argmax alone would pick j = 0
    np.testing.assert_array_equal(hinge.multiclass_hinge_subgradient(W, X, [1]), 0.0)


def test_separating_scale_zeroes_the_loss_and_is_the_smallest_such_scale():
    rng = np.random.default_rng(2)
    X, labels, W = hinge.planted_separable_data(100, 3, 4, rng)
    scale = hinge.separating_scale(W, X, labels)
    assert hinge.multiclass_hinge_loss(scale * W, X, labels) <= 1e-12
    assert hinge.multiclass_hinge_loss(0.999 * scale * W, X, labels) > 0


def test_separating_scale_rejects_a_non_strict_separator():
    X = np.array([[1.0, 2.0], [3.0, -1.0]])
    with pytest.raises(ValueError, match="does not separate the data strictly"):
        hinge.separating_scale(np.zeros((2, 3)), X, [0, 1])  # every class ties: M = 0


def test_planted_data_respects_min_gap():
    X, labels, W = hinge.planted_separable_data(50, 2, 3, np.random.default_rng(3), min_gap=0.5)
    assert X.shape == (50, 2) and labels.shape == (50,)
    assert np.max(hinge.margin_gaps(W, X, labels)) <= -0.5
    with pytest.raises(ValueError, match="min_gap"):
        hinge.planted_separable_data(5, 2, 3, np.random.default_rng(3), min_gap=-1.0)


def test_subgradient_descent_reaches_zero_loss_on_separable_data():
    X, labels, _ = hinge.planted_separable_data(80, 3, 3, np.random.default_rng(4), min_gap=0.2)
    W, losses, errors = hinge.hinge_subgradient_descent(X, labels, 3, lr=1.0, max_steps=10_000)
    assert losses[-1] == 0.0 and losses[0] == 1.0  # W = 0: every term equals 1
    assert losses.size == errors.size < 10_001  # it stopped early
    assert np.all(hinge.zero_one_losses(W, X, labels) == 0) and errors[-1] == 0
    assert np.all(losses >= errors)
    W_start, _, _ = hinge.hinge_subgradient_descent(X, labels, 3, lr=1.0, max_steps=0)
    np.testing.assert_array_equal(W_start, 0.0)


def test_multiclass_bad_input_is_rejected_with_a_clear_message():
    with pytest.raises(ValueError, match=r"W must have shape \(2, K\)"):
        hinge.multiclass_hinge_loss(np.zeros((3, 3)), X_SMALL, LABELS_SMALL)
    with pytest.raises(ValueError, match="must lie in"):
        hinge.multiclass_hinge_loss(W_SMALL, X_SMALL, [0, 1, 3])
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        hinge.hinge_subgradient_descent(X_SMALL, LABELS_SMALL, 3, lr=0.0, max_steps=1)


# ----------------------------------------------------------------------------------------------
# The Weston-Watkins loss and the binary hinge
# ----------------------------------------------------------------------------------------------


def test_weston_watkins_matches_a_hand_computed_example():
    # example 1: scores [0, .5, 0], y = 2 -> max(0, 0-0+1) + max(0, .5-0+1) = 2.5
    losses = hinge.weston_watkins_losses(W_SMALL, X_SMALL, LABELS_SMALL)
    assert np.allclose(losses, [0.0, 2.5, 4.0])  # example 2: [2,.5,1], y=1: 2.5 + 1.5


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), K=st.integers(2, 6), scale=st.floats(1e-3, 1e3))
def test_weston_watkins_is_sandwiched_by_the_max_hinge(seed, K, scale):
    rng = np.random.default_rng(seed)
    X, W = rng.normal(size=(30, 4)), scale * rng.normal(size=(4, K))
    labels = rng.integers(0, K, size=30)
    ww = hinge.weston_watkins_losses(W, X, labels)
    cs = hinge.multiclass_hinge_losses(W, X, labels)
    tol = 1e-12 * (1 + np.abs(X @ W).max())
    assert np.all(cs <= ww + tol) and np.all(ww <= (K - 1) * cs + K * tol)
    if K == 2:
        t, v = 2 * labels - 1, W[:, 1] - W[:, 0]
        assert np.allclose(ww, np.maximum(0, 1 - t * (X @ v)), atol=tol)
        assert np.allclose(cs, ww, atol=tol)


def test_weston_watkins_rejects_a_bad_margin():
    with pytest.raises(ValueError, match="margin"):
        hinge.weston_watkins_losses(W_SMALL, X_SMALL, LABELS_SMALL, margin=0.0)
