"""Unit and property tests of mlderive.functions: stable, correct, and loud on bad input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import mlderive as ml

finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)


def logit_batches(max_rows=6, max_classes=8):
    shapes = st.tuples(st.integers(1, max_rows), st.integers(2, max_classes))
    return shapes.flatmap(lambda shape: arrays(np.float64, shape, elements=finite))


@given(logit_batches())
def test_softmax_rows_are_probability_vectors(Z):
    P = ml.softmax(Z)
    assert np.all(np.isfinite(P)) and np.all(P >= 0)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=1e-12)


@given(logit_batches(), st.floats(-1e4, 1e4))
def test_softmax_is_shift_invariant(Z, c):
    np.testing.assert_allclose(ml.softmax(Z + c), ml.softmax(Z), rtol=0, atol=1e-9)


@given(logit_batches())
def test_log_softmax_matches_log_of_softmax_where_representable(Z):
    P = ml.softmax(Z)
    mask = P > 1e-300
    before = Z.copy()
    log_p = ml.log_softmax(Z)
    np.testing.assert_array_equal(Z, before)  # the input is left alone (the result is new)
    np.testing.assert_allclose(log_p[mask], np.log(P[mask]), rtol=1e-9, atol=1e-12)
    assert np.all(np.isfinite(log_p))


def test_softmax_known_values():
    np.testing.assert_allclose(ml.softmax(np.array([0.0, np.log(3.0)])), [0.25, 0.75])
    np.testing.assert_allclose(ml.softmax(np.zeros(4)), np.full(4, 0.25))


def test_softmax_of_huge_logits_is_finite_without_warnings():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p = ml.softmax(np.array([1e4, 0.0, -1e4]))
    np.testing.assert_array_equal(p, [1.0, 0.0, 0.0])


def test_softmax_keeps_float32():
    assert ml.softmax(np.ones((2, 3), dtype=np.float32)).dtype == np.float32


@given(arrays(np.float64, st.integers(2, 8), elements=st.floats(-30, 30)))
def test_softmax_jacobian_matches_finite_differences(z):
    # Absolute error: finite differences cannot resolve tiny entries to a small relative error
    # (see the softmax chapter), but they stay within round-off of the formula.
    numeric = ml.numerical_derivative(ml.softmax, z)
    np.testing.assert_allclose(ml.softmax_jacobian(z), numeric, rtol=0, atol=1e-9)


@given(arrays(np.float64, st.integers(2, 8), elements=st.floats(-2, 2)))
def test_softmax_jacobian_relative_error_is_tiny_for_moderate_logits(z):
    assert ml.gradcheck(ml.softmax, z, ml.softmax_jacobian(z)) < 1e-7


@given(arrays(np.float64, st.integers(2, 8), elements=finite))
def test_softmax_jacobian_is_symmetric_psd_and_kills_ones(z):
    J = ml.softmax_jacobian(z)
    np.testing.assert_allclose(J, J.T, atol=1e-15)
    assert np.linalg.eigvalsh(J).min() > -1e-12
    np.testing.assert_allclose(J @ np.ones(z.size), 0.0, atol=1e-12)


@given(logit_batches(), st.data())
def test_softmax_backward_is_jacobian_times_vector(Z, data):
    U = data.draw(arrays(np.float64, Z.shape, elements=st.floats(-10, 10)))
    expected = np.stack([ml.softmax_jacobian(z) @ u for z, u in zip(Z, U, strict=True)])
    np.testing.assert_allclose(ml.softmax_backward(Z, U), expected, atol=1e-12)


@st.composite
def batches_with_soft_labels(draw):
    n, k = draw(st.integers(1, 5)), draw(st.integers(2, 6))
    Z = draw(arrays(np.float64, (n, k), elements=st.floats(-20, 20)))
    weights = draw(arrays(np.float64, (n, k), elements=st.floats(0, 1)))
    weights[:, 0] += 1e-3  # keep every row's total positive
    return Z, weights / weights.sum(axis=1, keepdims=True)


@given(batches_with_soft_labels())
def test_cross_entropy_gradient_is_prediction_minus_target(batch):
    Z, Y = batch
    grad = ml.cross_entropy_grad(Z, Y)
    np.testing.assert_allclose(grad, (ml.softmax(Z) - Y) / Z.shape[0], atol=1e-15)
    numeric = ml.numerical_derivative(lambda M: ml.cross_entropy(M, Y), Z)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


@given(batches_with_soft_labels())
def test_cross_entropy_is_at_least_the_entropy_of_the_target(batch):
    Z, Y = batch
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nansum(np.where(Y > 0, Y * np.log(Y), 0.0)) / Z.shape[0]
    assert ml.cross_entropy(Z, Y) >= entropy - 1e-9


def test_cross_entropy_integer_and_one_hot_labels_agree():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(6, 4))
    labels = rng.integers(0, 4, size=6)
    assert ml.cross_entropy(Z, labels) == pytest.approx(ml.cross_entropy(Z, ml.one_hot(labels, 4)))
    np.testing.assert_allclose(
        ml.cross_entropy_grad(Z, labels), ml.cross_entropy_grad(Z, ml.one_hot(labels, 4))
    )


def test_cross_entropy_known_value_and_single_example():
    assert ml.cross_entropy(np.zeros(4), 2) == pytest.approx(np.log(4))
    assert ml.cross_entropy(np.array([[0.0, 0.0]]), np.array([1])) == pytest.approx(np.log(2))
    grad = ml.cross_entropy_grad(np.zeros(4), 2)
    np.testing.assert_allclose(grad, [0.25, 0.25, -0.75, 0.25])


def test_cross_entropy_of_huge_logits_is_exact_and_finite():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = ml.cross_entropy(np.array([[1e4, 0.0, -1e4]]), np.array([2]))
        grad = ml.cross_entropy_grad(np.array([[1e4, 0.0, -1e4]]), np.array([2]))
    assert loss == 2e4
    np.testing.assert_array_equal(grad, [[1.0, 0.0, -1.0]])


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.array([0, 3]), r"\[0, 2\]"),
        (np.array([0, -1]), r"\[0, 2\]"),
        (np.array([0, 1, 2]), r"shape \(2,\)"),
        (np.array([0.5, 1.0]), "integers"),
        (np.ones((2, 3)), "probability vectors"),
        (np.ones((2, 4)) / 4, r"\(2, 3\)"),
    ],
)
def test_cross_entropy_rejects_bad_labels_with_a_clear_message(labels, message):
    with pytest.raises(ValueError, match=message):
        ml.cross_entropy(np.zeros((2, 3)), labels)


def test_bad_logits_shapes_are_rejected():
    with pytest.raises(ValueError, match="1-D or 2-D"):
        ml.cross_entropy(np.zeros((2, 3, 4)), np.zeros(2, dtype=int))
    with pytest.raises(ValueError, match="1-D"):
        ml.softmax_jacobian(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="numeric"):
        ml.softmax(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="shape"):
        ml.softmax_backward(np.zeros((2, 3)), np.zeros((3, 2)))


def test_one_hot():
    np.testing.assert_array_equal(ml.one_hot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match="positive integer"):
        ml.one_hot([0], 0)
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        ml.one_hot([3], 3)


@given(arrays(np.float64, st.integers(1, 20), elements=st.floats(-1e308, 1e308)))
def test_sigmoid_is_finite_in_unit_interval_and_symmetric(x):
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = ml.sigmoid(x)
    assert np.all((s >= 0) & (s <= 1))
    np.testing.assert_allclose(s + ml.sigmoid(-x), 1.0, atol=1e-15)


def test_sigmoid_derivative_and_values():
    x = np.linspace(-5, 5, 11)
    s = ml.sigmoid(x)
    np.testing.assert_allclose(s, 1 / (1 + np.exp(-x)))
    assert ml.gradcheck(lambda v: ml.sigmoid(v).sum(), x, s * (1 - s)) < 1e-8
    assert ml.sigmoid(np.float32(3.0)).dtype == np.float32


def test_relu():
    np.testing.assert_array_equal(ml.functions.relu(np.array([-2.0, 0.0, 3.5])), [0.0, 0.0, 3.5])
