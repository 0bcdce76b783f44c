"""The test set behind a counter, so that a chapter can state how often it used it.

The protocol the book follows: every choice (a learning rate, a penalty, an architecture, when
to stop) is made on validation data; the test set scores each model the text reports, once.
Every look at the test set is a chance to fit it, so the number of looks is part of the result.
:class:`TestSet` hands out the test examples only through :meth:`TestSet.use`, which records the
name of the model being scored; a chapter asserts ``test_set.uses`` equals the number its text
states.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .validation import ArgumentTypeError, as_float_array


class TestSet:
    """Test examples ``X: (n, ...)`` and integer ``labels: (n,)`` that count their uses.

    The arrays are kept read-only, so a chapter cannot change them by accident.
    """

    __test__ = False  # a class named Test*, but not a pytest test class

    def __init__(self, X, labels):
        X = as_float_array(X, "X", min_rows=1)
        labels = np.asarray(labels)
        if labels.shape != (X.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"labels must be integer classes of shape ({X.shape[0]},), one per test "
                f"example; got dtype {labels.dtype} with shape {labels.shape}."
            )
        self._X = X.copy()
        self._labels = labels.copy()
        self._X.flags.writeable = False
        self._labels.flags.writeable = False
        self._uses: list[str] = []

    def __len__(self) -> int:
        return self._X.shape[0]

    def __repr__(self) -> str:
        return f"TestSet({len(self)} examples, used {self.uses} times)"

    @property
    def uses(self) -> int:
        """How many times the test examples were handed out."""
        return len(self._uses)

    @property
    def models(self) -> tuple[str, ...]:
        """The names given at each use, in order."""
        return tuple(self._uses)

    def use(self, model: str) -> tuple[np.ndarray, np.ndarray]:
        """Record one use, to score the model named ``model``, and return ``(X, labels)``."""
        if not isinstance(model, str) or not model.strip():
            raise ArgumentTypeError(
                f"model must be a non-empty name of the model being scored, got {model!r:.40}."
            )
        self._uses.append(model)
        return self._X, self._labels

    def correct(self, predict: Callable[[np.ndarray], np.ndarray], model: str) -> np.ndarray:
        """One use: ``predict(X)`` scored against the labels, ``(n,)`` booleans.

        ``predict`` returns class indices ``(n,)`` or scores ``(n, K)`` (their arg-max is the
        prediction).
        """
        if not callable(predict):
            raise ArgumentTypeError(
                f"predict must be a function of X (e.g. model.predict), got {predict!r:.40}."
            )
        X, labels = self.use(model)
        predicted = np.asarray(predict(X))
        if predicted.ndim == 2:
            predicted = np.argmax(predicted, axis=1)
        if predicted.shape != labels.shape:
            self._uses.pop()
            raise ValueError(
                f"predict must return one class per test example, shape {labels.shape} (or "
                f"scores of shape ({len(self)}, K)); got {predicted.shape}."
            )
        return predicted == labels


__all__ = ["TestSet"]
