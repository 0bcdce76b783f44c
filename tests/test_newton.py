"""Tests for mlderive.newton: least squares, Cholesky solves, gradient descent, IRLS."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlderive import logistic as lg
from mlderive import newton as nt
from mlderive.gradcheck import gradcheck


def regression(seed: int = 0, n: int = 60, d: int = 5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + 0.1 * rng.normal(size=n)
    return X, y, rng


def singular_regression():
    """A design with a duplicated column, so X^T X has a null direction (1, -1, 0, ...)."""
    X, y, rng = regression(1)
    X = np.column_stack([X, X[:, 0]])
    return X, y, rng


def relative(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


# ----------------------------------------------------------------------- Cholesky solve


def test_cholesky_solve_solves_spd_systems():
    rng = np.random.default_rng(2)
    A = rng.normal(size=(6, 6))
    H = A @ A.T + 0.1 * np.eye(6)
    g = rng.normal(size=6)
    assert relative(nt.cholesky_solve(H, g), np.linalg.solve(H, g)) < 1e-12


@pytest.mark.parametrize(
    "H",
    [np.diag([1.0, 0.0]), np.diag([1.0, -1.0]), np.diag([1.0, 1e-14])],
    ids=["singular", "indefinite", "ill-conditioned"],
)
def test_cholesky_solve_refuses_singular_and_ill_conditioned_matrices(H):
    with pytest.raises(nt.SingularHessianError, match="ridge"):
        nt.cholesky_solve(H, np.ones(2))


def test_cholesky_solve_checks_shapes_and_values():
    with pytest.raises(ValueError, match="shape"):
        nt.cholesky_solve(np.eye(3), np.ones(2))
    with pytest.raises(ValueError, match="NaN"):
        nt.cholesky_solve(np.array([[1.0, np.nan], [np.nan, 1.0]]), np.ones(2))


# ------------------------------------------------------------------------ least squares


@pytest.mark.parametrize("ridge", [0.0, 0.7])
def test_gradient_and_hessian_match_finite_differences(ridge):
    X, y, rng = regression()
    w = rng.normal(size=X.shape[1])
    gradient = nt.least_squares_gradient(X, y, w, ridge)
    assert gradcheck(lambda v: nt.least_squares_loss(X, y, v, ridge), w, gradient) < 1e-7
    hessian = nt.least_squares_hessian(X, ridge)
    assert gradcheck(lambda v: nt.least_squares_gradient(X, y, v, ridge), w, hessian) < 1e-7


def test_solve_least_squares_matches_lstsq():
    X, y, _ = regression()
    assert relative(nt.solve_least_squares(X, y), np.linalg.lstsq(X, y, rcond=None)[0]) < 1e-12


def test_one_newton_step_from_any_start_lands_on_the_minimiser():
    X, y, rng = regression(3)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    for scale in [1e-3, 1.0, 100.0]:
        w0 = scale * rng.normal(size=X.shape[1])
        assert relative(nt.newton_step_least_squares(X, y, w0), w_star) < 1e-10


def test_newton_step_with_ridge_zeroes_the_ridge_gradient():
    X, y, rng = regression(4)
    w1 = nt.newton_step_least_squares(X, y, rng.normal(size=X.shape[1]), ridge=0.5)
    assert np.linalg.norm(nt.least_squares_gradient(X, y, w1, ridge=0.5)) < 1e-12
    assert relative(w1, nt.solve_least_squares(X, y, ridge=0.5)) < 1e-12


def test_singular_hessian_raises_by_default():
    X, y, rng = singular_regression()
    with pytest.raises(nt.SingularHessianError, match="lstsq"):
        nt.solve_least_squares(X, y)
    with pytest.raises(nt.SingularHessianError, match="ridge"):
        nt.newton_step_least_squares(X, y, rng.normal(size=X.shape[1]))


def test_lstsq_fallback_returns_the_minimum_norm_minimiser():
    X, y, _ = singular_regression()
    w = nt.solve_least_squares(X, y, on_singular="lstsq")
    assert np.all(np.isfinite(w))
    assert np.linalg.norm(nt.least_squares_gradient(X, y, w)) < 1e-10
    assert np.isclose(w[0], w[-1])  # minimum norm splits the weight between the twin columns


def test_lstsq_fallback_with_a_ridge_solves_the_ridge_problem():
    # H = diag(1e-7, 1, 1e6); with ridge 1e-7 its condition number 5e12 is above the limit
    rng = np.random.default_rng(12)
    n, eigenvalues, ridge = 50, np.array([1e-7, 1.0, 1e6]), 1e-7
    X = np.sqrt(n) * np.linalg.qr(rng.normal(size=(n, 3)))[0] * np.sqrt(eigenvalues)
    y = rng.normal(size=n)
    with pytest.raises(nt.SingularHessianError):
        nt.solve_least_squares(X, y, ridge=ridge)
    w = nt.solve_least_squares(X, y, ridge=ridge, on_singular="lstsq")
    expected = (X.T @ y / n) / (eigenvalues + ridge)  # H + ridge I is diagonal here
    assert relative(w, expected) < 1e-6


def test_newton_fallback_moves_to_the_nearest_minimiser():
    X, y, rng = singular_regression()
    w0 = rng.normal(size=X.shape[1])
    w1 = nt.newton_step_least_squares(X, y, w0, on_singular="lstsq")
    assert np.linalg.norm(nt.least_squares_gradient(X, y, w1)) < 1e-10
    null_direction = np.zeros(X.shape[1])
    null_direction[[0, -1]] = [1.0, -1.0]
    # the step has no component along the null space: w0's null-space part is kept
    assert abs((w1 - w0) @ null_direction) < 1e-10


def test_bad_inputs_are_rejected():
    X, y, _ = regression()
    w = np.zeros(X.shape[1])
    with pytest.raises(ValueError, match="y must have shape"):
        nt.newton_step_least_squares(X, y[:-1], w)
    with pytest.raises(ValueError, match="w must have shape"):
        nt.newton_step_least_squares(X, y, w[:-1])
    with pytest.raises(ValueError, match="X must be 2-D"):
        nt.solve_least_squares(X[0], y)
    with pytest.raises(ValueError, match="ridge"):
        nt.least_squares_hessian(X, ridge=-1.0)
    with pytest.raises(ValueError, match="on_singular"):
        nt.solve_least_squares(X, y, on_singular="pinv")


# ---------------------------------------------------------------------- gradient descent


def test_gradient_descent_converges_within_the_predicted_count():
    rng = np.random.default_rng(5)
    eigenvalues = np.geomspace(0.01, 1.0, 8)
    X = nt.design_with_spectrum(eigenvalues, 40, rng)
    y = rng.normal(size=40)
    run = nt.gradient_descent_least_squares(X, y, rng.normal(size=8), tol=1e-8)
    assert run.converged and run.errors[-1] <= 1e-8
    assert np.all(np.diff(run.errors) <= 1e-15)  # step 1/L never increases the error
    predicted = nt.predict_gd_steps(eigenvalues, tol=1e-8)
    assert 0.5 * predicted <= run.steps <= predicted <= 100 * math.log(1e8)


def test_predicted_count_is_exact_for_the_worst_start():
    rng = np.random.default_rng(6)
    eigenvalues = np.array([0.05, 0.3, 1.0])
    X = nt.design_with_spectrum(eigenvalues, 20, rng)
    y = rng.normal(size=20)
    w_star = nt.solve_least_squares(X, y)
    slowest = np.linalg.eigh(nt.least_squares_hessian(X))[1][:, 0]
    run = nt.gradient_descent_least_squares(X, y, w_star + slowest, tol=1e-6)
    assert run.steps == nt.predict_gd_steps(eigenvalues, tol=1e-6)


def test_prediction_formulas():
    eigenvalues = np.array([0.1, 0.5, 1.0])  # kappa = 10
    tol = 1e-8
    assert nt.predict_gd_steps(eigenvalues, tol) == math.ceil(math.log(tol) / math.log(0.9))
    optimal = nt.predict_gd_steps(eigenvalues, tol, step=2 / 1.1)
    assert optimal == math.ceil(math.log(tol) / math.log(9 / 11))
    assert nt.predict_gd_steps(np.ones(3), tol) == 1  # kappa = 1: one step is exact


def test_gradient_descent_reports_non_convergence_and_rejects_bad_steps():
    X, y, rng = regression(7)
    w0 = rng.normal(size=X.shape[1])
    run = nt.gradient_descent_least_squares(X, y, w0, tol=1e-14, max_steps=3)
    assert not run.converged and run.steps == 3
    largest = np.linalg.eigvalsh(nt.least_squares_hessian(X))[-1]
    with pytest.raises(ValueError, match="2/L"):
        nt.gradient_descent_least_squares(X, y, w0, step=2.5 / largest)
    with pytest.raises(ValueError, match="w_star"):
        nt.gradient_descent_least_squares(X, y, w0, w_star=np.zeros(2))


def test_prediction_rejects_singular_spectra_and_divergent_steps():
    with pytest.raises(ValueError, match="singular"):
        nt.predict_gd_steps(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="does not converge"):
        nt.predict_gd_steps(np.array([0.5, 1.0]), step=2.5)
    with pytest.raises(ValueError, match="tol"):
        nt.predict_gd_steps(np.array([0.5, 1.0]), tol=2.0)


def test_design_with_spectrum_realises_the_eigenvalues():
    rng = np.random.default_rng(8)
    eigenvalues = np.array([1e-3, 0.2, 0.5, 4.0])
    X = nt.design_with_spectrum(eigenvalues, 30, rng)
    assert np.allclose(np.linalg.eigvalsh(X.T @ X / 30), eigenvalues, rtol=1e-10)
    with pytest.raises(ValueError, match="at least d"):
        nt.design_with_spectrum(eigenvalues, 3, rng)


# -------------------------------------------------------------------------- IRLS


def logistic_problem(seed: int = 9, n: int = 300, d: int = 3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    p = 1 / (1 + np.exp(-(X @ rng.normal(size=d) + 0.2)))
    return X, (rng.random(n) < p).astype(int)


@pytest.mark.parametrize("l2", [0.0, 0.1])
def test_irls_reaches_a_stationary_point_quadratically(l2):
    X, y = logistic_problem()
    history = nt.irls_logistic(X, y, l2=l2)
    assert history.converged and len(history.gradient_norms) < 15
    dw, db = lg.gradients(history.w, history.b, X, y, l2)
    assert np.linalg.norm(np.append(dw, db)) <= 1e-12
    errors = np.linalg.norm(history.iterates[:-1] - history.iterates[-1], axis=1)
    late = (errors[:-1] < 0.1) & (errors[1:] > 1e-13)
    assert late.sum() >= 2
    assert np.all(errors[1:][late] <= 5.0 * errors[:-1][late] ** 2)


def test_first_irls_step_is_a_weighted_least_squares_solve():
    X, y = logistic_problem(10)
    history = nt.irls_logistic(X, y, max_iter=1)
    A = np.column_stack([X, np.ones(len(y))])
    weights = np.full(len(y), 0.25)  # p (1 - p) at theta = 0, where p = 1/2
    working_response = (y - 0.5) / weights
    sqrt_w = np.sqrt(weights)
    expected = np.linalg.lstsq(A * sqrt_w[:, None], working_response * sqrt_w, rcond=None)[0]
    assert relative(history.iterates[1], expected) < 1e-12
    assert not history.converged


def test_irls_on_separable_data_needs_l2():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(100, 2))
    y = (X @ np.array([1.0, -2.0]) > 0).astype(int)
    with pytest.raises(ValueError, match="separable"):
        nt.irls_logistic(X, y, max_iter=100)
    assert nt.irls_logistic(X, y, l2=1e-2).converged


def test_irls_rejects_bad_input():
    X, y = logistic_problem()
    with pytest.raises(ValueError, match="binary labels"):
        nt.irls_logistic(X, y + 1)
    with pytest.raises(ValueError, match="l2"):
        nt.irls_logistic(X, y, l2=-1.0)
    with pytest.raises(ValueError, match="y must have shape"):
        nt.irls_logistic(X, y[:-1])


@pytest.mark.parametrize("l2", [0.0, 0.1])
def test_weighted_least_squares_form_equals_the_newton_step(l2):
    X, y = logistic_problem(11)
    rng = np.random.default_rng(12)
    for _ in range(5):
        w, b = 0.5 * rng.normal(size=X.shape[1]), float(rng.normal())
        step = nt.irls_weighted_least_squares_step(w, b, X, y, l2)
        dw, db = lg.gradients(w, b, X, y, l2)
        newton = np.append(w, b) - nt.cholesky_solve(lg.hessian(w, b, X, l2), np.append(dw, db))
        assert relative(step.theta, newton) < 1e-10
        p = 1 / (1 + np.exp(-(X @ w + b)))
        assert np.allclose(step.weights, p * (1 - p))
        assert np.allclose(step.weights * (step.response - (X @ w + b)), y - p)


def test_weighted_least_squares_step_refuses_saturated_probabilities():
    X, y = logistic_problem(13)
    with pytest.raises(ValueError, match="working response"):
        nt.irls_weighted_least_squares_step(np.full(X.shape[1], 1e3), 0.0, X, y)
    with pytest.raises(ValueError, match="shape"):
        nt.irls_weighted_least_squares_step(np.zeros(X.shape[1] + 1), 0.0, X, y)


# ------------------------------------------------ loss gaps, exact curves, conjugate gradients


def test_gradient_descent_records_the_loss_gap():
    X, y, rng = regression(8)
    w0 = rng.normal(size=X.shape[1])
    run = nt.gradient_descent_least_squares(X, y, w0, tol=1e-6, ridge=0.1)
    w_star = nt.solve_least_squares(X, y, ridge=0.1)
    best = nt.least_squares_loss(X, y, w_star, ridge=0.1)
    gap = (nt.least_squares_loss(X, y, run.w, ridge=0.1) - best) / (
        nt.least_squares_loss(X, y, w0, ridge=0.1) - best
    )
    assert run.loss_gaps.shape == run.errors.shape and run.loss_gaps[0] == 1.0
    assert abs(run.loss_gaps[-1] - gap) < 1e-9
    assert np.all(np.diff(run.loss_gaps) <= 1e-15)  # step 1/L never increases the loss


def test_curves_match_gradient_descent_step_by_step():
    rng = np.random.default_rng(9)
    eigenvalues = np.geomspace(1e-3, 1.0, 6)
    X = nt.design_with_spectrum(eigenvalues, 30, rng)
    y = rng.normal(size=30)
    w0, w_star = rng.normal(size=6), nt.solve_least_squares(X, y)
    run = nt.gradient_descent_least_squares(X, y, w0, max_steps=300, w_star=w_star)
    H = nt.least_squares_hessian(X)
    curves = nt.gradient_descent_curves(H, w0, w_star, np.arange(301))
    assert np.allclose(curves.errors, run.errors, rtol=1e-9, atol=1e-14)
    assert np.allclose(curves.loss_gaps, run.loss_gaps, rtol=1e-7, atol=1e-14)
    step = 1.5 / eigenvalues.max()
    run_long = nt.gradient_descent_least_squares(X, y, w0, step=step, max_steps=50, w_star=w_star)
    by_curves = nt.gradient_descent_curves(H, w0, w_star, np.array([50]), step=step)
    assert abs(by_curves.errors[0] - run_long.errors[-1]) < 1e-9


def test_curves_weight_components_by_their_curvature():
    H = np.diag([1.0, 1e-4])
    w_star = np.zeros(2)
    curves = nt.gradient_descent_curves(H, np.array([1.0, 1.0]), w_star, np.array([0, 100]))
    # after 100 steps of size 1: the steep component is gone, the flat one almost untouched
    assert curves.errors[0] == 1.0 and curves.loss_gaps[0] == 1.0
    assert abs(curves.errors[1] - (1 - 1e-4) ** 100 / math.sqrt(2)) < 1e-12
    assert abs(curves.loss_gaps[1] - 1e-4 * (1 - 1e-4) ** 200 / (1 + 1e-4)) < 1e-15


def test_curves_reject_bad_input():
    H = np.eye(2)
    with pytest.raises(ValueError, match="steps"):
        nt.gradient_descent_curves(H, np.ones(2), np.zeros(2), np.array([1.5]))
    with pytest.raises(ValueError, match="steps"):
        nt.gradient_descent_curves(H, np.ones(2), np.zeros(2), np.array([-1]))
    with pytest.raises(ValueError, match="not the Hessian"):
        nt.gradient_descent_curves(np.diag([1.0, -1.0]), np.ones(2), np.zeros(2), np.array([1]))
    with pytest.raises(ValueError, match="2/L"):
        nt.gradient_descent_curves(H, np.ones(2), np.zeros(2), np.array([1]), step=2.0)
    with pytest.raises(ValueError, match="no gap"):
        nt.gradient_descent_curves(H, np.zeros(2), np.zeros(2), np.array([1]))
    with pytest.raises(ValueError, match="shape"):
        nt.gradient_descent_curves(H, np.ones(3), np.zeros(2), np.array([1]))


def test_conjugate_gradients_end_in_at_most_d_steps():
    X, y, rng = regression(10)
    run = nt.conjugate_gradient_least_squares(X, y, rng.normal(size=X.shape[1]), tol=1e-10)
    assert run.converged and run.steps <= X.shape[1] + 1
    assert relative(run.w, nt.solve_least_squares(X, y)) < 1e-9
    assert np.all(np.diff(run.loss_gaps) <= 1e-12)  # each step minimises J on a larger space


@pytest.mark.parametrize("kappa", [10.0, 1e3, 1e5])
def test_conjugate_gradients_need_about_sqrt_kappa_steps(kappa):
    rng = np.random.default_rng(11)
    eigenvalues = np.concatenate([[1 / kappa, 1.0], rng.uniform(1 / kappa, 1.0, size=398)])
    X = nt.design_with_spectrum(eigenvalues, 400, rng)
    y = rng.normal(size=400)
    tol = 1e-6
    run = nt.conjugate_gradient_least_squares(X, y, np.zeros(400), tol=tol)
    # ||e_t|| / ||e_0|| <= sqrt(kappa) ||e_t||_H / ||e_0||_H <= 2 sqrt(kappa) q^t with
    # q = (sqrt(kappa) - 1) / (sqrt(kappa) + 1) and ln(1/q) >= 2 / sqrt(kappa)
    bound = math.sqrt(kappa) / 2 * math.log(2 * math.sqrt(kappa) / tol)
    gd = nt.predict_gd_steps(eigenvalues, tol)
    assert run.converged and run.steps <= bound + 1 and run.steps < gd


def test_conjugate_gradients_report_non_convergence_and_bad_input():
    X, y, rng = regression(12)
    w0 = rng.normal(size=X.shape[1])
    run = nt.conjugate_gradient_least_squares(X, y, w0, tol=1e-14, max_steps=2)
    assert not run.converged and run.steps == 2
    with pytest.raises(ValueError, match="w_star"):
        nt.conjugate_gradient_least_squares(X, y, w0, w_star=np.zeros(2))
    with pytest.raises(ValueError, match="tol"):
        nt.conjugate_gradient_least_squares(X, y, w0, tol=0.0)
    start = nt.conjugate_gradient_least_squares(X, y, nt.solve_least_squares(X, y))
    assert start.converged and start.steps == 0
