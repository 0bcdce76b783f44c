"""Tests for mlderive.svm: the squared-slack SVM, its Lagrangian and its dual."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mlderive import svm
from mlderive.gradcheck import gradcheck

# ----------------------------------------------------------------------------------------------
# Binary SVM with squared slack
# ----------------------------------------------------------------------------------------------


def binary_problem(n: int, d: int, seed: int, noise: float = 0.7):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.where(X @ rng.normal(size=d) + noise * rng.normal(size=n) > 0, 1.0, -1.0)
    if np.all(y == y[0]):
        y[0] = -y[0]
    return X, y


def test_binary_labels_and_C_are_checked():
    X, y = binary_problem(6, 2, 0)
    with pytest.raises(ValueError, match="Map 0/1 labels"):
        svm.solve_primal(X, (y + 1) / 2, 1.0)
    with pytest.raises(ValueError, match="both classes"):
        svm.solve_primal(X, np.ones(6), 1.0)
    with pytest.raises(ValueError, match=r"shape \(6,\)"):
        svm.solve_primal(X, y[:5], 1.0)
    for bad_C in [0.0, -1.0, np.inf, np.nan]:
        with pytest.raises(ValueError, match="C must be a finite number > 0"):
            svm.solve_dual(X @ X.T, y, bad_C)
    with pytest.raises(ValueError, match=r"\(n, n\)"):
        svm.solve_dual(X.T @ X, y, 1.0)
    with pytest.raises(ValueError, match=r"w must have shape \(2,\)"):
        svm.primal_objective(np.zeros(3), 0.0, X, y, 1.0)
    with pytest.raises(ValueError, match="no positive entry"):
        svm.recover_primal(np.zeros(6), X, y, 1.0)
    with pytest.raises(ValueError, match="max_n"):
        svm.solve_dual_by_active_sets(np.eye(20), np.tile([1.0, -1.0], 10), 1.0)


def test_primal_objective_matches_its_definition():
    X, y = binary_problem(5, 2, 1)
    w, b, C = np.array([0.3, -0.2]), 0.1, 2.5
    xi = np.maximum(0, 1 - y * (X @ w + b))
    assert svm.primal_objective(w, b, X, y, C) == pytest.approx(0.5 * w @ w + 0.5 * C * xi @ xi)


@pytest.mark.parametrize("seed", range(5))
def test_primal_gradient_passes_a_gradient_check(seed):
    X, y = binary_problem(30, 3, seed)
    theta = np.random.default_rng(seed).normal(size=4)
    C = 1.7

    def objective(t):
        return svm.primal_objective(t[:3], t[3], X, y, C)

    grad_w, grad_b = svm.primal_gradient(theta[:3], theta[3], X, y, C)
    assert gradcheck(objective, theta, np.append(grad_w, grad_b)) < 1e-7


@pytest.mark.parametrize("C", [0.05, 1.0, 20.0])
def test_primal_and_dual_solvers_agree(C):
    X, y = binary_problem(120, 4, 5)
    primal = svm.solve_primal(X, y, C)
    dual = svm.solve_dual(X @ X.T, y, C, tol=1e-10)
    p_value = svm.primal_objective(primal.w, primal.b, X, y, C)
    d_value = svm.dual_objective(dual.alpha, X @ X.T, y, C)
    assert abs(p_value - d_value) < 1e-8
    w, b = svm.recover_primal(dual.alpha, X, y, C)
    np.testing.assert_allclose(w, primal.w, atol=1e-8)
    assert b == pytest.approx(primal.b, abs=1e-8)
    np.testing.assert_allclose(svm.slacks(primal.w, primal.b, X, y), dual.alpha / C, atol=1e-8)
    assert abs(svm.duality_gap(dual.alpha, X, y, C)) < 1e-8
    support = dual.alpha > 0
    kkt = y[support] * (X[support] @ w + b) - (1 - dual.alpha[support] / C)
    assert np.max(np.abs(kkt)) < 1e-8
    assert abs(y @ dual.alpha) < 1e-10 and dual.alpha.min() >= 0


def test_smo_solves_a_two_point_problem_in_one_exact_step():
    # y = (+1, -1): alpha_1 = alpha_2 = a and D(a) = 2a - a^2 (||x1 - x2||^2 + 2/C) / 2
    X, y, C = np.array([[1.0, 2.0], [-0.5, 0.3]]), np.array([1.0, -1.0]), 0.7
    expected = 2.0 / (np.sum((X[0] - X[1]) ** 2) + 2.0 / C)
    solution = svm.solve_dual(X @ X.T, y, C, tol=1e-14)
    np.testing.assert_allclose(solution.alpha, [expected, expected], rtol=1e-14)
    assert solution.iterations == 1


def test_primal_solver_reports_failure_to_converge():
    X, y = binary_problem(20, 2, 6)
    with pytest.raises(RuntimeError, match="did not reach"):
        svm.solve_primal(X, y, 1.0, max_iter=0)
    with pytest.raises(RuntimeError, match="Raise max_iter"):
        svm.solve_dual(X @ X.T, y, 1.0, max_iter=1)


@pytest.mark.parametrize("seed", range(6))
def test_brute_force_active_sets_agree_with_smo(seed):
    X, y = binary_problem(6, 2, 10 + seed, noise=1.5)
    C = [0.3, 1.0, 5.0][seed % 3]
    brute = svm.solve_dual_by_active_sets(X @ X.T, y, C)
    smo = svm.solve_dual(X @ X.T, y, C, tol=1e-12).alpha
    np.testing.assert_allclose(brute, smo, atol=1e-9)


def test_brute_force_rejects_a_support_set_that_leaves_a_point_inside_the_margin():
    # The pair {x = 2, x = -2} alone gives w ~ 0.5, b = 0: x = 0.5 is classified correctly but
    # sits inside the margin (y w x = 0.25 < 1), so it must be a support vector too.
    X, y, C = np.array([[2.0], [-2.0], [0.5]]), np.array([1.0, -1.0, 1.0]), 10.0
    alpha = svm.solve_dual_by_active_sets(X @ X.T, y, C)
    assert alpha[2] > 0
    np.testing.assert_allclose(alpha, svm.solve_dual(X @ X.T, y, C, tol=1e-13).alpha, atol=1e-10)


@given(
    hnp.arrays(np.float64, 8, elements=st.floats(-5, 5)),
    st.lists(st.sampled_from([-1.0, 1.0]), min_size=8, max_size=8),
    st.integers(0, 2**32 - 1),
)
@settings(max_examples=100, deadline=None)
def test_projection_is_feasible_and_closest(v, labels, seed):
    y = np.array(labels)
    if np.all(y == y[0]):
        y[0] = -y[0]
    p = svm.project_dual_feasible(v, y)
    assert p.min() >= 0 and abs(y @ p) < 1e-9
    # variational inequality: (v - p)^T (u - p) <= 0 for every feasible u
    rng = np.random.default_rng(seed)
    for _ in range(5):
        u = svm.project_dual_feasible(rng.normal(scale=3, size=8), y)
        assert (v - p) @ (u - p) <= 1e-8


@given(st.integers(0, 2**32 - 1), st.floats(0.01, 100.0))
@settings(max_examples=100, deadline=None)
def test_weak_duality_for_any_feasible_pair(seed, C):
    X, y = binary_problem(15, 3, seed % 1000)
    rng = np.random.default_rng(seed)
    alpha = svm.project_dual_feasible(rng.exponential(size=15), y)
    w, b = rng.normal(size=3), rng.normal()
    dual_value = svm.dual_objective(alpha, X @ X.T, y, C)
    assert svm.primal_objective(w, b, X, y, C) >= dual_value - 1e-9
    if alpha.max() > 0:
        assert svm.duality_gap(alpha, X, y, C) >= -1e-9


def test_dual_function_is_the_minimum_of_the_lagrangian():
    X, y = binary_problem(10, 3, 7)
    rng = np.random.default_rng(7)
    C = 2.0
    alpha = svm.project_dual_feasible(rng.exponential(size=10), y)
    beta = rng.exponential(size=10)
    g = svm.dual_function(alpha, beta, X @ X.T, y, C)
    w_star, xi_star = X.T @ (alpha * y), (alpha + beta) / C
    for b in [-3.0, 0.0, 5.0]:  # b drops out when y^T alpha = 0
        assert svm.lagrangian(w_star, b, xi_star, alpha, beta, X, y, C) == pytest.approx(g)
    for _ in range(20):
        w, b, xi = rng.normal(size=3), rng.normal(), rng.normal(size=10)
        assert svm.lagrangian(w, b, xi, alpha, beta, X, y, C) >= g - 1e-12
    off = alpha + 0.1 * (y > 0)
    assert svm.dual_function(off, beta, X @ X.T, y, C) == -np.inf


def test_dual_with_slack_multipliers_drives_beta_to_zero():
    X, y = binary_problem(30, 2, 8)
    rng = np.random.default_rng(8)
    alpha, beta = svm.solve_dual_with_slack_multipliers(
        X @ X.T, y, 1.0, rng.exponential(size=30), rng.exponential(size=30), steps=3000
    )
    assert np.max(beta) < 1e-20
    np.testing.assert_allclose(alpha, svm.solve_dual(X @ X.T, y, 1.0).alpha, atol=1e-7)


def test_margin_width_shrinks_as_C_grows():
    X, y = binary_problem(80, 2, 9, noise=1.0)
    widths = [2 / np.linalg.norm(svm.solve_primal(X, y, C).w) for C in np.geomspace(0.01, 100, 9)]
    assert np.all(np.diff(widths) <= 1e-12)


def test_solve_primal_at_width_finds_the_C_of_a_given_width():
    X, y = binary_problem(80, 2, 9, noise=1.0)
    for C_target in (0.01, 0.3, 5.0):
        width = 2 / np.linalg.norm(svm.solve_primal(X, y, C_target).w)
        C, solution = svm.solve_primal_at_width(X, y, width)
        assert abs(2 / np.linalg.norm(solution.w) - width) < 1e-7 * width
        assert abs(np.log(C / C_target)) < 1e-3
        assert np.allclose(solution.w, svm.solve_primal(X, y, C).w)


def test_solve_primal_at_width_refuses_unreachable_widths():
    X, y = binary_problem(80, 2, 9, noise=1.0)
    narrowest = 2 / np.linalg.norm(svm.solve_primal(X, y, 1e3).w)
    with pytest.raises(ValueError, match="cannot be reached"):
        svm.solve_primal_at_width(X, y, 0.5 * narrowest)
    with pytest.raises(ValueError, match="C_low"):
        svm.solve_primal_at_width(X, y, narrowest, C_low=10.0, C_high=1.0)
    with pytest.raises(ValueError, match="width"):
        svm.solve_primal_at_width(X, y, -1.0)


# ----------------------------------------------------------------------------------------------
# The usual soft margin (L1 slack): the box-constrained dual
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "C"), [(0, 0.1), (1, 1.0), (2, 10.0)])
def test_l1_dual_solver_closes_the_duality_gap_and_meets_kkt(seed, C):
    X, y = binary_problem(60, 3, seed)
    G = X @ X.T
    solution = svm.solve_dual_l1(G, y, C, tol=1e-11)
    alpha = solution.alpha
    assert alpha.min() >= 0.0 and alpha.max() <= C and abs(y @ alpha) < 1e-10 * (1 + C)
    w, b = svm.recover_primal_l1(alpha, X, y, C)
    primal, dual = svm.primal_objective_l1(w, b, X, y, C), svm.dual_objective_l1(alpha, G, y)
    assert -1e-9 <= primal - dual < 1e-7 * (1 + abs(primal))  # weak duality, then equality
    margins = y * (X @ w + b)
    assert np.all(margins[alpha == 0] >= 1 - 1e-7)
    assert np.all(margins[alpha == C] <= 1 + 1e-7)
    free = (alpha > 0) & (alpha < C)
    assert np.allclose(margins[free], 1, atol=1e-7)


def test_l1_dual_lands_exactly_on_the_bound_c():
    X, y = binary_problem(80, 2, 3, noise=2.0)  # overlapping classes: many margin violations
    alpha = svm.solve_dual_l1(X @ X.T, y, 0.5).alpha
    assert np.sum(alpha == 0.5) >= 5 and np.sum(alpha == 0.0) >= 5


def test_squared_slack_multipliers_exceed_c_where_the_slack_exceeds_one():
    X, y = binary_problem(80, 2, 3, noise=2.0)
    C = 0.5
    alpha = svm.solve_dual(X @ X.T, y, C, tol=1e-11).alpha
    w, b = svm.recover_primal(alpha, X, y, C)
    xi = svm.slacks(w, b, X, y)
    assert np.array_equal(alpha > C + 1e-9, xi > 1 + 1e-9) and np.any(alpha > C)


def test_l1_dual_with_duplicated_points_still_converges():
    X, y = binary_problem(20, 2, 4)
    X, y = np.vstack([X, X[:3]]), np.concatenate([y, y[:3]])  # zero pair curvature
    solution = svm.solve_dual_l1(X @ X.T, y, 1.0)
    assert solution.violation <= 1e-10


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), C=st.floats(0.01, 100.0))
def test_l1_dual_stays_in_the_box(seed, C):
    X, y = binary_problem(15, 2, seed)
    alpha = svm.solve_dual_l1(X @ X.T, y, C, tol=1e-9).alpha
    assert alpha.min() >= 0.0 and alpha.max() <= C
    assert abs(y @ alpha) <= 1e-9 * (1 + alpha.sum())
