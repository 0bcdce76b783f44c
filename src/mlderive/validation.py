"""Checks of the arguments every public function takes, in one place.

Each check returns the value in the form the caller needs, or raises an error that names the
argument, says what was expected and what was found, and how to fix it:

* :func:`as_float_array` -- a numeric array (optionally of given dimensions, finite, non-empty);
* :func:`check_finite` -- no NaN or infinite entry (says which and where);
* :func:`check_int_labels` -- integer class labels ``(n,)`` in ``[0, K)``;
* :func:`check_01_labels` -- binary labels ``(n,)`` in ``{0, 1}``;
* :func:`check_upstream` -- a layer's upstream gradient, shaped like its forward output;
* :func:`positive_int`, :func:`nonnegative_int` -- counts (sizes, steps, epochs);
* :func:`positive_number`, :func:`nonnegative_number` -- rates, tolerances, penalties;
* :func:`probability` -- a number in ``[0, 1)`` (dropout, momentum, decay rates);
* :func:`as_rng` -- an integer seed, ``None`` or a ``numpy.random.Generator``.

Wrong types raise :class:`ArgumentTypeError` (a ``TypeError`` that is also a ``ValueError``),
wrong values ``ValueError``; both name the argument.
:class:`NonFiniteError` (a ``ValueError``) marks NaN or inf where finite numbers are needed.
Every check runs before anything is changed, so a call that fails leaves its inputs (and any
model) as they were.
"""

from __future__ import annotations

import numbers

import numpy as np


class NonFiniteError(ValueError):
    """An array that must hold finite numbers holds NaN or inf."""


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type (a string for a number, None for an array). Both a
    ``TypeError`` and a ``ValueError``, so callers that catch either see it."""


def check_finite(arr: np.ndarray, name: str, hint: str = "") -> np.ndarray:
    """Return ``arr`` after checking it holds no NaN and no inf (``hint`` is added to the error).

    The message counts the NaN and infinite entries and gives the index of the first.
    """
    if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        bad = ~np.isfinite(arr)
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        nans = int(np.count_nonzero(np.isnan(arr)))
        infs = int(np.count_nonzero(bad)) - nans
        where = first[0] if len(first) == 1 else first
        raise NonFiniteError(
            f"{name} must hold finite numbers; it has {nans} NaN and {infs} infinite "
            f"entr{'y' if nans + infs == 1 else 'ies'} (the first at index {where}). "
            + (hint or "Remove or impute those entries before calling this function.")
        )
    return arr


def _converted_to_float(a, name: str) -> np.ndarray:
    """``a`` as an array; integers and booleans become float64, floats keep their dtype."""
    if isinstance(a, str | bytes) or a is None:
        raise ArgumentTypeError(
            f"{name} must be a numeric array, got {type(a).__name__} {a!r:.40}."
        )
    try:
        arr = np.asarray(a)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular numeric array: {exc}") from None
    if not np.issubdtype(arr.dtype, np.floating):
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
            raise ArgumentTypeError(f"{name} must be a numeric array, got dtype {arr.dtype}.")
        arr = arr.astype(np.float64)
    return arr


def as_float_array(
    a,
    name: str,
    ndim: int | tuple[int, ...] | None = None,
    finite: bool = False,
    min_rows: int = 0,
) -> np.ndarray:
    """Return ``a`` as a floating-point array, checking its number of dimensions.

    Integer and boolean input is converted to float64; float32 and float64 are kept as they
    are. ``finite``: reject NaN and inf; ``min_rows``: the least length of the first axis.
    """
    if type(a) is np.ndarray and a.dtype.kind == "f":
        arr = a  # already a floating-point array: the common case, checked without conversion
    else:
        arr = _converted_to_float(a, name)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed:
            wanted = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {wanted}, got shape {arr.shape}.")
    if arr.ndim >= 1 and arr.shape[-1] == 0:
        raise ValueError(f"{name} must have at least one entry on its last axis, got {arr.shape}.")
    if min_rows and (arr.ndim == 0 or arr.shape[0] < min_rows):
        raise ValueError(
            f"{name} must have at least {min_rows} row{'s' if min_rows > 1 else ''} (examples); "
            f"got shape {arr.shape}."
        )
    if finite:
        check_finite(arr, name)
    return arr


def check_int_labels(labels, n: int, num_classes: int, name: str = "labels") -> np.ndarray:
    """Check integer class labels ``labels: (n,)`` with values in ``[0, num_classes)``.

    Floats that are whole numbers (``3.0``) are refused too: labels are class indices.
    """
    if labels is None or isinstance(labels, str | bytes):
        raise ArgumentTypeError(
            f"{name} must be an array of integer class indices, got {labels!r:.40}."
        )
    arr = np.asarray(labels)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"{name} must be integers (class indices) or an (n, K) array of probabilities; "
            f"got dtype {arr.dtype} with shape {arr.shape}. Convert whole-number floats "
            f"with {name}.astype(int)."
        )
    if arr.shape != (n,):
        raise ValueError(
            f"{name} must have shape ({n},), one class index per example; got {arr.shape}."
        )
    if n and (arr.min() < 0 or arr.max() >= num_classes):
        raise ValueError(
            f"{name} must lie in [0, {num_classes - 1}] for {num_classes} classes; "
            f"got values from {arr.min()} to {arr.max()}."
        )
    return arr.astype(np.int64, copy=False)


def check_01_labels(y, n: int, name: str = "y") -> np.ndarray:
    """Binary labels ``y: (n,)`` in ``{0, 1}`` (logistic regression) as float64.

    Integer, boolean and float arrays are accepted as long as their values are exactly 0 or 1.
    (The SVM's labels are ``{-1, +1}``: see :func:`mlderive.svm.check_pm1_labels`.)
    """
    if y is None or isinstance(y, str | bytes):
        raise ArgumentTypeError(f"{name} must be an array of 0/1 labels, got {y!r:.40}.")
    arr = np.asarray(y)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), one label per row of X; got {arr.shape}.")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ArgumentTypeError(f"{name} must hold the numbers 0 and 1, got dtype {arr.dtype}.")
    values = arr.astype(np.float64)
    bad = ~((values == 0) | (values == 1))
    if np.any(bad):
        raise ValueError(
            f"{name} must hold binary labels 0 or 1 (logistic regression has two classes); "
            f"got {np.unique(arr[bad])[:5]}. Map the two classes to 0 and 1, or use softmax "
            "regression for more than two classes."
        )
    return values


def check_upstream(upstream, reference: np.ndarray, what: str) -> np.ndarray:
    """A layer's upstream gradient: a float array shaped like the forward output it belongs to."""
    if type(upstream) is not np.ndarray or upstream.dtype.kind != "f":
        upstream = as_float_array(upstream, "upstream")
    if upstream.shape != reference.shape:
        raise ValueError(
            f"{what}.backward expects an upstream gradient of shape {reference.shape} (the "
            f"shape of its forward output); got {upstream.shape}."
        )
    return upstream


def _is_integer(value) -> bool:
    if isinstance(value, bool | np.bool_):
        return False
    if isinstance(value, numbers.Integral):
        return True
    return isinstance(value, numbers.Real) and float(value).is_integer()


def _integer(value, name: str, minimum: int, what: str) -> int:
    if not isinstance(value, numbers.Real) or isinstance(value, bool | np.bool_):
        raise ArgumentTypeError(f"{name} must be {what}, got {type(value).__name__} {value!r:.40}.")
    if not _is_integer(value):
        raise ValueError(
            f"{name} must be {what}, got {value!r} (a fraction is not silently truncated)."
        )
    if value < minimum:
        raise ValueError(f"{name} must be {what}, got {value!r}.")
    return int(value)


def positive_int(value, name: str) -> int:
    """``value`` as an ``int`` >= 1 (``True``, ``2.5`` and ``"3"`` are refused)."""
    return _integer(value, name, 1, "a positive integer")


def nonnegative_int(value, name: str) -> int:
    """``value`` as an ``int`` >= 0."""
    return _integer(value, name, 0, "an integer >= 0")


def _number(value, name: str, expected: str, ok) -> float:
    """``value`` as a float if it is a real number for which ``ok`` holds, else an error
    saying ``{name} must be {expected}``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(
            f"{name} must be {expected}, got {type(value).__name__} {value!r:.40}."
        )
    number = float(value)
    if not (np.isfinite(number) and ok(number)):
        raise ValueError(f"{name} must be {expected}, got {value!r}.")
    return number


def positive_number(value, name: str, what: str = "") -> float:
    """``value`` as a finite ``float`` > 0 (a learning rate, a tolerance, a step)."""
    return _number(value, name, f"a finite number > 0{what}", lambda x: x > 0)


def nonnegative_number(value, name: str, what: str = "") -> float:
    """``value`` as a finite ``float`` >= 0 (a penalty strength such as ``l2``)."""
    return _number(value, name, f"a finite number >= 0{what}", lambda x: x >= 0)


def probability(value, name: str, what: str = "") -> float:
    """``value`` as a ``float`` in ``[0, 1)`` (a dropout rate, a momentum, a decay)."""
    return _number(value, name, f"in [0, 1){what}", lambda x: 0 <= x < 1)


def proportion(value, name: str, what: str = "") -> float:
    """``value`` as a ``float`` in ``[0, 1]`` (an accuracy, a fraction of examples)."""
    return _number(value, name, f"in [0, 1]{what}", lambda x: 0 <= x <= 1)


def as_rng(seed, name: str = "seed") -> np.random.Generator:
    """A ``numpy.random.Generator`` from an integer seed, ``None``, a ``SeedSequence`` or a
    Generator (returned as it is, so its state is shared with the caller)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, numbers.Integral):
        raise ArgumentTypeError(
            f"{name} must be an integer seed or a numpy.random.Generator, got "
            f"{type(seed).__name__} {seed!r:.40}."
        )
    if seed < 0:
        raise ValueError(f"{name} must be an integer >= 0 (a seed), got {seed!r}.")
    return np.random.default_rng(int(seed))


def check_choice(value, name: str, choices) -> None:
    """Raise unless ``value`` is one of ``choices``."""
    if not isinstance(value, str | type(None) | bool | int) or value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r:.40}.")


__all__ = [
    "ArgumentTypeError",
    "NonFiniteError",
    "as_float_array",
    "as_rng",
    "check_01_labels",
    "check_choice",
    "check_finite",
    "check_int_labels",
    "check_upstream",
    "nonnegative_int",
    "nonnegative_number",
    "positive_int",
    "positive_number",
    "probability",
]
