"""Tests for mlderive.training: the loop, the split, early stopping and divergence."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mlderive.models import MLP, LogisticRegression, SoftmaxRegression
from mlderive.optim import SGD, Adam
from mlderive.training import (
    EarlyStopping,
    History,
    TrainingDiverged,
    train,
    train_validation_split,
)


@pytest.fixture(scope="module")
def blobs(blobs):
    """The shared cluster generator with this module's defaults."""
    return functools.partial(blobs, n=300, center_scale=2.0, centers_seed=100, dtype=np.float32)


def test_split_partitions_the_rows():
    X = np.arange(20).reshape(10, 2)
    y = np.arange(10)
    X_tr, y_tr, X_val, y_val = train_validation_split(X, y, 0.3, seed=1)
    assert len(y_val) == 3 and len(y_tr) == 7
    assert sorted(np.concatenate([y_tr, y_val])) == list(range(10))
    np.testing.assert_array_equal(X_tr[:, 0] // 2, y_tr)  # rows stay with their labels
    assert list(y_tr) == sorted(y_tr)  # original order kept inside each part
    again = train_validation_split(X, y, 0.3, seed=1)
    np.testing.assert_array_equal(again[3], y_val)
    other = train_validation_split(X, y, 0.3, seed=2)
    assert not np.array_equal(other[3], y_val)


@given(st.integers(2, 500), st.floats(0.01, 0.99), st.integers(0, 2**31 - 1))
def test_split_sizes_for_any_valid_fraction(n, fraction, seed):
    n_val = round(fraction * n)
    assume(0 < n_val < n)
    X, y = np.arange(n)[:, None], np.arange(n)
    X_tr, y_tr, X_val, y_val = train_validation_split(X, y, fraction, seed)
    assert len(y_val) == n_val and len(y_tr) == n - n_val
    assert not set(y_tr) & set(y_val)
    np.testing.assert_array_equal(X_val[:, 0], y_val)


def test_split_errors():
    X, y = np.zeros((10, 2)), np.zeros(10)
    with pytest.raises(ValueError, match="between 0 and 1"):
        train_validation_split(X, y, 1.0)
    with pytest.raises(ValueError, match="empty"):
        train_validation_split(X, y, 0.01)
    with pytest.raises(ValueError, match="one row per example"):
        train_validation_split(X, np.zeros(9), 0.2)


def test_training_learns_and_history_has_one_entry_per_epoch(blobs):
    X, y = blobs()
    model = MLP([5, 16, 3], seed=0)
    history = train(
        model, SGD(0.1), X, y, epochs=4, batch_size=32, validation=blobs(1), progress=False
    )
    assert isinstance(history, History)
    assert history.steps_per_epoch == 10  # ceil(300 / 32)
    assert len(history.step_losses) == 40
    for name in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "epoch_times"):
        assert getattr(history, name).shape == (4,)
    np.testing.assert_array_equal(history.epochs, [1, 2, 3, 4])
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.val_accuracy[-1] > 0.9
    assert history.stopped_epoch is None
    assert history.best_epoch == int(np.argmin(history.val_loss)) + 1
    assert np.all(history.epoch_times > 0)


def test_running_train_loss_is_the_weighted_mean_of_the_step_losses(blobs):
    X, y = blobs(n=100)
    history = train(MLP([5, 8, 3], seed=0), SGD(0.1), X, y, epochs=2, batch_size=30, progress=False)
    weights = np.array([30, 30, 30, 10])
    for epoch in range(2):
        steps = history.step_losses[4 * epoch : 4 * epoch + 4]
        assert history.train_loss[epoch] == pytest.approx(np.average(steps, weights=weights))
    assert np.all(np.isnan(history.val_loss))


def test_full_train_metrics_are_measured_after_the_epoch(blobs):
    X, y = blobs(n=120)
    model = MLP([5, 8, 3], seed=0)
    history = train(model, SGD(0.1), X, y, epochs=2, full_train_metrics=True, progress=False)
    loss, accuracy = model.evaluate(X, y)
    assert history.train_loss[-1] == pytest.approx(loss, rel=1e-6)
    assert history.train_accuracy[-1] == accuracy


def test_unshuffled_full_batch_training_is_gradient_descent(blobs):
    X, y = blobs(n=50)
    model = SoftmaxRegression(5, 3)
    train(model, SGD(0.2), X, y, epochs=3, batch_size=50, shuffle=False, progress=False)
    reference = SoftmaxRegression(5, 3)
    for _ in range(3):
        reference.loss_and_gradients(X, y)
        for name in reference.params:
            reference.params[name] -= 0.2 * reference.grads[name]
    for name in model.params:
        np.testing.assert_allclose(model.params[name], reference.params[name], rtol=1e-6)


def test_shuffling_is_seeded(blobs):
    X, y = blobs(n=90)

    def run(seed, shuffle=True):
        model = MLP([5, 8, 3], seed=0)
        return train(
            model,
            SGD(0.1),
            X,
            y,
            epochs=2,
            batch_size=16,
            shuffle=shuffle,
            seed=seed,
            progress=False,
        ).step_losses

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))
    np.testing.assert_array_equal(run(3, shuffle=False), run(4, shuffle=False))


def test_early_stopping_triggers_and_restores_the_best_weights(blobs):
    # Validation labels are a fixed permutation of the classes, so fitting the training set
    # makes the validation loss grow from the first epoch on: the best epoch is 1.
    X, y = blobs(n=200)
    X_val, y_val = blobs(seed=0, n=200)
    y_val = (y_val + 1) % 3
    model = MLP([5, 8, 3], seed=0)
    rule = EarlyStopping(patience=3)
    history = train(
        model,
        SGD(0.2),
        X,
        y,
        epochs=30,
        batch_size=20,
        validation=(X_val, y_val),
        early_stopping=rule,
        progress=False,
    )
    assert history.best_epoch == 1
    assert history.stopped_epoch == 4  # epochs 2, 3, 4 brought no improvement
    assert len(history.val_loss) == 4
    assert np.all(np.diff(history.val_loss) > 0)
    one_epoch = MLP([5, 8, 3], seed=0)
    train(one_epoch, SGD(0.2), X, y, epochs=1, batch_size=20, progress=False)
    for name in model.params:
        np.testing.assert_array_equal(model.params[name], one_epoch.params[name])
    assert model.evaluate(X_val, y_val)[0] == pytest.approx(history.val_loss[0], rel=1e-6)


def test_min_delta_demands_a_large_enough_improvement(blobs):
    X, y = blobs(n=200)
    X_val, y_val = blobs(seed=5, n=200)

    def run(min_delta):
        return train(
            MLP([5, 8, 3], seed=0),
            SGD(0.05),
            X,
            y,
            epochs=12,
            batch_size=20,
            validation=(X_val, y_val),
            early_stopping=EarlyStopping(patience=2, min_delta=min_delta),
            progress=False,
        )

    patient = run(0.0)
    assert patient.stopped_epoch is None  # the validation loss keeps falling
    assert patient.best_epoch == 12
    strict = run(10.0)  # no later epoch beats epoch 1 by 10 nats
    assert (strict.best_epoch, strict.stopped_epoch) == (1, 3)


def test_early_stopping_without_restoring_keeps_the_last_weights(blobs):
    X, y = blobs(n=100)
    X_val, y_val = blobs(seed=0, n=100)
    model = MLP([5, 8, 3], seed=0)
    rule = EarlyStopping(patience=2, restore_best=False)
    history = train(
        model,
        SGD(0.2),
        X,
        y,
        epochs=20,
        batch_size=20,
        validation=(X_val, (y_val + 1) % 3),
        early_stopping=rule,
        progress=False,
    )
    assert history.stopped_epoch == 3
    assert model.evaluate(X_val, (y_val + 1) % 3)[0] == pytest.approx(
        history.val_loss[-1], rel=1e-6
    )


def test_validation_fraction_splits_off_the_training_data(blobs):
    X, y = blobs(n=100)
    history = train(
        MLP([5, 8, 3], seed=0),
        SGD(0.1),
        X,
        y,
        epochs=1,
        batch_size=10,
        validation_fraction=0.2,
        progress=False,
    )
    assert history.steps_per_epoch == 8  # 80 training rows
    assert np.isfinite(history.val_loss[0])


class RecordingSGD(SGD):
    """SGD that keeps a copy of the parameters after every step."""

    def __init__(self, lr):
        super().__init__(lr)
        self.snapshots = []

    def step(self, params, grads):
        super().step(params, grads)
        self.snapshots.append({k: v.copy() for k, v in params.items()})


def test_divergence_raises_and_leaves_the_last_good_parameters(blobs):
    X, y = blobs(n=200)
    X *= 30  # large inputs: lr 50 blows the logits up within a few steps
    model = MLP([5, 16, 3], seed=0)
    opt = RecordingSGD(50.0)
    with pytest.raises(FloatingPointError, match=r"learning rate 50\.0") as info:
        train(model, opt, X, y, epochs=20, batch_size=20, progress=False)
    error = info.value
    assert isinstance(error, TrainingDiverged)
    assert error.step == len(opt.snapshots) + 1
    assert "smaller" in str(error) and f"step {error.step}" in str(error)
    assert len(error.history.step_losses) == error.step - 1
    assert error.lr == 50.0
    for name in model.params:
        np.testing.assert_array_equal(model.params[name], opt.snapshots[-1][name])


def test_logistic_regression_trains_with_adam(blobs):
    X, y = blobs(n=200, k=2)
    model = LogisticRegression(5)
    history = train(model, Adam(0.05), X, y, epochs=5, batch_size=25, progress=False)
    assert model.accuracy(X, y) > 0.95
    assert history.train_accuracy[-1] > 0.9


def test_progress_bar_runs(blobs, capsys):
    X, y = blobs(n=40)
    train(MLP([5, 4, 3], seed=0), SGD(0.1), X, y, epochs=2, progress=True)
    assert "training" in capsys.readouterr().err


def test_argument_errors(blobs):
    X, y = blobs(n=40)
    model = MLP([5, 4, 3], seed=0)
    opt = SGD(0.1)
    with pytest.raises(ValueError, match="either validation"):
        train(model, opt, X, y, 1, validation=(X, y), validation_fraction=0.2, progress=False)
    with pytest.raises(ValueError, match="validation loss"):
        train(model, opt, X, y, 1, early_stopping=EarlyStopping(), progress=False)
    with pytest.raises(ValueError, match=r"\(n, 5\)"):
        train(model, opt, X[:, :4], y, 1, progress=False)
    with pytest.raises(ValueError, match="one label per row"):
        train(model, opt, X, y[:-1], 1, progress=False)
    with pytest.raises(ValueError, match="epochs"):
        train(model, opt, X, y, 0, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        train(model, opt, X, y, 1, batch_size=2.5, progress=False)
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=0)


def test_every_model_is_a_trainable_model():
    from mlderive.cnn import small_cnn
    from mlderive.training import TrainableModel

    for model in (MLP([4, 3]), LogisticRegression(4), SoftmaxRegression(4, 3), small_cnn()):
        assert isinstance(model, TrainableModel)
