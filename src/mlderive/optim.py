"""Gradient-based optimisers with explicit, inspectable state.

Each optimiser's ``step(params, grads)`` takes two dicts with the same keys (a model's
``params`` and ``grads``) and updates every parameter array in place, by the formula in its
docstring. The state (velocities, moment estimates, the step count) lives in attributes
keyed like ``params``, created at the first step. ``reset()`` forgets it.

The updates are written with preallocated scratch arrays and in-place ufuncs, so a step
allocates no memory and keeps the parameters' dtype (float32 stays float32).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from .validation import nonnegative_number, positive_number, probability


class Optimizer:
    """Common checks and per-parameter buffers; subclasses implement ``_update``."""

    def __init__(self, lr: float):
        self.lr = positive_number(lr, "lr", " (the learning rate)")
        self._scratch: dict[str, np.ndarray] = {}

    def reset(self) -> None:
        """Forget all state (the next step behaves like the first)."""
        self._scratch = {}

    def _buffer(self, store: dict, name: str, like: np.ndarray) -> np.ndarray:
        """The array ``store[name]`` shaped like ``like`` (created as zeros the first time)."""
        buf = store.get(name)
        if buf is None:
            buf = store[name] = np.zeros_like(like)
        elif buf.shape != like.shape:
            raise ValueError(
                f"parameter {name!r} has shape {like.shape} but the optimiser's state for it "
                f"has shape {buf.shape}; call reset() when the model changes."
            )
        return buf

    def step(self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        """Update every array in ``params`` in place from the matching array in ``grads``."""
        if params.keys() != grads.keys():
            raise ValueError(
                f"params and grads must have the same keys; got {sorted(params)} and "
                f"{sorted(grads)}."
            )
        for name, p in params.items():
            if grads[name].shape != p.shape:
                raise ValueError(
                    f"gradient {name!r} must have the parameter's shape {p.shape}, "
                    f"got {grads[name].shape}."
                )
        self._begin_step()
        for name, p in params.items():
            self._update(name, p, grads[name], self._buffer(self._scratch, name, p))

    def _begin_step(self) -> None:
        pass

    def _update(self, name: str, p: np.ndarray, g: np.ndarray, scratch: np.ndarray) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Plain stochastic gradient descent: ``p <- p - lr * (g + weight_decay * p)``.

    Weight decay applies to the weight matrices only (arrays with 2 or more dimensions), never
    to the biases, so ``SGD(lr, weight_decay=c)`` takes the same steps as plain SGD on the loss
    plus the L2 penalty ``(c / 2) sum ||W||^2``.
    """

    def __init__(self, lr: float, weight_decay: float = 0.0):
        super().__init__(lr)
        self.weight_decay = nonnegative_number(weight_decay, "weight_decay")

    def __repr__(self) -> str:
        return f"SGD(lr={self.lr}, weight_decay={self.weight_decay})"

    def _update(self, name, p, g, scratch) -> None:
        lr = float(self.lr)
        if self.weight_decay and p.ndim >= 2:
            np.multiply(p, self.weight_decay, out=scratch)
            scratch += g
            scratch *= lr
        else:
            np.multiply(g, lr, out=scratch)
        p -= scratch


class Momentum(Optimizer):
    """SGD with (heavy-ball) momentum: ``v <- beta * v + g``, then ``p <- p - lr * v``.

    ``v`` starts at zero, so the first step is a plain SGD step. With a constant ``lr`` this
    is the same sequence of iterates as the form ``u <- beta u - lr g; p <- p + u``
    (``u = -lr v``). State: ``velocity`` (a dict keyed like the parameters).
    """

    def __init__(self, lr: float, beta: float = 0.9):
        super().__init__(lr)
        self.beta = probability(beta, "beta", " (a decay rate)")
        self.velocity: dict[str, np.ndarray] = {}

    def __repr__(self) -> str:
        return f"Momentum(lr={self.lr}, beta={self.beta})"

    def reset(self) -> None:
        super().reset()
        self.velocity = {}

    def _update(self, name, p, g, scratch) -> None:
        v = self._buffer(self.velocity, name, p)
        v *= self.beta
        v += g
        np.multiply(v, float(self.lr), out=scratch)
        p -= scratch


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015). At step ``t = 1, 2, ...``, for every parameter::

        m <- beta1 m + (1 - beta1) g              first-moment (mean) estimate
        v <- beta2 v + (1 - beta2) g^2            second-moment estimate (elementwise square)
        m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)      bias corrections
        p <- p - lr m_hat / (sqrt(v_hat) + eps)

    ``m`` and ``v`` start at zero; the corrections undo the resulting bias towards zero in the
    early steps. State: ``m``, ``v`` (dicts keyed like the parameters) and ``t``.
    """

    def __init__(
        self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ):
        super().__init__(lr)
        self.beta1 = probability(beta1, "beta1", " (a decay rate)")
        self.beta2 = probability(beta2, "beta2", " (a decay rate)")
        self.eps = positive_number(eps, "eps")
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}
        self.t = 0

    def __repr__(self) -> str:
        return f"Adam(lr={self.lr}, beta1={self.beta1}, beta2={self.beta2}, eps={self.eps})"

    def reset(self) -> None:
        super().reset()
        self.m, self.v, self.t = {}, {}, 0

    def _begin_step(self) -> None:
        self.t += 1

    def _update(self, name, p, g, scratch) -> None:
        m = self._buffer(self.m, name, p)
        v = self._buffer(self.v, name, p)
        m *= self.beta1
        np.multiply(g, 1.0 - self.beta1, out=scratch)
        m += scratch
        v *= self.beta2
        np.multiply(g, g, out=scratch)
        scratch *= 1.0 - self.beta2
        v += scratch
        # lr m_hat / (sqrt(v_hat) + eps) = (lr / c1) m / (sqrt(v) / sqrt(c2) + eps)
        c1 = 1.0 - self.beta1**self.t
        c2 = 1.0 - self.beta2**self.t
        np.sqrt(v, out=scratch)
        scratch *= 1.0 / math.sqrt(c2)
        scratch += self.eps
        np.divide(m, scratch, out=scratch)
        scratch *= float(self.lr) / c1
        p -= scratch


__all__ = ["SGD", "Adam", "Momentum", "Optimizer"]
