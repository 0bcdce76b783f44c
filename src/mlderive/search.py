"""Hyper-parameter search for softmax regression: many models per matrix product.

The model is softmax regression with an L2 penalty, ``J(W, b) = mean_i CE(softmax(x_i W + b),
y_i) + (l2 / 2) ||W||_F^2``, trained by mini-batch SGD from zero weights. A search trains
``M`` such models that differ only in their learning rate and L2 strength *at once*: their
weights are stacked side by side as ``W: (d, M, K)`` (read as one ``(d, M * K)`` matrix), so
one product ``X_batch @ W`` gives every model's logits and one product ``X_batch^T @ G`` every
model's weight gradient. All models of a stack see the same mini-batches, so they share the
batch size; a search groups its configurations by batch size.

Each epoch visits the training rows in the order ``default_rng([seed, epoch]).permutation(n)``
(the last mini-batch may be smaller). Besides the last iterate, the trainer keeps the average
of the iterates visited during the most recent epoch (Polyak-Ruppert tail averaging); the
evaluation uses that average, which removes most of the noise that a constant step leaves.

* :func:`train_many` / :class:`ModelStack` -- the batched trainer (resumable epoch by epoch);
* :func:`train_one` -- the same algorithm for one model, written plainly: the reference;
* :func:`batched_loss_and_gradients` -- the loss of every model and its gradients;
* :func:`evaluate` -- validation cross-entropy and accuracy of every model of a stack;
* :func:`sample_configurations`, :func:`successive_halving` -- the search.

Divergence: :func:`train_one` raises ``FloatingPointError`` naming the learning rate when its
weights stop being finite. :func:`train_many` does the same by default; with
``on_divergence="mark"`` (what the search uses) it instead flags the model as diverged,
freezes it at zero, and the search ranks it last so it is dropped at the next rung.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .functions import cross_entropy_grad, log_softmax, softmax
from .validation import (
    as_float_array,
    as_rng,
    check_choice,
    check_int_labels,
    nonnegative_int,
    positive_int,
)

__all__ = [
    "Configurations",
    "ModelStack",
    "SearchResult",
    "batched_loss_and_gradients",
    "evaluate",
    "probabilities",
    "sample_configurations",
    "successive_halving",
    "train_many",
    "train_one",
]


# ------------------------------------------------------------------------------ input checks


def _check_data(X, labels, num_classes: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    X = as_float_array(X, "X", ndim=2, finite=True, min_rows=1)
    labels = np.asarray(labels)
    if num_classes is None:
        if not np.issubdtype(labels.dtype, np.integer) or labels.size == 0:
            raise ValueError("labels must be a non-empty integer array of class indices (n,).")
        num_classes = int(labels.max()) + 1
    if positive_int(num_classes, "num_classes") < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}.")
    labels = check_int_labels(labels, X.shape[0], int(num_classes))
    return X, labels, int(num_classes)


def _check_rates(lrs, l2s) -> tuple[np.ndarray, np.ndarray]:
    lrs = np.atleast_1d(as_float_array(lrs, "lrs")).astype(np.float64)
    l2s = np.atleast_1d(as_float_array(l2s, "l2s")).astype(np.float64)
    if lrs.ndim != 1 or lrs.size == 0:
        raise ValueError(f"lrs must be a non-empty 1-D array of learning rates, got {lrs.shape}.")
    if l2s.shape != lrs.shape:
        raise ValueError(
            f"l2s must have one L2 strength per learning rate: shape {lrs.shape}, got {l2s.shape}."
        )
    bad = ~(np.isfinite(lrs) & (lrs > 0))
    if bad.any():
        raise ValueError(f"learning rates must be finite and > 0; got {lrs[bad].tolist()}.")
    bad = ~(np.isfinite(l2s) & (l2s >= 0))
    if bad.any():
        raise ValueError(f"L2 strengths must be finite and >= 0; got {l2s[bad].tolist()}.")
    return lrs, l2s


def _epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The row order of epoch ``epoch`` (0-based): the same for every model and every resume."""
    return np.random.default_rng([seed, epoch]).permutation(n)


# ------------------------------------------------------------------------ loss and gradients


def _logit_gradients(Z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``Z: (n, M, K)`` logits of M models -> ``softmax(Z) - Y`` in place, per model."""
    Z -= Z.max(axis=2, keepdims=True)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=2, keepdims=True)
    Z[np.arange(Z.shape[0]), :, labels] -= 1
    return Z


def batched_loss_and_gradients(W, b, X, labels, l2s) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The losses of M models and their gradients, from one product ``X @ W``.

    ``W: (d, M, K)``, ``b: (M, K)``, ``X: (n, d)``, integer ``labels: (n,)``, ``l2s: (M,)``.
    Returns ``(J: (M,), dJ/dW: (d, M, K), dJ/db: (M, K))`` where ``J[m]`` is model m's mean
    cross-entropy plus ``(l2s[m] / 2) ||W[:, m]||^2``. Model m's gradients depend on ``W[:, m]``
    and ``b[m]`` only: ``dW[:, m] = X^T (softmax(Z_m) - Y) / n + l2s[m] W[:, m]``.
    """
    W = as_float_array(W, "W", ndim=3)
    d, m, k = W.shape
    b = as_float_array(b, "b", ndim=2)
    X, labels, _ = _check_data(X, labels, k)
    if X.shape[1] != d or b.shape != (m, k):
        raise ValueError(
            f"expected X: (n, {d}) and b: ({m}, {k}) to match W: {W.shape}; "
            f"got X: {X.shape}, b: {b.shape}."
        )
    l2s = np.broadcast_to(as_float_array(l2s, "l2s", finite=True), (m,)).astype(np.float64)
    if np.any(l2s < 0):
        raise ValueError(f"l2s must be L2 strengths >= 0, got {l2s.tolist()}.")
    n = X.shape[0]
    Z = (X @ W.reshape(d, m * k)).reshape(n, m, k) + b
    log_p = log_softmax(Z, axis=2)
    data_loss = -log_p[np.arange(n), :, labels].mean(axis=0)
    losses = data_loss + 0.5 * l2s * np.sum(W * W, axis=(0, 2))
    G = _logit_gradients(Z, labels) / n
    dW = (X.T @ G.reshape(n, m * k)).reshape(d, m, k) + l2s[:, None] * W
    return losses, dW, G.sum(axis=0)


# ------------------------------------------------------------------------- the batched trainer


@dataclass
class ModelStack:
    """M softmax-regression models that share a batch size and are trained together.

    ``W: (d, M, K)`` and ``b: (M, K)`` are the last SGD iterate; ``W_avg``, ``b_avg`` the
    average of the iterates visited in the most recent epoch (zero before any training);
    ``lrs``, ``l2s: (M,)``; ``epochs``: epochs trained so far; ``diverged: (M,)`` marks models
    whose weights stopped being finite (they are frozen at zero).
    """

    W: np.ndarray
    b: np.ndarray
    W_avg: np.ndarray
    b_avg: np.ndarray
    lrs: np.ndarray
    l2s: np.ndarray
    batch_size: int
    epochs: int
    diverged: np.ndarray

    @classmethod
    def zeros(cls, d: int, num_classes: int, lrs, l2s, batch_size: int, dtype=np.float32):
        """Zero-initialised models, one per ``(lrs[m], l2s[m])``."""
        lrs, l2s = _check_rates(lrs, l2s)
        batch_size = positive_int(batch_size, "batch_size")
        m = lrs.size
        W = np.zeros((d, m, num_classes), dtype=dtype)
        b = np.zeros((m, num_classes), dtype=dtype)
        return cls(W, b, W.copy(), b.copy(), lrs, l2s, batch_size, 0, np.zeros(m, dtype=bool))

    @property
    def size(self) -> int:
        """The number of models M."""
        return self.lrs.size

    def subset(self, keep) -> ModelStack:
        """A new stack with only the models ``keep`` (indices or a boolean mask)."""
        keep = np.arange(self.size)[keep]
        return ModelStack(
            self.W[:, keep].copy(),
            self.b[keep].copy(),
            self.W_avg[:, keep].copy(),
            self.b_avg[keep].copy(),
            self.lrs[keep],
            self.l2s[keep],
            self.batch_size,
            self.epochs,
            self.diverged[keep],
        )

    def train(self, X, labels, epochs: int, seed: int = 0, on_divergence: str = "raise"):
        """Continue SGD for ``epochs`` more epochs on ``X: (n, d)``, integer ``labels: (n,)``.

        Works in the dtype of ``W`` (``X`` is cast to it once). Resuming is exact: training
        3 epochs and then 2 more gives the same weights as training 5 at once.
        """
        check_choice(on_divergence, "on_divergence", ("raise", "mark"))
        d, m, k = self.W.shape
        X, labels, _ = _check_data(X, labels, k)
        if X.shape[1] != d:
            raise ValueError(f"X must have {d} columns to match W: {self.W.shape}, got {X.shape}.")
        epochs = nonnegative_int(epochs, "epochs")
        X = X.astype(self.W.dtype, copy=False)
        self.W = np.ascontiguousarray(self.W)  # so that W_flat below is a view of W
        n, batch = X.shape[0], self.batch_size
        lrs = np.where(self.diverged, 0.0, self.lrs).astype(self.W.dtype)
        shrink = (1.0 - lrs * self.l2s).astype(self.W.dtype)[:, None]  # weight decay, (M, 1)
        W_flat = self.W.reshape(d, m * k)
        for epoch in range(self.epochs, self.epochs + epochs):
            order = _epoch_order(n, seed, epoch)
            self.W_avg[...] = 0
            self.b_avg[...] = 0
            steps = 0
            with np.errstate(over="ignore", invalid="ignore"):
                for start in range(0, n, batch):
                    rows = order[start : start + batch]
                    xb = X[rows]
                    Z = (xb @ W_flat).reshape(rows.size, m, k) + self.b
                    G = _logit_gradients(Z, labels[rows])
                    G *= lrs[:, None] / rows.size  # each model's step size, folded into G
                    self.W *= shrink
                    self.W -= (xb.T @ G.reshape(rows.size, m * k)).reshape(d, m, k)
                    self.b -= G.sum(axis=0)
                    self.W_avg += self.W
                    self.b_avg += self.b
                    steps += 1
            self.W_avg /= steps
            self.b_avg /= steps
            self.epochs = epoch + 1
            self._check_finite(on_divergence, lrs, shrink)
        return self

    def _check_finite(self, on_divergence: str, lrs: np.ndarray, shrink: np.ndarray) -> None:
        finite = np.isfinite(self.W_avg).all(axis=(0, 2)) & np.isfinite(self.b_avg).all(axis=1)
        finite &= np.isfinite(self.W).all(axis=(0, 2)) & np.isfinite(self.b).all(axis=1)
        new = ~finite & ~self.diverged
        if not new.any():
            return
        if on_divergence == "raise":
            raise FloatingPointError(
                f"the weights became inf/NaN in epoch {self.epochs} for learning rate(s) "
                f"{self.lrs[new].tolist()} (L2 {self.l2s[new].tolist()}): the step is too large "
                "(note lr * l2 must stay below 2); use a smaller learning rate."
            )
        self.diverged |= new
        for array in (self.W, self.W_avg):
            array[:, new] = 0
        for array in (self.b, self.b_avg):
            array[new] = 0
        lrs[new] = 0
        shrink[new] = 1


def train_many(
    X,
    labels,
    lrs,
    l2s,
    batch_size: int,
    epochs: int,
    seed: int = 0,
    num_classes: int | None = None,
    on_divergence: str = "raise",
) -> ModelStack:
    """Train ``M = len(lrs)`` models from zero weights at once; see :class:`ModelStack`.

    ``X: (n, d)`` (its dtype, float32 or float64, is the working precision), integer
    ``labels: (n,)``, ``lrs`` and ``l2s: (M,)``. Every model sees the same mini-batches.
    """
    X, labels, num_classes = _check_data(X, labels, num_classes)
    stack = ModelStack.zeros(X.shape[1], num_classes, lrs, l2s, batch_size, dtype=X.dtype)
    return stack.train(X, labels, epochs, seed, on_divergence)


def train_one(
    X,
    labels,
    lr: float,
    l2: float,
    batch_size: int,
    epochs: int,
    seed: int = 0,
    num_classes: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mini-batch SGD for one model, written plainly (the reference for :func:`train_many`).

    Same mini-batches and the same tail average as :func:`train_many`. Returns
    ``(W: (d, K), b: (K,), W_avg, b_avg)``. Raises ``FloatingPointError`` naming the learning
    rate as soon as the weights stop being finite.
    """
    X, labels, num_classes = _check_data(X, labels, num_classes)
    (lr,), (l2,) = _check_rates(lr, l2)
    batch_size = positive_int(batch_size, "batch_size")
    epochs = nonnegative_int(epochs, "epochs")
    n, d = X.shape
    W = np.zeros((d, num_classes), dtype=X.dtype)
    b = np.zeros(num_classes, dtype=X.dtype)
    W_avg, b_avg = W.copy(), b.copy()
    for epoch in range(epochs):
        order = _epoch_order(n, seed, epoch)
        W_sum, b_sum, steps = np.zeros_like(W), np.zeros_like(b), 0
        for start in range(0, n, batch_size):
            rows = order[start : start + batch_size]
            dZ = cross_entropy_grad(X[rows] @ W + b, labels[rows])  # (softmax(Z) - Y) / rows
            with np.errstate(over="ignore", invalid="ignore"):
                W = W - lr * (X[rows].T @ dZ + l2 * W)
                b = b - lr * dZ.sum(axis=0)
            if not (np.isfinite(W).all() and np.isfinite(b).all()):
                raise FloatingPointError(
                    f"the weights became inf/NaN in epoch {epoch + 1} with learning rate {lr} "
                    f"(L2 {l2}): the step is too large (lr * l2 must stay below 2); "
                    "use a smaller learning rate."
                )
            W_sum += W
            b_sum += b
            steps += 1
        W_avg, b_avg = W_sum / steps, b_sum / steps
    return W, b, W_avg, b_avg


# ---------------------------------------------------------------------------------- evaluation


def evaluate(W, b, X, labels, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Mean cross-entropy (no penalty) and accuracy of every model on ``(X, labels)``.

    ``W: (d, M, K)``, ``b: (M, K)``, ``X: (n, d)``, integer ``labels: (n,)``. Returns two
    ``(M,)`` arrays. The loss is summed in float64, ``chunk`` rows at a time; a model with
    non-finite weights gets loss ``inf`` and accuracy 0.
    """
    W = as_float_array(W, "W", ndim=3)
    d, m, k = W.shape
    X, labels, _ = _check_data(X, labels, k)
    chunk = positive_int(chunk, "chunk")
    if X.shape[1] != d or np.shape(b) != (m, k):
        raise ValueError(f"expected X: (n, {d}) and b: ({m}, {k}) to match W: {W.shape}.")
    finite = np.isfinite(W).all(axis=(0, 2)) & np.isfinite(b).all(axis=1)
    W = np.where(finite[:, None], W, 0).astype(X.dtype, copy=False).reshape(d, m * k)
    b = np.where(finite[:, None], b, 0)
    loss, correct = np.zeros(m), np.zeros(m)
    for start in range(0, X.shape[0], chunk):
        y = labels[start : start + chunk]
        Z = ((X[start : start + chunk] @ W).reshape(y.size, m, k) + b).astype(np.float64)
        log_p = log_softmax(Z, axis=2)
        loss -= log_p[np.arange(y.size), :, y].sum(axis=0)
        correct += (Z.argmax(axis=2) == y[:, None]).sum(axis=0)
    n = X.shape[0]
    return np.where(finite, loss / n, np.inf), np.where(finite, correct / n, 0.0)


def probabilities(W, b, X) -> np.ndarray:
    """Class probabilities ``(n, K)`` of one model ``W: (d, K)``, ``b: (K,)``."""
    X = as_float_array(X, "X", ndim=2, finite=True)
    W = as_float_array(W, "W", ndim=2, finite=True)
    b = as_float_array(b, "b", ndim=1, finite=True)
    if W.shape[0] != X.shape[1] or b.shape != (W.shape[1],):
        raise ValueError(
            f"W must be ({X.shape[1]}, K) and b (K,) to match X {X.shape}; got W {W.shape}, "
            f"b {b.shape}."
        )
    return softmax(X @ W + b, axis=1)


# -------------------------------------------------------------------------------------- search


@dataclass(frozen=True)
class Configurations:
    """Hyper-parameter settings, one per index: ``lrs``, ``l2s``, ``batch_sizes``, all ``(n,)``."""

    lrs: np.ndarray
    l2s: np.ndarray
    batch_sizes: np.ndarray

    def __len__(self) -> int:
        return self.lrs.size


def sample_configurations(
    n: int,
    lr_range: tuple[float, float] = (1e-3, 1.0),
    l2_range: tuple[float, float] = (1e-7, 1e-2),
    batch_sizes: tuple[int, ...] = (32, 64, 128, 256),
    seed: int = 0,
) -> Configurations:
    """``n`` random settings: lr and L2 log-uniform in their ranges, the batch size uniform.

    Batch sizes are dealt in turn (``n // len(batch_sizes)`` or one more of each) and then
    shuffled, so every batch size gets its share of the configurations.
    """
    n = positive_int(n, "n")
    for name, (low, high) in (("lr_range", lr_range), ("l2_range", l2_range)):
        if not (0 < low <= high < math.inf):
            raise ValueError(f"{name} must be (low, high) with 0 < low <= high, got {(low, high)}.")
    sizes = as_float_array(batch_sizes, "batch_sizes", ndim=1, finite=True)
    if np.any(sizes < 1) or np.any(sizes != np.round(sizes)):
        raise ValueError(f"batch_sizes must be positive integers, got {batch_sizes!r}.")
    rng = as_rng(seed)
    lrs = np.exp(rng.uniform(np.log(lr_range[0]), np.log(lr_range[1]), size=n))
    l2s = np.exp(rng.uniform(np.log(l2_range[0]), np.log(l2_range[1]), size=n))
    dealt = rng.permutation(np.resize(sizes, n))
    return Configurations(lrs, l2s, dealt.astype(np.int64))


@dataclass(frozen=True)
class SearchResult:
    """What :func:`successive_halving` found.

    ``configurations``; ``rung_epochs: (R,)`` the epoch budget of each rung; ``alive``: for
    each rung, the indices of the configurations trained up to it; ``val_loss`` and
    ``val_accuracy: (n, rung_epochs[-1])``, entry ``[i, e - 1]`` after ``e`` epochs (NaN where
    configuration i was no longer trained); ``diverged: (n,)``; ``best`` the index of the
    winner (lowest validation loss at the last rung); ``model_epochs`` the total number of
    epochs trained, summed over all models; ``finalists``: for each configuration of the last
    rung, its trained model as a one-model :class:`ModelStack` (last iterate ``W``, ``b`` and
    tail average ``W_avg``, ``b_avg``), so that a choice between the two can be made on
    validation data without training again.
    """

    configurations: Configurations
    rung_epochs: np.ndarray
    alive: list[np.ndarray]
    val_loss: np.ndarray
    val_accuracy: np.ndarray
    diverged: np.ndarray
    best: int
    model_epochs: int
    finalists: dict[int, ModelStack] = field(default_factory=dict)

    @property
    def best_epochs(self) -> int:
        return int(self.rung_epochs[-1])


def successive_halving(
    X_train,
    y_train,
    X_val,
    y_val,
    configurations: Configurations,
    rung_epochs=(1, 2, 4, 8, 16),
    keep: float = 0.5,
    seed: int = 0,
) -> SearchResult:
    """Successive halving over ``configurations`` with the epoch count as the budget.

    Rung r trains every surviving configuration up to ``rung_epochs[r]`` epochs (resuming, not
    restarting), measuring the validation cross-entropy of its tail-averaged weights after
    every epoch; then the best ``ceil(keep * survivors)`` by validation loss at the end of the
    rung go on. Diverged models count as loss ``inf``: they are dropped at the next cut.
    Configurations with the same batch size are trained as one :class:`ModelStack`.
    """
    X_train, y_train, k = _check_data(X_train, y_train, None)
    X_val, y_val, _ = _check_data(X_val, y_val, k)
    if X_val.shape[1] != X_train.shape[1]:
        raise ValueError(f"X_val must have {X_train.shape[1]} columns, got {X_val.shape}.")
    rungs = np.asarray(rung_epochs)
    if rungs.ndim != 1 or rungs.size == 0 or rungs[0] < 1 or np.any(np.diff(rungs) <= 0):
        raise ValueError(f"rung_epochs must be increasing positive integers, got {rung_epochs}.")
    if not 0 < keep < 1:
        raise ValueError(f"keep must be a fraction in (0, 1), got {keep!r}.")
    n = len(configurations)
    val_loss = np.full((n, int(rungs[-1])), np.nan)
    val_accuracy = np.full_like(val_loss, np.nan)
    stacks: dict[int, tuple[np.ndarray, ModelStack]] = {}
    for size in np.unique(configurations.batch_sizes):
        members = np.flatnonzero(configurations.batch_sizes == size)
        stack = ModelStack.zeros(
            X_train.shape[1],
            k,
            configurations.lrs[members],
            configurations.l2s[members],
            int(size),
            dtype=X_train.dtype,
        )
        stacks[int(size)] = (members, stack)
    alive_per_rung, model_epochs = [], 0
    for rung, target in enumerate(rungs):
        alive_per_rung.append(np.sort(np.concatenate([mem for mem, _ in stacks.values()])))
        for members, stack in stacks.values():
            for _ in range(stack.epochs, int(target)):
                stack.train(X_train, y_train, 1, seed, on_divergence="mark")
                loss, acc = evaluate(stack.W_avg, stack.b_avg, X_val, y_val)
                loss[stack.diverged], acc[stack.diverged] = np.inf, 0.0  # frozen at zero
                val_loss[members, stack.epochs - 1] = loss
                val_accuracy[members, stack.epochs - 1] = acc
                model_epochs += members.size
        if rung == rungs.size - 1:
            break
        alive = alive_per_rung[-1]
        score = val_loss[alive, int(target) - 1]
        survivors = set(alive[np.argsort(score, kind="stable")[: math.ceil(keep * alive.size)]])
        for size, (members, stack) in list(stacks.items()):
            kept = np.isin(members, list(survivors))
            if kept.any():
                stacks[size] = (members[kept], stack.subset(kept))
            else:
                del stacks[size]
    last = alive_per_rung[-1]
    best = int(last[np.argmin(val_loss[last, int(rungs[-1]) - 1])])
    diverged = np.isposinf(val_loss).any(axis=1)
    finalists = {
        int(member): stack.subset([j])
        for members, stack in stacks.values()
        for j, member in enumerate(members)
    }
    return SearchResult(
        configurations,
        rungs,
        alive_per_rung,
        val_loss,
        val_accuracy,
        diverged,
        best,
        model_epochs,
        dict(sorted(finalists.items())),
    )
