"""Newton's method, gradient descent and conjugate gradients on least squares; Newton (IRLS)
on logistic regression.

Convention: ``X: (n, d)`` holds one example per row, ``y: (n,)``, ``w: (d,)``. Least squares
with an optional ridge ``r >= 0``:

    J(w) = ||X w - y||^2 / (2n) + (r / 2) ||w||^2,
    grad J(w) = X^T (X w - y) / n + r w,        Hessian H = X^T X / n + r I.

Linear systems with ``H`` are solved by Cholesky. When ``H`` is singular or too
ill-conditioned for that, :class:`SingularHessianError` (a ``ValueError``) says so and names
the fixes; ``on_singular="lstsq"`` switches to a least-squares (minimum-norm) solve instead.
No function returns NaN silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import logistic
from .validation import (
    as_float_array,
    as_rng,
    check_01_labels,
    check_choice,
    nonnegative_int,
    nonnegative_number,
    positive_int,
    positive_number,
)

MAX_CONDITION = 1e12  # above this (estimated) condition number, Cholesky results are not trusted


class SingularHessianError(ValueError):
    """The Hessian is singular or too ill-conditioned for a Cholesky solve."""


# ------------------------------------------------------------------------ linear algebra


def cholesky_solve(H, g, max_condition: float = MAX_CONDITION) -> np.ndarray:
    """Solve ``H x = g`` for symmetric positive definite ``H: (d, d)``, ``g: (d,)``.

    Factor ``H = L L^T`` and solve the two triangular systems. Raises
    :class:`SingularHessianError` if the factorisation fails (``H`` not positive definite) or
    if ``(max L_ii / min L_ii)^2`` - a lower bound on the condition number of ``H`` - exceeds
    ``max_condition``.
    """
    H = as_float_array(H, "H", ndim=2, finite=True)
    g = as_float_array(g, "g", ndim=1, finite=True)
    max_condition = positive_number(max_condition, "max_condition")
    if H.shape != (g.shape[0], g.shape[0]):
        raise ValueError(
            f"H must have shape ({g.shape[0]}, {g.shape[0]}) to match g, got {H.shape}."
        )
    asymmetry = float(np.max(np.abs(H - H.T)))
    if asymmetry > 1e-10 * max(float(np.max(np.abs(H))), 1e-300):
        raise ValueError(
            f"H must be symmetric (a Hessian is); max |H - H^T| = {asymmetry:.3g}. A Cholesky "
            "solve reads only the lower triangle, so the answer would be wrong. Symmetrise it "
            "with (H + H.T) / 2 if the asymmetry is round-off."
        )
    fixes = "add a small ridge (e.g. ridge=1e-6), drop constant or duplicate features, or pass "
    fixes += 'on_singular="lstsq" for a minimum-norm solution'
    try:
        L = np.linalg.cholesky(H)
    except np.linalg.LinAlgError as exc:
        raise SingularHessianError(
            f"the Hessian ({H.shape[0]} x {H.shape[0]}) is not positive definite, so the Newton "
            f"step is not unique (Cholesky failed). To fix it: {fixes}."
        ) from exc
    pivots = np.abs(np.diag(L))
    estimate = (pivots.max() / pivots.min()) ** 2 if pivots.min() > 0 else math.inf
    if not estimate <= max_condition:
        raise SingularHessianError(
            f"the Hessian is too ill-conditioned for a Cholesky solve: its condition number is "
            f"at least {estimate:.1e} (limit {max_condition:.0e}). To fix it: {fixes}."
        )
    return np.linalg.solve(L.T, np.linalg.solve(L, g))


def _check_least_squares(X, y, w=None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    X = as_float_array(X, "X", ndim=2, finite=True, min_rows=1)
    y = as_float_array(y, "y", ndim=1, finite=True)
    if y.shape != (X.shape[0],):
        raise ValueError(
            f"y must have shape ({X.shape[0]},), one target per row of X; got {y.shape}."
        )
    if w is not None:
        w = as_float_array(w, "w", ndim=1, finite=True)
        if w.shape != (X.shape[1],):
            raise ValueError(
                f"w must have shape ({X.shape[1]},) to match X {X.shape}, got {w.shape}."
            )
    return X, y, w


def _check_ridge(ridge: float) -> float:
    return nonnegative_number(ridge, "ridge")


def _check_on_singular(on_singular: str) -> None:
    check_choice(on_singular, "on_singular", ("raise", "lstsq"))


# -------------------------------------------------------------------------- least squares


def least_squares_loss(X, y, w, ridge: float = 0.0) -> float:
    """``J(w) = ||X w - y||^2 / (2n) + (ridge / 2) ||w||^2``."""
    X, y, w = _check_least_squares(X, y, w)
    residual = X @ w - y
    return float(residual @ residual) / (2 * X.shape[0]) + 0.5 * _check_ridge(ridge) * float(w @ w)


def least_squares_gradient(X, y, w, ridge: float = 0.0) -> np.ndarray:
    """``grad J(w) = X^T (X w - y) / n + ridge w``, shape ``(d,)``."""
    X, y, w = _check_least_squares(X, y, w)
    return X.T @ (X @ w - y) / X.shape[0] + _check_ridge(ridge) * w


def least_squares_hessian(X, ridge: float = 0.0) -> np.ndarray:
    """``H = X^T X / n + ridge I``, shape ``(d, d)``; it does not depend on ``w`` or ``y``."""
    X = as_float_array(X, "X", ndim=2, finite=True, min_rows=1)
    H = X.T @ X / X.shape[0]
    H[np.diag_indices_from(H)] += _check_ridge(ridge)
    return H


def solve_least_squares(X, y, ridge: float = 0.0, on_singular: str = "raise") -> np.ndarray:
    """The minimiser ``w* = (X^T X / n + ridge I)^{-1} X^T y / n`` via Cholesky, shape ``(d,)``.

    With ``ridge = 0`` this is ``(X^T X)^{-1} X^T y``. If the Hessian is singular or too
    ill-conditioned: ``on_singular="raise"`` raises :class:`SingularHessianError`;
    ``on_singular="lstsq"`` returns the minimum-norm solution of the normal equations
    ``H w = X^T y / n``, from the SVD of ``H`` (``numpy.linalg.lstsq``, which treats singular
    values below ``d * eps * ||H||`` as zero). That is the minimum-norm minimiser of ``J``, to an
    accuracy of about ``eps`` times the condition number of ``H``.
    """
    X, y, _ = _check_least_squares(X, y)
    _check_on_singular(on_singular)
    H = least_squares_hessian(X, ridge)
    g = X.T @ y / X.shape[0]
    try:
        return cholesky_solve(H, g)
    except SingularHessianError:
        if on_singular == "raise":
            raise
    return np.linalg.lstsq(H, g, rcond=None)[0]


def newton_step_least_squares(X, y, w, ridge: float = 0.0, on_singular: str = "raise"):
    """One Newton step ``w - H^{-1} grad J(w)`` on the least-squares loss; shape ``(d,)``.

    The linear system ``H s = grad J(w)`` is solved by Cholesky. If ``H`` is singular or too
    ill-conditioned: ``on_singular="raise"`` raises :class:`SingularHessianError`;
    ``on_singular="lstsq"`` takes the minimum-norm ``s``, which lands on the minimiser closest
    to ``w``.
    """
    X, y, w = _check_least_squares(X, y, w)
    _check_on_singular(on_singular)
    H = least_squares_hessian(X, ridge)
    g = least_squares_gradient(X, y, w, ridge)
    try:
        return w - cholesky_solve(H, g)
    except SingularHessianError:
        if on_singular == "raise":
            raise
    return w - np.linalg.lstsq(H, g, rcond=None)[0]


@dataclass(frozen=True)
class GradientDescentRun:
    """Result of :func:`gradient_descent_least_squares` or :func:`conjugate_gradient_least_squares`.

    ``errors[t] = ||w_t - w*|| / ||w_0 - w*||`` and ``loss_gaps[t] = (J(w_t) - J*) / (J(w_0) - J*)``
    for ``t = 0, ..., steps``.
    """

    w: np.ndarray
    errors: np.ndarray
    converged: bool
    loss_gaps: np.ndarray | None = None

    @property
    def steps(self) -> int:
        return len(self.errors) - 1


def _iteration_start(X, y, w, ridge: float, w_star) -> tuple[np.ndarray, np.ndarray, float]:
    """The start of an iterative solver: a float64 copy of ``w: (d,)``, the minimiser
    ``w_star: (d,)`` (solved for when None, checked otherwise) and ``||w - w_star||``."""
    if w_star is None:
        w_star = solve_least_squares(X, y, ridge)
    w_star = as_float_array(w_star, "w_star", ndim=1, finite=True)
    if w_star.shape != w.shape:
        raise ValueError(f"w_star must have shape {w.shape}, got {w_star.shape}.")
    w = w.astype(np.float64, copy=True)
    return w, w_star, float(np.linalg.norm(w - w_star))


def gradient_descent_least_squares(
    X,
    y,
    w0,
    step: float | None = None,
    tol: float = 1e-8,
    max_steps: int = 100_000,
    ridge: float = 0.0,
    w_star=None,
) -> GradientDescentRun:
    """Gradient descent ``w <- w - step * grad J(w)`` until ``||w - w*|| <= tol ||w0 - w*||``.

    ``step`` defaults to ``1 / L`` with ``L`` the largest eigenvalue of ``H``; it must lie in
    ``(0, 2 / L)``, where gradient descent converges. ``w_star`` defaults to
    :func:`solve_least_squares` (the minimiser must be unique). The gradient is computed as
    ``H w - X^T y / n`` with ``H`` formed once, so each step costs ``O(d^2)``.
    Stops after ``max_steps`` steps with ``converged=False`` if the tolerance is not reached.
    """
    X, y, w = _check_least_squares(X, y, w0)
    tol = positive_number(tol, "tol")
    H = least_squares_hessian(X, ridge)
    g = X.T @ y / X.shape[0]
    largest = float(np.linalg.eigvalsh(H)[-1])
    step = 1.0 / largest if step is None else positive_number(step, "step")
    if not step < 2.0 / largest:
        raise ValueError(
            f"step must lie in (0, 2/L) = (0, {2.0 / largest:.4g}) for gradient descent to "
            f"converge (L = {largest:.4g} is the largest eigenvalue of the Hessian); got {step!r}."
        )
    max_steps = nonnegative_int(max_steps, "max_steps")
    w, w_star, initial = _iteration_start(X, y, w, ridge, w_star)
    if initial == 0:
        return GradientDescentRun(w, np.zeros(1), True, np.zeros(1))
    gradient = H @ w - g  # = H (w - w*), so (w - w*) . gradient = 2 (J(w) - J*)
    initial_gap = float((w - w_star) @ gradient)
    errors, gaps = [1.0], [1.0]
    while errors[-1] > tol and len(errors) <= max_steps:
        w -= step * gradient
        gradient = H @ w - g
        errors.append(float(np.linalg.norm(w - w_star) / initial))
        gaps.append(float((w - w_star) @ gradient) / initial_gap)
    return GradientDescentRun(w, np.array(errors), errors[-1] <= tol, np.array(gaps))


def conjugate_gradient_least_squares(
    X,
    y,
    w0,
    tol: float = 1e-8,
    max_steps: int = 100_000,
    ridge: float = 0.0,
    w_star=None,
) -> GradientDescentRun:
    """The conjugate-gradient method on ``H w = X^T y / n`` until ``||w - w*|| <= tol ||w0 - w*||``.

    Each step moves along a direction ``p`` that is ``H``-conjugate to all earlier ones and
    minimises ``J`` exactly along it; it needs one product ``H p``, which costs as much as a
    gradient when computed as ``X^T (X p) / n + r p``. (Here ``H`` is formed once, as in
    :func:`gradient_descent_least_squares`.) In exact arithmetic it ends after at most ``d``
    steps, and after ``t`` steps the error in the norm ``||e||_H = sqrt(e^T H e)`` is at most
    ``2 ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^t`` times the initial one: about
    ``sqrt(kappa)`` times fewer steps than gradient descent needs. ``w_star`` defaults to
    :func:`solve_least_squares`. Returns a :class:`GradientDescentRun` with the relative errors
    and loss gaps per step; ``converged=False`` if ``max_steps`` steps do not reach ``tol``.
    """
    X, y, w = _check_least_squares(X, y, w0)
    tol = positive_number(tol, "tol")
    max_steps = nonnegative_int(max_steps, "max_steps")
    H = least_squares_hessian(X, ridge)
    g = X.T @ y / X.shape[0]
    w, w_star, initial = _iteration_start(X, y, w, ridge, w_star)
    if initial == 0:
        return GradientDescentRun(w, np.zeros(1), True, np.zeros(1))
    initial_gap = float((w - w_star) @ (H @ (w - w_star)))
    residual = g - H @ w  # minus the gradient
    direction = residual.copy()
    squared = float(residual @ residual)
    errors, gaps = [1.0], [1.0]
    while errors[-1] > tol and len(errors) <= max_steps and squared > 0:
        product = H @ direction
        length = squared / float(direction @ product)
        w += length * direction
        residual -= length * product
        squared, previous = float(residual @ residual), squared
        direction = residual + (squared / previous) * direction
        error = w - w_star
        errors.append(float(np.linalg.norm(error) / initial))
        gaps.append(float(error @ (H @ error)) / initial_gap)
    return GradientDescentRun(w, np.array(errors), errors[-1] <= tol, np.array(gaps))


def predict_gd_steps(eigenvalues, tol: float = 1e-8, step: float | None = None) -> int:
    """Gradient-descent steps until ``||w_t - w*|| <= tol ||w_0 - w*||`` from the worst start.

    On a quadratic with Hessian eigenvalues ``lambda_i``, a step of size ``step`` multiplies the
    error's component along eigenvector ``i`` by ``1 - step * lambda_i``. The worst component
    shrinks by ``rho = max_i |1 - step * lambda_i|`` per step, so the answer is
    ``ceil(ln(1/tol) / ln(1/rho))``. With the default ``step = 1/L``, ``rho = 1 - 1/kappa``
    (``kappa = L / mu``) and the count is at most ``kappa ln(1/tol)``; with
    ``step = 2 / (L + mu)``, ``rho = (kappa - 1) / (kappa + 1)``.
    """
    lam = as_float_array(eigenvalues, "eigenvalues", ndim=1, finite=True)
    if not 0 < positive_number(tol, "tol") < 1:
        raise ValueError(f"tol must lie in (0, 1), got {tol!r}.")
    if not lam.min() > 0:
        raise ValueError(
            f"the smallest eigenvalue is {lam.min():.3g}: the Hessian is singular, the minimiser "
            "is not unique and the error along the null space never shrinks. Add a ridge."
        )
    step = 1.0 / lam.max() if step is None else positive_number(step, "step")
    rho = float(np.max(np.abs(1.0 - step * lam)))
    if rho >= 1:
        raise ValueError(
            f"step {step:.3g} does not converge: it must lie in (0, 2/L) = (0, "
            f"{2 / lam.max():.3g})."
        )
    if rho == 0:
        return 1
    return math.ceil(math.log(tol) / math.log(rho))


@dataclass(frozen=True)
class QuadraticCurves:
    """Result of :func:`gradient_descent_curves`; three ``(k,)`` arrays, one entry per step count.

    ``errors = ||w_t - w*|| / ||w_0 - w*||``, ``loss_gaps = (J(w_t) - J*) / (J(w_0) - J*)``.
    """

    steps: np.ndarray
    errors: np.ndarray
    loss_gaps: np.ndarray


def gradient_descent_curves(H, w0, w_star, steps, step: float | None = None) -> QuadraticCurves:
    """Relative parameter error and loss gap of gradient descent on a quadratic, after any steps.

    On a quadratic with Hessian ``H: (d, d)`` and minimiser ``w_star: (d,)``,
    ``J(w) - J* = (w - w*)^T H (w - w*) / 2``. A step of size ``step`` (default ``1/L``)
    multiplies the error's component ``c_i`` along eigenvector ``i`` of ``H`` by
    ``1 - step * lambda_i``, so after ``t`` steps from ``w0``

        ||w_t - w*||^2 = sum_i (1 - step lambda_i)^(2t) c_i^2,
        J(w_t) - J*   = sum_i lambda_i (1 - step lambda_i)^(2t) c_i^2 / 2.

    Both are evaluated from one eigendecomposition of ``H``, without iterating, at the step
    counts ``steps: (k,)`` (integers >= 0): ten million steps cost no more than ten. In the loss
    gap each component is weighted by its ``lambda_i``, so the slow components of small
    curvature, which dominate the parameter error, hardly count.
    """
    H = as_float_array(H, "H", ndim=2, finite=True)
    d = H.shape[0]
    if H.shape != (d, d) or np.max(np.abs(H - H.T)) > 1e-10 * max(np.max(np.abs(H)), 1e-300):
        raise ValueError(f"H must be a symmetric square matrix, got shape {H.shape}.")
    w0 = as_float_array(w0, "w0", ndim=1, finite=True)
    w_star = as_float_array(w_star, "w_star", ndim=1, finite=True)
    if w0.shape != (d,) or w_star.shape != (d,):
        raise ValueError(
            f"w0 and w_star must have shape ({d},) to match H, got {w0.shape}, {w_star.shape}."
        )
    counts = np.asarray(steps)
    if counts.ndim != 1 or not np.issubdtype(counts.dtype, np.integer) or np.any(counts < 0):
        raise ValueError("steps must be a 1-D array of integers >= 0.")
    eigenvalues, vectors = np.linalg.eigh(H)
    if eigenvalues[0] < -1e-12 * max(eigenvalues[-1], 1e-300):
        raise ValueError(
            f"H has the eigenvalue {eigenvalues[0]:.3g} < 0: it is not the Hessian of a convex "
            "quadratic."
        )
    eigenvalues = np.maximum(eigenvalues, 0.0)
    step = 1.0 / eigenvalues[-1] if step is None else positive_number(step, "step")
    if not step < 2.0 / eigenvalues[-1]:
        raise ValueError(
            f"step must lie in (0, 2/L) = (0, {2.0 / eigenvalues[-1]:.4g}) for gradient descent "
            f"to converge; got {step!r}."
        )
    squared = (vectors.T @ (w0 - w_star)) ** 2
    weighted = eigenvalues * squared
    if not squared.sum() > 0 or not weighted.sum() > 0:
        raise ValueError("w0 - w_star has no component on which H acts: there is no gap to close.")
    shrink = np.abs(1.0 - step * eigenvalues) ** (2.0 * counts[:, None])  # (k, d)
    return QuadraticCurves(
        steps=counts.copy(),
        errors=np.sqrt(shrink @ squared / squared.sum()),
        loss_gaps=shrink @ weighted / weighted.sum(),
    )


def design_with_spectrum(eigenvalues, n: int, rng=None) -> np.ndarray:
    """A random ``X: (n, d)`` whose ``X^T X / n`` has exactly the given eigenvalues ``(d,)``.

    ``X = sqrt(n) U diag(sqrt(lambda)) V^T`` with random orthonormal ``U: (n, d)`` and
    orthogonal ``V: (d, d)``; the eigenvectors are random, not the coordinate axes. ``rng``:
    a ``numpy.random.Generator`` or an integer seed.
    """
    lam = as_float_array(eigenvalues, "eigenvalues", ndim=1, finite=True)
    n = positive_int(n, "n")
    rng = as_rng(rng, "rng")
    d = lam.shape[0]
    if np.any(lam < 0):
        raise ValueError("eigenvalues of X^T X / n must be >= 0.")
    if n < d:
        raise ValueError(f"n must be at least d = {d} to realise {d} eigenvalues, got n = {n}.")
    U = np.linalg.qr(rng.standard_normal((n, d)))[0]
    V = np.linalg.qr(rng.standard_normal((d, d)))[0]
    return math.sqrt(n) * (U * np.sqrt(lam)) @ V.T


# --------------------------------------------------------------- Newton on logistic loss


@dataclass(frozen=True)
class NewtonHistory:
    """Result of :func:`irls_logistic`.

    ``iterates[t] = (w_t, b_t)`` as a ``(d+1,)`` row, ``gradient_norms[t] = ||grad J||`` there.
    """

    w: np.ndarray
    b: float
    iterates: np.ndarray
    gradient_norms: np.ndarray
    converged: bool


def irls_logistic(X, y, l2: float = 0.0, max_iter: int = 50, tol: float = 1e-12) -> NewtonHistory:
    """Newton's method on the L2-regularised logistic loss of :mod:`mlderive.logistic`.

    From ``w = 0, b = 0``, repeat ``theta <- theta - H^{-1} grad J(theta)`` (no damping) until
    ``||grad J|| <= tol`` or ``max_iter`` steps. Each step is a weighted least-squares solve
    with weights ``p (1 - p)``, hence the name iteratively reweighted least squares.

    On linearly separable data with ``l2 = 0`` there is no finite minimiser: scaling a
    separating ``theta`` up drives the loss to 0 without reaching it. As soon as an iterate
    separates the classes strictly this raises ``ValueError`` (it is proof that no minimiser
    exists); a Hessian that becomes numerically singular raises :class:`SingularHessianError`.
    Use ``l2 > 0`` on separable data.
    """
    X = as_float_array(X, "X", ndim=2, finite=True, min_rows=1)
    y = check_01_labels(y, X.shape[0])
    l2 = nonnegative_number(l2, "l2")
    max_iter = nonnegative_int(max_iter, "max_iter")
    tol = nonnegative_number(tol, "tol")
    d = X.shape[1]
    theta = np.zeros(d + 1)
    iterates, norms = [], []
    for t in range(max_iter + 1):
        dw, db = logistic.gradients(theta[:d], theta[d], X, y, l2)
        gradient = np.append(dw, db)
        iterates.append(theta.copy())
        norms.append(float(np.linalg.norm(gradient)))
        if l2 == 0 and np.all((2 * y - 1) * (X @ theta[:d] + theta[d]) > 0):
            raise ValueError(
                f"after {t} Newton steps the weights classify every example correctly with a "
                "positive margin: the classes are linearly separable, so with l2 = 0 the loss "
                "only approaches 0 as the weights grow and has no finite minimiser. Set l2 > 0."
            )
        if norms[-1] <= tol or t == max_iter:
            break
        H = logistic.hessian(theta[:d], theta[d], X, l2)
        try:
            theta = theta - cholesky_solve(H, gradient)
        except SingularHessianError as exc:
            raise SingularHessianError(
                f"Newton step {t + 1}: {exc} On logistic regression this usually means the "
                "classes are linearly separable and l2 = 0, so no finite minimiser exists; "
                "set l2 > 0."
            ) from exc
    return NewtonHistory(
        w=theta[:d].copy(),
        b=float(theta[d]),
        iterates=np.array(iterates),
        gradient_norms=np.array(norms),
        converged=norms[-1] <= tol,
    )


@dataclass(frozen=True)
class WeightedLeastSquaresStep:
    """Result of :func:`irls_weighted_least_squares_step`; shapes ``(n,)``, ``(n,)``, ``(d+1,)``."""

    weights: np.ndarray
    response: np.ndarray
    theta: np.ndarray


def irls_weighted_least_squares_step(w, b, X, y, l2: float = 0.0) -> WeightedLeastSquaresStep:
    """One Newton step on the logistic loss, computed as a weighted least-squares problem.

    With ``A = [X, 1]: (n, d+1)``, ``theta = (w, b)``, ``p = sigmoid(A theta)``, the weights
    ``s = p (1 - p)`` and the working response ``z = A theta + (y - p) / s``, the Newton step
    ``theta - H^{-1} grad J`` of :func:`irls_logistic` is the minimiser of

        sum_i s_i (z_i - a_i v)^2 + n * l2 * ||v_w||^2      (``v_w``: all entries but the bias)

    over ``v: (d+1,)``, where ``a_i`` is row ``i`` of ``A``. This solves it with
    :func:`numpy.linalg.lstsq` on the rows ``sqrt(s_i) a_i`` (and ``sqrt(n l2)`` times the
    unit rows of the penalised entries): no Hessian is formed, so it is an independent check
    of the Cholesky path. ``w: (d,)``, ``b`` a float, ``X: (n, d)``, ``y: (n,)`` in {0, 1}.
    Raises ValueError if some ``p_i`` is 0 or 1 to machine precision (its weight vanishes and
    its response is infinite); a penalty ``l2 > 0`` keeps the weights finite.
    """
    X = as_float_array(X, "X", ndim=2, finite=True, min_rows=1)
    y = check_01_labels(y, X.shape[0])
    l2 = nonnegative_number(l2, "l2")
    n, d = X.shape
    w = as_float_array(w, "w", ndim=1, finite=True)
    if w.shape != (d,):
        raise ValueError(f"w must have shape ({d},) to match X, got {w.shape}.")
    if np.ndim(b) != 0 or not np.isfinite(b):
        raise ValueError(f"b must be a finite scalar (the bias), got {b!r}.")
    A = np.hstack([X, np.ones((n, 1))])
    theta = np.append(w, float(b))
    logits = A @ theta
    p = logistic.predict_proba(w, float(b), X)  # sigmoid(A theta), computed stably
    s = p * (1.0 - p)
    if np.min(s) < 1e-12:
        raise ValueError(
            f"some predicted probabilities are 0 or 1 to machine precision (smallest weight "
            f"p (1 - p) = {np.min(s):.1e}): the working response (y - p) / (p (1 - p)) is not "
            "finite. Start closer to the minimiser, or set l2 > 0 so the weights stay bounded."
        )
    z = logits + (y - p) / s
    root = np.sqrt(s)
    rows, targets = root[:, None] * A, root * z
    if l2 > 0:
        rows = np.vstack([rows, math.sqrt(n * l2) * np.eye(d, d + 1)])
        targets = np.concatenate([targets, np.zeros(d)])
    solution = np.linalg.lstsq(rows, targets, rcond=None)[0]
    return WeightedLeastSquaresStep(weights=s, response=z, theta=solution)
