"""Independent training runs, side by side in separate processes.

A grid of experiments (optimisers, learning rates, with or without a layer) is a list of
training runs that share nothing. :func:`train_in_parallel` trains them in worker processes,
as many at a time as this process may use processors, and returns every trained model with
its history.

Why processes, each with one BLAS thread: NumPy runs its element-wise work (im2col's copies,
pooling, batch normalisation, the optimiser's updates) on one core; only the matrix
products use more. One run therefore leaves a second core idle much of the time, and two
runs side by side keep both busy. With one BLAS thread per worker, a run's numbers are the
same however many run at once.
"""

from __future__ import annotations

import inspect
import os
import threading
from multiprocessing import get_context

from .training import History, train
from .validation import positive_int


def available_processors() -> int:
    """How many processors this process may run on (its CPU affinity where known), >= 1."""
    if hasattr(os, "process_cpu_count"):  # Python 3.13 and newer
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):  # Linux
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _use_one_blas_thread() -> None:
    """Worker start-up: limit the matrix-product library to one thread (for good)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def _train_job(indexed_job: tuple[int, dict]) -> tuple:
    """In a worker: train job ``index``'s own copy of its model; return ``(model, history)``.
    An error leaves with a note naming the job."""
    index, job = indexed_job
    try:
        history = train(**job)
    except Exception as error:
        error.add_note(f"(raised by job {index} of train_in_parallel)")
        raise
    return job["model"], history


def train_in_parallel(jobs, processes: int | None = None) -> list[tuple[object, History]]:
    """Train every job and return ``[(trained model, History), ...]`` in the jobs' order.

    * ``jobs``: a list of dicts, each the keyword arguments of one call to
      :func:`mlderive.training.train` (``model``, ``optimizer``, ``X``, ``y``, ``epochs``
      and any of its options, ``seed`` and ``validation`` included);
    * ``processes``: how many jobs run at once (default: the processors this process may
      use; never more than there are jobs).

    Each job runs in a fresh worker process on pickled copies of its arguments: the models
    and optimisers in ``jobs`` are left as they were, and the trained models are returned.
    The workers' matrix products use one thread each, so the results do not depend on
    ``processes``. A job's argument names are checked here, before any work starts; its data
    are checked by ``train`` in the worker. As soon as a job raises, every worker is stopped
    and that job's exception is raised here, with a note naming the job (an interrupt stops
    the workers too).
    """
    jobs = list(jobs)
    if not jobs:
        raise ValueError("train_in_parallel needs at least one job (a dict of train() arguments).")
    signature = inspect.signature(train)
    for index, job in enumerate(jobs):
        if not isinstance(job, dict):
            raise TypeError(
                f"job {index} must be a dict of keyword arguments for train(), such as "
                f"dict(model=..., optimizer=..., X=..., y=..., epochs=...); got {type(job)}."
            )
        try:
            signature.bind(**job)
        except TypeError as error:
            raise TypeError(f"job {index} does not fit train(): {error}.") from None
    if processes is None:
        processes = available_processors()
    workers = min(positive_int(processes, "processes"), len(jobs))
    context = get_context("spawn")  # a fresh interpreter: safe in a notebook, same on every OS
    errors = []  # in the order they arrive, each with a note naming its job
    failed = threading.Event()

    def record(error: BaseException) -> None:
        errors.append(error)
        failed.set()

    # Leaving the block terminates the workers: after the last result, or at the first error
    # (Pool.map would wait for every job before reporting one that failed).
    with context.Pool(workers, initializer=_use_one_blas_thread) as pool:
        handles = [
            pool.apply_async(_train_job, (indexed_job,), error_callback=record)
            for indexed_job in enumerate(jobs)
        ]
        while not failed.wait(0.1) and not all(handle.ready() for handle in handles):
            pass
        if errors:
            raise errors[0]
        return [handle.get() for handle in handles]


__all__ = ["available_processors", "train_in_parallel"]
