"""Tests for mlderive.search: the batched trainer, its gradients, evaluation and the search."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlderive.functions import cross_entropy
from mlderive.gradcheck import gradcheck
from mlderive.search import (
    Configurations,
    ModelStack,
    batched_loss_and_gradients,
    evaluate,
    probabilities,
    sample_configurations,
    successive_halving,
    train_many,
    train_one,
)

# ------------------------------------------------------------------- batched == one at a time


@settings(max_examples=25)
@given(
    seed=st.integers(0, 10_000),
    batch_size=st.integers(1, 17),
    epochs=st.integers(1, 3),
    num_models=st.integers(1, 4),
)
def test_train_many_equals_training_each_model_alone(blobs, seed, batch_size, epochs, num_models):
    X, y = blobs(seed, n=37)  # 37 rows: most batch sizes leave a smaller last batch
    rng = np.random.default_rng(seed)
    lrs = 10 ** rng.uniform(-3, 0, size=num_models)
    l2s = np.where(rng.random(num_models) < 0.3, 0.0, 10 ** rng.uniform(-4, -1, size=num_models))
    stack = train_many(X, y, lrs, l2s, batch_size, epochs, seed=seed % 7, num_classes=3)
    for m in range(num_models):
        W, b, W_avg, b_avg = train_one(X, y, lrs[m], l2s[m], batch_size, epochs, seed % 7, 3)
        np.testing.assert_allclose(stack.W[:, m], W, rtol=0, atol=1e-12)
        np.testing.assert_allclose(stack.b[m], b, rtol=0, atol=1e-12)
        np.testing.assert_allclose(stack.W_avg[:, m], W_avg, rtol=0, atol=1e-12)
        np.testing.assert_allclose(stack.b_avg[m], b_avg, rtol=0, atol=1e-12)
    assert stack.epochs == epochs and not stack.diverged.any()


def test_train_one_is_plain_sgd_with_a_tail_average(blobs):
    """Two hand-written steps (batch = half the data, one epoch) and their average."""
    X, y = blobs(1, n=8)
    lr, l2 = 0.3, 0.05
    order = np.random.default_rng([4, 0]).permutation(8)
    W, b, iterates = np.zeros((5, 3)), np.zeros(3), []
    for rows in (order[:4], order[4:]):
        P = np.exp(X[rows] @ W + b)
        P /= P.sum(axis=1, keepdims=True)
        P[np.arange(4), y[rows]] -= 1
        W = W - lr * (X[rows].T @ P / 4 + l2 * W)
        b = b - lr * P.mean(axis=0)
        iterates.append((W, b))
    W1, b1, W_avg, b_avg = train_one(X, y, lr, l2, batch_size=4, epochs=1, seed=4, num_classes=3)
    np.testing.assert_allclose(W1, W, atol=1e-14)
    np.testing.assert_allclose(b1, b, atol=1e-14)
    np.testing.assert_allclose(W_avg, (iterates[0][0] + iterates[1][0]) / 2, atol=1e-14)
    np.testing.assert_allclose(b_avg, (iterates[0][1] + iterates[1][1]) / 2, atol=1e-14)


def test_resuming_gives_the_same_weights_as_training_at_once(blobs):
    X, y = blobs(2)
    at_once = train_many(X, y, [0.1, 0.5], [1e-3, 0.0], 8, epochs=5, seed=3)
    resumed = train_many(X, y, [0.1, 0.5], [1e-3, 0.0], 8, epochs=2, seed=3)
    resumed.train(X, y, 3, seed=3)
    assert resumed.epochs == 5
    np.testing.assert_array_equal(resumed.W, at_once.W)
    np.testing.assert_array_equal(resumed.W_avg, at_once.W_avg)


def test_subset_keeps_the_chosen_models_and_they_train_on_unchanged(blobs):
    X, y = blobs(3)
    lrs, l2s = [0.05, 0.2, 0.8], [0.0, 1e-2, 1e-4]
    full = train_many(X, y, lrs, l2s, 6, epochs=4, seed=1)
    part = train_many(X, y, lrs, l2s, 6, epochs=2, seed=1).subset([2, 0])
    part.train(X, y, 2, seed=1)
    np.testing.assert_allclose(part.W, full.W[:, [2, 0]], rtol=0, atol=1e-14)
    np.testing.assert_allclose(part.b_avg, full.b_avg[[2, 0]], rtol=0, atol=1e-14)
    np.testing.assert_array_equal(part.lrs, [0.8, 0.05])


def test_a_stack_with_non_contiguous_weights_still_trains_them(blobs):
    X, y = blobs(10)
    reference = train_many(X, y, [0.1, 0.2], [0.0, 1e-3], 8, epochs=2)
    stack = train_many(X, y, [0.1, 0.2], [0.0, 1e-3], 8, epochs=1)
    stack.W = np.asfortranarray(stack.W)
    stack.train(X, y, 1)
    np.testing.assert_allclose(stack.W, reference.W, rtol=0, atol=1e-14)


def test_float32_training_stays_close_to_float64(blobs):
    X, y = blobs(4, n=200)
    double = train_many(X, y, [0.1, 0.3], [1e-3, 1e-4], 16, epochs=3)
    single = train_many(X.astype(np.float32), y, [0.1, 0.3], [1e-3, 1e-4], 16, epochs=3)
    assert single.W.dtype == np.float32
    np.testing.assert_allclose(single.W_avg, double.W_avg, rtol=0, atol=1e-4)


# ------------------------------------------------------------------------ loss and gradients


def test_batched_loss_is_each_models_own_loss(blobs):
    X, y = blobs(5, n=20)
    rng = np.random.default_rng(5)
    W, b, l2s = rng.normal(size=(5, 3, 3)), rng.normal(size=(3, 3)), np.array([0.0, 0.1, 2.0])
    losses, _, _ = batched_loss_and_gradients(W, b, X, y, l2s)
    for m in range(3):
        expected = cross_entropy(X @ W[:, m] + b[m], y) + 0.5 * l2s[m] * np.sum(W[:, m] ** 2)
        assert losses[m] == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batched_gradients_pass_a_gradient_check_block_by_block(blobs, seed):
    """Jacobian of the M losses: model m's gradient in block m, exact zeros elsewhere."""
    X, y = blobs(seed, n=15, d=4)
    rng = np.random.default_rng(seed)
    m, k = 3, 3
    W, b = rng.normal(size=(4, m, k)), rng.normal(size=(m, k))
    l2s = np.array([0.0, 0.3, 1.5])
    _, dW, db = batched_loss_and_gradients(W, b, X, y, l2s)
    jacobian_W = np.zeros((m,) + W.shape)
    jacobian_b = np.zeros((m,) + b.shape)
    for j in range(m):
        jacobian_W[j, :, j] = dW[:, j]
        jacobian_b[j, j] = db[j]
    error_W = gradcheck(lambda w: batched_loss_and_gradients(w, b, X, y, l2s)[0], W, jacobian_W)
    error_b = gradcheck(lambda c: batched_loss_and_gradients(W, c, X, y, l2s)[0], b, jacobian_b)
    assert error_W < 1e-7 and error_b < 1e-7


def test_evaluate_matches_per_model_cross_entropy_and_accuracy(blobs):
    X, y = blobs(6, n=50)
    stack = train_many(X, y, [0.01, 0.5], [0.0, 1e-3], 5, epochs=2)
    loss, acc = evaluate(stack.W_avg, stack.b_avg, X, y, chunk=7)
    for m in range(2):
        logits = X @ stack.W_avg[:, m] + stack.b_avg[m]
        assert loss[m] == pytest.approx(cross_entropy(logits, y), rel=1e-12)
        assert acc[m] == np.mean(logits.argmax(axis=1) == y)
    P = probabilities(stack.W_avg[:, 1], stack.b_avg[1], X)
    assert P.shape == (50, 3) and np.allclose(P.sum(axis=1), 1)


def test_evaluate_gives_inf_loss_to_a_model_with_non_finite_weights(blobs):
    X, y = blobs(7, n=10)
    W, b = np.zeros((5, 2, 3)), np.zeros((2, 3))
    W[0, 1, 0] = np.nan
    loss, acc = evaluate(W, b, X, y)
    assert loss[0] == pytest.approx(np.log(3)) and loss[1] == np.inf and acc[1] == 0


# ---------------------------------------------------------------------------------- divergence


def test_train_one_names_the_learning_rate_when_it_diverges(blobs):
    X, y = blobs(8)
    with pytest.raises(FloatingPointError, match="learning rate 100.0"):
        train_one(X, y, lr=100.0, l2=100.0, batch_size=2, epochs=5)


def test_train_many_raises_or_marks_a_diverging_model(blobs):
    X, y = blobs(9)
    lrs, l2s = [0.1, 100.0, 0.3], [1e-3, 100.0, 0.0]
    with pytest.raises(FloatingPointError, match=r"learning rate\(s\) \[100.0\]"):
        train_many(X, y, lrs, l2s, 2, epochs=5)
    stack = train_many(X, y, lrs, l2s, 2, epochs=5, on_divergence="mark")
    np.testing.assert_array_equal(stack.diverged, [False, True, False])
    assert np.all(stack.W[:, 1] == 0) and np.all(stack.W_avg[:, 1] == 0)
    healthy = train_many(X, y, [0.1, 0.3], [1e-3, 0.0], 2, epochs=5)
    np.testing.assert_allclose(stack.W_avg[:, [0, 2]], healthy.W_avg, rtol=0, atol=1e-12)


# ------------------------------------------------------------------------------------- search


def tiny_search(blobs, seed: int = 0, diverging: bool = False):
    X, y = blobs(seed, n=120)
    if diverging:  # steps that multiply W by 1 - lr * l2 ~ -1e8 overflow float32 within 6 steps
        X = X.astype(np.float32)
    lrs = np.array([1e-5, 3e-5, 0.05, 0.2, 0.5, 1.0, 1e-4, 0.1])
    l2s = np.array([0.0, 1e-4, 1e-3, 0.0, 1e-4, 1e-2, 0.0, 1e-3])
    if diverging:
        lrs[1], l2s[1] = 1e4, 1e4
    configs = Configurations(lrs, l2s, np.array([8, 16, 8, 16, 8, 16, 8, 16]))
    result = successive_halving(X[:90], y[:90], X[90:], y[90:], configs, (1, 2, 4), keep=0.5)
    return X, y, configs, result


def test_successive_halving_keeps_the_best_at_every_cut(blobs):
    _, _, configs, result = tiny_search(blobs)
    assert [a.size for a in result.alive] == [8, 4, 2]
    for rung in range(len(result.alive) - 1):
        alive, survivors = result.alive[rung], result.alive[rung + 1]
        score = result.val_loss[alive, result.rung_epochs[rung] - 1]
        best_k = np.sort(alive[np.argsort(score)[: survivors.size]])
        np.testing.assert_array_equal(survivors, best_k)
        dropped = np.setdiff1d(alive, survivors)
        end = result.rung_epochs[rung] - 1
        assert result.val_loss[survivors, end].max() <= result.val_loss[dropped, end].min()
        assert np.isnan(result.val_loss[dropped, end + 1 :]).all()  # no longer trained
    last = result.alive[-1]
    assert result.best == last[np.argmin(result.val_loss[last, -1])]
    assert configs.lrs[result.best] >= 0.05  # the tiny learning rates never win
    assert result.model_epochs == 8 * 1 + 4 * 1 + 2 * 2


def test_search_does_not_depend_on_the_order_of_the_configurations(blobs):
    X, y, configs, result = tiny_search(blobs)
    order = np.arange(len(configs))[::-1]
    shuffled = Configurations(configs.lrs[order], configs.l2s[order], configs.batch_sizes[order])
    again = successive_halving(X[:90], y[:90], X[90:], y[90:], shuffled, (1, 2, 4), keep=0.5)
    np.testing.assert_allclose(again.val_loss, result.val_loss[order], rtol=1e-12)
    assert order[again.best] == result.best


def test_search_losses_are_those_of_the_models_trained_alone(blobs):
    """Grouping by batch size, resuming and subsetting must not change any model."""
    X, y, configs, result = tiny_search(blobs)
    i = result.best
    stack = train_many(
        X[:90], y[:90], [configs.lrs[i]], [configs.l2s[i]], configs.batch_sizes[i], epochs=4
    )
    loss, acc = evaluate(stack.W_avg, stack.b_avg, X[90:], y[90:])
    assert result.val_loss[i, -1] == pytest.approx(loss[0], rel=1e-12)
    assert result.val_accuracy[i, -1] == acc[0]


def test_search_returns_the_trained_finalists(blobs):
    """The last rung's models are kept, each exactly as training it alone would give."""
    X, y, configs, result = tiny_search(blobs)
    assert list(result.finalists) == result.alive[-1].tolist()
    for i, model in result.finalists.items():
        assert model.size == 1 and model.epochs == result.rung_epochs[-1]
        alone = train_many(
            X[:90], y[:90], [configs.lrs[i]], [configs.l2s[i]], configs.batch_sizes[i], epochs=4
        )
        for name in ("W", "b", "W_avg", "b_avg"):
            np.testing.assert_allclose(getattr(model, name), getattr(alone, name), atol=1e-12)
        loss, _ = evaluate(model.W_avg, model.b_avg, X[90:], y[90:])
        assert result.val_loss[i, -1] == pytest.approx(loss[0], rel=1e-12)


def test_search_drops_a_diverging_configuration_at_the_first_cut(blobs):
    _, _, _, result = tiny_search(blobs, diverging=True)
    np.testing.assert_array_equal(np.flatnonzero(result.diverged), [1])
    assert result.val_loss[1, 0] == np.inf and 1 not in result.alive[1]


def test_sample_configurations_respects_ranges_and_shares_out_batch_sizes():
    configs = sample_configurations(
        41, lr_range=(1e-3, 0.5), l2_range=(1e-6, 1e-2), batch_sizes=(32, 64, 128), seed=3
    )
    assert len(configs) == 41
    assert configs.lrs.min() >= 1e-3 and configs.lrs.max() <= 0.5
    assert configs.l2s.min() >= 1e-6 and configs.l2s.max() <= 1e-2
    assert sorted(np.unique(configs.batch_sizes, return_counts=True)[1]) == [13, 14, 14]
    # log-uniform: about half of the learning rates lie below the geometric mean
    assert 10 <= np.sum(configs.lrs < np.sqrt(1e-3 * 0.5)) <= 31
    again = sample_configurations(
        41, lr_range=(1e-3, 0.5), l2_range=(1e-6, 1e-2), batch_sizes=(32, 64, 128), seed=3
    )
    np.testing.assert_array_equal(configs.lrs, again.lrs)


# -------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lrs": [0.1, 0.0]}, "learning rates must be finite and > 0"),
        ({"lrs": [0.1, np.nan]}, "learning rates must be finite and > 0"),
        ({"l2s": [-1.0, 0.0]}, "L2 strengths must be finite and >= 0"),
        ({"l2s": [0.0]}, "one L2 strength per learning rate"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"batch_size": 2.5}, "batch_size must be a positive integer"),
        ({"epochs": -1}, "epochs must be an integer >= 0"),
        ({"epochs": 1.5}, "epochs must be an integer >= 0"),
        ({"on_divergence": "ignore"}, r"on_divergence must be one of \['raise', 'mark'\]"),
    ],
)
def test_train_many_rejects_bad_arguments(blobs, kwargs, message):
    X, y = blobs(0, n=10)
    arguments = {"lrs": [0.1, 0.2], "l2s": [0.0, 0.0], "batch_size": 2, "epochs": 1} | kwargs
    with pytest.raises(ValueError, match=message):
        train_many(X, y, **arguments)


def test_bad_data_and_search_settings_are_rejected(blobs):
    X, y = blobs(0, n=10)
    with pytest.raises(ValueError, match="at least 1 row"):
        train_many(X[:0], y[:0], [0.1], [0.0], 2, 1, num_classes=3)
    with pytest.raises(ValueError, match="labels must have shape"):
        train_many(X, y[:5], [0.1], [0.0], 2, 1)
    with pytest.raises(ValueError, match="must lie in"):
        train_many(X, y, [0.1], [0.0], 2, 1, num_classes=2)
    stack = ModelStack.zeros(4, 3, [0.1], [0.0], 2)
    with pytest.raises(ValueError, match="X must have 4 columns"):
        stack.train(X, y, 1)
    with pytest.raises(ValueError, match="learning rate"):
        train_one(X, y, lr=-0.1, l2=0.0, batch_size=2, epochs=1)
    configs = sample_configurations(4, seed=0)
    with pytest.raises(ValueError, match="keep must be a fraction"):
        successive_halving(X, y, X, y, configs, (1, 2), keep=1.0)
    with pytest.raises(ValueError, match="rung_epochs must be increasing"):
        successive_halving(X, y, X, y, configs, (2, 2))
    with pytest.raises(ValueError, match="lr_range"):
        sample_configurations(4, lr_range=(0.0, 1.0))
