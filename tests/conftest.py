"""Shared test settings and fixtures: hypothesis runs derandomised in CI so failures are
reproducible; ``blobs`` makes Gaussian-cluster classification data."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("default", deadline=None, max_examples=100)
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=200,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI") else "default")


def make_blobs(
    seed=0,
    n: int = 60,
    d: int = 5,
    k: int = 3,
    center_scale: float = 1.5,
    spread: float = 1.0,
    centers_seed=None,
    dtype=np.float64,
):
    """Gaussian clusters: ``X: (n, d)`` of ``dtype`` and integer labels ``(n,)`` in ``[0, k)``.

    The ``k`` centres are normal with scale ``center_scale``, drawn from ``seed`` (then the
    labels and the noise of scale ``spread``), or from ``centers_seed`` if given (fixed centres,
    ``seed`` drawing only the sample). Overlapping clusters keep unregularised optima finite.
    """
    rng = np.random.default_rng(seed)
    center_rng = rng if centers_seed is None else np.random.default_rng(centers_seed)
    centers = center_scale * center_rng.normal(size=(k, d))
    y = rng.integers(0, k, size=n)
    X = centers[y] + spread * rng.normal(size=(n, d))
    return X.astype(dtype), y


@pytest.fixture(scope="session")
def blobs():
    """The :func:`make_blobs` generator (modules may override it with their own defaults)."""
    return make_blobs
