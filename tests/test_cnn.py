"""Tests for mlderive.cnn (the book's small CNN, Network.activations, the confusion matrix) and
for the allocator tuning the trainer switches on."""

from __future__ import annotations

import pickle
import platform

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlderive.allocator import keep_freed_memory
from mlderive.cnn import LowerRateAfter, confusion_matrix, small_cnn
from mlderive.conv import Conv2d
from mlderive.gradcheck import model_gradient_errors
from mlderive.optim import SGD, Adam
from mlderive.training import train

# ------------------------------------------------------------------------------ small_cnn


def layer_names(model):
    return [type(layer).__name__ for layer in model.layers]


def test_small_cnn_layers_with_and_without_batchnorm_and_dropout():
    plain = small_cnn((4, 8))
    assert layer_names(plain) == [
        "Conv2d",
        "MaxPool2d",
        "ReLU",
        "Conv2d",
        "MaxPool2d",
        "ReLU",
        "Flatten",
        "Linear",
    ]
    regularised = small_cnn((4, 8), batchnorm=True, dropout=0.3)
    names = layer_names(regularised)
    assert names.count("BatchNorm") == 2 and names.count("Dropout") == 1
    assert names.index("BatchNorm") == 1  # right after the first convolution
    assert regularised.layers[names.index("Dropout")].p == 0.3


def test_small_cnn_shapes_and_parameter_count():
    model = small_cnn((4, 8), seed=1)
    X = np.random.default_rng(0).random((3, 784), dtype=np.float32)
    assert model.forward(X).shape == (3, 10)
    expected = (4 * 1 * 9 + 4) + (8 * 4 * 9 + 8) + (8 * 7 * 7 * 10 + 10)
    assert sum(p.size for p in model.params.values()) == expected
    assert model.dtype == np.float32


def test_small_cnn_seed_fixes_every_weight():
    a, b, c = small_cnn(seed=3), small_cnn(seed=3), small_cnn(seed=4)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    assert not np.array_equal(a.params["W1"], c.params["W1"])


def test_small_cnn_gradients_in_float64_with_batchnorm():
    model = small_cnn((2, 3), batchnorm=True, input_shape=(1, 8, 8), seed=0, dtype=np.float64)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 64))
    labels = rng.integers(0, 10, size=5)
    errors = model_gradient_errors(model, X, labels)
    convs = [layer for layer in model.layers if isinstance(layer, Conv2d)]
    conv_biases = [model.names_of(layer)[1] for layer in convs]
    assert conv_biases == ["b1", "b3"]
    for name in conv_biases:  # batch norm subtracts the mean: a bias right before it is inert
        assert np.abs(model.grads[name]).max() < 1e-12
    checked = {name: error for name, error in errors.items() if name not in conv_biases}
    assert len(checked) == len(model.params) - 2
    assert max(checked.values()) < 1e-6, checked


def test_small_cnn_rejects_sizes_it_cannot_halve_twice():
    with pytest.raises(ValueError, match="divisible by 4"):
        small_cnn(input_shape=(1, 30, 30))


def test_cnn_evaluation_in_small_chunks_equals_one_pass():
    model = small_cnn((3, 4), batchnorm=True, dropout=0.5, seed=2)
    rng = np.random.default_rng(1)
    X, y = rng.random((23, 784), dtype=np.float32), rng.integers(0, 10, size=23)
    whole = model.evaluate(X, y)
    model.evaluation_chunk = 5  # 4 full chunks and a ragged one
    chunked = model.evaluate(X, y)
    assert chunked[1] == whole[1] and chunked[0] == pytest.approx(whole[0], rel=1e-5)
    np.testing.assert_array_equal(model.predict(X), np.argmax(model.forward(X), axis=1))


# ------------------------------------------------------------------------------ inspection


def test_activations_are_the_first_layers_in_evaluation_mode():
    model = small_cnn((4, 8), batchnorm=True, dropout=0.5, seed=0)
    X = np.random.default_rng(0).random((2, 784), dtype=np.float32)
    maps = model.activations(X, upto=3)  # conv, batch norm, pool, ReLU
    assert maps.shape == (2, 4, 14, 14) and maps.min() >= 0
    assert all(getattr(layer, "training", True) for layer in model.layers)  # restored
    conv, norm, pool = model.layers[:3]
    norm.training = False
    normalised = norm.forward(conv.forward(X.reshape(2, 1, 28, 28))[0])[0]
    expected = np.maximum(pool.forward(normalised)[0], 0)
    np.testing.assert_allclose(maps, expected, rtol=1e-6)
    with pytest.raises(ValueError, match="upto"):
        model.activations(X, upto=len(model.layers))


def test_confusion_matrix_counts_pairs():
    counts = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], classes=3)
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])


@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), max_size=60))
def test_confusion_matrix_sums(pairs):
    labels = np.array([a for a, _ in pairs], dtype=int)
    predictions = np.array([b for _, b in pairs], dtype=int)
    counts = confusion_matrix(labels, predictions, classes=5)
    assert counts.sum() == len(pairs)
    assert np.trace(counts) == int(np.sum(labels == predictions))
    np.testing.assert_array_equal(counts.sum(axis=1), np.bincount(labels, minlength=5))


def test_confusion_matrix_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="same length"):
        confusion_matrix([0, 1], [0], classes=2)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\]"):
        confusion_matrix([0, 2], [0, 1], classes=2)
    with pytest.raises(ValueError, match="predictions"):
        confusion_matrix([0, 1], [-1, 1], classes=2)


# ------------------------------------------------------------------------------ LowerRateAfter


def iterates_of(optimizer, gradients):
    """Apply ``optimizer`` to one parameter with the given gradients; return the iterates."""
    params = {"w": np.array([1.0, -2.0, 0.5])}
    iterates = []
    for g in gradients:
        optimizer.step(params, {"w": g})
        iterates.append(params["w"].copy())
    return iterates


def test_lower_rate_after_equals_changing_the_rate_by_hand():
    gradients = list(np.random.default_rng(0).normal(size=(7, 3)))
    by_hand, plain = [], Adam(0.1)
    params = {"w": np.array([1.0, -2.0, 0.5])}
    for step, g in enumerate(gradients):
        plain.lr = 0.1 if step < 4 else 0.01  # Adam's moments carry over the change
        plain.step(params, {"w": g})
        by_hand.append(params["w"].copy())
    scheduled = LowerRateAfter(Adam(0.1), steps=4, factor=0.1)
    np.testing.assert_array_equal(iterates_of(scheduled, gradients), by_hand)
    assert scheduled.taken == 7 and scheduled.lr == pytest.approx(0.01)


def test_lower_rate_after_reads_and_resets_its_rate():
    scheduled = LowerRateAfter(SGD(0.5), steps=2, factor=0.2)
    assert scheduled.lr == 0.5
    iterates_of(scheduled, [np.ones(3)] * 2)
    assert scheduled.lr == pytest.approx(0.1) and scheduled.optimizer.lr == 0.5
    iterates_of(scheduled, [np.ones(3)])
    assert scheduled.optimizer.lr == pytest.approx(0.1)
    scheduled.reset()
    assert scheduled.taken == 0 and scheduled.lr == 0.5 and scheduled.optimizer.lr == 0.5
    assert "steps=2" in repr(scheduled)


def test_lower_rate_after_in_one_training_call_equals_two_calls():
    rng = np.random.default_rng(3)
    X, labels = rng.random((40, 64), dtype=np.float32), rng.integers(0, 10, size=40)
    model_a = small_cnn((2, 3), input_shape=(1, 8, 8), seed=5)
    model_b = small_cnn((2, 3), input_shape=(1, 8, 8), seed=5)
    steps_per_epoch = 4  # 40 rows in batches of 10
    schedule = LowerRateAfter(Adam(0.01), steps=2 * steps_per_epoch, factor=0.1)
    one = train(model_a, schedule, X, labels, epochs=3, batch_size=10, shuffle=False)
    adam = Adam(0.01)
    two = [train(model_b, adam, X, labels, epochs=2, batch_size=10, shuffle=False)]
    adam.lr = 0.001
    two.append(train(model_b, adam, X, labels, epochs=1, batch_size=10, shuffle=False))
    for name in model_a.params:
        np.testing.assert_allclose(model_a.params[name], model_b.params[name], rtol=1e-6)
    np.testing.assert_allclose(
        one.step_losses, np.concatenate([h.step_losses for h in two]), rtol=1e-6
    )


def test_lower_rate_after_survives_pickling():  # train_in_parallel sends it to a worker
    scheduled = LowerRateAfter(Adam(0.1), steps=3)
    iterates_of(scheduled, [np.ones(3)] * 4)
    copy = pickle.loads(pickle.dumps(scheduled))
    assert copy.taken == 4 and copy.lr == pytest.approx(0.01)


def test_lower_rate_after_bad_input_names_the_problem():
    with pytest.raises(TypeError, match="optimiser with a learning rate"):
        LowerRateAfter(0.1, steps=3)
    with pytest.raises(ValueError, match="steps"):
        LowerRateAfter(Adam(0.1), steps=0)
    with pytest.raises(ValueError, match="factor"):
        LowerRateAfter(Adam(0.1), steps=3, factor=-1)


# ------------------------------------------------------------------------------ allocator


def test_keep_freed_memory_tunes_glibc_once():
    first = keep_freed_memory()
    assert keep_freed_memory() is first  # cached: mallopt runs once per process
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert first is True
