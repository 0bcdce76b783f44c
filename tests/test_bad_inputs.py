"""Bad input never gives a silent NaN, a wrong number or a half-changed model.

Two parts:

* ``test_item_*``: one test per problem a probe of the public API found (numbered as in the
  report of that probe); each failed before the fix;
* a table of bad inputs per public function (``BAD``): every call must raise a clear error,
  that is a ``ValueError``, ``TypeError``, ``FloatingPointError``, ``RuntimeError`` or
  ``OSError`` whose message names the argument at fault. :func:`outcome` sorts each call into
  one of four kinds (clear error / silent NaN / wrong value / bare crash), and
  ``test_tally`` asserts that every call is a clear error. Unusual but valid inputs
  (``VALID``) must give finite results.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mlderive.functions as fn
from mlderive import (
    cnn,
    conv,
    data,
    layers,
    logistic,
    models,
    multiclass_hinge,
    newton,
    optim,
    relu_networks,
    search,
    softmax_regression,
    svm,
    training,
    validation,
)
from mlderive.gradcheck import gradcheck, numerical_derivative, relative_error
from mlderive.training import TrainingDiverged, train

RNG = np.random.default_rng(0)
X4 = RNG.normal(size=(6, 4))
Y3 = np.array([0, 1, 2, 0, 1, 2])
Y01 = np.array([0, 1, 0, 1, 1, 0])
YPM = 2.0 * Y01 - 1
W43 = RNG.normal(size=(4, 3))
B3 = np.zeros(3)
W4 = np.zeros(4)
K6 = X4 @ X4.T
NAN_X = X4.copy()
NAN_X[2, 1] = np.nan
INF_X = X4.copy()
INF_X[0, 0] = np.inf
NAN_Y = Y01.astype(float)
NAN_Y[1] = np.nan


def clusters(n=40, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = 3.0 * rng.normal(size=(k, d))
    y = rng.integers(0, k, size=n)
    return (centers[y] + rng.normal(size=(n, d))).astype(np.float32), y


# ------------------------------------------------------------------------------ the outcome


CLEAR = "clear error"
SILENT_NAN = "silent NaN"
WRONG = "wrong value"
CRASH = "bare crash"
EXPECTED_ERRORS = (ValueError, TypeError, FloatingPointError, RuntimeError, OSError)


def _has_non_finite(result) -> bool:
    if isinstance(result, tuple | list):
        return any(_has_non_finite(item) for item in result)
    if hasattr(result, "__dataclass_fields__"):
        return any(_has_non_finite(getattr(result, f)) for f in result.__dataclass_fields__)
    try:
        arr = np.asarray(result)
    except Exception:
        return False
    return arr.dtype.kind in "fc" and not np.isfinite(arr).all()


def outcome(call, mention: str) -> tuple[str, str]:
    """``(kind, detail)`` for ``call()``: a clear error must name ``mention`` in its message."""
    try:
        with np.errstate(all="ignore"):
            result = call()
    except EXPECTED_ERRORS as exc:
        if mention.lower() in str(exc).lower():
            return CLEAR, f"{type(exc).__name__}: {exc}"
        return CRASH, f"{type(exc).__name__} not naming {mention!r}: {exc}"
    except Exception as exc:  # IndexError, KeyError, AttributeError, LinAlgError, ...
        return CRASH, f"{type(exc).__name__}: {exc}"
    if _has_non_finite(result):
        return SILENT_NAN, repr(result)[:200]
    return WRONG, repr(result)[:200]


# ------------------------------------------------------------------------------ the table

BAD: dict[str, tuple] = {
    # functions
    "softmax +inf": (lambda: fn.softmax(np.array([1.0, np.inf])), "z"),
    "softmax NaN": (lambda: fn.softmax(np.array([1.0, np.nan])), "z"),
    "softmax str": (lambda: fn.softmax("abc"), "z"),
    "log_softmax +inf": (lambda: fn.log_softmax(np.array([[np.inf, 0.0]])), "z"),
    "log_softmax -inf": (lambda: fn.log_softmax(np.array([[-np.inf, 0.0]])), "z"),
    "softmax_jacobian NaN": (lambda: fn.softmax_jacobian(np.array([np.nan, 1.0])), "z"),
    "cross_entropy +inf": (lambda: fn.cross_entropy(np.array([[np.inf, 0.0]]), [0]), "logits"),
    "cross_entropy empty": (lambda: fn.cross_entropy(np.zeros((0, 3)), np.zeros(0, int)), "logits"),
    "cross_entropy float labels": (lambda: fn.cross_entropy(X4[:, :3], Y3 * 1.0), "labels"),
    "cross_entropy labels (n,1)": (lambda: fn.cross_entropy(X4[:, :3], Y3[:, None]), "labels"),
    "cross_entropy label 3 of 3": (lambda: fn.cross_entropy(X4[:, :3], Y3 + 1), "labels"),
    "cross_entropy None labels": (lambda: fn.cross_entropy(X4[:, :3], None), "labels"),
    "cross_entropy_grad empty": (
        lambda: fn.cross_entropy_grad(np.zeros((0, 3)), np.zeros(0, int)),
        "logits",
    ),
    "one_hot None classes": (lambda: fn.one_hot([0, 1], None), "num_classes"),
    "one_hot 2.5 classes": (lambda: fn.one_hot([0, 1], 2.5), "num_classes"),
    "one_hot True classes": (lambda: fn.one_hot([0, 1], True), "num_classes"),
    "one_hot float labels": (lambda: fn.one_hot([0.0, 1.0], 2), "labels"),
    "one_hot label -1": (lambda: fn.one_hot([-1, 1], 2), "labels"),
    "sigmoid NaN": (lambda: fn.sigmoid(np.array([0.0, np.nan])), "x"),
    "relu NaN": (lambda: fn.relu(np.array([np.nan])), "x"),
    "softmax_backward NaN upstream": (
        lambda: fn.softmax_backward(np.zeros(3), np.array([np.nan, 0, 0])),
        "upstream",
    ),
    "label_distribution rows": (
        lambda: fn.label_distribution(np.full((2, 2), 0.7), (2, 2)),
        "label",
    ),
    "logistic_loss_from_logits NaN z": (
        lambda: fn.logistic_loss_from_logits(np.array([np.nan, 1.0]), [0, 1]),
        "z",
    ),
    "logistic_loss_from_logits empty": (
        lambda: fn.logistic_loss_from_logits(np.zeros(0), np.zeros(0)),
        "z",
    ),
    "logistic_loss_from_logits y=2": (
        lambda: fn.logistic_loss_from_logits(np.zeros(2), [0, 2]),
        "y",
    ),
    # gradcheck
    "gradcheck h=0": (lambda: gradcheck(np.sum, np.ones(2), np.ones(2), h=0), "h"),
    "gradcheck h=-1": (lambda: gradcheck(np.sum, np.ones(2), np.ones(2), h=-1), "h"),
    "gradcheck h='a'": (lambda: gradcheck(np.sum, np.ones(2), np.ones(2), h="a"), "h"),
    "gradcheck f not callable": (lambda: gradcheck(3, np.ones(2), np.ones(2)), "f"),
    "gradcheck NaN x": (
        lambda: gradcheck(np.sum, np.array([np.nan]), np.ones(1)),
        "x",
    ),
    "gradcheck analytic shape": (
        lambda: gradcheck(np.sum, np.ones(2), np.ones(3)),
        "analytic",
    ),
    "numerical_derivative h=0": (
        lambda: numerical_derivative(np.sum, np.ones(2), h=0),
        "h",
    ),
    "relative_error floor=0": (lambda: relative_error(0.0, 0.0, floor=0), "floor"),
    "relative_error shapes": (lambda: relative_error(np.ones(2), np.ones(3)), "shape"),
    # layers
    "Linear d_in 0": (lambda: layers.Linear(0, 2), "d_in"),
    "Linear d_out 2.5": (lambda: layers.Linear(2, 2.5), "d_out"),
    "Linear d_in '3'": (lambda: layers.Linear("3", 2), "d_in"),
    "Linear init": (lambda: layers.Linear(2, 2, init="normal"), "init"),
    "Linear seed str": (lambda: layers.Linear(2, 2, seed="a"), "seed"),
    "Linear seed -1": (lambda: layers.Linear(2, 2, seed=-1), "seed"),
    "Linear dtype": (lambda: layers.Linear(2, 2, dtype=np.int32), "dtype"),
    "Linear forward shape": (lambda: layers.Linear(4, 2).forward(np.zeros((3, 5))), "X"),
    "Linear backward shape": (
        lambda: layers.Linear(4, 2).backward(np.zeros((3, 3)), np.zeros((3, 4))),
        "upstream",
    ),
    "ReLU backward shape": (
        lambda: layers.ReLU().backward(np.zeros(3), np.zeros(2)),
        "upstream",
    ),
    "SoftmaxCrossEntropy +inf": (
        lambda: layers.SoftmaxCrossEntropy().forward(np.array([[np.inf, 0.0]]), [0]),
        "z",
    ),
    "SoftmaxCrossEntropy empty": (
        lambda: layers.SoftmaxCrossEntropy().forward(np.zeros((0, 2)), np.zeros(0, int)),
        "Z",
    ),
    "SoftmaxCrossEntropy label 5": (
        lambda: layers.SoftmaxCrossEntropy().forward(np.zeros((2, 2)), [0, 5]),
        "labels",
    ),
    "SigmoidBCE label 2": (
        lambda: layers.SigmoidBinaryCrossEntropy().forward(np.zeros(2), [0, 2]),
        "labels",
    ),
    "initial_weights shape": (lambda: layers.initial_weights((2, 0)), "shape"),
    "initial_weights 3-D": (lambda: layers.initial_weights((2, 2, 2)), "shape"),
    # conv
    "Conv2d padding -1": (lambda: conv.Conv2d(1, 1, 3, padding=-1), "padding"),
    "Conv2d kernel 0": (lambda: conv.Conv2d(1, 1, 0), "kernel_size"),
    "Conv2d kernel triple": (lambda: conv.Conv2d(1, 1, (1, 2, 3)), "kernel_size"),
    "Conv2d stride 1.5": (lambda: conv.Conv2d(1, 1, 3, stride=1.5), "stride"),
    "Conv2d channels": (lambda: conv.Conv2d(2, 1, 3).forward(np.zeros((1, 3, 5, 5))), "X"),
    "Conv2d too small": (lambda: conv.Conv2d(1, 1, 3).forward(np.zeros((1, 1, 2, 2))), "X"),
    "MaxPool2d stride 0": (lambda: conv.MaxPool2d(2, stride=0), "stride"),
    "BatchNorm momentum 1": (lambda: conv.BatchNorm(2, momentum=1.0), "momentum"),
    "BatchNorm momentum str": (lambda: conv.BatchNorm(2, momentum="0.9"), "momentum"),
    "BatchNorm eps 0": (lambda: conv.BatchNorm(2, eps=0), "eps"),
    "BatchNorm NaN batch": (
        lambda: conv.BatchNorm(2).forward(np.array([[np.nan, 1.0], [1.0, 2.0]])),
        "NaN",
    ),
    "BatchNorm one value": (lambda: conv.BatchNorm(2).forward(np.zeros((1, 2))), "2 values"),
    "Dropout p 1": (lambda: conv.Dropout(1.0), "p"),
    "Dropout p NaN": (lambda: conv.Dropout(np.nan), "p"),
    "Dropout seed float": (lambda: conv.Dropout(0.5, seed=1.5), "seed"),
    "Flatten 1-D": (lambda: conv.Flatten().forward(np.zeros(3)), "X"),
    # models
    "MLP one class": (lambda: models.MLP([4, 1]), "classes"),
    "MLP sizes": (lambda: models.MLP([4]), "sizes"),
    "MLP size 0": (lambda: models.MLP([4, 0, 3]), "sizes"),
    "MLP activation": (lambda: models.MLP([4, 3], activation="tanh"), "activation"),
    "MLP l2 -1": (lambda: models.MLP([4, 3], l2=-1.0), "l2"),
    "MLP l2 NaN": (lambda: models.MLP([4, 3], l2=np.nan), "l2"),
    "MLP seed str": (lambda: models.MLP([4, 3], seed="x"), "seed"),
    "SoftmaxRegression K=1": (lambda: models.SoftmaxRegression(4, 1), "classes"),
    "Network no Linear first": (lambda: models.Network([layers.ReLU()]), "Linear"),
    "Network input_shape": (
        lambda: models.Network([layers.Linear(4, 2)], input_shape=(4,)),
        "input_shape",
    ),
    "predict NaN X": (lambda: models.MLP([4, 3]).predict(NAN_X), "X"),
    "predict wrong width": (lambda: models.MLP([4, 3]).predict(np.zeros((2, 5))), "X"),
    "accuracy labels (n,1)": (lambda: models.MLP([4, 3]).accuracy(X4, Y3[:, None]), "labels"),
    "accuracy label 7": (lambda: models.MLP([4, 3]).accuracy(X4, Y3 * 3), "labels"),
    "evaluate NaN X": (lambda: models.MLP([4, 3]).evaluate(NAN_X, Y3), "X"),
    "evaluate empty": (lambda: models.MLP([4, 3]).evaluate(X4[:0], Y3[:0]), "evaluate"),
    "forward NaN X": (lambda: models.MLP([4, 3]).forward(NAN_X), "X"),
    "activations upto 9": (lambda: models.MLP([4, 3]).activations(X4, 9), "upto"),
    "activations upto str": (lambda: models.MLP([4, 3]).activations(X4, "0"), "upto"),
    "set_params keys": (lambda: models.MLP([4, 3]).set_params({"W1": W43}), "keys"),
    "LogisticRegression labels 2": (
        lambda: models.LogisticRegression(4).loss(X4, Y3),
        "labels",
    ),
    # cnn
    "small_cnn channels (4,)": (lambda: cnn.small_cnn(channels=(4,)), "channels"),
    "small_cnn channels 4": (lambda: cnn.small_cnn(channels=4), "channels"),
    "small_cnn dropout 1": (lambda: cnn.small_cnn(dropout=1.0), "dropout"),
    "small_cnn hidden -1": (lambda: cnn.small_cnn(hidden=-1), "hidden"),
    "small_cnn classes 0": (lambda: cnn.small_cnn(classes=0), "classes"),
    "small_cnn seed gen": (lambda: cnn.small_cnn(seed=np.random.default_rng(0)), "seed"),
    "small_cnn input_shape": (lambda: cnn.small_cnn(input_shape=(28, 28)), "input_shape"),
    "confusion_matrix float labels": (
        lambda: cnn.confusion_matrix([0.0, 1.0], [0, 1], 2),
        "labels",
    ),
    "confusion_matrix classes None": (lambda: cnn.confusion_matrix([0], [0], None), "classes"),
    "confusion_matrix label 2": (lambda: cnn.confusion_matrix([0, 2], [0, 1], 2), "labels"),
    "confusion_matrix 2-D": (lambda: cnn.confusion_matrix([[0]], [[0]], 2), "1-D"),
    # optim
    "SGD lr str": (lambda: optim.SGD(lr="0.1"), "lr"),
    "SGD lr True": (lambda: optim.SGD(lr=True), "lr"),
    "SGD lr -1": (lambda: optim.SGD(lr=-1.0), "lr"),
    "SGD lr 0": (lambda: optim.SGD(lr=0.0), "lr"),
    "SGD lr inf": (lambda: optim.SGD(lr=np.inf), "lr"),
    "SGD lr None": (lambda: optim.SGD(lr=None), "lr"),
    "SGD weight_decay -1": (lambda: optim.SGD(0.1, weight_decay=-1.0), "weight_decay"),
    "Momentum beta 1": (lambda: optim.Momentum(0.1, beta=1.0), "beta"),
    "Adam beta2 -0.1": (lambda: optim.Adam(beta2=-0.1), "beta2"),
    "Adam eps 0": (lambda: optim.Adam(eps=0.0), "eps"),
    "step keys": (
        lambda: optim.SGD(0.1).step({"a": np.zeros(2)}, {"b": np.zeros(2)}),
        "keys",
    ),
    # training
    "train epochs 0": (lambda: train(models.MLP([4, 3]), optim.SGD(0.1), X4, Y3, 0), "epochs"),
    "train epochs -2": (lambda: train(models.MLP([4, 3]), optim.SGD(0.1), X4, Y3, -2), "epochs"),
    "train epochs 2.5": (lambda: train(models.MLP([4, 3]), optim.SGD(0.1), X4, Y3, 2.5), "epochs"),
    "train batch 2.5": (
        lambda: train(models.MLP([4, 3]), optim.SGD(0.1), X4, Y3, 1, batch_size=2.5),
        "batch_size",
    ),
    "train batch True": (
        lambda: train(models.MLP([4, 3]), optim.SGD(0.1), X4, Y3, 1, batch_size=True),
        "batch_size",
    ),
    "train NaN X": (lambda: train(models.MLP([4, 3]), optim.SGD(0.1), NAN_X, Y3, 1), "NaN"),
    "train inf X": (lambda: train(models.MLP([4, 3]), optim.SGD(0.1), INF_X, Y3, 1), "infinite"),
    "train NaN X_val": (
        lambda: train(models.MLP([4, 3]), optim.SGD(0.1), X4, Y3, 1, validation=(NAN_X, Y3)),
        "X_val",
    ),
    "train label 3": (lambda: train(models.MLP([4, 3]), optim.SGD(0.1), X4, Y3 + 1, 1), "labels"),
    "train float labels": (
        lambda: train(models.MLP([4, 3]), optim.SGD(0.1), X4, Y3 * 1.0, 1),
        "labels",
    ),
    "train empty": (lambda: train(models.MLP([4, 3]), optim.SGD(0.1), X4[:0], Y3[:0], 1), "X"),
    "train seed str": (
        lambda: train(models.MLP([4, 3]), optim.SGD(0.1), X4, Y3, 1, seed="a"),
        "seed",
    ),
    "train progress": (
        lambda: train(models.MLP([4, 3]), optim.SGD(0.1), X4, Y3, 1, progress="yes"),
        "progress",
    ),
    "train early stopping no val": (
        lambda: train(
            models.MLP([4, 3]), optim.SGD(0.1), X4, Y3, 1, early_stopping=training.EarlyStopping()
        ),
        "validation",
    ),
    "train validation triple": (
        lambda: train(models.MLP([4, 3]), optim.SGD(0.1), X4, Y3, 1, validation=(X4, Y3, Y3)),
        "validation",
    ),
    "EarlyStopping patience 0": (lambda: training.EarlyStopping(patience=0), "patience"),
    "EarlyStopping min_delta -1": (lambda: training.EarlyStopping(min_delta=-1.0), "min_delta"),
    "split fraction 1": (lambda: training.train_validation_split(X4, Y3, 1.0), "fraction"),
    "split fraction str": (lambda: training.train_validation_split(X4, Y3, "0.2"), "fraction"),
    "split seed float": (lambda: training.train_validation_split(X4, Y3, 0.5, seed=0.5), "seed"),
    # logistic
    "logistic.loss l2 -1": (lambda: logistic.loss(W4, 0.0, X4, Y01, l2=-1.0), "l2"),
    "logistic.gradients l2 NaN": (lambda: logistic.gradients(W4, 0.0, X4, Y01, l2=np.nan), "l2"),
    "logistic.hessian l2 -1": (lambda: logistic.hessian(W4, 0.0, X4, l2=-1.0), "l2"),
    "logistic.loss NaN X": (lambda: logistic.loss(W4, 0.0, NAN_X, Y01), "X"),
    "logistic.loss NaN w": (lambda: logistic.loss(W4 + np.nan, 0.0, X4, Y01), "w"),
    "logistic.loss NaN b": (lambda: logistic.loss(W4, np.nan, X4, Y01), "b"),
    "logistic.loss y=2": (lambda: logistic.loss(W4, 0.0, X4, Y3), "y"),
    "logistic.predict empty": (lambda: logistic.predict(W4, 0.0, X4[:0]), "X"),
    # softmax regression
    "sr.accuracy labels (n,1)": (
        lambda: softmax_regression.accuracy(W43, B3, X4, Y3[:, None]),
        "labels",
    ),
    "sr.accuracy labels 0": (lambda: softmax_regression.accuracy(W43, B3, X4, 0), "labels"),
    "sr.accuracy label 3": (lambda: softmax_regression.accuracy(W43, B3, X4, Y3 + 1), "labels"),
    "sr.loss l2 -1": (
        lambda: softmax_regression.loss_and_gradients(W43, B3, X4, Y3, l2=-1.0),
        "l2",
    ),
    "sr.loss NaN W": (
        lambda: softmax_regression.loss_and_gradients(W43 * np.nan, B3, X4, Y3),
        "W",
    ),
    "sr.by_example l2 -1": (
        lambda: softmax_regression.loss_and_gradients_by_example(W43, B3, X4, Y3, l2=-1.0),
        "l2",
    ),
    "sr.fit NaN X": (lambda: softmax_regression.fit(NAN_X, Y3, 3), "X"),
    "sr.fit empty": (lambda: softmax_regression.fit(X4[:0], Y3[:0], 3), "X"),
    "sr.fit one class": (lambda: softmax_regression.fit(X4, Y3 * 0, 1), "num_classes"),
    "sr.fit tol 0": (lambda: softmax_regression.fit(X4, Y3, 3, tol=0), "tol"),
    "sr.fit max_steps 1.5": (lambda: softmax_regression.fit(X4, Y3, 3, max_steps=1.5), "max_steps"),
    "sr.gd lr -1": (lambda: softmax_regression.gradient_descent(X4, Y3, 3, -1.0, 5), "lr"),
    "sr.gd lr True": (lambda: softmax_regression.gradient_descent(X4, Y3, 3, True, 5), "lr"),
    "sr.gd steps -1": (lambda: softmax_regression.gradient_descent(X4, Y3, 3, 0.1, -1), "steps"),
    "sr.gd label 3": (lambda: softmax_regression.gradient_descent(X4, Y3 + 1, 3, 0.1, 5), "labels"),
    "sr.curvature NaN": (lambda: softmax_regression.curvature_bound(NAN_X), "X"),
    # newton
    "newton NaN y": (lambda: newton.solve_least_squares(X4, NAN_Y), "y"),
    "newton NaN w": (lambda: newton.least_squares_loss(X4, Y01, W4 + np.nan), "w"),
    "newton gd NaN w0": (lambda: newton.gradient_descent_least_squares(X4, Y01, W4 + np.nan), "w"),
    "newton step NaN w": (
        lambda: newton.newton_step_least_squares(X4, Y01, W4 + np.nan),
        "w",
    ),
    "newton ridge -1": (lambda: newton.least_squares_hessian(X4, ridge=-1.0), "ridge"),
    "newton ridge str": (lambda: newton.least_squares_hessian(X4, ridge="1"), "ridge"),
    "newton on_singular": (
        lambda: newton.solve_least_squares(X4, Y01, on_singular="x"),
        "on_singular",
    ),
    "cholesky_solve asymmetric": (
        lambda: newton.cholesky_solve(np.array([[2.0, 1.0], [0.0, 2.0]]), np.ones(2)),
        "symmetric",
    ),
    "cholesky_solve NaN g": (lambda: newton.cholesky_solve(np.eye(2), np.array([1, np.nan])), "g"),
    "design_with_spectrum n 2.5": (
        lambda: newton.design_with_spectrum([1.0, 2.0], 2.5, 0),
        "n",
    ),
    "design_with_spectrum rng str": (
        lambda: newton.design_with_spectrum([1.0, 2.0], 5, "r"),
        "rng",
    ),
    "predict_gd_steps tol 2": (lambda: newton.predict_gd_steps([1.0, 2.0], tol=2.0), "tol"),
    "predict_gd_steps step -1": (lambda: newton.predict_gd_steps([1.0, 2.0], step=-1.0), "step"),
    "irls NaN X": (lambda: newton.irls_logistic(NAN_X, Y01), "X"),
    "irls y=2": (lambda: newton.irls_logistic(X4, Y3), "y"),
    "irls max_iter -1": (lambda: newton.irls_logistic(X4, Y01, max_iter=-1), "max_iter"),
    "gd step 0": (lambda: newton.gradient_descent_least_squares(X4, Y01, W4, step=0.0), "step"),
    # multiclass hinge
    "hinge NaN W": (lambda: multiclass_hinge.multiclass_hinge_loss(W43 * np.nan, X4, Y3), "W"),
    "hinge float labels": (
        lambda: multiclass_hinge.multiclass_hinge_loss(W43, X4, Y3 * 1.0),
        "labels",
    ),
    "hinge empty": (lambda: multiclass_hinge.multiclass_hinge_loss(W43, X4[:0], Y3[:0]), "X"),
    "hinge gd lr 0": (lambda: multiclass_hinge.hinge_subgradient_descent(X4, Y3, 3, 0.0, 5), "lr"),
    "hinge gd steps 1.5": (
        lambda: multiclass_hinge.hinge_subgradient_descent(X4, Y3, 3, 0.1, 1.5),
        "max_steps",
    ),
    "hinge gd label 5": (
        lambda: multiclass_hinge.hinge_subgradient_descent(X4, Y3 + 3, 3, 0.1, 5),
        "labels",
    ),
    "planted rng str": (lambda: multiclass_hinge.planted_separable_data(5, 2, 3, "r"), "rng"),
    "planted n 0": (lambda: multiclass_hinge.planted_separable_data(0, 2, 3, 0), "n"),
    "predict_classes NaN": (lambda: multiclass_hinge.predict_classes(W43, NAN_X), "X"),
    # svm
    "svm C str": (lambda: svm.solve_primal(X4, YPM, "1"), "C"),
    "svm C inf": (lambda: svm.solve_primal(X4, YPM, np.inf), "C"),
    "svm labels 0/1": (lambda: svm.solve_primal(X4, Y01, 1.0), "y"),
    "svm labels empty": (lambda: svm.solve_dual(np.zeros((0, 0)), np.zeros(0), 1.0), "y"),
    "svm NaN X": (lambda: svm.solve_primal(NAN_X, YPM, 1.0), "X"),
    "svm NaN b": (lambda: svm.slacks(W4, np.nan, X4, YPM), "b"),
    "svm K not PSD": (lambda: svm.solve_dual(-np.eye(6), YPM, 1.0), "positive semi-definite"),
    "svm K asymmetric": (lambda: svm.solve_dual(np.triu(K6), YPM, 1.0), "symmetric"),
    "svm G NaN": (lambda: svm.dual_objective(np.zeros(6), K6 * np.nan, YPM, 1.0), "G"),
    "svm tol 0": (lambda: svm.solve_dual(K6, YPM, 1.0, tol=0), "tol"),
    "svm max_iter -1": (lambda: svm.solve_primal(X4, YPM, 1.0, max_iter=-1), "max_iter"),
    "svm alpha NaN": (lambda: svm.recover_primal(np.full(6, np.nan), X4, YPM, 1.0), "alpha"),
    "svm steps 1.5": (
        lambda: svm.solve_dual_with_slack_multipliers(K6, YPM, 1.0, np.zeros(6), np.zeros(6), 1.5),
        "steps",
    ),
    # search
    "search chunk 0": (
        lambda: search.evaluate(np.zeros((4, 1, 3)), np.zeros((1, 3)), X4, Y3, 0),
        "chunk",
    ),
    "search chunk -5": (
        lambda: search.evaluate(np.zeros((4, 1, 3)), np.zeros((1, 3)), X4, Y3, -5),
        "chunk",
    ),
    "search NaN X": (lambda: search.train_many(NAN_X, Y3, [0.1], [0.0], 2, 1), "X"),
    "search batch 2.5": (lambda: search.train_many(X4, Y3, [0.1], [0.0], 2.5, 1), "batch_size"),
    "search lrs str": (lambda: search.train_many(X4, Y3, "0.1", [0.0], 2, 1), "lrs"),
    "search batch_sizes 2.5": (
        lambda: search.sample_configurations(4, batch_sizes=(2.5,)),
        "batch_sizes",
    ),
    "search seed str": (lambda: search.sample_configurations(4, seed="s"), "seed"),
    "search n 0": (lambda: search.sample_configurations(0), "n"),
    "search l2s NaN": (
        lambda: search.batched_loss_and_gradients(
            np.zeros((4, 1, 3)), np.zeros((1, 3)), X4, Y3, np.nan
        ),
        "l2s",
    ),
    "search probabilities NaN X": (lambda: search.probabilities(W43, B3, NAN_X), "X"),
    "search probabilities W shape": (lambda: search.probabilities(W43.T, B3, X4), "W"),
    # relu networks
    "max_n_tree n 0": (lambda: relu_networks.max_n_tree(0), "n"),
    "max_n_tree n 2.5": (lambda: relu_networks.max_n_tree(2.5), "n"),
    "max_n_tree block": (lambda: relu_networks.max_n_tree(3, block="five"), "block"),
    "ReluNetwork NaN W": (
        lambda: relu_networks.ReluNetwork(((np.full((2, 1), np.nan), np.zeros(1)),)),
        "W",
    ),
    "ReluNetwork forward NaN": (
        lambda: relu_networks.max2_four_units().forward(np.array([[np.nan, 1.0]])),
        "X",
    ),
    # data
    "load_dataset str": (lambda: data.load_dataset("MNIST"), "spec"),
    "data_status str": (lambda: data.data_status("MNIST"), "spec"),
    "read_idx short": (lambda: data.read_idx(b"\x00\x00"), "<bytes>"),
    # validation itself
    "as_float_array None": (lambda: validation.as_float_array(None, "A"), "A"),
    "as_float_array ragged": (lambda: validation.as_float_array([[1], [1, 2]], "A"), "A"),
    "as_rng float": (lambda: validation.as_rng(0.5), "seed"),
}

VALID: dict[str, object] = {
    "confusion_matrix empty lists": lambda: cnn.confusion_matrix([], [], 3),
    "softmax very large finite": lambda: fn.softmax(np.array([1e308, -1e308])),
    "cross_entropy one example": lambda: fn.cross_entropy(np.array([1.0, 2.0]), 1),
    "sigmoid inf": lambda: fn.sigmoid(np.array([np.inf, -np.inf])),
    "one_hot numpy int classes": lambda: fn.one_hot([1], np.int64(2)),
    "SGD numpy lr": lambda: optim.SGD(np.float32(0.1)).lr,
    "MLP seed Generator": lambda: models.MLP([4, 3], seed=np.random.default_rng(1)).params["W1"],
    "train seed Generator": lambda: (
        train(
            models.MLP([4, 3]), optim.SGD(0.1), X4, Y3, 1, seed=np.random.default_rng(0)
        ).train_loss
    ),
    "train float batch 2.0": lambda: (
        train(models.MLP([4, 3]), optim.SGD(0.1), X4, Y3, 1, batch_size=2.0).train_loss
    ),
    "design_with_spectrum int seed": lambda: newton.design_with_spectrum([1.0, 2.0], 5, 3),
    "planted int seed": lambda: multiclass_hinge.planted_separable_data(5, 2, 3, 1)[0],
    "logistic float32": lambda: logistic.loss(
        W4.astype(np.float32), 0.0, X4.astype(np.float32), Y01
    ),
    "cholesky round-off asymmetry": lambda: newton.cholesky_solve(
        np.array([[2.0, 1.0 + 1e-15], [1.0, 2.0]]), np.ones(2)
    ),
    "search evaluate chunk 1": lambda: search.evaluate(
        np.zeros((4, 1, 3)), np.zeros((1, 3)), X4, Y3, 1
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_input_gets_a_clear_error(case):
    call, mention = BAD[case]
    kind, detail = outcome(call, mention)
    assert kind == CLEAR, f"{case}: {kind}: {detail}"


@pytest.mark.parametrize("case", list(VALID), ids=list(VALID))
def test_unusual_but_valid_input_works(case):
    with np.errstate(all="raise"):
        result = VALID[case]()
    assert not _has_non_finite(result)


def tally() -> dict[str, int]:
    counts = dict.fromkeys((CLEAR, SILENT_NAN, WRONG, CRASH), 0)
    for call, mention in BAD.values():
        counts[outcome(call, mention)[0]] += 1
    return counts


def test_tally_has_no_silent_nan_wrong_value_or_bare_crash(capsys):
    counts = tally()
    with capsys.disabled():
        print(f"\nbad-input tally over {len(BAD)} calls: {counts}")
    assert counts == {CLEAR: len(BAD), SILENT_NAN: 0, WRONG: 0, CRASH: 0}


# --------------------------------------------------------------- hypothesis: NaN anywhere


finite_or_nan = st.one_of(st.floats(-5, 5), st.just(np.nan), st.just(np.inf))


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, (5, 4), elements=finite_or_nan))
def test_any_nan_or_inf_in_X_is_refused_or_gives_finite_results(X):
    """Every function of X either refuses a non-finite X by name or returns finite numbers."""
    y3, y01 = np.array([0, 1, 2, 0, 1]), np.array([0, 1, 0, 1, 1])
    calls = [
        lambda: softmax_regression.loss_and_gradients(W43, B3, X, y3),
        lambda: logistic.loss(W4, 0.0, X, y01),
        lambda: newton.least_squares_loss(X, y01 * 1.0, W4),
        lambda: multiclass_hinge.multiclass_hinge_loss(W43, X, y3),
        lambda: svm.slacks(W4, 0.0, X, 2.0 * y01 - 1),
        lambda: models.MLP([4, 3]).evaluate(X, y3),
        lambda: models.MLP([4, 3]).predict(X),
    ]
    finite = np.isfinite(X).all()
    for call in calls:
        kind, detail = outcome(call, "X")
        assert kind == CLEAR or (finite and kind == WRONG), detail


# ------------------------------------------------------------------ the numbered problems


def test_item_01_divergence_at_the_last_step_raises_and_keeps_the_last_good_model():
    X, y = clusters()
    model = models.MLP([4, 3], seed=0)
    before = model.get_params()
    with pytest.raises(TrainingDiverged, match="step 1") as info:
        train(model, optim.SGD(1e30), X, y, epochs=1, batch_size=len(y))
    assert info.value.step == 1
    for name, value in model.params.items():  # the update was undone
        np.testing.assert_array_equal(value, before[name])
    assert np.isfinite(model.forward(X)).all()


def test_item_01_non_finite_validation_loss_raises():
    X, y = clusters()
    model = models.MLP([4, 3], seed=0)
    with pytest.raises(TrainingDiverged):
        train(model, optim.SGD(1e30), X, y, epochs=1, batch_size=len(y), validation=(X, y))


def test_item_02_nan_in_the_data_is_reported_as_nan_in_the_data():
    X, y = clusters()
    X[5, 2] = np.nan
    with pytest.raises(ValueError, match=r"X must hold finite numbers.*1 NaN") as info:
        train(models.MLP([4, 3]), optim.SGD(0.1), X, y, epochs=1)
    assert not isinstance(info.value, TrainingDiverged)
    assert "learning rate" not in str(info.value)
    good_X, good_y = clusters(seed=1)
    with pytest.raises(ValueError, match="X_val must hold finite numbers"):
        train(models.MLP([4, 3]), optim.SGD(0.1), good_X, good_y, 1, validation=(X, y))


def test_item_03_softmax_regression_accuracy_checks_labels():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(40, 4)), rng.integers(0, 3, size=40)
    W, b = rng.normal(size=(4, 3)), np.zeros(3)
    true = float(np.mean(softmax_regression.predict(W, b, X) == y))
    assert softmax_regression.accuracy(W, b, X, y) == true
    with pytest.raises(ValueError, match=r"labels must have shape \(40,\)"):
        softmax_regression.accuracy(W, b, X, y[:, None])
    with pytest.raises(ValueError, match="labels"):
        softmax_regression.accuracy(W, b, X, 0)


def test_item_04_newton_refuses_nan_in_y_and_in_a_start():
    X, y = RNG.normal(size=(10, 3)), RNG.normal(size=10)
    bad_y = y.copy()
    bad_y[3] = np.nan
    with pytest.raises(ValueError, match="y must hold finite numbers"):
        newton.solve_least_squares(X, bad_y)
    with pytest.raises(ValueError, match="w must hold finite numbers"):
        newton.newton_step_least_squares(X, y, np.array([0.0, np.nan, 0.0]))
    with pytest.raises(ValueError, match="w must hold finite numbers"):
        newton.gradient_descent_least_squares(X, y, np.array([np.nan, 0.0, 0.0]))


def test_item_05_batchnorm_nan_batch_leaves_the_running_statistics_alone():
    layer = conv.BatchNorm(2, dtype=np.float64)
    X = np.random.default_rng(5).normal(size=(4, 2, 3, 3))
    layer.forward(X)
    mean, var = layer.running_mean.copy(), layer.running_var.copy()
    bad = X.copy()
    bad[0, 1, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"channel\(s\) \[1\]"):
        layer.forward(bad)
    np.testing.assert_array_equal(layer.running_mean, mean)
    np.testing.assert_array_equal(layer.running_var, var)
    layer.training = False
    assert np.isfinite(layer.forward(X)[0]).all()


def test_item_06_softmax_regression_fit_names_nan_and_empty_input():
    X, y = clusters(n=20)
    X = X.astype(np.float64)
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="X must hold finite numbers"):
        softmax_regression.fit(X, y, 3)
    with pytest.raises(ValueError, match="X must have at least 1 row"):
        softmax_regression.fit(X[:0], y[:0], 3)


def test_item_07_infinite_logits_and_empty_batches_are_refused():
    inf_logits = np.array([[np.inf, 0.0, 1.0]])
    for call in (
        lambda: fn.softmax(inf_logits),
        lambda: fn.log_softmax(inf_logits),
        lambda: fn.cross_entropy(inf_logits, [0]),
        lambda: layers.SoftmaxCrossEntropy().forward(inf_logits, [0]),
    ):
        with pytest.raises(ValueError, match="finite"):
            call()
    with pytest.raises(ValueError, match="at least 1 row"):
        fn.cross_entropy(np.zeros((0, 3)), np.zeros(0, dtype=int))
    with pytest.raises(ValueError, match="at least 1 row"):
        layers.SoftmaxCrossEntropy().forward(np.zeros((0, 3)), np.zeros(0, dtype=int))


def test_item_08_cholesky_solve_refuses_a_non_symmetric_matrix():
    H = np.array([[4.0, 1.0], [3.0, 5.0]])
    with pytest.raises(ValueError, match="symmetric"):
        newton.cholesky_solve(H, np.array([1.0, 2.0]))
    S = (H + H.T) / 2
    x = newton.cholesky_solve(S, np.array([1.0, 2.0]))
    np.testing.assert_allclose(S @ x, [1.0, 2.0], rtol=1e-12)


def test_item_09_solve_dual_names_an_invalid_kernel_and_a_too_large_C_quickly():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(30, 2))
    y = np.where(rng.normal(size=30) > 0, 1.0, -1.0)  # labels unrelated to X: not separable
    not_psd = X @ X.T - 5 * np.eye(30)
    start = time.perf_counter()
    with pytest.raises(ValueError, match="positive semi-definite"):
        svm.solve_dual(not_psd, y, 1.0)
    with pytest.raises(RuntimeError, match="smaller C") as info:
        svm.solve_dual(X @ X.T, y, 1e12)
    assert "Raise max_iter" not in str(info.value)
    assert time.perf_counter() - start < 10  # was 20-40 s for the full million updates
    solution = svm.solve_dual(X @ X.T, y, 1.0)  # a sensible C still converges
    assert solution.violation <= 1e-10


def test_item_10_every_label_is_checked_before_the_first_step():
    X, y = clusters(n=64)
    y[-1] = 7  # out of range, in the last batch
    model = models.MLP([4, 3], seed=0)
    before = model.get_params()
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        train(model, optim.SGD(0.1), X, y, epochs=1, batch_size=4, shuffle=False)
    for name, value in model.params.items():
        np.testing.assert_array_equal(value, before[name])


def test_item_11_an_all_nan_validation_set_is_refused():
    X, y = clusters()
    with pytest.raises(ValueError, match="X_val must hold finite numbers"):
        train(models.MLP([4, 3]), optim.SGD(0.1), X, y, 2, validation=(np.full_like(X, np.nan), y))


def test_item_12_stale_temp_files_are_removed_on_the_next_load(tmp_path, monkeypatch):
    folder = tmp_path / "cache" / "mnist"
    folder.mkdir(parents=True)
    stale, fresh = folder / ".part-deadbeef", folder / ".part-live0000"
    stale.write_bytes(b"half a download")
    fresh.write_bytes(b"a download in progress elsewhere")
    old = time.time() - 2 * data.STALE_PART_SECONDS
    os.utime(stale, (old, old))
    with pytest.raises(data.DataFileError):
        data.load_mnist(data_dir=tmp_path / "none", cache_dir=tmp_path / "cache", download=False)
    assert not stale.exists() and fresh.exists()


def test_item_12_a_killed_download_leaves_a_temp_file_that_the_next_load_removes(tmp_path):
    """SIGKILL mid-download: no handler runs, so the temp file stays until the next load."""
    script = (
        "import time, urllib.request, pathlib, sys\n"
        "from mlderive import data\n"
        "class Slow:\n"
        "    def __enter__(self): return self\n"
        "    def __exit__(self, *a): return False\n"
        "    def read(self, n):\n"
        "        time.sleep(0.2); return b'x' * 10\n"
        "urllib.request.urlopen = lambda url, timeout: Slow()\n"
        "print('ready', flush=True)\n"
        f"data.download_atomically('http://x', pathlib.Path({str(tmp_path / 'c' / 'f')!r}), "
        "10**9, lambda p: None)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(data.__file__).parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env)
    assert proc.stdout.readline().strip() == b"ready"
    deadline = time.time() + 10
    while not list((tmp_path / "c").glob(".part-*")) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    parts = list((tmp_path / "c").glob(".part-*"))
    assert len(parts) == 1
    old = time.time() - 2 * data.STALE_PART_SECONDS
    os.utime(parts[0], (old, old))
    assert data.remove_stale_parts(tmp_path / "c") == parts
    assert not parts[0].exists()


def test_item_12_a_failed_download_leaves_no_empty_folder(tmp_path, monkeypatch):
    import urllib.request

    def refuse(url, timeout):
        raise OSError("connection refused")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    with pytest.raises(data.DataFileError):
        data.load_mnist(data_dir=tmp_path / "none", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache" / "mnist").exists()


def test_item_12_an_empty_home_never_puts_the_cache_at_the_filesystem_root(monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", "")
    try:
        cache = data.default_cache_dir()
    except data.DataFileError as exc:
        assert "HOME" in str(exc)
    else:
        assert cache.is_absolute() and cache != Path("/.cache/mlderive")
        assert cache.parent.parent != Path("/")


def test_item_13_wrong_types_and_sizes_name_the_argument():
    cases = [
        k
        for k in BAD
        if k.split()[0]
        in {
            "confusion_matrix",
            "one_hot",
            "SGD",
            "small_cnn",
            "load_dataset",
            "gradcheck",
            "search",
            "design_with_spectrum",
            "planted",
        }
    ]
    assert len(cases) >= 25
    for case in cases:
        kind, detail = outcome(*BAD[case])
        assert kind == CLEAR, f"{case}: {detail}"
    assert cnn.confusion_matrix([], [], 3).sum() == 0  # valid empty input
    X = newton.design_with_spectrum([1.0, 4.0], 10, 0)  # an integer seed for an rng
    np.testing.assert_allclose(np.linalg.eigvalsh(X.T @ X / 10), [1.0, 4.0], rtol=1e-10)


def test_item_14_values_that_were_accepted_are_refused():
    with pytest.raises(ValueError, match="l2"):
        logistic.loss(W4, 0.0, X4, Y01, l2=-0.5)
    with pytest.raises(ValueError, match="l2"):
        softmax_regression.loss_and_gradients(W43, B3, X4, Y3, l2=-0.5)
    for lr in (-0.1, True):
        with pytest.raises(ValueError, match="lr"):
            optim.SGD(lr)
        with pytest.raises(ValueError, match="lr"):
            softmax_regression.gradient_descent(X4, Y3, 3, lr, 5)
    with pytest.raises(ValueError, match="steps"):
        softmax_regression.gradient_descent(X4, Y3, 3, 0.1, -3)
    with pytest.raises(ValueError, match="batch_size"):
        train(models.MLP([4, 3]), optim.SGD(0.1), X4, Y3, 1, batch_size=2.5)
    with pytest.raises(ValueError, match="classes"):
        models.MLP([4, 1])


def test_item_14_an_exploding_but_finite_loss_stops_training():
    X, y = clusters(n=64)
    X *= 100.0
    model = models.MLP([4, 16, 3], seed=0)
    with pytest.raises(TrainingDiverged, match="grew from") as info:
        train(model, optim.SGD(30.0), X, y, epochs=3, batch_size=8)
    assert all(np.isfinite(loss) for loss in info.value.history.step_losses)
