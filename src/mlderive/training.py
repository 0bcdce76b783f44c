"""Mini-batch training: the loop, a validation split, early stopping and the run's history.

:func:`train` runs ``epochs`` passes over ``X: (n, d)`` in mini-batches (reshuffled every
epoch unless ``shuffle=False``), taking one optimiser step per batch, and returns a
:class:`History`. It works with any model of :mod:`mlderive.models` and any optimiser of
:mod:`mlderive.optim`.

Early stopping rule (:class:`EarlyStopping`): after every epoch the validation loss is
compared with the best so far; it counts as an improvement only if it is lower than the best
by more than ``min_delta``. Training stops at the end of the epoch where ``patience``
epochs in a row brought no improvement, and the weights of the best epoch are restored.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ._allocator import keep_freed_memory
from ._validate import as_float_array


def train_validation_split(X, y, fraction: float, seed=0):
    """Split ``(X: (n, d), y: (n, ...))`` at random into training and validation parts.

    The validation part has ``round(fraction * n)`` rows. Returns
    ``(X_train, y_train, X_val, y_val)``; both parts keep the original order of their rows.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim < 1 or y.shape[:1] != X.shape[:1]:
        raise ValueError(f"X and y must have one row per example; got X {X.shape} and y {y.shape}.")
    n = X.shape[0]
    if not (np.isscalar(fraction) and 0 < fraction < 1):
        raise ValueError(f"fraction must be strictly between 0 and 1 (e.g. 0.2), got {fraction!r}.")
    n_val = int(round(fraction * n))
    if not 0 < n_val < n:
        raise ValueError(
            f"a fraction {fraction} of {n} rows leaves an empty training or validation part; "
            "use more data or a fraction further from 0 and 1."
        )
    val_rows = np.zeros(n, dtype=bool)
    val_rows[np.random.default_rng(seed).choice(n, size=n_val, replace=False)] = True
    return X[~val_rows], y[~val_rows], X[val_rows], y[val_rows]


@dataclass
class EarlyStopping:
    """Stop when the validation loss has not improved by more than ``min_delta`` for
    ``patience`` epochs in a row; then (if ``restore_best``) put back the best epoch's weights.
    """

    patience: int = 5
    min_delta: float = 0.0
    restore_best: bool = True

    def __post_init__(self):
        if (
            isinstance(self.patience, bool)
            or int(self.patience) != self.patience
            or (self.patience < 1)
        ):
            raise ValueError(
                f"patience must be a positive integer (epochs), got {self.patience!r}."
            )
        if not (np.isscalar(self.min_delta) and self.min_delta >= 0):
            raise ValueError(f"min_delta must be a number >= 0, got {self.min_delta!r}.")


@dataclass
class History:
    """What :func:`train` measured. Epochs are numbered from 1; arrays have one entry each.

    * ``train_loss``, ``train_accuracy``: over the epoch's mini-batches, each taken just before
      its update (the running average), or over the whole training set after the epoch when
      ``train`` was called with ``full_train_metrics=True``; the loss is without the L2 term;
    * ``val_loss``, ``val_accuracy``: on the validation set after the epoch (NaN without one);
    * ``step_losses``: the mini-batch loss (without L2) at every step, all epochs in a row;
    * ``epoch_times``: seconds spent on each epoch's shuffle and updates (evaluation excluded);
    * ``best_epoch``: the last epoch whose validation loss counted as an improvement (the
      lowest one when ``min_delta = 0``); its weights are the ones early stopping restores
      (None without validation);
    * ``stopped_epoch``: the epoch at whose end early stopping triggered (None if it did not).
    """

    train_loss: np.ndarray
    train_accuracy: np.ndarray
    val_loss: np.ndarray
    val_accuracy: np.ndarray
    step_losses: np.ndarray
    epoch_times: np.ndarray
    steps_per_epoch: int
    best_epoch: int | None = None
    stopped_epoch: int | None = None

    @property
    def epochs(self) -> np.ndarray:
        """Epoch numbers ``1, 2, ...`` for plotting."""
        return np.arange(1, len(self.train_loss) + 1)


@dataclass
class _Recorder:
    train_loss: list = field(default_factory=list)
    train_accuracy: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    step_losses: list = field(default_factory=list)
    epoch_times: list = field(default_factory=list)

    def history(self, steps_per_epoch, best_epoch=None, stopped_epoch=None) -> History:
        arrays = {name: np.array(values, dtype=np.float64) for name, values in vars(self).items()}
        return History(
            **arrays,
            steps_per_epoch=steps_per_epoch,
            best_epoch=best_epoch,
            stopped_epoch=stopped_epoch,
        )


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite. ``history`` holds the epochs completed before it,
    with ``step_losses`` up to the failing step; ``step`` (1-based, counted over the whole
    run) and ``lr`` say where and with which learning rate.
    """

    def __init__(self, message: str, step: int, lr, history: History):
        super().__init__(message)
        self.step = step
        self.lr = lr
        self.history = history


def _check_data(model, X, y, name: str):
    X = as_float_array(X, name, ndim=2)
    if X.shape[1] != model.d_in:
        raise ValueError(
            f"{name} must have shape (n, {model.d_in}) to match the model's input; got {X.shape}."
        )
    y = np.asarray(y)
    if y.shape[:1] != X.shape[:1] or X.shape[0] == 0:
        raise ValueError(
            f"{name} needs at least one row and one label per row; got {name} {X.shape} and "
            f"labels {y.shape}."
        )
    return X.astype(model.dtype, copy=False), y


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _batch_correct(model, logits: np.ndarray, labels: np.ndarray) -> int:
    truth = labels if labels.ndim == 1 else np.argmax(labels, axis=1)
    return int(np.count_nonzero(model.predictions_from_logits(logits) == truth))


def train(
    model,
    optimizer,
    X,
    y,
    epochs: int,
    batch_size: int = 128,
    shuffle: bool = True,
    seed=0,
    validation: tuple | None = None,
    validation_fraction: float | None = None,
    early_stopping: EarlyStopping | None = None,
    full_train_metrics: bool = False,
    progress: bool = True,
) -> History:
    """Train ``model`` with ``optimizer`` on ``X: (n, d)``, labels ``y``; return a History.

    * ``batch_size``: rows per step (the last batch of an epoch may be smaller);
    * ``shuffle``: visit the rows in a new random order each epoch (``seed`` fixes it);
      without it, every epoch visits them in their stored order;
    * ``validation=(X_val, y_val)`` or ``validation_fraction``: a held-out set, evaluated
      after every epoch (a fraction is split off ``X`` by :func:`train_validation_split`
      with the same ``seed``);
    * ``early_stopping``: an :class:`EarlyStopping` rule on the validation loss;
    * ``full_train_metrics``: recompute the training loss and accuracy on all of ``X`` after
      each epoch instead of averaging over the epoch's batches (costs a forward pass);
    * ``progress``: show a ``tqdm`` progress bar over the epochs.

    Raises :class:`TrainingDiverged` (a ``FloatingPointError``) as soon as a mini-batch loss
    is NaN or infinite. The check comes before the step's gradients are computed, so the
    model keeps the parameters it had at the start of that step.
    """
    epochs = _positive_int(epochs, "epochs")
    keep_freed_memory()  # reuse the step's large temporaries instead of page-faulting anew
    batch_size = _positive_int(batch_size, "batch_size")
    X, y = _check_data(model, X, y, "X")
    if validation is not None and validation_fraction is not None:
        raise ValueError("give either validation=(X_val, y_val) or validation_fraction, not both.")
    if validation_fraction is not None:
        X, y, X_val, y_val = train_validation_split(X, y, validation_fraction, seed)
    elif validation is not None:
        X_val, y_val = _check_data(model, *validation, "X_val")
    else:
        X_val = y_val = None
    if early_stopping is not None and X_val is None:
        raise ValueError(
            "early stopping watches the validation loss: pass validation=(X_val, y_val) or "
            "validation_fraction."
        )

    n = X.shape[0]
    steps_per_epoch = math.ceil(n / batch_size)
    rng = np.random.default_rng(seed)
    batch_buffer = np.empty((min(batch_size, n), X.shape[1]), dtype=X.dtype)
    record = _Recorder()
    best_loss, best_epoch, best_params, waited, stopped_epoch = math.inf, None, None, 0, None
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc="training", unit="epoch")

    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for epoch in range(1, epochs + 1):
                start = time.perf_counter()
                order = rng.permutation(n) if shuffle else None
                loss_sum, correct = 0.0, 0
                for first in range(0, n, batch_size):
                    last = min(first + batch_size, n)
                    if order is None:
                        X_batch, y_batch = X[first:last], y[first:last]
                    else:
                        rows = order[first:last]
                        X_batch = np.take(
                            X, rows, axis=0, out=batch_buffer[: last - first], mode="clip"
                        )
                        y_batch = y[rows]
                    loss, cache = model.loss(X_batch, y_batch)
                    if not math.isfinite(loss):
                        step = (epoch - 1) * steps_per_epoch + first // batch_size + 1
                        raise TrainingDiverged(
                            f"the training loss became {loss} at step {step} (epoch {epoch}) "
                            f"with learning rate {getattr(optimizer, 'lr', '?')}: the steps "
                            "are too large. Try a smaller learning rate (e.g. 10 times "
                            "smaller). The model keeps its parameters from the start of "
                            "that step.",
                            step,
                            getattr(optimizer, "lr", None),
                            record.history(steps_per_epoch),
                        )
                    model.backward(cache)
                    optimizer.step(model.params, model.grads)
                    record.step_losses.append(cache.data_loss)
                    loss_sum += cache.data_loss * (last - first)
                    correct += _batch_correct(model, cache.logits, y_batch)
                record.epoch_times.append(time.perf_counter() - start)

                if full_train_metrics:
                    train_loss, train_accuracy = model.evaluate(X, y)
                else:
                    train_loss, train_accuracy = loss_sum / n, correct / n
                record.train_loss.append(train_loss)
                record.train_accuracy.append(train_accuracy)
                val_loss, val_accuracy = (math.nan, math.nan)
                if X_val is not None:
                    val_loss, val_accuracy = model.evaluate(X_val, y_val)
                    if val_loss < best_loss - (early_stopping.min_delta if early_stopping else 0):
                        best_loss, best_epoch, waited = val_loss, epoch, 0
                        if early_stopping is not None and early_stopping.restore_best:
                            best_params = model.get_params()
                    else:
                        waited += 1
                record.val_loss.append(val_loss)
                record.val_accuracy.append(val_accuracy)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{train_loss:.4f}", val_loss=f"{val_loss:.4f}")
                if early_stopping is not None and waited >= early_stopping.patience:
                    stopped_epoch = epoch
                    break
    finally:
        if bar is not None:
            bar.close()

    if best_params is not None:
        model.set_params(best_params)
    return record.history(steps_per_epoch, best_epoch, stopped_epoch)


__all__ = ["EarlyStopping", "History", "TrainingDiverged", "train", "train_validation_split"]
