"""Input checks shared by the package: each raises ValueError naming what was expected."""

from __future__ import annotations

import numpy as np


def as_float_array(a, name: str, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Return ``a`` as a floating-point array, checking its number of dimensions.

    Integer input is converted to float64; float32 and float64 are kept as they are.
    """
    arr = np.asarray(a)
    if not np.issubdtype(arr.dtype, np.floating):
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
            raise ValueError(f"{name} must be a numeric array, got dtype {arr.dtype}.")
        arr = arr.astype(np.float64)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed:
            wanted = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {wanted}, got shape {arr.shape}.")
    if arr.ndim >= 1 and arr.shape[-1] == 0:
        raise ValueError(f"{name} must have at least one entry on its last axis, got {arr.shape}.")
    return arr


def check_int_labels(labels, n: int, num_classes: int, name: str = "labels") -> np.ndarray:
    """Check integer class labels ``labels: (n,)`` with values in ``[0, num_classes)``."""
    arr = np.asarray(labels)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"{name} must be integers (class indices) or an (n, K) array of probabilities; "
            f"got dtype {arr.dtype} with shape {arr.shape}."
        )
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match the logits, got {arr.shape}.")
    if n and (arr.min() < 0 or arr.max() >= num_classes):
        raise ValueError(
            f"{name} must lie in [0, {num_classes - 1}] for {num_classes} classes; "
            f"got values from {arr.min()} to {arr.max()}."
        )
    return arr.astype(np.int64, copy=False)
