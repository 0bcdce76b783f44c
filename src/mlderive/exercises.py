"""Self-checks for the book's implementation exercises.

Each ``check_*`` function takes the reader's implementation, runs it on a few fixed cases and
compares it with the package's own tested code: a finite-difference gradient check
(:mod:`mlderive.gradcheck`) for a derivative, the package's function as an oracle for
anything else. It prints ONE verdict and returns a :class:`CheckResult`, which is true only
on a pass, so ``assert check_softmax(my_softmax)`` works in a test or a notebook cell.

The verdict is one of

* ``PASS name: ...`` with the cases that were run and the tolerance;
* ``FAIL name, case ...: ...`` with the first failing case (its input shapes, the worst
  relative error against the tolerance) and a hint naming the likely bug. The hint is picked
  by comparing the reader's output with typical wrong answers (a missing ``1/n``, a
  transposed gradient, the softmax Jacobian applied twice, ...); it never prints the answer;
* ``NOT ATTEMPTED name: ...`` when the function still raises ``NotImplementedError``, so a
  notebook with an unsolved skeleton still runs from top to bottom.

A check never raises because of the reader's code: an exception inside it becomes a FAIL
verdict naming the exception. Relative errors are in the CS231n convention of
:func:`mlderive.gradcheck.relative_error`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from . import logistic, multiclass_hinge, newton, softmax_regression, svm
from .conv import conv2d_by_loops
from .functions import cross_entropy, one_hot, sigmoid, softmax, softmax_jacobian
from .gradcheck import gradcheck, relative_error
from .optim import Adam
from .relu_networks import ReluNetwork
from .uncertainty import mcnemar_exact

PASS, FAIL, NOT_ATTEMPTED = "pass", "fail", "not attempted"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``status`` is "pass", "fail" or "not attempted".

    ``bool(result)`` is True only for a pass. ``message`` is the printed verdict; ``case`` the
    failing case (empty on a pass) and ``error`` its worst relative error (``nan`` if none).
    """

    name: str
    status: str
    message: str
    case: str = ""
    error: float = float("nan")

    def __bool__(self) -> bool:
        return self.status == PASS

    @property
    def passed(self) -> bool:
        return self.status == PASS

    def __str__(self) -> str:
        return self.message

    def _ipython_display_(self) -> None:
        """Show nothing in a notebook: the verdict has already been printed once."""


class _Failure(Exception):
    def __init__(self, case: str, detail: str, hint: str, error: float = float("nan")):
        super().__init__(detail)
        self.case, self.detail, self.hint, self.error = case, detail, hint, error


class _NotAttempted(Exception):
    pass


def _call(f: Callable, case: str, *args, exception_hint: str = ""):
    """Call the reader's ``f`` on private copies of ``args``, quietly (no numpy warnings)."""
    copies = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return f(*copies)
    except NotImplementedError as exc:
        raise _NotAttempted from exc
    except Exception as exc:  # the reader's bug becomes a verdict, never a crash
        hint = exception_hint or "read the error message; check the shapes of your arrays."
        raise _Failure(case, f"your function raised {type(exc).__name__}: {exc}", hint) from exc


def _as_array(value, case: str, what: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise _Failure(
            case, f"{what} is not a numeric array (got {type(value).__name__})", "return arrays."
        ) from exc


def _matching_hint(got: np.ndarray, wrong: Sequence[tuple[np.ndarray, str]]) -> str | None:
    """The hint of the first typical wrong answer that ``got`` reproduces, if any."""
    for candidate, hint in wrong:
        candidate = np.asarray(candidate, dtype=np.float64)
        if candidate.shape == got.shape and relative_error(got, candidate) < 1e-6:
            return hint
    return None


def _compare(
    case: str,
    what: str,
    got,
    expected,
    tol: float,
    wrong: Sequence[tuple[np.ndarray, str]] = (),
    default_hint: str = "",
    error: float | None = None,
) -> float:
    """Check ``got`` against ``expected`` (or against a precomputed ``error``); return it."""
    got = _as_array(got, case, what)
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        hint = f"{what} must have shape {expected.shape}"
        if got.ndim == 2 and got.shape == expected.shape[::-1]:
            hint += ": yours is transposed (one example per row: X is (n, d))"
        raise _Failure(case, f"{what} has shape {got.shape}, expected {expected.shape}", hint + ".")
    if not np.all(np.isfinite(got)):
        hint = _matching_hint(got, wrong) or (
            "an exp overflowed or a log met 0: shift by the maximum (or use log-softmax) so "
            "every exponent is <= 0."
        )
        raise _Failure(case, f"{what} contains nan or inf", hint, float("inf"))
    err = relative_error(got, expected) if error is None else error
    if err > tol:
        hint = _matching_hint(got, wrong) or default_hint or "compare your formula with the text."
        raise _Failure(
            case, f"{what}: worst relative error {err:.1e} (tolerance {tol:.0e})", hint, err
        )
    return err


def _compare_layer_gradients(case, grads, expected, losses, wrong, derivation_hint) -> None:
    """Compare a layer's ``dX``, ``dW``, ``db`` with the expected ones, gradient-checking each.

    ``losses[name]`` is ``(loss, at)``: a scalar function and the point to check it at.
    """
    for name in ("dX", "dW", "db"):
        loss, at = losses[name]
        error = None
        if grads[name].shape == at.shape and np.all(np.isfinite(grads[name])):
            error = gradcheck(loss, at, grads[name])
        _compare(case, name, grads[name], expected[name], 1e-7, wrong[name], derivation_hint, error)


def _run(name: str, body: Callable[[], str]) -> CheckResult:
    """Run the cases in ``body`` (which returns the pass summary) and print one verdict."""
    try:
        summary = body()
    except _NotAttempted:
        message = f"NOT ATTEMPTED {name}: write the function's body, then run this cell again."
        result = CheckResult(name, NOT_ATTEMPTED, message)
    except _Failure as failure:
        message = f"FAIL {name}, case {failure.case}: {failure.detail}.\n  Hint: {failure.hint}"
        result = CheckResult(name, FAIL, message, failure.case, failure.error)
    else:
        result = CheckResult(name, PASS, f"PASS {name}: {summary}")
    print(result.message)
    return result


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------------------------------
# Softmax and cross-entropy
# ----------------------------------------------------------------------------------------------


def check_softmax(f: Callable[[np.ndarray], np.ndarray]) -> CheckResult:
    """Check ``f(Z: (n, K)) -> (n, K)``, the softmax of every row, against :func:`softmax`.

    Cases: random logits, one row, logits shifted by 1000, logits of size 1e3 (any overflow
    fails). Tolerance 1e-10 relative.
    """
    rng = _rng(1)
    Z = rng.normal(size=(4, 5))
    cases = [
        ("random logits, Z of shape (4, 5)", Z),
        ("one example, Z of shape (1, 3)", np.array([[0.5, -1.0, 2.0]])),
        ("Z + 1000, shape (4, 5)", Z + 1000.0),
        ("|Z| up to 1e3, shape (4, 5)", Z * 1e3),
    ]

    def body() -> str:
        for case, z in cases:
            e = np.exp(z - z.max())
            wrong = [
                (e / e.sum(axis=0, keepdims=True), "normalise each ROW: sum along axis=-1."),
                (
                    e / e.sum(),
                    "divide each row by its own sum (axis=-1, keepdims=True), not by "
                    "the sum over the whole batch.",
                ),
                (e, "divide the exponentials by their sum, so each row sums to 1."),
            ]
            got = _call(f, case, z)
            _compare(
                case,
                "softmax(Z)",
                got,
                softmax(z),
                1e-10,
                wrong,
                "check that each row sums to 1 and that a larger logit gets a larger probability.",
            )
        return f"{len(cases)} cases (random, one row, shifted by 1000, |z| ~ 1e3) within 1e-10."

    return _run("softmax", body)


def check_softmax_jacobian(f: Callable[[np.ndarray], np.ndarray]) -> CheckResult:
    """Check ``f(z: (K,)) -> J: (K, K)`` with ``J[i, j] = d softmax(z)_i / d z_j``.

    Gradient check against centred differences of :func:`softmax` (tolerance 1e-7), on
    random logits and on logits of size 1e3.
    """
    rng = _rng(2)
    cases = [
        ("random z of shape (5,)", rng.normal(size=5)),
        ("z of shape (3,) with |z| up to 1e3", np.array([1000.0, 999.0, -1000.0])),
        ("random z of shape (2,)", rng.normal(size=2)),
    ]

    def body() -> str:
        for case, z in cases:
            p = softmax(z)
            got = _as_array(_call(f, case, z), case, "J")
            err = None
            if got.shape == (z.size, z.size) and np.all(np.isfinite(got)):
                err = gradcheck(softmax, z, got)
            wrong = [
                (
                    np.diag(p * (1 - p)),
                    "only the diagonal is there: for i != j the entry is "
                    "-p_i p_j (every logit moves every probability).",
                ),
                (np.diag(p), "you have diag(p) but not the term -p p^T."),
                (np.outer(p, p) - np.diag(p), "the sign is flipped: d p_i / d z_i is positive."),
                (-np.outer(p, p), "the diagonal needs the extra p_i from 1[i = j]."),
            ]
            _compare(
                case,
                "J",
                got,
                softmax_jacobian(z),
                1e-7,
                wrong,
                "start from d log p_i / d z_j = 1[i = j] - p_j and multiply by p_i.",
                err,
            )
        return f"{len(cases)} cases agree with finite differences of softmax within 1e-7."

    return _run("softmax_jacobian", body)


def check_cross_entropy(f: Callable[[np.ndarray, np.ndarray], float]) -> CheckResult:
    """Check ``f(Z: (n, K), labels: (n,) ints) -> float``, the MEAN cross-entropy.

    Oracle :func:`mlderive.functions.cross_entropy`; cases include logits of size 1e3, where
    ``log(softmax(z))`` underflows to ``log(0)``. Tolerance 1e-10 relative.
    """
    rng = _rng(3)
    Z = rng.normal(size=(6, 4))
    labels = rng.integers(0, 4, size=6)
    cases = [
        ("random Z of shape (6, 4)", Z, labels),
        ("|Z| up to 1e3, shape (6, 4)", Z * 1e3, labels),
        ("one example, Z of shape (1, 2)", np.array([[2.0, -1.0]]), np.array([1])),
    ]

    def body() -> str:
        for case, z, y in cases:
            expected = cross_entropy(z, y)
            n = z.shape[0]
            wrong = [
                (expected * n, "divide by n: the loss is the MEAN over the batch."),
                (-expected, "cross-entropy is MINUS the sum of y log p: a sign is lost."),
            ]
            got = _call(f, case, z, y)
            _compare(
                case,
                "the loss",
                got,
                expected,
                1e-10,
                wrong,
                "the loss of one example is -log of the probability of its true class.",
            )
        return f"{len(cases)} cases (random, |z| ~ 1e3, one example) within 1e-10."

    return _run("cross_entropy", body)


def _double_jacobian(Z: np.ndarray, G: np.ndarray) -> np.ndarray:
    return np.stack([softmax_jacobian(z) @ g for z, g in zip(Z, G, strict=True)])


def check_cross_entropy_grad(f: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> CheckResult:
    """Check ``f(Z: (n, K), Y: (n, K)) -> dL/dZ: (n, K)`` for the mean cross-entropy ``L``.

    ``Y`` holds probability rows (one-hot or soft). Gradient check against centred
    differences of :func:`mlderive.functions.cross_entropy`, tolerance 1e-7.
    """
    rng = _rng(4)
    Z1 = rng.normal(size=(4, 3))
    Y1 = one_hot(rng.integers(0, 3, size=4), 3)
    Z2 = rng.normal(size=(3, 5))
    Y2 = softmax(rng.normal(size=(3, 5)))
    cases = [
        ("one-hot labels, Z of shape (4, 3)", Z1, Y1),
        ("soft labels, Z of shape (3, 5)", Z2, Y2),
    ]

    def body() -> str:
        for case, Z, Y in cases:
            got = _as_array(_call(f, case, Z, Y), case, "dL/dZ")
            err = None
            if got.shape == Z.shape and np.all(np.isfinite(got)):
                err = gradcheck(lambda z, Y=Y: cross_entropy(z, Y), Z, got)
            n, P = Z.shape[0], softmax(Z)
            wrong = [
                (
                    _double_jacobian(Z, P - Y) / n,
                    "you multiplied p - y by the softmax Jacobian "
                    "again. The derivative of log softmax is already inside p - y: apply the chain "
                    "rule through softmax once only.",
                ),
                (
                    _double_jacobian(Z, P - Y),
                    "p - y was multiplied by the softmax Jacobian "
                    "again, and the 1/n of the mean is missing.",
                ),
                (P - Y, "missing 1/n: the loss is the MEAN over n examples."),
                ((Y - P) / n, "the sign is flipped: the gradient is p - y, not y - p."),
            ]
            _compare(
                case,
                "dL/dZ",
                got,
                (P - Y) / n,
                1e-7,
                wrong,
                "derive d/dz_j of -sum_i y_i log p_i with d log p_i / d z_j = 1[i=j] - p_j.",
                err,
            )
        return f"{len(cases)} cases (one-hot and soft labels) pass the gradient check within 1e-7."

    return _run("cross_entropy_grad", body)


# ----------------------------------------------------------------------------------------------
# Logistic regression and sigmoid
# ----------------------------------------------------------------------------------------------


def check_sigmoid(f: Callable[[np.ndarray], np.ndarray]) -> CheckResult:
    """Check ``f(x) -> sigmoid(x)`` elementwise against :func:`sigmoid`, without overflow.

    Inputs run from -1000 to 1000; an overflow in ``exp`` (a warning in NumPy) fails the
    check even where the value happens to come out right. Tolerance 1e-12 relative.
    """
    cases = [
        ("x = -3 ... 3, shape (7,)", np.linspace(-3.0, 3.0, 7)),
        ("x = -1000 ... 1000, shape (2, 5)", np.linspace(-1000.0, 1000.0, 10).reshape(2, 5)),
    ]

    def body() -> str:
        for case, x in cases:
            try:
                with np.errstate(over="raise", invalid="raise", divide="ignore", under="ignore"):
                    got = f(x.copy())
            except NotImplementedError as exc:
                raise _NotAttempted from exc
            except FloatingPointError as exc:
                raise _Failure(
                    case,
                    f"an overflow happened inside your function ({exc})",
                    "exp(-x) overflows for very negative x (and exp(x) for large x). Evaluate "
                    "each branch only where its exponent is <= 0: np.where evaluates both "
                    "branches everywhere.",
                ) from exc
            except Exception as exc:
                raise _Failure(
                    case,
                    f"your function raised {type(exc).__name__}: {exc}",
                    "read the error message.",
                ) from exc
            _compare(
                case,
                "sigmoid(x)",
                got,
                sigmoid(x),
                1e-12,
                (),
                "sigmoid(x) = 1 / (1 + exp(-x)); near 0 it is 1/2, for large x near 1.",
            )
        return f"{len(cases)} cases (moderate and |x| up to 1000) within 1e-12, no overflow."

    return _run("sigmoid", body)


def check_logistic_grad(
    f: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
) -> CheckResult:
    """Check ``f(w: (d,), X: (n, d), y: (n,) in {0,1}) -> dJ/dw: (d,)``.

    ``J(w) = (1/n) sum_i [log(1 + e^{z_i}) - y_i z_i]`` with ``z = X w`` (no bias), the mean
    logistic loss. Gradient check against centred differences of
    :func:`mlderive.logistic.loss`, tolerance 1e-7.
    """
    rng = _rng(5)
    cases = []
    for n, d in ((6, 3), (10, 4)):
        X = rng.normal(size=(n, d))
        cases.append((f"X of shape ({n}, {d})", rng.normal(size=d), X, rng.integers(0, 2, n)))

    def body() -> str:
        for case, w, X, y in cases:
            got = _as_array(_call(f, case, w, X, y), case, "dJ/dw")
            err = None
            if got.shape == w.shape and np.all(np.isfinite(got)):
                err = gradcheck(lambda v, X=X, y=y: logistic.loss(v, 0.0, X, y), w, got)
            n, p = X.shape[0], sigmoid(X @ w)
            wrong = [
                (
                    X.T @ (y - p) / n,
                    "the sign is flipped: X^T (y - p) / n is the gradient of the "
                    "log-likelihood; the loss is its negative.",
                ),
                (X.T @ (p - y), "missing 1/n: the loss is the MEAN over n examples."),
                (
                    X.T @ ((p - y) * p * (1 - p)) / n,
                    "an extra factor p (1 - p): the derivative "
                    "of the sigmoid already cancels against the derivative of the log.",
                ),
            ]
            _compare(
                case,
                "dJ/dw",
                got,
                X.T @ (p - y) / n,
                1e-7,
                wrong,
                "per example the gradient is -(y_i - p_i) x_i; average it over the batch.",
                err,
            )
        return f"{len(cases)} cases pass the gradient check within 1e-7."

    return _run("logistic_grad", body)


# ----------------------------------------------------------------------------------------------
# Softmax regression and L2
# ----------------------------------------------------------------------------------------------


def check_l2_grad(f: Callable[[np.ndarray, float], np.ndarray]) -> CheckResult:
    """Check ``f(W, lam) -> d/dW [(lam / 2) ||W||^2]`` (the squared Frobenius norm).

    Gradient check against centred differences, tolerance 1e-7.
    """
    rng = _rng(6)
    cases = [
        ("W of shape (3, 4), lam = 0.1", rng.normal(size=(3, 4)), 0.1),
        ("W of shape (5, 2), lam = 2", rng.normal(size=(5, 2)), 2.0),
    ]

    def body() -> str:
        for case, W, lam in cases:
            got = _as_array(_call(f, case, W, lam), case, "the gradient")
            err = None
            if got.shape == W.shape and np.all(np.isfinite(got)):
                err = gradcheck(lambda V, lam=lam: 0.5 * lam * np.sum(V * V), W, got)
            wrong = [
                (2 * lam * W, "the 1/2 in front of the penalty cancels the 2 from the square."),
                (0.5 * lam * W, "the square gives a factor 2 that cancels the 1/2."),
                (lam * np.sign(W), "that is the gradient of the L1 penalty lam ||W||_1."),
                (W, "the strength lam multiplies the gradient."),
            ]
            _compare(
                case,
                "the gradient",
                got,
                lam * W,
                1e-7,
                wrong,
                "differentiate (lam / 2) sum_ij W_ij^2 entry by entry.",
                err,
            )
        return f"{len(cases)} cases pass the gradient check within 1e-7."

    return _run("l2_grad", body)


def check_softmax_regression_grad(f: Callable) -> CheckResult:
    """Check ``f(W: (d, K), b: (K,), X: (n, d), labels: (n,), l2) -> (dW: (d, K), db: (K,))``.

    The objective is ``J = mean cross-entropy of softmax(X W + b) + (l2 / 2) ||W||^2`` (no
    penalty on ``b``). Gradient check of ``dW`` and ``db`` against centred differences of
    :func:`mlderive.softmax_regression.loss_and_gradients`'s loss, tolerance 1e-7.
    """
    rng = _rng(7)
    cases = []
    for n, d, K, l2 in ((6, 4, 3, 0.0), (5, 3, 4, 0.1)):
        cases.append(
            (
                f"X of shape ({n}, {d}), K = {K}, l2 = {l2}",
                rng.normal(size=(d, K)),
                rng.normal(size=K),
                rng.normal(size=(n, d)),
                rng.integers(0, K, n),
                l2,
            )
        )

    def body() -> str:
        def one(case, W, b, X, labels, l2) -> None:
            out = _call(f, case, W, b, X, labels, l2)
            if not (isinstance(out, tuple | list) and len(out) == 2):
                raise _Failure(case, "your function must return a pair (dW, db)", "return dW, db.")
            dW = _as_array(out[0], case, "dW")
            db = _as_array(out[1], case, "db")

            def loss(W_, b_, X=X, labels=labels, l2=l2):
                return softmax_regression.loss_and_gradients(W_, b_, X, labels, l2)[0]

            n, Y = X.shape[0], one_hot(labels, W.shape[1])
            G = softmax(X @ W + b) - Y
            wrong_W = [
                (
                    np.zeros_like(W),
                    "your dW is zero: the target y must survive the algebra "
                    "(a last line like x_j [p_k - p_k] cancels everything).",
                ),
                (X.T @ G + l2 * W, "missing 1/n on the data term: the loss is the MEAN."),
                (X.T @ G / n, "the L2 term l2 * W is missing."),
                (
                    X.T @ G / n + 2 * l2 * W,
                    "the penalty (l2/2)||W||^2 has gradient l2 W, not 2 l2 W.",
                ),
                (
                    X.T @ G / n + 0.5 * l2 * W,
                    "the penalty (l2/2)||W||^2 has gradient l2 W, not (l2/2) W.",
                ),
                (-X.T @ G / n + l2 * W, "the sign of the data term is flipped: p - y, not y - p."),
            ]
            err = None
            if dW.shape == W.shape and np.all(np.isfinite(dW)):
                err = gradcheck(lambda V: loss(V, b), W, dW)
            _compare(
                case,
                "dW",
                dW,
                X.T @ G / n + l2 * W,
                1e-7,
                wrong_W,
                "dW = X^T (P - Y) / n + l2 W, with P the softmax of each row.",
                err,
            )
            wrong_b = [
                (G.sum(axis=0), "missing 1/n in db: the loss is the MEAN."),
                (G.mean(axis=0) + l2 * b, "the bias is not penalised: no l2 term in db."),
            ]
            err = None
            if db.shape == b.shape and np.all(np.isfinite(db)):
                err = gradcheck(lambda v: loss(W, v), b, db)
            _compare(
                case,
                "db",
                db,
                G.mean(axis=0),
                1e-7,
                wrong_b,
                "each bias receives the mean over examples of p_k - y_k.",
                err,
            )

        for item in cases:
            one(*item)
        return f"{len(cases)} cases (with and without L2) pass the gradient check within 1e-7."

    return _run("softmax_regression_grad", body)


# ----------------------------------------------------------------------------------------------
# Newton's method
# ----------------------------------------------------------------------------------------------


def check_newton_step(f: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]) -> CheckResult:
    """Check ``f(X: (n, d), y: (n,), w: (d,)) -> w_next: (d,)``, one Newton step on
    ``J(w) = ||X w - y||^2 / (2n)``, against :func:`mlderive.newton.newton_step_least_squares`.

    From every start the step must land on the minimiser. Tolerance 1e-8 relative.
    """
    rng = _rng(8)
    X = rng.normal(size=(20, 3))
    y = X @ rng.normal(size=3) + 0.1 * rng.normal(size=20)
    cases = [
        ("X of shape (20, 3), w = 0", X, y, np.zeros(3)),
        ("X of shape (20, 3), random w", X, y, rng.normal(size=3) * 5),
        ("X of shape (8, 2), random w", X[:8, :2], y[:8], rng.normal(size=2)),
    ]
    shape_hint = (
        "in this book X is (n, d), one example per row: the Hessian is X^T X / n, of shape "
        "(d, d) (a report with X as d x n writes X X^T for the same matrix)."
    )

    def body() -> str:
        for case, X, y, w in cases:
            got = _call(f, case, X, y, w, exception_hint=shape_hint)
            n = X.shape[0]
            H = X.T @ X / n
            g = X.T @ (X @ w - y) / n
            step = np.linalg.solve(H, g)
            wrong = [
                (w + step, "the step goes uphill: subtract H^{-1} grad J, do not add it."),
                (
                    w - step / n,
                    "H and the gradient must carry the same 1/n: here the step is n "
                    "times too short.",
                ),
                (
                    w - step * n,
                    "H and the gradient must carry the same 1/n: here the step is n "
                    "times too long.",
                ),
                (w - g, "that is a gradient step: Newton multiplies the gradient by H^{-1}."),
                (w - H @ g, "multiply the gradient by the INVERSE of H (solve H s = grad J)."),
            ]
            _compare(
                case,
                "w_next",
                got,
                newton.newton_step_least_squares(X, y, w),
                1e-8,
                wrong,
                "w_next = w - H^{-1} grad J(w) with grad J = X^T (X w - y) / n, H = X^T X / n.",
            )
        return f"{len(cases)} starts all land on the least-squares minimiser within 1e-8."

    return _run("newton_step", body)


# ----------------------------------------------------------------------------------------------
# Multiclass hinge loss and the SVM dual
# ----------------------------------------------------------------------------------------------


def check_hinge_loss(f: Callable[[np.ndarray, np.ndarray, np.ndarray], float]) -> CheckResult:
    """Check ``f(W: (d, K), X: (n, d), labels: (n,)) -> float``, the MEAN multiclass hinge loss
    ``(1/n) sum_i max_j (x_i w_j - x_i w_{y_i} + 1[j != y_i])``.

    Oracle :func:`mlderive.multiclass_hinge.multiclass_hinge_loss`, tolerance 1e-12 relative.
    """
    rng = _rng(9)
    X = rng.normal(size=(6, 3))
    labels = rng.integers(0, 4, size=6)
    cases = [
        ("random W of shape (3, 4), X of shape (6, 3)", rng.normal(size=(3, 4)), X, labels),
        ("W = 0 of shape (3, 4)", np.zeros((3, 4)), X, labels),
        ("a large W of shape (3, 4)", 10 * rng.normal(size=(3, 4)), X, labels),
    ]

    def body() -> str:
        for case, W, X, labels in cases:
            A = multiclass_hinge.hinge_margins(W, X, labels)
            n = X.shape[0]
            scores = X @ W
            no_indicator = scores - scores[np.arange(n), labels][:, None] + 1.0
            wrong = [
                (
                    np.mean(no_indicator.max(axis=1)),
                    "the margin term is 1[j != y_i]: it is 0 for "
                    "j = y_i, so that term of the max is 0, not 1.",
                ),
                (np.mean(A.sum(axis=1)), "take the max over classes j, not the sum."),
                (
                    np.mean(np.maximum(A, 0).sum(axis=1)),
                    "take the max over classes j, not the sum of the positive parts (that sum "
                    "is the Weston-Watkins loss of CS231n).",
                ),
                (np.sum(A.max(axis=1)), "divide by n: the objective is the MEAN over examples."),
            ]
            got = _call(f, case, W, X, labels)
            _compare(
                case,
                "the loss",
                got,
                multiclass_hinge.multiclass_hinge_loss(W, X, labels),
                1e-12,
                wrong,
                "scores s = X W; per example max_j (s_j - s_y + 1[j != y]).",
            )
        return f"{len(cases)} cases (random, zero and large W) within 1e-12."

    return _run("hinge_loss", body)


def _svm_problem(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = _rng(seed)
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    X = rng.normal(size=(n, 2)) + 0.8 * y[:, None]
    return X, y


def check_svm_dual(solver: Callable[[np.ndarray, np.ndarray, float], np.ndarray]) -> CheckResult:
    """Check ``solver(G: (n, n), y: (n,) in {-1, 1}, C) -> alpha: (n,)``, a maximiser of the
    squared-slack SVM dual ``D(alpha) = 1^T alpha - 1/2 alpha^T Y (G + I/C) Y alpha`` over
    ``alpha >= 0, y^T alpha = 0``.

    Compares with :func:`mlderive.svm.solve_dual`: alpha must be feasible (to 1e-8), and
    ``D(alpha)`` within 1e-6 (relative) of the optimum, which also makes the duality gap of
    :func:`mlderive.svm.duality_gap` small.
    """
    cases = []
    for seed, n, C in ((0, 12, 1.0), (1, 10, 0.1)):
        X, y = _svm_problem(seed, n)
        cases.append((f"{n} points in 2-D, linear kernel, C = {C}", X, y, C))

    def body() -> str:
        for case, X, y, C in cases:
            G = X @ X.T
            got = _as_array(_call(solver, case, G, y, C), case, "alpha")
            best = svm.dual_objective(svm.solve_dual(G, y, C).alpha, G, y, C)
            _compare(case, "alpha", got, np.zeros(y.shape), np.inf)  # shape and finiteness
            scale = 1.0 + np.abs(got).sum()
            if got.min() < -1e-8 * scale:
                raise _Failure(
                    case,
                    f"alpha has a negative entry ({got.min():.2e})",
                    "the multipliers of inequality constraints must stay >= 0: "
                    "clip or project after each step.",
                )
            if abs(y @ got) > 1e-8 * scale:
                raise _Failure(
                    case,
                    f"y^T alpha = {y @ got:.2e}, not 0",
                    "the bias b gives the constraint sum_i alpha_i y_i = 0: project "
                    "onto it (e.g. with mlderive.svm.project_dual_feasible).",
                )
            value = svm.dual_objective(np.maximum(got, 0.0), G, y, C)
            err = (best - value) / (1.0 + abs(best))
            if err > 1e-6:
                raise _Failure(
                    case,
                    f"alpha is feasible but D(alpha) is below the optimum (relative gap {err:.1e}"
                    ", tolerance 1e-06)",
                    "check the quadratic term uses G + I/C (the squared slack adds I/C), and run "
                    "until the iterates stop changing.",
                    err,
                )
        return f"{len(cases)} problems: feasible, and the dual optimum within 1e-6."

    return _run("svm_dual", body)


# ----------------------------------------------------------------------------------------------
# ReLU networks
# ----------------------------------------------------------------------------------------------


def check_relu_max(layers) -> CheckResult:
    """Check that a ReLU network computes ``max(x1, x2)`` exactly (to rounding).

    ``layers``: ``((W1, b1), (W2, b2), ...)`` in the convention of
    :class:`mlderive.relu_networks.ReluNetwork` (``W1: (2, width)``, last layer ``(width, 1)``),
    a ``ReluNetwork``, or a function of no arguments returning either. Inputs: a grid on
    [-3, 3]^2, random normals, and magnitudes up to 1e6; allowed error ``8 eps (|x1| + |x2|)``.
    """
    rng = _rng(10)
    grid = np.stack(np.meshgrid(np.linspace(-3, 3, 13), np.linspace(-3, 3, 13)), -1).reshape(-1, 2)
    cases = [
        ("a 13 x 13 grid on [-3, 3]^2", grid),
        ("200 random normal pairs", rng.normal(size=(200, 2))),
        ("100 pairs of size up to 1e6", rng.normal(size=(100, 2)) * 1e6),
    ]

    def body() -> str:
        spec = layers
        if callable(spec) and not isinstance(spec, ReluNetwork):
            spec = _call(spec, "building the network")
        try:
            net = spec if isinstance(spec, ReluNetwork) else ReluNetwork(tuple(spec))
        except Exception as exc:
            raise _Failure(
                "building the network",
                f"{type(exc).__name__}: {exc}",
                "give the layers as ((W1, b1), (W2, b2)) with W1 of shape "
                "(2, width), b1 (width,), W2 (width, 1), b2 (1,).",
            ) from exc
        if net.input_dim != 2:
            raise _Failure(
                "building the network",
                f"the network takes {net.input_dim} inputs",
                "W1 must have 2 rows, one per input.",
            )
        for case, X in cases:
            out = _call(lambda Z: net.forward(Z), case, X)
            expected = X.max(axis=1, keepdims=True)
            if np.shape(out) != expected.shape:
                raise _Failure(
                    case,
                    f"the output has shape {np.shape(out)}",
                    "the last layer must have one output: W of shape (width, 1).",
                )
            bad = np.abs(out - expected) > 8 * np.finfo(float).eps * np.abs(X).sum(
                axis=1, keepdims=True
            )
            if np.any(bad):
                i = int(np.argmax(bad[:, 0]))
                x1, x2 = X[i]
                failing = X[bad[:, 0]]  # the region that every failing point of this case shares
                sides = (
                    (failing[:, 0] >= failing[:, 1], "x1 >= x2"),
                    (failing[:, 0] < failing[:, 1], "x1 < x2"),
                    (failing.sum(axis=1) >= 0, "x1 + x2 >= 0"),
                    (failing.sum(axis=1) < 0, "x1 + x2 < 0"),
                )
                region = [text for holds, text in sides if np.all(holds)]
                where = " and ".join(region) or "x1 - x2 and x1 + x2 take either sign"
                hint = (
                    f"it fails where {where}: follow each unit's ReLU through that case; "
                    "max(a, b) = (a + b)/2 + |a - b|/2."
                )
                if np.allclose(out, 2 * expected):
                    hint = "the output is twice the maximum: check the factors 1/2."
                raise _Failure(
                    case,
                    f"at (x1, x2) = ({x1:.3g}, {x2:.3g}) the network gives "
                    f"{float(out[i, 0]):.6g}, max is {float(expected[i, 0]):.6g}",
                    hint,
                )
        widths = "+".join(str(w) for w in net.hidden_widths) or "0"
        return (
            f"{len(cases)} input sets (grid, random, |x| up to 1e6) give max(x1, x2) to "
            f"rounding; hidden units: {widths}."
        )

    return _run("relu_max", body)


# ----------------------------------------------------------------------------------------------
# Backward passes: linear and convolution layers
# ----------------------------------------------------------------------------------------------


def _three_grads(out, case: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not (isinstance(out, tuple | list) and len(out) == 3):
        raise _Failure(
            case, "your function must return three arrays (dX, dW, db)", "return dX, dW, db."
        )
    return tuple(_as_array(a, case, name) for a, name in zip(out, ("dX", "dW", "db"), strict=True))


def check_linear_backward(f: Callable) -> CheckResult:
    """Check ``f(G: (n, d_out), X: (n, d_in), W: (d_in, d_out)) -> (dX, dW, db)``, the backward
    pass of ``out = X W + b`` for the upstream gradient ``G = dL/d out``.

    Gradient check of each against centred differences of ``L = sum(G * (X W + b))``,
    tolerance 1e-7.
    """
    rng = _rng(11)
    cases = []
    for n, d_in, d_out in ((4, 3, 5), (2, 6, 1)):
        cases.append(
            (
                f"X of shape ({n}, {d_in}), W of shape ({d_in}, {d_out})",
                rng.normal(size=(n, d_out)),
                rng.normal(size=(n, d_in)),
                rng.normal(size=(d_in, d_out)),
            )
        )

    def body() -> str:
        def one(case, G, X, W) -> None:
            b = np.zeros(W.shape[1])
            out = _call(
                f,
                case,
                G,
                X,
                W,
                exception_hint="check the shapes: dX has X's shape "
                "(n, d_in), dW has W's shape (d_in, d_out), db has shape (d_out,).",
            )
            dX, dW, db = _three_grads(out, case)
            grads = {"dX": dX, "dW": dW, "db": db}
            expected = {"dX": G @ W.T, "dW": X.T @ G, "db": G.sum(axis=0)}
            losses = {
                "dX": (lambda V: np.sum(G * (V @ W + b)), X),
                "dW": (lambda V: np.sum(G * (X @ V + b)), W),
                "db": (lambda v: np.sum(G * (X @ W + v)), b),
            }
            wrong = {
                "dX": [],
                "dW": [(G.T @ X, "dW must have W's shape: X^T G, not G^T X.")],
                "db": [
                    (
                        G.mean(axis=0),
                        "b is added to every example: db SUMS G over the batch "
                        "(the 1/n, if any, is already inside G).",
                    )
                ],
            }
            _compare_layer_gradients(
                case,
                grads,
                expected,
                losses,
                wrong,
                "write out = X W + b entry by entry and differentiate sum(G * out).",
            )

        for item in cases:
            one(*item)
        return f"{len(cases)} cases: dX, dW and db pass the gradient check within 1e-7."

    return _run("linear_backward", body)


def _full_correlation(G: np.ndarray, W: np.ndarray, flip: bool) -> np.ndarray:
    """``dX`` candidates: ``G`` zero-padded by ``k - 1`` correlated with (flipped) ``W``."""
    F, C, kh, kw = W.shape
    n, _, Ho, Wo = G.shape
    Gpad = np.pad(G, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    K = W[:, :, ::-1, ::-1] if flip else W
    dX = np.zeros((n, C, Ho + kh - 1, Wo + kw - 1))
    for p in range(dX.shape[2]):
        for q in range(dX.shape[3]):
            window = Gpad[:, :, p : p + kh, q : q + kw]  # (n, F, kh, kw)
            dX[:, :, p, q] = np.einsum("nfuv,fcuv->nc", window, K)
    return dX


def check_conv_backward(f: Callable) -> CheckResult:
    """Check ``f(G: (n, F, Ho, Wo), X: (n, C, H, W), W: (F, C, kh, kw)) -> (dX, dW, db)``, the
    backward pass of a stride-1, unpadded convolution (cross-correlation, as in
    :func:`mlderive.conv.conv2d_by_loops`) for the upstream gradient ``G``.

    Gradient check of each against centred differences of ``sum(G * conv(X, W, b))``,
    tolerance 1e-7.
    """
    rng = _rng(12)
    cases = []
    for n, C, H, F, k in ((2, 2, 5, 3, 3), (1, 1, 4, 2, 2)):
        Ho = H - k + 1
        cases.append(
            (
                f"X of shape ({n}, {C}, {H}, {H}), W of shape ({F}, {C}, {k}, {k})",
                rng.normal(size=(n, F, Ho, Ho)),
                rng.normal(size=(n, C, H, H)),
                rng.normal(size=(F, C, k, k)),
            )
        )

    def body() -> str:
        def one(case, G, X, W) -> None:
            b = np.zeros(W.shape[0])
            out = _call(
                f,
                case,
                G,
                X,
                W,
                exception_hint="dX has X's shape, dW has W's shape and db has shape (F,).",
            )
            dX, dW, db = _three_grads(out, case)
            grads = {"dX": dX, "dW": dW, "db": db}
            expected = {
                "dX": _full_correlation(G, W, flip=True),
                "dW": np.einsum("nfpq,ncpquv->fcuv", G, _windows(X, W.shape[2:])),
                "db": G.sum(axis=(0, 2, 3)),
            }
            losses = {
                "dX": (lambda V: np.sum(G * conv2d_by_loops(V, W, b)), X),
                "dW": (lambda V: np.sum(G * conv2d_by_loops(X, V, b)), W),
                "db": (lambda v: np.sum(G * conv2d_by_loops(X, W, v)), b),
            }
            per_example = np.einsum("fpq,cpquv->fcuv", G[0], _windows(X, W.shape[2:])[0])
            wrong = {
                "dX": [
                    (
                        _full_correlation(G, W, flip=False),
                        "the input gradient correlates the "
                        "padded G with the kernel rotated by 180 degrees: you did not flip it.",
                    )
                ],
                "dW": [
                    (
                        per_example,
                        "dW must add up the contributions of EVERY example in the "
                        "batch, not only the first.",
                    ),
                    (
                        expected["dW"][:, :, ::-1, ::-1],
                        "dW is flipped: dW[f, c, u, v] pairs "
                        "G with the input shifted by (u, v), no rotation.",
                    ),
                ],
                "db": [
                    (
                        G.mean(axis=(0, 2, 3)),
                        "db sums G over the batch and every output pixel, it does not average.",
                    ),
                    (G.sum(axis=(2, 3))[0], "db sums over the batch too."),
                ],
            }
            _compare_layer_gradients(
                case,
                grads,
                expected,
                losses,
                wrong,
                "differentiate out[i,f,p,q] = b[f] + sum W[f,c,u,v] X[i,c,p+u,q+v] "
                "with respect to each variable, and sum over the indices that remain.",
            )

        for item in cases:
            one(*item)
        return f"{len(cases)} cases: dX, dW and db pass the gradient check within 1e-7."

    return _run("conv_backward", body)


def _windows(X: np.ndarray, kernel: tuple[int, int]) -> np.ndarray:
    """``(n, C, Ho, Wo, kh, kw)`` view of every window of ``X`` (stride 1, no padding)."""
    kh, kw = kernel
    view = np.lib.stride_tricks.sliding_window_view(X, (kh, kw), axis=(2, 3))
    return view


# ----------------------------------------------------------------------------------------------
# Adam
# ----------------------------------------------------------------------------------------------


def check_adam_step(step: Callable) -> CheckResult:
    """Check ``step(p, g, m, v, t, lr, beta1, beta2, eps) -> (p_new, m_new, v_new)``, one Adam
    update at step ``t = 1, 2, ...`` (``m`` and ``v`` start at zero), against
    :class:`mlderive.optim.Adam` over 6 steps. Tolerance 1e-10 relative.
    """
    rng = _rng(13)
    cases = [
        ("p of shape (3, 2), lr = 0.01, betas (0.9, 0.999)", (3, 2), 0.01, 0.9, 0.999, 1e-8),
        ("p of shape (4,), lr = 0.1, betas (0.5, 0.9)", (4,), 0.1, 0.5, 0.9, 1e-3),
    ]

    def body() -> str:
        def one(name, shape, lr, b1, b2, eps) -> None:
            oracle = Adam(lr=lr, beta1=b1, beta2=b2, eps=eps)
            p_ref = rng.normal(size=shape)
            p, m, v = p_ref.copy(), np.zeros(shape), np.zeros(shape)
            for t in range(1, 7):
                case = f"{name}, step t = {t}"
                g = rng.normal(size=shape)
                oracle.step({"p": p_ref}, {"p": g.copy()})
                out = _call(step, case, p.copy(), g, m.copy(), v.copy(), t, lr, b1, b2, eps)
                if not (isinstance(out, tuple | list) and len(out) == 3):
                    raise _Failure(
                        case,
                        "step must return (p_new, m_new, v_new)",
                        "return the new parameter and both moment estimates.",
                    )
                p_new, m_new, v_new = (
                    _as_array(a, case, w)
                    for a, w in zip(out, ("p_new", "m_new", "v_new"), strict=True)
                )
                m_ref, v_ref = oracle.m["p"], oracle.v["p"]
                # typical wrong updates, from the same state as the reader's
                c1, c2 = 1 - b1**t, 1 - b2**t
                m_w = b1 * m + (1 - b1) * g
                v_w = b2 * v + (1 - b2) * g * g

                def upd(mh, vh, e=eps, p=p):
                    return p - lr * mh / (np.sqrt(vh) + e)

                wrong_p = [
                    (
                        upd(m_w, v_w),
                        "no bias correction: divide m by 1 - beta1^t and v by "
                        "1 - beta2^t (they start at zero).",
                    ),
                    (
                        upd(m_w / (1 - b1 ** (t + 1)), v_w / (1 - b2 ** (t + 1))),
                        "the bias "
                        "correction uses the wrong power: t counts from 1, so the first step "
                        "divides by 1 - beta1 and 1 - beta2.",
                    ),
                    (
                        p - lr * (m_w / c1) / np.sqrt(v_w / c2 + eps),
                        "eps is added AFTER the square root: sqrt(v_hat) + eps.",
                    ),
                    (
                        upd(m_w / c1, (b2 * v + (1 - b2) * np.abs(g)) / c2),
                        "v averages the SQUARED gradient g * g.",
                    ),
                ]
                _compare(
                    case,
                    "p_new",
                    p_new,
                    p_ref,
                    1e-10,
                    wrong_p,
                    "follow the four lines: m, v, their bias corrections, then the step.",
                )
                wrong_state = [
                    (
                        m_w / c1,
                        "store the raw m, not the bias-corrected m_hat: the correction "
                        "is recomputed at every step.",
                    ),
                    (v_w / c2, "store the raw v, not the bias-corrected v_hat."),
                ]
                _compare(
                    case, "m_new", m_new, m_ref, 1e-10, wrong_state, "m <- beta1 m + (1 - beta1) g."
                )
                _compare(
                    case,
                    "v_new",
                    v_new,
                    v_ref,
                    1e-10,
                    wrong_state,
                    "v <- beta2 v + (1 - beta2) g^2.",
                )
                p, m, v = p_new, m_new, v_new

        for item in cases:
            one(*item)
        return f"{len(cases)} runs of 6 steps match mlderive.optim.Adam within 1e-10."

    return _run("adam_step", body)


# ----------------------------------------------------------------------------------------------
# Comparing two models: McNemar's exact test
# ----------------------------------------------------------------------------------------------


def _binomial_half_tail(m: int, j: int) -> float:
    """``P(X <= j)`` for ``X ~ Binomial(m, 1/2)``, exactly (integers, one rounding at the end);
    0 for ``j < 0``."""
    if j < 0:
        return 0.0
    return sum(math.comb(m, i) for i in range(min(j, m) + 1)) / 2**m


def _two_sided_normal(z: float) -> float:
    return 2 * (1 - NormalDist().cdf(abs(z)))


def _mcnemar_case(n: int, a_only: int, b_only: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Boolean verdicts of two models on ``n`` images, shuffled: ``a_only`` images only A gets
    right, ``b_only`` only B, and of the rest a fixed share both right, the others both wrong."""
    both = (n - a_only - b_only) * 9 // 10
    neither = n - a_only - b_only - both
    a = np.array([True] * a_only + [False] * b_only + [True] * both + [False] * neither)
    b = np.array([False] * a_only + [True] * b_only + [True] * both + [False] * neither)
    order = rng.permutation(n)
    return a[order], b[order]


def check_mcnemar(f: Callable[[np.ndarray, np.ndarray], float]) -> CheckResult:
    """Check ``f(correct_a: (n,), correct_b: (n,)) -> p``, McNemar's exact two-sided p-value.

    ``correct_a`` and ``correct_b`` are booleans, True where each model classifies a test image
    right. The oracle is :func:`mlderive.uncertainty.mcnemar_exact` on the counts of images only
    A and only B gets right: ``min(1, 2 P(X <= min(a_only, b_only)))`` with
    ``X ~ Binomial(a_only + b_only, 1/2)``. Cases: uneven and even splits, a split on 10,000
    images, and two models that never disagree. Tolerance 1e-9 relative.
    """
    rng = _rng(14)
    cases = []
    for n, a_only, b_only in ((200, 9, 2), (1000, 30, 45), (50, 4, 4), (10_000, 203, 150)):
        case = f"n = {n} images, {a_only} only A right, {b_only} only B right"
        cases.append((case, n, a_only, b_only, *_mcnemar_case(n, a_only, b_only, rng)))
    cases.append(
        ("n = 100 images, the models never disagree", 100, 0, 0, *_mcnemar_case(100, 0, 0, rng))
    )

    def wrong_answers(n: int, a_only: int, b_only: int, a, b) -> list[tuple[float, str]]:
        m, j = a_only + b_only, min(a_only, b_only)
        wrong = [
            (
                _binomial_half_tail(m, j),
                "that is one tail only: the two-sided p-value doubles it, 2 P(X <= min), "
                "because a split as uneven the other way is as much evidence.",
            ),
            (
                2 * _binomial_half_tail(m, j),
                "a p-value is a probability: cap it, min(1, 2 P(X <= min)). When the split is "
                "even, the two tails overlap in the middle and their sum exceeds 1.",
            ),
            (
                min(1.0, 2 * _binomial_half_tail(m, j - 1)),
                "include the observed split itself: P(X <= min), not P(X < min).",
            ),
            (
                min(1.0, 2 * _binomial_half_tail(m, a_only)),
                "use min(a_only, b_only): the p-value must not depend on which model you call A.",
            ),
            (
                min(1.0, 2 * _binomial_half_tail(n, j)),
                "the binomial counts the disagreements only, m = a_only + b_only, not all n "
                "images: images both models get right (or both wrong) say nothing about which "
                "is better.",
            ),
        ]
        if m > 0:
            normal = "that is a normal approximation; the exercise asks for the exact binomial "
            normal += "tail: sum the Binomial(m, 1/2) probabilities with math.comb."
            wrong += [
                (_two_sided_normal((a_only - b_only) / math.sqrt(m)), normal),
                (_two_sided_normal(max(abs(a_only - b_only) - 1, 0) / math.sqrt(m)), normal),
                (
                    _two_sided_normal((a_only - b_only) / math.sqrt(n)),
                    "the disagreements only enter, m = a_only + b_only, not all n images "
                    "(and the exact test sums binomial probabilities, it does not divide by "
                    "a square root).",
                ),
            ]
            d = (a_only - b_only) / n
            paired = math.sqrt((m / n - d * d) / n)
            if paired > 0:
                wrong.append((_two_sided_normal(d / paired), normal))
        p_a, p_b = float(np.mean(a)), float(np.mean(b))
        unpaired = math.sqrt((p_a * (1 - p_a) + p_b * (1 - p_b)) / n)
        if unpaired > 0:
            wrong.append(
                (
                    _two_sided_normal((p_a - p_b) / unpaired),
                    "that compares the two accuracies as if they came from two independent "
                    "test sets. On shared images they are correlated: the test uses only the "
                    "images where the models disagree.",
                )
            )
        return [(np.float64(value), hint) for value, hint in wrong]

    def body() -> str:
        for case, n, a_only, b_only, a, b in cases:
            got = _as_array(_call(f, case, a, b), case, "the p-value")
            if got.shape != ():
                raise _Failure(
                    case,
                    f"the p-value has shape {got.shape}",
                    "return one number, the p-value of the whole comparison.",
                )
            if not np.isfinite(got):
                raise _Failure(
                    case,
                    "the p-value is nan or inf",
                    "when the models never disagree (m = 0) there is no evidence either way and "
                    "the p-value is 1; avoid dividing by m."
                    if a_only + b_only == 0
                    else "check every division: m = a_only + b_only is not zero here.",
                )
            _compare(
                case,
                "the p-value",
                got,
                mcnemar_exact(a_only, b_only),
                1e-9,
                wrong_answers(n, a_only, b_only, a, b),
                "count a_only (A right, B wrong) and b_only; under the null each disagreement "
                "goes either way with probability 1/2; sum the binomial tail up to the smaller "
                "count and double it.",
            )
        return (
            f"{len(cases)} cases (uneven, even, 10,000 images, no disagreement) agree with the "
            "exact binomial test within 1e-9."
        )

    return _run("mcnemar", body)


__all__ = [
    "CheckResult",
    "check_adam_step",
    "check_conv_backward",
    "check_cross_entropy",
    "check_cross_entropy_grad",
    "check_hinge_loss",
    "check_l2_grad",
    "check_linear_backward",
    "check_logistic_grad",
    "check_mcnemar",
    "check_newton_step",
    "check_relu_max",
    "check_sigmoid",
    "check_softmax",
    "check_softmax_jacobian",
    "check_softmax_regression_grad",
    "check_svm_dual",
]
