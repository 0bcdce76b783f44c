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
import sys
import time
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from .allocator import keep_freed_memory
from .validation import (
    NonFiniteError,
    as_float_array,
    as_rng,
    check_finite,
    nonnegative_number,
    positive_int,
    positive_number,
)


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
    if not 0 < positive_number(fraction, "fraction") < 1:
        raise ValueError(f"fraction must be strictly between 0 and 1 (e.g. 0.2), got {fraction!r}.")
    n_val = int(round(fraction * n))
    if not 0 < n_val < n:
        raise ValueError(
            f"a fraction {fraction} of {n} rows leaves an empty training or validation part; "
            "use more data or a fraction further from 0 and 1."
        )
    val_rows = np.zeros(n, dtype=bool)
    val_rows[as_rng(seed).choice(n, size=n_val, replace=False)] = True
    return X[~val_rows], y[~val_rows], X[val_rows], y[val_rows]


@dataclass
class EarlyStopping:
    """Stop when the validation loss has not improved by more than ``min_delta`` for
    ``patience`` epochs in a row; then (if ``restore_best``) put back the best epoch's weights.

    :meth:`update` is called once per epoch by :func:`train`; the state it keeps (the best
    loss and epoch, that epoch's weights, the epochs waited) is reset by :meth:`reset`.
    """

    patience: int = 5
    min_delta: float = 0.0
    restore_best: bool = True
    best_loss: float = field(default=math.inf, init=False)
    best_epoch: int | None = field(default=None, init=False)
    best_params: dict | None = field(default=None, init=False, repr=False)
    waited: int = field(default=0, init=False)

    def __post_init__(self):
        self.patience = positive_int(self.patience, "patience")
        self.min_delta = nonnegative_number(self.min_delta, "min_delta")

    def reset(self) -> None:
        """Forget the best epoch (a new run starts)."""
        self.best_loss, self.best_epoch, self.best_params, self.waited = math.inf, None, None, 0

    def update(self, epoch: int, val_loss: float, model) -> bool:
        """Record epoch ``epoch``'s validation loss; return True if training should stop."""
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.waited = val_loss, epoch, 0
            if self.restore_best:
                self.best_params = model.get_params()
        else:
            self.waited += 1
        return self.waited >= self.patience

    def restore(self, model) -> None:
        """Put the best epoch's weights back into ``model`` (if kept)."""
        if self.best_params is not None:
            model.set_params(self.best_params)


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

    def epoch(self, train_metrics, val_metrics, bar) -> None:
        """Record one epoch's ``(loss, accuracy)`` pairs and advance the progress bar."""
        self.train_loss.append(train_metrics[0])
        self.train_accuracy.append(train_metrics[1])
        self.val_loss.append(val_metrics[0])
        self.val_accuracy.append(val_metrics[1])
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{train_metrics[0]:.4f}", val_loss=f"{val_metrics[0]:.4f}")

    def history(self, steps_per_epoch, best_epoch=None, stopped_epoch=None) -> History:
        arrays = {name: np.array(values, dtype=np.float64) for name, values in vars(self).items()}
        return History(
            **arrays,
            steps_per_epoch=steps_per_epoch,
            best_epoch=best_epoch,
            stopped_epoch=stopped_epoch,
        )


class TrainingDiverged(FloatingPointError):
    """Training diverged: a loss became NaN or infinite, the parameters did, or the loss grew
    by orders of magnitude. ``history`` holds the epochs completed before it, with
    ``step_losses`` up to the failing step; ``step`` (1-based, counted over the whole run) and
    ``lr`` say where and with which learning rate. The model keeps the parameters it had at
    the start of the failing step.
    """

    def __init__(self, message: str, step: int, lr, history: History):
        super().__init__(message)
        self.step = step
        self.lr = lr
        self.history = history

    def __reduce__(self):
        """Pickle with every field and note (a worker process of :mod:`mlderive.parallel`
        sends it)."""
        return type(self), (self.args[0], self.step, self.lr, self.history), self.__dict__


@runtime_checkable
class TrainableModel(Protocol):
    """What :func:`train` expects of a model (every :class:`mlderive.models.Network` is one).

    ``loss`` runs the training-mode forward pass and returns ``(loss, cache)``, the cache
    having ``data_loss`` (the loss without penalty) and ``logits``; ``backward(cache)`` fills
    ``grads``, which the optimiser reads to update ``params`` in place; ``forward`` (logits,
    evaluation mode) and ``loss_layer`` check an update; ``evaluate`` gives
    ``(loss, accuracy)``; ``check_labels`` validates every label before the first step;
    ``get_params`` / ``set_params`` copy the parameters out and back (early stopping, undoing
    a diverged step).
    """

    params: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]
    d_in: int
    dtype: np.dtype
    loss_layer: object

    def loss(self, X: np.ndarray, labels: np.ndarray) -> tuple[float, object]: ...

    def backward(self, cache) -> None: ...

    def forward(self, X: np.ndarray) -> np.ndarray: ...

    def evaluate(self, X, labels) -> tuple[float, float]: ...

    def predictions_from_logits(self, logits: np.ndarray) -> np.ndarray: ...

    def check_labels(self, labels) -> None: ...

    def get_params(self) -> dict[str, np.ndarray]: ...

    def set_params(self, values: Mapping[str, np.ndarray]) -> None: ...


EXPLOSION_FACTOR = 1e6  # a loss this many times the first step's (at least 1) has exploded


def _check_data(model, X, y, name: str):
    """``X`` finite, ``(n, d_in)`` in the model's dtype, with ``n >= 1`` labels all valid."""
    X = as_float_array(X, name, ndim=2, min_rows=1)
    if X.shape[1] != model.d_in:
        raise ValueError(
            f"{name} must have shape (n, {model.d_in}) to match the model's input; got {X.shape}."
        )
    check_finite(X, name, "Training cannot use NaN or inf inputs: remove or impute them.")
    y = np.asarray(y)
    if y.shape[:1] != X.shape[:1]:
        raise ValueError(
            f"{name} needs one label per row; got {name} {X.shape} and labels {y.shape}."
        )
    model.check_labels(y)
    return X.astype(model.dtype, copy=False), y


def batches(X, y, batch_size: int, rng: np.random.Generator | None):
    """Yield ``(X_batch, y_batch)`` over ``X: (n, d)`` in ``batch_size`` rows (the last may be
    smaller): in a random order drawn from ``rng``, or in stored order if ``rng`` is None.

    Shuffled batches are gathered into one reused buffer, so a consumer must finish with a
    batch before asking for the next.
    """
    n = X.shape[0]
    if rng is None:
        for first in range(0, n, batch_size):
            yield X[first : first + batch_size], y[first : first + batch_size]
        return
    order = rng.permutation(n)
    buffer = np.empty((min(batch_size, n), X.shape[1]), dtype=X.dtype)
    for first in range(0, n, batch_size):
        rows = order[first : first + batch_size]
        yield np.take(X, rows, axis=0, out=buffer[: rows.size], mode="clip"), y[rows]


@dataclass
class DivergenceCheck:
    """Raises :class:`TrainingDiverged` with the cause: a step loss that is NaN, infinite or
    exploding, an update that makes the parameters or outputs non-finite, or a non-finite
    loss on the training or validation set."""

    optimizer: object
    record: _Recorder
    steps_per_epoch: int
    first_loss: float | None = None

    def _fail(self, step: int, what: str) -> TrainingDiverged:
        lr = getattr(self.optimizer, "lr", None)
        return TrainingDiverged(
            f"training diverged at step {step} with learning rate {lr}: {what}. The steps are "
            "too large: try a smaller learning rate (e.g. 10 times smaller). The model keeps "
            "its parameters from the start of that step.",
            step,
            lr,
            self.record.history(self.steps_per_epoch),
        )

    def loss(self, step: int, model, X_batch, y_batch):
        """``model.loss`` on step ``step``'s batch, before its update, checked."""
        try:
            loss, cache = model.loss(X_batch, y_batch)
        except NonFiniteError as exc:  # the inputs are finite, so the outputs overflowed
            raise self._fail(step, f"the model's outputs became NaN or infinite ({exc})") from exc
        if not math.isfinite(loss):
            raise self._fail(step, f"the training loss became {loss}")
        if self.first_loss is None:
            self.first_loss = loss
        elif self._exploded(loss):
            raise self._fail(
                step,
                f"the training loss grew from {self.first_loss:.3g} at the first step to "
                f"{loss:.3g}",
            )
        return loss, cache

    def update(self, step: int, model, saved: dict, X_batch, y_batch) -> None:
        """After an epoch's last update (no later step would see it): undo it and raise if it
        made the parameters, or the model's outputs on its batch, non-finite, or the batch's
        loss explode."""
        finite = all(np.isfinite(value).all() for value in model.params.values())
        logits = model.forward(X_batch) if finite else None
        if finite and np.isfinite(logits).all():
            loss = model.loss_layer.forward(logits, y_batch)[0]
            if not self._exploded(loss):
                return
            what = f"its update made the loss on its batch {loss:.3g}"
        else:
            what = "its update made the parameters or the outputs NaN or infinite"
        model.set_params(saved)
        raise self._fail(step, what)

    def _exploded(self, loss: float) -> bool:
        """The loss is over ``EXPLOSION_FACTOR`` times the first step's (or 1, if larger)."""
        return loss > EXPLOSION_FACTOR * max(self.first_loss, 1.0)

    def evaluate(self, step: int, model, X, y, name: str) -> tuple[float, float]:
        """``model.evaluate(X, y)`` after step ``step``, checked (``X`` is known finite)."""
        try:
            loss, accuracy = model.evaluate(X, y)
        except NonFiniteError as exc:
            raise self._fail(step, f"the model's outputs on {name} became NaN or infinite") from exc
        if not math.isfinite(loss):
            raise self._fail(step, f"the loss on {name} became {loss}")
        return loss, accuracy


def _batch_correct(model, logits: np.ndarray, labels: np.ndarray) -> int:
    truth = labels if labels.ndim == 1 else np.argmax(labels, axis=1)
    return int(np.count_nonzero(model.predictions_from_logits(logits) == truth))


def train(
    model: TrainableModel,
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
    progress: bool | str = False,
) -> History:
    """Train ``model`` with ``optimizer`` on ``X: (n, d)``, labels ``y``; return a History.

    * ``batch_size``: rows per step (the last batch of an epoch may be smaller);
    * ``shuffle``: visit the rows in a new random order each epoch (``seed``, an int or a
      ``numpy.random.Generator``, fixes it); without it, every epoch visits them in order;
    * ``validation=(X_val, y_val)`` or ``validation_fraction``: a held-out set, evaluated
      after every epoch (a fraction is split off ``X`` by :func:`train_validation_split`
      with the same ``seed``);
    * ``early_stopping``: an :class:`EarlyStopping` rule on the validation loss;
    * ``full_train_metrics``: recompute the training loss and accuracy on all of ``X`` after
      each epoch instead of averaging over the epoch's batches (costs a forward pass);
    * ``progress``: True shows a ``tqdm`` progress bar over the epochs; "auto" shows it in
      an interactive terminal only; False (the default) shows none.

    Everything (arguments, every label, NaN or inf in ``X`` and the validation inputs) is
    checked before the first step. Raises :class:`TrainingDiverged` (a ``FloatingPointError``)
    as soon as a step's loss is NaN, infinite or over a million times the first step's, when
    an epoch's last step makes the parameters or outputs non-finite or the loss explode (that
    step is undone), or when the training or validation loss after an epoch is not finite.
    """
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    X, y, X_val, y_val = _split(model, X, y, seed, validation, validation_fraction, early_stopping)
    if early_stopping is not None:
        early_stopping.reset()
    keep_freed_memory()  # reuse the step's large temporaries instead of page-faulting anew
    n, rng = X.shape[0], as_rng(seed) if shuffle else None
    record, steps_per_epoch = _Recorder(), math.ceil(n / batch_size)
    check = DivergenceCheck(optimizer, record, steps_per_epoch)
    step, stopped_epoch = 0, None
    with _progress_bar(progress, epochs) as bar, np.errstate(all="ignore"):
        for epoch in range(1, epochs + 1):
            start, loss_sum, correct = time.perf_counter(), 0.0, 0
            for X_batch, y_batch in batches(X, y, batch_size, rng):
                step += 1
                loss, cache = check.loss(step, model, X_batch, y_batch)
                model.backward(cache)
                saved = model.get_params() if step % steps_per_epoch == 0 else None
                optimizer.step(model.params, model.grads)
                if saved is not None:
                    check.update(step, model, saved, X_batch, y_batch)
                record.step_losses.append(cache.data_loss)
                loss_sum += cache.data_loss * len(y_batch)
                correct += _batch_correct(model, cache.logits, y_batch)
            record.epoch_times.append(time.perf_counter() - start)
            train_metrics = (loss_sum / n, correct / n)
            if full_train_metrics:
                train_metrics = check.evaluate(step, model, X, y, "the training set")
            val_metrics = (math.nan, math.nan)
            if X_val is not None:
                val_metrics = check.evaluate(step, model, X_val, y_val, "the validation set")
            record.epoch(train_metrics, val_metrics, bar)
            if early_stopping is not None and early_stopping.update(epoch, val_metrics[0], model):
                stopped_epoch = epoch
                break
    if early_stopping is not None:
        early_stopping.restore(model)
    best_epoch = early_stopping.best_epoch if early_stopping else _best_epoch(record.val_loss)
    return record.history(steps_per_epoch, best_epoch, stopped_epoch)


def _split(model, X, y, seed, validation, validation_fraction, early_stopping=None):
    """Checked ``(X, y, X_val, y_val)``; the validation part is None without one."""
    if validation is not None and validation_fraction is not None:
        raise ValueError("give either validation=(X_val, y_val) or validation_fraction, not both.")
    X, y = _check_data(model, X, y, "X")
    if early_stopping is not None and validation is None and validation_fraction is None:
        raise ValueError(
            "early stopping watches the validation loss: pass validation=(X_val, y_val) "
            "or validation_fraction."
        )
    if validation_fraction is not None:
        return train_validation_split(X, y, validation_fraction, seed)
    if validation is None:
        return X, y, None, None
    if not isinstance(validation, tuple | list) or len(validation) != 2:
        raise ValueError(f"validation must be a pair (X_val, y_val), got {type(validation)}.")
    return (X, y, *_check_data(model, *validation, "X_val"))


def _best_epoch(val_loss: list) -> int | None:
    """The first epoch with the lowest validation loss (None without validation)."""
    return int(np.argmin(val_loss)) + 1 if val_loss and not math.isnan(val_loss[0]) else None


@contextmanager
def _progress_bar(progress, epochs: int):
    """A ``tqdm`` bar over the epochs, or None (``progress`` False, or "auto" off a terminal)."""
    if progress not in (True, False, "auto"):
        raise ValueError(f'progress must be True, False or "auto", got {progress!r}.')
    if progress == "auto":
        progress = sys.stderr.isatty()
    if not progress:
        yield None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=epochs, desc="training", unit="epoch")
    try:
        yield bar
    finally:
        bar.close()


__all__ = [
    "DivergenceCheck",
    "EarlyStopping",
    "History",
    "TrainableModel",
    "TrainingDiverged",
    "batches",
    "train",
    "train_validation_split",
]
