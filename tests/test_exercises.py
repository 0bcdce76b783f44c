"""Every self-check passes a correct implementation and catches typical wrong ones with a hint.

For each check: one correct implementation (must pass), at least two wrong ones taken from the
mistakes the book discusses (must fail, and the printed hint must name the bug), a skeleton
that raises NotImplementedError (a calm "not attempted" verdict) and, for some, code that
crashes (a FAIL verdict, never an exception).
"""

import numpy as np
import pytest

from mlderive import exercises as ex
from mlderive.functions import sigmoid as package_sigmoid
from mlderive.functions import softmax, softmax_jacobian
from mlderive.relu_networks import max2_four_units, max2_three_units


def skeleton(*args):
    raise NotImplementedError


# ---- softmax ---------------------------------------------------------------------------------


def softmax_ok(Z):
    e = np.exp(Z - Z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_overflows(Z):
    e = np.exp(Z)
    return e / e.sum(axis=-1, keepdims=True)


def softmax_wrong_axis(Z):
    e = np.exp(Z - Z.max())
    return e / e.sum(axis=0, keepdims=True)


def softmax_whole_batch(Z):
    e = np.exp(Z - Z.max())
    return e / e.sum()


# ---- softmax Jacobian ------------------------------------------------------------------------


def jacobian_ok(z):
    p = softmax_ok(z)
    return np.diag(p) - np.outer(p, p)


def jacobian_diagonal_only(z):
    p = softmax_ok(z)
    return np.diag(p * (1 - p))


def jacobian_sign_flipped(z):
    p = softmax_ok(z)
    return np.outer(p, p) - np.diag(p)


# ---- cross-entropy ---------------------------------------------------------------------------


def ce_ok(Z, labels):
    shifted = Z - Z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels].mean()


def ce_naive_log(Z, labels):
    p = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    return -np.log(p[np.arange(len(labels)), labels]).mean()


def ce_sum(Z, labels):
    return ce_ok(Z, labels) * len(labels)


def ce_grad_ok(Z, Y):
    return (softmax_ok(Z) - Y) / Z.shape[0]


def ce_grad_double_jacobian(Z, Y):
    G = (softmax_ok(Z) - Y) / Z.shape[0]
    return np.stack([jacobian_ok(z) @ g for z, g in zip(Z, G, strict=True)])


def ce_grad_no_mean(Z, Y):
    return softmax_ok(Z) - Y


def ce_grad_sign(Z, Y):
    return (Y - softmax_ok(Z)) / Z.shape[0]


# ---- logistic and sigmoid --------------------------------------------------------------------


def sigmoid_ok(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_naive(x):
    return 1 / (1 + np.exp(-x))


def sigmoid_both_branches(x):
    return np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))


def sigmoid_wrong(x):
    return 1 / (1 + np.exp(-np.abs(x)))


def logistic_ok(w, X, y):
    return X.T @ (package_sigmoid(X @ w) - y) / X.shape[0]


def logistic_sign(w, X, y):
    return -logistic_ok(w, X, y)


def logistic_no_mean(w, X, y):
    return X.T @ (package_sigmoid(X @ w) - y)


def logistic_extra_factor(w, X, y):
    p = package_sigmoid(X @ w)
    return X.T @ ((p - y) * p * (1 - p)) / X.shape[0]


# ---- L2 and softmax regression ---------------------------------------------------------------


def l2_ok(W, lam):
    return lam * W


def l2_double(W, lam):
    return 2 * lam * W


def l2_half(W, lam):
    return lam / 2 * W


def l2_l1(W, lam):
    return lam * np.sign(W)


def sr_grads(W, b, X, labels, l2, scale=1.0, penalty=1.0, penalise_b=False, zero=False):
    n, K = X.shape[0], W.shape[1]
    G = softmax_ok(X @ W + b) - np.eye(K)[labels]
    if zero:
        return np.zeros_like(W), np.zeros_like(b)
    dW = X.T @ G / n * scale + penalty * l2 * W
    db = G.mean(axis=0) * scale + (l2 * b if penalise_b else 0)
    return dW, db


def sr_ok(W, b, X, labels, l2):
    return sr_grads(W, b, X, labels, l2)


def sr_no_mean(W, b, X, labels, l2):
    return sr_grads(W, b, X, labels, l2, scale=X.shape[0])


def sr_transposed(W, b, X, labels, l2):
    dW, db = sr_grads(W, b, X, labels, l2)
    return dW.T, db


def sr_report_algebra(W, b, X, labels, l2):
    # The report's last line, -x_j [p_k - p_k], is identically zero.
    return sr_grads(W, b, X, labels, l2, zero=True)


def sr_double_penalty(W, b, X, labels, l2):
    return sr_grads(W, b, X, labels, l2, penalty=2.0)


def sr_penalised_bias(W, b, X, labels, l2):
    return sr_grads(W, b, X, labels, l2, penalise_b=True)


# ---- Newton ----------------------------------------------------------------------------------


def newton_ok(X, y, w):
    n = X.shape[0]
    return w - np.linalg.solve(X.T @ X / n, X.T @ (X @ w - y) / n)


def newton_uphill(X, y, w):
    return 2 * w - newton_ok(X, y, w)


def newton_mismatched_n(X, y, w):
    n = X.shape[0]
    return w - np.linalg.solve(X.T @ X, X.T @ (X @ w - y) / n)


def newton_d_by_n(X, y, w):
    # The report's convention (X as d x n) applied to the book's (n x d) X.
    n = X.shape[0]
    return w - np.linalg.solve(X @ X.T / n, X @ (X.T @ w - y) / n)


# ---- hinge loss and SVM dual -----------------------------------------------------------------


def hinge_ok(W, X, labels):
    S = X @ W
    n = len(labels)
    A = S - S[np.arange(n), labels][:, None] + 1.0
    A[np.arange(n), labels] = 0.0
    return A.max(axis=1).mean()


def hinge_no_indicator(W, X, labels):
    S = X @ W
    return (S - S[np.arange(len(labels)), labels][:, None] + 1.0).max(axis=1).mean()


def hinge_sum_over_classes(W, X, labels):
    S = X @ W
    n = len(labels)
    A = S - S[np.arange(n), labels][:, None] + 1.0
    A[np.arange(n), labels] = 0.0
    return np.maximum(A, 0).sum(axis=1).mean()


def projected_ascent(G, y, C, steps=2000, squared_slack=True, project=True):
    from mlderive.svm import project_dual_feasible

    Q = (y[:, None] * y[None, :]) * G + (np.eye(len(y)) / C if squared_slack else 0)
    lr = 1.0 / np.linalg.eigvalsh(Q).max()
    alpha = np.zeros(len(y))
    for _ in range(steps):
        alpha = alpha + lr * (1.0 - Q @ alpha)
        alpha = project_dual_feasible(alpha, y) if project else np.maximum(alpha, 0.0)
    return alpha


def dual_ok(G, y, C):
    return projected_ascent(G, y, C)


def dual_hard_margin_kernel(G, y, C):
    return projected_ascent(G, y, C, steps=3000, squared_slack=False)


def dual_no_equality(G, y, C):
    return projected_ascent(G, y, C, steps=3000, project=False)


def dual_negative(G, y, C):
    return -dual_ok(G, y, C)


# ---- ReLU max --------------------------------------------------------------------------------


def report_layers(sign_of_last=-1.0, half=0.5):
    W1 = half * np.array([[1.0, 1.0, -1.0, -1.0], [1.0, -1.0, 1.0, -1.0]])
    W2 = np.array([[1.0], [1.0], [1.0], [sign_of_last]])
    return ((W1, np.zeros(4)), (W2, np.zeros(1)))


# ---- linear and conv backward ----------------------------------------------------------------


def linear_ok(G, X, W):
    return G @ W.T, X.T @ G, G.sum(axis=0)


def linear_transposed_dW(G, X, W):
    return G @ W.T, G.T @ X, G.sum(axis=0)


def linear_mean_db(G, X, W):
    return G @ W.T, X.T @ G, G.mean(axis=0)


def linear_crashes(G, X, W):
    return G @ W, X.T @ G, G.sum(axis=0)


def conv_grads(G, X, W, flip=True, batch=True, mean_db=False):
    n, C, H, Wd = X.shape
    F, _, kh, kw = W.shape
    Ho, Wo = G.shape[2:]
    dW = np.zeros_like(W)
    dX = np.zeros_like(X)
    Gpad = np.pad(G, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    kernel = W[:, :, ::-1, ::-1] if flip else W
    for i in range(n if batch else 1):
        for p in range(Ho):
            for q in range(Wo):
                dW += np.einsum("f,cuv->fcuv", G[i, :, p, q], X[i, :, p : p + kh, q : q + kw])
    for p in range(H):
        for q in range(Wd):
            dX[:, :, p, q] = np.einsum("nfuv,fcuv->nc", Gpad[:, :, p : p + kh, q : q + kw], kernel)
    db = G.mean(axis=(0, 2, 3)) if mean_db else G.sum(axis=(0, 2, 3))
    return dX, dW, db


def conv_ok(G, X, W):
    return conv_grads(G, X, W)


def conv_unflipped(G, X, W):
    return conv_grads(G, X, W, flip=False)


def conv_first_example_only(G, X, W):
    return conv_grads(G, X, W, batch=False)


def conv_mean_db(G, X, W):
    return conv_grads(G, X, W, mean_db=True)


# ---- Adam ------------------------------------------------------------------------------------


def adam_variant(correct=True, power_offset=0, eps_inside=False, store_hat=False):
    def step(p, g, m, v, t, lr, beta1, beta2, eps):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        c1 = 1 - beta1 ** (t + power_offset) if correct else 1.0
        c2 = 1 - beta2 ** (t + power_offset) if correct else 1.0
        m_hat, v_hat = m / c1, v / c2
        denominator = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
        p = p - lr * m_hat / denominator
        return (p, m_hat, v_hat) if store_hat else (p, m, v)

    return step


# ---- the table of checks ---------------------------------------------------------------------

CASES = {
    "softmax": (
        ex.check_softmax,
        softmax_ok,
        [
            (softmax_overflows, "overflow"),
            (softmax_wrong_axis, "ROW"),
            (softmax_whole_batch, "whole batch"),
        ],
    ),
    "softmax_jacobian": (
        ex.check_softmax_jacobian,
        jacobian_ok,
        [(jacobian_diagonal_only, "-p_i p_j"), (jacobian_sign_flipped, "sign is flipped")],
    ),
    "cross_entropy": (
        ex.check_cross_entropy,
        ce_ok,
        [(ce_naive_log, "log-softmax"), (ce_sum, "MEAN")],
    ),
    "cross_entropy_grad": (
        ex.check_cross_entropy_grad,
        ce_grad_ok,
        [
            (ce_grad_double_jacobian, "Jacobian"),
            (ce_grad_no_mean, "1/n"),
            (ce_grad_sign, "sign is flipped"),
        ],
    ),
    "sigmoid": (
        ex.check_sigmoid,
        sigmoid_ok,
        [
            (sigmoid_naive, "overflow"),
            (sigmoid_both_branches, "np.where evaluates both"),
            (sigmoid_wrong, "relative error"),
        ],
    ),
    "logistic_grad": (
        ex.check_logistic_grad,
        logistic_ok,
        [
            (logistic_sign, "sign is flipped"),
            (logistic_no_mean, "1/n"),
            (logistic_extra_factor, "p (1 - p)"),
        ],
    ),
    "l2_grad": (
        ex.check_l2_grad,
        l2_ok,
        [(l2_double, "cancels the 2"), (l2_half, "cancels the 1/2"), (l2_l1, "L1")],
    ),
    "softmax_regression_grad": (
        ex.check_softmax_regression_grad,
        sr_ok,
        [
            (sr_no_mean, "1/n"),
            (sr_transposed, "transposed"),
            (sr_report_algebra, "cancels everything"),
            (sr_double_penalty, "not 2 l2 W"),
            (sr_penalised_bias, "bias is not penalised"),
        ],
    ),
    "newton_step": (
        ex.check_newton_step,
        newton_ok,
        [
            (newton_uphill, "uphill"),
            (newton_mismatched_n, "same 1/n"),
            (newton_d_by_n, "one example per row"),
        ],
    ),
    "hinge_loss": (
        ex.check_hinge_loss,
        hinge_ok,
        [(hinge_no_indicator, "1[j != y_i]"), (hinge_sum_over_classes, "not the sum")],
    ),
    "svm_dual": (
        ex.check_svm_dual,
        dual_ok,
        [
            (dual_hard_margin_kernel, "G + I/C"),
            (dual_no_equality, "sum_i alpha_i y_i = 0"),
            (dual_negative, ">= 0"),
        ],
    ),
    "relu_max": (
        ex.check_relu_max,
        report_layers,
        [
            (lambda: report_layers(sign_of_last=1.0), "x1 + x2 < 0"),
            (lambda: report_layers(half=1.0), "twice the maximum"),
        ],
    ),
    "linear_backward": (
        ex.check_linear_backward,
        linear_ok,
        [
            (linear_transposed_dW, "transposed"),
            (linear_mean_db, "SUMS G"),
            (linear_crashes, "raised ValueError"),
        ],
    ),
    "conv_backward": (
        ex.check_conv_backward,
        conv_ok,
        [
            (conv_unflipped, "180 degrees"),
            (conv_first_example_only, "EVERY example"),
            (conv_mean_db, "does not average"),
        ],
    ),
    "adam_step": (
        ex.check_adam_step,
        adam_variant(),
        [
            (adam_variant(correct=False), "no bias correction"),
            (adam_variant(power_offset=1), "t counts from 1"),
            (adam_variant(eps_inside=True), "AFTER the square root"),
            (adam_variant(store_hat=True), "store the raw m"),
        ],
    ),
}


def test_there_are_at_least_twelve_checks():
    assert len(CASES) >= 12
    assert {f"check_{name}" for name in CASES} <= set(ex.__all__)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_correct_implementation_passes(name, capsys):
    check, correct, _ = CASES[name]
    result = check(correct)
    out = capsys.readouterr().out
    assert result and result.passed and result.status == "pass", out
    assert out.startswith(f"PASS {name}:") and out.count("\n") == 1


@pytest.mark.parametrize(
    "name, index", [(name, i) for name in sorted(CASES) for i in range(len(CASES[name][2]))]
)
def test_a_typical_wrong_implementation_fails_with_its_hint(name, index, capsys):
    check, _, wrong = CASES[name]
    implementation, hint = wrong[index]
    result = check(implementation)
    out = capsys.readouterr().out
    assert not result and result.status == "fail"
    assert out.startswith(f"FAIL {name}, case ") and "Hint:" in out
    assert hint in out, out
    assert result.case and result.case in out


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_check_catches_at_least_two_wrong_implementations(name):
    assert len(CASES[name][2]) >= 2


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_skeleton_is_not_attempted_and_never_raises(name, capsys):
    check = CASES[name][0]
    result = check(skeleton)
    out = capsys.readouterr().out
    assert result.status == "not attempted" and not result
    assert out.startswith(f"NOT ATTEMPTED {name}:")
    assert "Traceback" not in out


@pytest.mark.parametrize("name", sorted(set(CASES) - {"relu_max"}))
def test_a_crash_in_the_readers_code_is_a_verdict(name, capsys):
    def crashes(*args):
        return {}[0]

    result = CASES[name][0](crashes)
    out = capsys.readouterr().out
    assert result.status == "fail" and "raised KeyError" in out


def test_the_failure_names_the_input_shapes_and_the_worst_error(capsys):
    result = ex.check_cross_entropy_grad(ce_grad_no_mean)
    out = capsys.readouterr().out
    assert "shape (4, 3)" in result.case and "worst relative error" in out
    assert 0.1 < result.error <= 1.0


def test_the_hint_never_prints_the_expected_array(capsys):
    ex.check_softmax(softmax_wrong_axis)
    out = capsys.readouterr().out
    assert "[" not in out.split("Hint:")[1]  # no array printed in the hint


def test_the_package_s_own_functions_pass_their_checks():
    assert ex.check_softmax(softmax)
    assert ex.check_softmax_jacobian(softmax_jacobian)
    assert ex.check_sigmoid(package_sigmoid)
    assert ex.check_relu_max(max2_four_units())
    assert ex.check_relu_max(max2_three_units())


# ---- McNemar's exact test (check_mcnemar) ------------------------------------------------------


def _counts(a, b):
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    return int(np.sum(a & ~b)), int(np.sum(b & ~a)), a.size


def _binomial_tail(m, j):
    from math import comb

    return sum(comb(m, i) for i in range(j + 1)) / 2**m if j >= 0 else 0.0


def _normal_p(z):
    from statistics import NormalDist

    return 2 * (1 - NormalDist().cdf(abs(z)))


def mcnemar_ok(a, b):
    a_only, b_only, _ = _counts(a, b)
    return min(1.0, 2 * _binomial_tail(a_only + b_only, min(a_only, b_only)))


def mcnemar_one_sided(a, b):
    a_only, b_only, _ = _counts(a, b)
    return _binomial_tail(a_only + b_only, min(a_only, b_only))


def mcnemar_uncapped(a, b):
    a_only, b_only, _ = _counts(a, b)
    return 2 * _binomial_tail(a_only + b_only, min(a_only, b_only))


def mcnemar_normal(a, b):
    a_only, b_only, _ = _counts(a, b)
    return _normal_p((a_only - b_only) / np.sqrt(a_only + b_only))


def mcnemar_normal_corrected(a, b):
    a_only, b_only, _ = _counts(a, b)
    return _normal_p((abs(a_only - b_only) - 1) / np.sqrt(a_only + b_only))


def mcnemar_all_images(a, b):
    a_only, b_only, n = _counts(a, b)
    return min(1.0, 2 * _binomial_tail(n, min(a_only, b_only)))


def mcnemar_unpaired(a, b):
    p_a, p_b, n = np.mean(a), np.mean(b), len(a)
    return _normal_p((p_a - p_b) / np.sqrt((p_a * (1 - p_a) + p_b * (1 - p_b)) / n))


def mcnemar_strict_tail(a, b):
    a_only, b_only, _ = _counts(a, b)
    return min(1.0, 2 * _binomial_tail(a_only + b_only, min(a_only, b_only) - 1))


def mcnemar_a_only(a, b):
    a_only, b_only, _ = _counts(a, b)
    return min(1.0, 2 * _binomial_tail(a_only + b_only, a_only))


MCNEMAR_WRONG = [
    (mcnemar_one_sided, "one tail only"),
    (mcnemar_uncapped, "cap it"),
    (mcnemar_normal, "normal approximation"),
    (mcnemar_normal_corrected, "normal approximation"),
    (mcnemar_all_images, "not all n"),
    (mcnemar_unpaired, "independent"),
    (mcnemar_strict_tail, "not P(X < min)"),
    (mcnemar_a_only, "min(a_only, b_only)"),
]


def test_mcnemar_check_passes_a_correct_implementation_and_the_package(capsys):
    from mlderive.uncertainty import paired_difference

    assert ex.check_mcnemar(mcnemar_ok)
    assert ex.check_mcnemar(lambda a, b: paired_difference(a, b).p_value)
    out = capsys.readouterr().out
    assert out.count("PASS mcnemar:") == 2 and "check_mcnemar" in ex.__all__


@pytest.mark.parametrize("index", range(len(MCNEMAR_WRONG)))
def test_mcnemar_check_names_each_typical_mistake(index, capsys):
    implementation, hint = MCNEMAR_WRONG[index]
    result = ex.check_mcnemar(implementation)
    out = capsys.readouterr().out
    assert not result and result.status == "fail"
    assert out.startswith("FAIL mcnemar, case ") and "Hint:" in out
    assert hint in out, out
    assert result.case and result.case in out


def test_mcnemar_check_without_an_answer_is_not_attempted(capsys):
    result = ex.check_mcnemar(skeleton)
    out = capsys.readouterr().out
    assert result.status == "not attempted" and not result
    assert out.startswith("NOT ATTEMPTED mcnemar:") and "Traceback" not in out


def test_mcnemar_check_turns_a_crash_or_a_nan_into_a_verdict(capsys):
    result = ex.check_mcnemar(lambda a, b: {}[0])
    assert result.status == "fail" and "raised KeyError" in capsys.readouterr().out

    def nan_without_disagreements(a, b):
        a_only, b_only, _ = _counts(a, b)
        if a_only + b_only == 0:
            return float("nan")
        return mcnemar_ok(a, b)

    result = ex.check_mcnemar(nan_without_disagreements)
    out = capsys.readouterr().out
    assert result.status == "fail" and "never disagree" in result.case and "is 1" in out

    result = ex.check_mcnemar(lambda a, b: np.array([mcnemar_ok(a, b)] * 2))
    assert result.status == "fail" and "one number" in capsys.readouterr().out
