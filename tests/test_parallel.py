"""Tests for mlderive.parallel: independent training runs in worker processes."""

from __future__ import annotations

import multiprocessing
import os
import pickle

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from mlderive.models import MLP
from mlderive.optim import SGD, Adam
from mlderive.parallel import available_processors, train_in_parallel
from mlderive.training import TrainingDiverged, train


def make_jobs(blobs, epochs=(3, 1, 2)):
    """Small float64 MLPs on cluster data, one job per entry of ``epochs``."""
    X, y = blobs(n=200, d=5, k=3)
    X_val, y_val = blobs(seed=1, n=50, d=5, k=3)
    return [
        dict(
            model=MLP([5, 8, 3], seed=index),
            optimizer=Adam(0.01) if index % 2 else SGD(0.1),
            X=X,
            y=y,
            epochs=count,
            batch_size=32,
            validation=(X_val, y_val),
            seed=index,
        )
        for index, count in enumerate(epochs)
    ]


def test_results_are_train_s_in_the_jobs_order_whatever_the_process_count(blobs):
    jobs = make_jobs(blobs)
    before = [{k: v.copy() for k, v in job["model"].params.items()} for job in jobs]
    two = train_in_parallel(jobs, processes=2)
    one = train_in_parallel(jobs, processes=1)
    for job, start in zip(jobs, before, strict=True):  # the jobs' own models are not trained
        for name, value in start.items():
            np.testing.assert_array_equal(job["model"].params[name], value)
    for job, (model, history), (model_one, history_one) in zip(jobs, two, one, strict=True):
        assert len(history.train_loss) == job["epochs"]
        reference = pickle.loads(pickle.dumps(job["model"]))  # a fresh copy, trained here
        with threadpool_limits(limits=1):  # as in the workers
            here = train(**{**job, "model": reference})
        np.testing.assert_allclose(history.train_loss, here.train_loss, rtol=1e-10)
        np.testing.assert_allclose(history.val_accuracy, here.val_accuracy, rtol=0)
        np.testing.assert_allclose(history_one.train_loss, history.train_loss, rtol=1e-10)
        for name, value in reference.params.items():
            np.testing.assert_allclose(model.params[name], value, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(model_one.params[name], value, rtol=1e-10, atol=1e-12)


def test_argument_errors_come_before_any_work(blobs):
    jobs = make_jobs(blobs, epochs=(1,))
    with pytest.raises(ValueError, match="at least one job"):
        train_in_parallel([])
    with pytest.raises(TypeError, match="job 1 must be a dict"):
        train_in_parallel([jobs[0], (jobs[0]["model"], jobs[0]["optimizer"])])
    with pytest.raises(TypeError, match="job 0 does not fit train().*epoch"):
        train_in_parallel([{**jobs[0], "epoch": 3}])
    missing = {k: v for k, v in jobs[0].items() if k != "y"}
    with pytest.raises(TypeError, match="job 0 does not fit train().*'y'"):
        train_in_parallel([missing])
    for bad in (0, -1, True, 1.5):
        with pytest.raises((TypeError, ValueError), match="processes"):
            train_in_parallel(jobs, processes=bad)


def test_a_failing_job_stops_the_others_and_raises_its_own_error_with_a_note(blobs):
    jobs = make_jobs(blobs, epochs=(10**9, 1))  # job 0 would run for ever if not stopped
    jobs[1]["y"] = jobs[1]["y"] + 5  # labels out of range for 3 classes
    with pytest.raises(ValueError, match="label") as info:
        train_in_parallel(jobs, processes=2)
    assert "(raised by job 1 of train_in_parallel)" in info.value.__notes__
    assert not multiprocessing.active_children()  # every worker is gone


def test_divergence_crosses_the_process_boundary_whole(blobs):
    X, y = blobs(n=200, d=5, k=3)
    job = dict(model=MLP([5, 16, 3], seed=0), optimizer=SGD(50.0), X=30 * X, y=y, epochs=20)
    job["batch_size"] = 20
    with pytest.raises(TrainingDiverged, match=r"learning rate 50\.0") as info:
        train_in_parallel([job])
    error = info.value
    assert "(raised by job 0 of train_in_parallel)" in error.__notes__
    assert error.lr == 50.0 and error.step >= 1
    assert len(error.history.step_losses) == error.step - 1


def test_training_diverged_pickles_with_every_field():
    from mlderive.training import History

    history = History(*(np.array([v]) for v in (1.0, 0.5, 1.1, 0.4, 0.1, 2.0)), 1)
    error = TrainingDiverged("loss is NaN at step 3", step=3, lr=0.5, history=history)
    error.add_note("a note")
    copy = pickle.loads(pickle.dumps(error))
    assert copy.__notes__ == ["a note"]
    assert type(copy) is TrainingDiverged and str(copy) == str(error)
    assert (copy.step, copy.lr, copy.history.train_loss[0]) == (3, 0.5, 1.0)


def test_available_processors_counts_the_processors_this_process_may_use():
    count = available_processors()
    assert isinstance(count, int) and 1 <= count <= (os.cpu_count() or 1)
    if hasattr(os, "sched_getaffinity"):  # Linux: the affinity mask, not the machine's count
        assert count == len(os.sched_getaffinity(0))
