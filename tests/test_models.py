"""Tests for mlderive.models: whole-model gradient checks (with L2), agreement with the
reference modules, parameters, prediction and evaluation."""

from __future__ import annotations

import numpy as np
import pytest

import mlderive.models as models
from mlderive import logistic, softmax_regression
from mlderive.functions import softmax
from mlderive.gradcheck import model_gradient_errors
from mlderive.layers import SoftmaxCrossEntropy
from mlderive.models import MLP, LogisticRegression, SoftmaxRegression

TOL = 1e-6


def randomise(model, seed):
    """Give every parameter (biases too) random values, so no gradient is trivially zero."""
    rng = np.random.default_rng(seed)
    for value in model.params.values():
        value[...] = rng.normal(scale=0.5, size=value.shape)


def model_gradcheck(model, X, labels) -> dict[str, float]:
    """Max relative error of ``model.grads`` against centred differences, per parameter.

    h = 1e-4: the L2 term makes the loss ~10 while some bias gradients are ~1e-5, so
    round-off (~1e-16 * 10 / h) would dominate the default h = 1e-5.
    """
    return model_gradient_errors(model, X, labels, h=1e-4)


CASES = {
    "logistic": lambda l2: LogisticRegression(4, l2=l2, dtype=np.float64),
    "softmax": lambda l2: SoftmaxRegression(4, 3, l2=l2, dtype=np.float64),
    "mlp-relu": lambda l2: MLP([4, 6, 3], "relu", seed=1, l2=l2, dtype=np.float64),
    "mlp-sigmoid": lambda l2: MLP([4, 6, 3], "sigmoid", seed=1, l2=l2, dtype=np.float64),
    "deep-relu": lambda l2: MLP([4, 7, 6, 5, 3], "relu", seed=2, l2=l2, dtype=np.float64),
    "deep-sigmoid": lambda l2: MLP([4, 7, 6, 5, 3], "sigmoid", seed=2, l2=l2, dtype=np.float64),
}


@pytest.mark.parametrize("l2", [0.0, 0.7])
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_gradient_of_every_model(case, l2):
    model = CASES[case](l2)
    randomise(model, 3)
    rng = np.random.default_rng(4)
    X = rng.normal(size=(9, 4))
    labels = rng.integers(0, 2 if case == "logistic" else 3, size=9)
    errors = model_gradcheck(model, X, labels)
    assert max(errors.values()) < TOL, errors


def test_soft_labels_gradient():
    model = MLP([4, 5, 3], seed=0, dtype=np.float64)
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(6, 4)), softmax(rng.normal(size=(6, 3)))
    assert max(model_gradcheck(model, X, Y).values()) < TOL


def test_softmax_regression_agrees_with_the_reference_module():
    model = SoftmaxRegression(4, 3, l2=0.3, dtype=np.float64)
    randomise(model, 6)
    rng = np.random.default_rng(7)
    X, labels = rng.normal(size=(10, 4)), rng.integers(0, 3, size=10)
    value = model.loss_and_gradients(X, labels)
    ref_loss, ref_dW, ref_db = softmax_regression.loss_and_gradients(
        model.params["W1"], model.params["b1"], X, labels, l2=0.3
    )
    assert value == pytest.approx(ref_loss, rel=1e-13)
    np.testing.assert_allclose(model.grads["W1"], ref_dW, rtol=1e-12)
    np.testing.assert_allclose(model.grads["b1"], ref_db, rtol=1e-12)


def test_logistic_regression_agrees_with_the_reference_module():
    model = LogisticRegression(4, l2=0.2, dtype=np.float64)
    randomise(model, 8)
    rng = np.random.default_rng(9)
    X, y = rng.normal(size=(10, 4)), rng.integers(0, 2, size=10)
    w, b = model.params["W1"][:, 0], model.params["b1"][0]
    assert model.loss_and_gradients(X, y) == pytest.approx(
        logistic.loss(w, b, X, y, l2=0.2), rel=1e-13
    )
    ref_dw, ref_db = logistic.gradients(w, b, X, y, l2=0.2)
    np.testing.assert_allclose(model.grads["W1"][:, 0], ref_dw, rtol=1e-12)
    assert model.grads["b1"][0] == pytest.approx(ref_db, rel=1e-12)
    np.testing.assert_allclose(model.predict_proba(X), logistic.predict_proba(w, b, X))
    np.testing.assert_array_equal(model.predict(X), logistic.predict(w, b, X))


def test_l2_touches_weights_not_biases():
    rng = np.random.default_rng(10)
    X, labels = rng.normal(size=(8, 4)), rng.integers(0, 3, size=8)
    plain = MLP([4, 5, 3], seed=0, dtype=np.float64)
    decayed = MLP([4, 5, 3], seed=0, l2=0.5, dtype=np.float64)
    loss_plain = plain.loss_and_gradients(X, labels)
    loss_decayed = decayed.loss_and_gradients(X, labels)
    squares = sum(float(np.sum(plain.params[w] ** 2)) for w in ("W1", "W2"))
    assert loss_decayed - loss_plain == pytest.approx(0.25 * squares, rel=1e-12)
    for name in ("b1", "b2"):
        np.testing.assert_array_equal(decayed.grads[name], plain.grads[name])
    for name in ("W1", "W2"):
        np.testing.assert_allclose(
            decayed.grads[name], plain.grads[name] + 0.5 * plain.params[name], rtol=1e-12
        )


def test_params_are_the_layers_arrays():
    model = MLP([3, 4, 2], seed=0)
    assert list(model.params) == ["W1", "b1", "W2", "b2"]
    assert model.params["W2"] is model.layers[2].params["W"]
    assert model.grads["b1"] is model.layers[0].grads["b"]
    assert model.num_parameters == 3 * 4 + 4 + 4 * 2 + 2


def test_get_and_set_params_round_trip():
    model = MLP([3, 4, 2], seed=0)
    saved = model.get_params()
    model.params["W1"] += 1.0
    assert not np.array_equal(model.params["W1"], saved["W1"])
    array_before = model.params["W1"]
    model.set_params(saved)
    assert model.params["W1"] is array_before  # copied in place, so optimisers stay valid
    np.testing.assert_array_equal(model.params["W1"], saved["W1"])
    with pytest.raises(ValueError, match="exactly the keys"):
        model.set_params({"W1": saved["W1"]})
    with pytest.raises(ValueError, match=r"shape \(3, 4\)"):
        model.set_params({**saved, "W1": np.zeros((4, 3))})


def test_same_seed_same_network_and_different_seed_different():
    a, b, c = MLP([5, 4, 2], seed=1), MLP([5, 4, 2], seed=1), MLP([5, 4, 2], seed=2)
    np.testing.assert_array_equal(a.params["W1"], b.params["W1"])
    assert not np.array_equal(a.params["W1"], c.params["W1"])


def test_float32_model_stays_float32():
    model = MLP([4, 5, 3], seed=0)
    X = np.random.default_rng(0).normal(size=(6, 4))  # float64 in, converted once
    loss, cache = model.loss(X, np.array([0, 1, 2, 0, 1, 2]))
    model.backward(cache)
    assert cache.logits.dtype == np.float32
    assert all(g.dtype == np.float32 for g in model.grads.values())
    assert isinstance(loss, float)


def test_forward_predict_accuracy_evaluate_are_consistent(monkeypatch):
    monkeypatch.setattr(models, "EVALUATION_CHUNK", 7)  # several chunks, a ragged last one
    model = MLP([4, 6, 3], seed=0, dtype=np.float64)
    randomise(model, 11)
    rng = np.random.default_rng(12)
    X, labels = rng.normal(size=(30, 4)), rng.integers(0, 3, size=30)
    logits = model.forward(X)
    np.testing.assert_array_equal(model.predict(X), np.argmax(logits, axis=1))
    expected_accuracy = float(np.mean(np.argmax(logits, axis=1) == labels))
    assert model.accuracy(X, labels) == expected_accuracy
    data_loss, accuracy = model.evaluate(X, labels)
    assert data_loss == pytest.approx(model.loss(X, labels)[0], rel=1e-12)
    assert accuracy == expected_accuracy


def test_evaluate_excludes_the_penalty():
    model = SoftmaxRegression(4, 3, l2=10.0, init="he", dtype=np.float64)
    rng = np.random.default_rng(13)
    X, labels = rng.normal(size=(8, 4)), rng.integers(0, 3, size=8)
    loss, cache = model.loss(X, labels)
    assert model.evaluate(X, labels)[0] == pytest.approx(cache.data_loss, rel=1e-12)
    assert loss == pytest.approx(cache.data_loss + model.penalty(), rel=1e-12)
    assert model.penalty() > 0


def test_constructor_errors():
    with pytest.raises(ValueError, match="at least the input dimension"):
        MLP([784])
    with pytest.raises(ValueError, match="activation must be one of"):
        MLP([4, 3], activation="tanh")
    with pytest.raises(ValueError, match="l2 must be"):
        SoftmaxRegression(4, 3, l2=-1)
    with pytest.raises(ValueError, match=r"\(n, 4\)"):
        SoftmaxRegression(4, 3).forward(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="one per row"):
        SoftmaxRegression(4, 3).accuracy(np.zeros((2, 4)), np.zeros(3, dtype=int))


def test_a_custom_loss_layer_without_a_label_check_gets_the_softmax_one():
    class Plain:  # the duck-typed loss-layer interface, nothing more
        def __init__(self):
            self.inner = SoftmaxCrossEntropy()

        def forward(self, Z, labels):
            return self.inner.forward(Z, labels)

        def backward(self, cache):
            return self.inner.backward(cache)

    model = MLP([4, 3], seed=0)
    model.loss_layer = Plain()
    model.check_labels(np.array([0, 2, 1]))
    with pytest.raises(ValueError, match="labels must lie in"):
        model.check_labels(np.array([0, 3]))
