"""The binary support-vector machine with squared slack, its Lagrangian and its dual.

Labels ``y: (n,)`` in {-1, +1}, ``C > 0``, a Gram matrix ``G: (n, n)``:

    primal  min_{w, b}  1/2 ||w||^2 + C/2 sum_i max(0, 1 - y_i (x_i w + b))^2
    dual    max_alpha   1^T alpha - 1/2 alpha^T Y (G + I/C) Y alpha
            s.t. alpha >= 0, y^T alpha = 0               (Y = diag(y))

The primal is solved by a generalized Newton method, the dual by SMO-style pairwise
coordinate ascent; a projected-gradient solver for the dual that keeps the multipliers
``beta`` of the constraints ``xi >= 0``, and a brute-force active-set solver for tiny
problems, serve as independent cross-checks. (The multiclass hinge loss of another chapter
lives in :mod:`mlderive.multiclass_hinge`.)
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import NamedTuple

import numpy as np

from .validation import (
    ArgumentTypeError,
    as_float_array,
    nonnegative_int,
    nonnegative_number,
    positive_int,
    positive_number,
)

# ----------------------------------------------------------------------------------------------
# The binary SVM with squared slack: checks and objectives
# ----------------------------------------------------------------------------------------------


def check_C(C) -> float:
    """Return ``C`` as a float, raising ValueError unless it is positive and finite."""
    return positive_number(C, "C", " (the slack penalty)")


def check_pm1_labels(y, n: int) -> np.ndarray:
    """Return ``y: (n,)`` as float64, checking that it holds -1 and +1 (both present)."""
    y = np.asarray(y)
    if y.shape != (n,) or n == 0:
        raise ValueError(f"y must have shape ({n},) to match X, with n >= 1; got {y.shape}.")
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
        raise ArgumentTypeError(f"y must hold the numbers -1 and +1, got dtype {y.dtype}.")
    if not np.all((y == 1) | (y == -1)):
        found = np.unique(y)[:5]
        raise ValueError(
            f"y must hold labels -1 and +1, got values such as {found}. "
            f"Map 0/1 labels with y = 2 * labels - 1."
        )
    if np.all(y == y[0]):
        raise ValueError("y must contain both classes (-1 and +1); it holds only one.")
    return y.astype(np.float64)


def _check_y(y) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(
            f"y must be 1-D, one label in {{-1, +1}} per example; got shape {y.shape}."
        )
    return check_pm1_labels(y, y.shape[0])


def _check_binary(X, y) -> tuple[np.ndarray, np.ndarray]:
    X = as_float_array(X, "X", ndim=2, finite=True, min_rows=1).astype(np.float64, copy=False)
    return X, check_pm1_labels(y, X.shape[0])


def _check_w_b(w, b, d: int) -> tuple[np.ndarray, float]:
    w = as_float_array(w, "w", ndim=1, finite=True)
    if w.shape != (d,):
        raise ValueError(f"w must have shape ({d},) to match X, got {w.shape}.")
    if np.ndim(b) != 0 or not np.isfinite(b):
        raise ValueError(f"b must be a finite scalar (the bias), got {b!r}.")
    return w, float(b)


def _check_gram(G, n: int) -> np.ndarray:
    G = as_float_array(G, "G", ndim=2, finite=True).astype(np.float64, copy=False)
    if G.shape != (n, n):
        raise ValueError(f"G must be the (n, n) = ({n}, {n}) Gram matrix of X, got {G.shape}.")
    return G


def _check_alpha(alpha, n: int, name: str = "alpha") -> np.ndarray:
    alpha = as_float_array(alpha, name, ndim=1, finite=True).astype(np.float64, copy=False)
    if alpha.shape != (n,):
        raise ValueError(
            f"{name} must have shape ({n},), one entry per example; got {alpha.shape}."
        )
    return alpha


def slacks(w, b, X, y) -> np.ndarray:
    """The smallest feasible slacks ``xi_i = max(0, 1 - y_i (x_i w + b))``: (n,)."""
    X, y = _check_binary(X, y)
    w, b = _check_w_b(w, b, X.shape[1])
    return np.maximum(0.0, 1.0 - y * (X @ w + b))


def primal_objective(w, b, X, y, C) -> float:
    """``P(w, b) = 1/2 ||w||^2 + C/2 sum_i max(0, 1 - y_i (x_i w + b))^2``."""
    C = check_C(C)
    xi = slacks(w, b, X, y)
    w = np.asarray(w, dtype=np.float64)
    return float(0.5 * w @ w + 0.5 * C * xi @ xi)


def primal_gradient(w, b, X, y, C) -> tuple[np.ndarray, float]:
    """Gradient of :func:`primal_objective`: ``(w - C X^T (y * xi), -C y^T xi)``.

    ``P`` is differentiable everywhere (the square smooths the kink of the hinge) and its
    gradient is Lipschitz with constant ``max(1, C * ||[X, 1]||_2^2)``.
    """
    C = check_C(C)
    X, y = _check_binary(X, y)
    xi = slacks(w, b, X, y)
    return np.asarray(w, dtype=np.float64) - C * X.T @ (y * xi), float(-C * y @ xi)


def lagrangian(w, b, xi, alpha, beta, X, y, C) -> float:
    """``L = 1/2||w||^2 + C/2 ||xi||^2 + sum_i alpha_i (1 - xi_i - y_i(x_i w + b)) - beta^T xi``.

    ``xi, alpha, beta: (n,)``; ``beta`` multiplies the constraints ``xi >= 0``.
    """
    C = check_C(C)
    X, y = _check_binary(X, y)
    n = X.shape[0]
    w, b = _check_w_b(w, b, X.shape[1])
    xi, alpha, beta = (
        _check_alpha(v, n, name) for v, name in ((xi, "xi"), (alpha, "alpha"), (beta, "beta"))
    )
    constraint = 1.0 - xi - y * (X @ w + b)
    return float(0.5 * w @ w + 0.5 * C * xi @ xi + alpha @ constraint - beta @ xi)


def dual_function(alpha, beta, G, y, C, tol: float = 1e-9) -> float:
    """The dual function ``g(alpha, beta) = min_{w, b, xi} L``: a float, possibly ``-inf``.

    Where ``y^T alpha = 0`` (to ``tol * (1 + sum |alpha|)``) it equals
    ``1^T alpha - 1/2 (y*alpha)^T G (y*alpha) - ||alpha + beta||^2 / (2C)``; elsewhere ``L`` is
    unbounded below in ``b`` and the value is ``-inf``.
    """
    C = check_C(C)
    y = _check_y(y)
    n = y.shape[0]
    G = _check_gram(G, n)
    alpha, beta = _check_alpha(alpha, n), _check_alpha(beta, n, "beta")
    if abs(y @ alpha) > tol * (1.0 + np.abs(alpha).sum()):
        return -np.inf
    ya = y * alpha
    return float(alpha.sum() - 0.5 * ya @ G @ ya - (alpha + beta) @ (alpha + beta) / (2.0 * C))


def dual_objective(alpha, G, y, C) -> float:
    """``D(alpha) = 1^T alpha - 1/2 alpha^T Y (G + I/C) Y alpha`` (no feasibility check)."""
    C = check_C(C)
    y = _check_y(y)
    G = _check_gram(G, y.shape[0])
    alpha = _check_alpha(alpha, y.shape[0])
    ya = y * alpha
    return float(alpha.sum() - 0.5 * ya @ G @ ya - alpha @ alpha / (2.0 * C))


def primal_objective_l1(w, b, X, y, C) -> float:
    """``P_1(w, b) = 1/2 ||w||^2 + C sum_i max(0, 1 - y_i (x_i w + b))``, the usual soft margin."""
    C = check_C(C)
    xi = slacks(w, b, X, y)
    w = np.asarray(w, dtype=np.float64)
    return float(0.5 * w @ w + C * xi.sum())


def dual_objective_l1(alpha, G, y) -> float:
    """``D_1(alpha) = 1^T alpha - 1/2 alpha^T Y G Y alpha`` (no feasibility check).

    The dual of :func:`primal_objective_l1`, maximised over ``0 <= alpha <= C``,
    ``y^T alpha = 0``; ``C`` enters only through that box.
    """
    y = _check_y(y)
    G = _check_gram(G, y.shape[0])
    alpha = _check_alpha(alpha, y.shape[0])
    ya = y * alpha
    return float(alpha.sum() - 0.5 * ya @ G @ ya)


def _check_psd(G: np.ndarray) -> None:
    """Raise unless the Gram matrix is symmetric positive semi-definite (to round-off)."""
    scale = max(float(np.max(np.abs(G))), 1e-300)
    if float(np.max(np.abs(G - G.T))) > 1e-10 * scale:
        raise ValueError("G must be symmetric (a Gram matrix G[i, j] = k(x_i, x_j)); it is not.")
    smallest = float(np.linalg.eigvalsh(G)[0])
    if smallest < -1e-8 * scale * G.shape[0]:
        raise ValueError(
            f"G must be positive semi-definite (a Gram matrix of a valid kernel); its smallest "
            f"eigenvalue is {smallest:.3g}. The dual is then unbounded and the solver cannot "
            "converge. Use a valid kernel (e.g. G = X @ X.T)."
        )


def _dual_hessian(G: np.ndarray, y: np.ndarray, C: float) -> np.ndarray:
    """``Q = Y (G + I/C) Y``, the Hessian of ``-D``: (n, n)."""
    return y[:, None] * y[None, :] * G + np.eye(y.shape[0]) / C


# ----------------------------------------------------------------------------------------------
# Solvers
# ----------------------------------------------------------------------------------------------


class PrimalSolution(NamedTuple):
    """Result of :func:`solve_primal`."""

    w: np.ndarray
    b: float
    iterations: int
    gradient_norm: float


class DualSolution(NamedTuple):
    """Result of :func:`solve_dual`; ``violation`` is the final maximal KKT violation."""

    alpha: np.ndarray
    iterations: int
    violation: float


def solve_primal(X, y, C, tol: float = 1e-9, max_iter: int = 100) -> PrimalSolution:
    """Minimise :func:`primal_objective` by a generalized Newton method with backtracking.

    With ``theta = (w, b)`` and rows ``z_i = y_i [x_i, 1]``, the gradient is
    ``[w; 0] - C Z^T xi`` and the generalized Hessian is ``diag(1, .., 1, 0) + C Z_A^T Z_A``
    over the active rows ``A = {i : xi_i > 0}``. On each piece where ``A`` is fixed ``P`` is
    quadratic, so once the active set settles a full Newton step lands on the minimiser.
    Stops when ``max |gradient| <= tol``; raises RuntimeError after ``max_iter`` steps.
    """
    C = check_C(C)
    X, y = _check_binary(X, y)
    tol = positive_number(tol, "tol")
    max_iter = nonnegative_int(max_iter, "max_iter")
    n, d = X.shape
    Z = y[:, None] * np.hstack([X, np.ones((n, 1))])
    penalised = np.ones(d + 1)
    penalised[-1] = 0.0

    def objective(theta: np.ndarray) -> float:
        xi = np.maximum(0.0, 1.0 - Z @ theta)
        return float(0.5 * theta[:d] @ theta[:d] + 0.5 * C * xi @ xi)

    theta = np.zeros(d + 1)
    for iteration in range(max_iter + 1):
        xi = np.maximum(0.0, 1.0 - Z @ theta)
        gradient = penalised * theta - C * Z.T @ xi
        gradient_norm = float(np.max(np.abs(gradient)))
        if gradient_norm <= tol:
            return PrimalSolution(theta[:d].copy(), float(theta[-1]), iteration, gradient_norm)
        if iteration == max_iter:
            break
        active = Z[xi > 0]
        hessian = np.diag(penalised) + C * active.T @ active
        if active.shape[0] == 0:
            hessian[-1, -1] = 1.0  # no active row: P does not depend on b here, and dP/db = 0
        step = -np.linalg.solve(hessian, gradient)
        value, slope, t = objective(theta), float(gradient @ step), 1.0
        while objective(theta + t * step) > value + 1e-4 * t * slope and t > 1e-10:
            t *= 0.5
        theta = theta + t * step
    raise RuntimeError(
        f"solve_primal did not reach max |gradient| <= {tol} in {max_iter} Newton steps "
        f"(last: {gradient_norm:.3g}). Raise max_iter or tol, or rescale X."
    )


def solve_primal_at_width(
    X, y, width, C_low: float = 1e-3, C_high: float = 1e3, steps: int = 60
) -> tuple[float, PrimalSolution]:
    """The squared-slack SVM whose margin width ``2 / ||w||`` equals ``width``, and its ``C``.

    The width does not increase with ``C`` (the optimal ``||w_C||`` is non-decreasing), so a
    bisection on ``log C`` over ``[C_low, C_high]`` with ``steps`` halvings finds it; each
    trial is a :func:`solve_primal`. Returns ``(C, solution)``. Raises ValueError if ``width``
    lies outside the range of widths between ``C_low`` and ``C_high``: on data that no
    hyperplane separates, the width tends to a positive limit as ``C`` grows, so very narrow
    margins cannot be reached at any ``C``.
    """
    X, y = _check_binary(X, y)
    width = positive_number(width, "width")
    C_low, C_high = check_C(C_low), check_C(C_high)
    steps = positive_int(steps, "steps")
    if not C_low < C_high:
        raise ValueError(f"C_low must be below C_high, got {C_low!r} and {C_high!r}.")

    def width_at(log_C: float) -> tuple[float, PrimalSolution]:
        solution = solve_primal(X, y, math.exp(log_C))
        return 2.0 / max(float(np.linalg.norm(solution.w)), 1e-300), solution

    low, high = math.log(C_low), math.log(C_high)
    widest, narrowest = width_at(low)[0], width_at(high)[0]
    if not narrowest <= width <= widest:
        raise ValueError(
            f"width {width:.4g} cannot be reached: between C = {C_low:g} and C = {C_high:g} the "
            f"margin width runs from {widest:.4g} down to {narrowest:.4g}."
        )
    for _ in range(steps):
        middle = 0.5 * (low + high)
        if width_at(middle)[0] > width:
            low = middle
        else:
            high = middle
    C = math.exp(0.5 * (low + high))
    return C, solve_primal(X, y, C)


def solve_dual(G, y, C, tol: float = 1e-10, max_iter: int = 1_000_000) -> DualSolution:
    """Maximise :func:`dual_objective` over ``alpha >= 0, y^T alpha = 0`` by pairwise ascent.

    SMO with second-order working-set selection. Write ``g = Q alpha - 1`` (the gradient of
    ``-D``, ``Q = Y (G + I/C) Y``). Moving along ``alpha_i += y_i t, alpha_j -= y_j t`` keeps
    ``y^T alpha = 0``. ``D`` restricted to the pair is a concave parabola with curvature
    ``G_ii + G_jj - 2 G_ij + 2/C > 0``, maximised exactly (clipped at ``alpha >= 0``).
    ``i`` maximises ``-y_t g_t`` among the indices that may move up, and ``j`` is the partner
    (among those that may move down) whose exact pair update raises ``D`` the most. The KKT
    violation ``max_up(-y g) - min_down(-y g)`` is zero exactly at the optimum; stop when it
    is <= ``tol``. Returns the solution, the number of pair updates and the final violation.
    """
    C = check_C(C)
    return _smo(G, y, C, 1.0 / C, np.inf, tol, max_iter, "solve_dual")


def solve_dual_l1(G, y, C, tol: float = 1e-10, max_iter: int = 1_000_000) -> DualSolution:
    """Maximise :func:`dual_objective_l1` over ``0 <= alpha <= C, y^T alpha = 0`` (the box).

    The dual of the usual soft-margin SVM, which penalises ``C sum_i xi_i`` with
    ``xi >= 0``. The same SMO as :func:`solve_dual`, with the matrix ``Y G Y`` (no ``I/C``)
    and the upper bound ``C``: an index may move up only while ``alpha_i < C``, and a step
    that reaches a bound sets ``alpha_i`` to exactly ``0`` or ``C``. ``G: (n, n)`` Gram
    matrix, ``y: (n,)`` in {-1, +1}. Returns the solution, pair updates and final violation.
    """
    C = check_C(C)
    return _smo(G, y, C, 0.0, C, tol, max_iter, "solve_dual_l1")


def _smo(G, y, C: float, shift: float, upper: float, tol, max_iter, name: str) -> DualSolution:
    """Pairwise ascent on ``1^T alpha - 1/2 alpha^T Y (G + shift I) Y alpha`` over
    ``0 <= alpha <= upper, y^T alpha = 0``; see :func:`solve_dual`."""
    y = _check_y(y)
    n = y.shape[0]
    G = _check_gram(G, n)
    tol = positive_number(tol, "tol")
    max_iter = nonnegative_int(max_iter, "max_iter")
    _check_psd(G)
    Q = y[:, None] * y[None, :] * G + shift * np.eye(n)
    diagonal = np.diag(G)
    # Round-off in the running gradient grows with sum(alpha) max|Q|; once it exceeds tol the
    # stopping test can never pass (C too large for data no hard margin separates).
    noise_floor = 16 * np.finfo(np.float64).eps * float(np.max(np.abs(Q)))
    tiny_curvature = 1e-12 * max(float(np.max(diagonal)), 1e-300)  # duplicated points
    checkpoints: list[float] = []  # the violation every 1000 updates
    alpha = np.zeros(n)
    gradient = -np.ones(n)
    positive = y > 0
    violation = np.inf
    for iteration in range(max_iter + 1):
        score = -y * gradient
        below, above = alpha < upper, alpha > 0
        movable_up = (positive & below) | (~positive & above)
        movable_down = (~positive & below) | (positive & above)
        i = int(np.argmax(np.where(movable_up, score, -np.inf)))
        violation = float(score[i] - np.min(np.where(movable_down, score, np.inf)))
        if violation <= tol:
            return DualSolution(alpha, iteration, violation)
        if iteration == max_iter:
            break
        if iteration % 1000 == 0:
            checkpoints.append(violation)
            stalled = len(checkpoints) > 10 and violation > 0.5 * checkpoints[-11]
            if stalled and noise_floor * alpha.sum() > tol:
                raise RuntimeError(
                    f"{name} cannot reach KKT violation <= tol = {tol}: after {iteration} "
                    f"pair updates the violation ({violation:.3g}) has stopped falling and "
                    f"sum(alpha) = {alpha.sum():.3g}, so round-off in the gradient (about "
                    f"{noise_floor * alpha.sum():.1g}) exceeds tol. The multipliers grow like "
                    f"C = {C:.3g} when no hard margin separates the data: use a smaller C (or a "
                    "larger tol); raising max_iter cannot help."
                )
        # second-order choice of j: the largest gain (score_i - score_t)^2 / (2 curvature_t)
        curvatures = diagonal[i] + diagonal - 2.0 * G[i] + 2.0 * shift
        curvatures = np.maximum(curvatures, tiny_curvature)
        excess = score[i] - score
        gains = np.where(movable_down & (excess > 0), excess**2 / curvatures, -np.inf)
        j = int(np.argmax(gains))
        t = excess[j] / curvatures[j]
        # the largest t that keeps alpha_i and alpha_j in [0, upper]
        room_i = upper - alpha[i] if y[i] > 0 else alpha[i]
        room_j = alpha[j] if y[j] > 0 else upper - alpha[j]
        t = min(t, room_i, room_j)
        new_i = alpha[i] + y[i] * t
        new_j = alpha[j] - y[j] * t
        if t == room_i:  # a bound is reached: land on it exactly
            new_i = upper if y[i] > 0 else 0.0
        if t == room_j:
            new_j = 0.0 if y[j] > 0 else upper
        step_i, step_j = new_i - alpha[i], new_j - alpha[j]
        alpha[i], alpha[j] = new_i, new_j
        gradient += step_i * Q[i] + step_j * Q[j]  # Q is symmetric: rows are columns
    raise RuntimeError(
        f"{name} stopped after {max_iter} pair updates with KKT violation {violation:.3g} "
        f"> tol = {tol}. Raise max_iter or tol."
    )


def recover_primal(alpha, X, y, C, support_threshold: float = 1e-8) -> tuple[np.ndarray, float]:
    """``(w, b)`` from dual variables ``alpha: (n,)``.

    ``w = sum_i alpha_i y_i x_i`` (stationarity in ``w``). For a support vector
    (``alpha_i > 0``) complementary slackness and ``xi_i = alpha_i / C`` give
    ``y_i (x_i w + b) = 1 - alpha_i / C``, i.e. ``b = y_i (1 - alpha_i / C) - x_i w``;
    this averages that over the indices with ``alpha_i > support_threshold * max(alpha)``.
    """
    C = check_C(C)
    X, y = _check_binary(X, y)
    alpha = _check_alpha(alpha, X.shape[0])
    support_threshold = nonnegative_number(support_threshold, "support_threshold")
    if not np.any(alpha > 0):
        raise ValueError("alpha has no positive entry, so there is no support vector to give b.")
    w = X.T @ (alpha * y)
    support = alpha > support_threshold * alpha.max()
    b = float(np.mean(y[support] * (1.0 - alpha[support] / C) - X[support] @ w))
    return w, b


def recover_primal_l1(alpha, X, y, C, bound_tol: float = 1e-8) -> tuple[np.ndarray, float]:
    """``(w, b)`` from a solution ``alpha: (n,)`` of the box-constrained (L1-slack) dual.

    ``w = sum_i alpha_i y_i x_i``. An example with ``0 < alpha_i < C`` (a *free* support
    vector) lies exactly on the margin, ``y_i (x_i w + b) = 1``, so ``b = y_i - x_i w``; this
    averages that over the free indices (``bound_tol * C < alpha_i < (1 - bound_tol) C``).
    Without a free index, ``b`` is the midpoint of the interval the KKT conditions allow.
    """
    C = check_C(C)
    X, y = _check_binary(X, y)
    alpha = _check_alpha(alpha, X.shape[0])
    w = X.T @ (alpha * y)
    free = (alpha > bound_tol * C) & (alpha < (1.0 - bound_tol) * C)
    if np.any(free):
        return w, float(np.mean(y[free] - X[free] @ w))
    # alpha_i = 0 needs y_i (x_i w + b) >= 1, alpha_i = C needs <= 1: bounds on b
    offsets = y - X @ w  # the b that puts example i on the margin
    at_zero, at_C = alpha <= bound_tol * C, alpha >= (1.0 - bound_tol) * C
    lower = np.max(np.concatenate([offsets[at_zero & (y > 0)], offsets[at_C & (y < 0)], [-np.inf]]))
    upper = np.min(np.concatenate([offsets[at_zero & (y < 0)], offsets[at_C & (y > 0)], [np.inf]]))
    if not (np.isfinite(lower) and np.isfinite(upper)):
        raise ValueError("alpha does not determine b: no free support vector and an open interval.")
    return w, float(0.5 * (lower + upper))


def duality_gap(alpha, X, y, C) -> float:
    """``P(w, b) - D(alpha)`` with ``(w, b)`` from :func:`recover_primal` and the linear kernel.

    For any feasible ``alpha`` this is >= 0 (weak duality) and it bounds how far both
    ``(w, b)`` and ``alpha`` are from optimal in objective value.
    """
    X, y = _check_binary(X, y)
    w, b = recover_primal(alpha, X, y, C)
    return primal_objective(w, b, X, y, C) - dual_objective(alpha, X @ X.T, y, C)


def project_dual_feasible(v, y) -> np.ndarray:
    """Euclidean projection of ``v: (n,)`` onto ``{alpha >= 0, y^T alpha = 0}``.

    The projection is ``max(0, v - lam * y)`` for the ``lam`` that makes
    ``h(lam) = y^T max(0, v - lam * y)`` vanish; ``h`` is continuous, piecewise linear and
    non-increasing with kinks at ``lam = y_i v_i``, so the root is found exactly by locating
    its bracket among the sorted kinks and interpolating linearly.
    """
    y = _check_y(y)
    v = _check_alpha(v, y.shape[0], "v")
    kinks = np.unique(y * v)
    h = (y[None, :] * np.maximum(0.0, v[None, :] - kinks[:, None] * y[None, :])).sum(axis=1)
    # h(kinks[0]) >= 0 >= h(kinks[-1]): at the left end only positives, at the right end only
    # negatives contribute. So the root lies between two neighbouring kinks.
    if h[0] <= 0:
        lam = kinks[0]
    else:
        k = int(np.nonzero(h > 0)[0][-1])
        lam = kinks[k] + h[k] * (kinks[k + 1] - kinks[k]) / (h[k] - h[k + 1])
    return np.maximum(0.0, v - lam * y)


def solve_dual_with_slack_multipliers(
    G, y, C, alpha0, beta0, steps: int = 5000
) -> tuple[np.ndarray, np.ndarray]:
    """Projected gradient ascent on ``g(alpha, beta)``: ``alpha >= 0, y^T alpha = 0, beta >= 0``.

    This is the dual of the primal that keeps the constraints ``xi >= 0`` (multipliers
    ``beta``). Step ``1/L`` with ``L = lambda_max(Y G Y) + 2/C``, a bound on the curvature of
    ``-g``. Starts from ``(alpha0, beta0)`` (projected first). Returns ``(alpha, beta)``.
    """
    C = check_C(C)
    y = _check_y(y)
    n = y.shape[0]
    G = _check_gram(G, n)
    YGY = y[:, None] * y[None, :] * G
    steps = nonnegative_int(steps, "steps")
    step = 1.0 / (np.linalg.eigvalsh(YGY)[-1] + 2.0 / C)
    alpha = project_dual_feasible(_check_alpha(alpha0, n, "alpha0"), y)
    beta = np.maximum(0.0, _check_alpha(beta0, n, "beta0"))
    for _ in range(steps):
        shrink = (alpha + beta) / C
        alpha_ascent = 1.0 - YGY @ alpha - shrink
        alpha = project_dual_feasible(alpha + step * alpha_ascent, y)
        beta = np.maximum(0.0, beta - step * shrink)
    return alpha, beta


def solve_dual_by_active_sets(G, y, C, max_n: int = 14) -> np.ndarray:
    """Solve the dual by trying every support set ``S``: exponential, for tiny ``n`` only.

    For a candidate ``S`` the KKT conditions with ``alpha_i = 0`` off ``S`` are linear:
    ``Q_SS alpha_S + y_S b = 1`` and ``y_S^T alpha_S = 0``. A candidate is optimal when its
    solution has ``alpha_S >= 0`` and every ``i`` outside ``S`` satisfies
    ``y_i (x_i w + b) >= 1``; the KKT conditions are sufficient for this convex problem.
    Returns the first such ``alpha: (n,)``, trying smaller support sets first.
    """
    C = check_C(C)
    y = _check_y(y)
    n = y.shape[0]
    if n > positive_int(max_n, "max_n"):
        raise ValueError(f"brute force tries 2^n support sets; n = {n} > max_n = {max_n}.")
    G = _check_gram(G, n)
    Q = _dual_hessian(G, y, C)
    for size in range(1, n + 1):
        for support in combinations(range(n), size):
            S = list(support)
            system = np.zeros((size + 1, size + 1))
            system[:size, :size] = Q[np.ix_(S, S)]
            system[:size, size] = y[S]
            system[size, :size] = y[S]
            rhs = np.append(np.ones(size), 0.0)
            try:
                solution = np.linalg.solve(system, rhs)
            except np.linalg.LinAlgError:
                continue
            alpha = np.zeros(n)
            alpha[S] = solution[:size]
            b = solution[size]
            # y_i (x_i w + b) for alpha_i = 0 equals (Q alpha)_i + y_i b
            margins = Q @ alpha + y * b
            outside = np.setdiff1d(np.arange(n), S)
            if alpha.min() >= -1e-12 and np.all(margins[outside] >= 1.0 - 1e-12):
                return np.maximum(alpha, 0.0)
    raise RuntimeError("no support set satisfied the KKT conditions (this should not happen).")


__all__ = [
    "DualSolution",
    "PrimalSolution",
    "check_C",
    "check_pm1_labels",
    "dual_function",
    "dual_objective",
    "dual_objective_l1",
    "duality_gap",
    "lagrangian",
    "primal_gradient",
    "primal_objective",
    "primal_objective_l1",
    "project_dual_feasible",
    "recover_primal",
    "recover_primal_l1",
    "slacks",
    "solve_dual",
    "solve_dual_by_active_sets",
    "solve_dual_l1",
    "solve_dual_with_slack_multipliers",
    "solve_primal",
]
