"""Standard errors, paired comparisons and the seeds rule (mlderive.uncertainty), checked
against scipy.stats and by simulated coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from mlderive.protocol import TestSet
from mlderive.uncertainty import (
    accuracy_standard_error,
    compare_over_seeds,
    difference_standard_error,
    mcnemar_exact,
    paired_bootstrap,
    paired_difference,
    paired_standard_error_range,
    student_t_quantile,
)


def correlated_classifiers(rng, n, accuracy_a, accuracy_b, shared):
    """Per-image correctness of two classifiers whose errors overlap: with probability
    ``shared`` an image's verdicts come from one common uniform draw, else from two."""
    common = rng.random(n)
    own_a, own_b = rng.random(n), rng.random(n)
    use_common = rng.random(n) < shared
    u_a = np.where(use_common, common, own_a)
    u_b = np.where(use_common, common, own_b)
    return u_a < accuracy_a, u_b < accuracy_b


# ---------------------------------------------------------------- one accuracy


def test_standard_error_of_a_fair_coin_on_100_examples():
    assert accuracy_standard_error(0.5, 100) == pytest.approx(0.05)


@given(p=st.floats(0, 1), n=st.integers(1, 10**6))
def test_standard_error_never_exceeds_half_over_root_n(p, n):
    assert 0 <= accuracy_standard_error(p, n) <= 0.5 / math.sqrt(n) + 1e-15


def test_standard_error_matches_the_spread_of_simulated_accuracies():
    rng = np.random.default_rng(0)
    p, n = 0.9, 10_000
    simulated = rng.binomial(n, p, size=20_000) / n
    assert np.std(simulated) == pytest.approx(accuracy_standard_error(p, n), rel=0.03)


def test_difference_of_two_equal_errors_is_root_two_times_larger():
    one = accuracy_standard_error(0.8, 10_000)
    both = difference_standard_error(0.8, 0.8, 10_000, 10_000)
    assert both == pytest.approx(math.sqrt(2) * one)


# ---------------------------------------------------------------- McNemar


@pytest.mark.parametrize("a_only", [0, 1, 2, 5, 17, 40, 233])
@pytest.mark.parametrize("b_only", [0, 1, 3, 9, 40, 250])
def test_mcnemar_equals_scipy_binomtest_on_the_disagreements(a_only, b_only):
    m = a_only + b_only
    expected = 1.0 if m == 0 else stats.binomtest(a_only, m, 0.5).pvalue
    assert mcnemar_exact(a_only, b_only) == pytest.approx(expected, rel=1e-12, abs=1e-300)


@given(a_only=st.integers(0, 400), b_only=st.integers(0, 400))
def test_mcnemar_is_symmetric_and_a_probability(a_only, b_only):
    p = mcnemar_exact(a_only, b_only)
    assert p == mcnemar_exact(b_only, a_only)
    assert 0 < p <= 1


def test_mcnemar_rejects_at_its_nominal_rate_under_the_null():
    """Two equally good models: a p-value below 0.05 in at most 5% of test sets (the exact
    test is conservative, so fewer is fine, but not far fewer for many disagreements)."""
    rng = np.random.default_rng(1)
    p_values = []
    for _ in range(4000):
        a, b = correlated_classifiers(rng, 2000, 0.85, 0.85, shared=0.7)
        p_values.append(paired_difference(a, b).p_value)
    rate = np.mean(np.array(p_values) < 0.05)
    assert 0.03 < rate <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 4000)


def test_mcnemar_of_a_large_table_stays_finite():
    assert 0 < mcnemar_exact(5000, 5100) < 1


# ---------------------------------------------------------------- paired difference


@st.composite
def paired_outcomes(draw, max_size):
    """Two models' right/wrong on the same images: boolean arrays a, b of one length."""
    pairs = draw(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=max_size))
    return np.array([x for x, _ in pairs]), np.array([y for _, y in pairs])


@given(data=paired_outcomes(max_size=300))
def test_paired_standard_error_is_the_spread_of_the_per_image_differences(data):
    a, b = data
    result = paired_difference(a, b)
    D = a.astype(float) - b.astype(float)
    assert result.difference == pytest.approx(D.mean(), abs=1e-15)
    assert result.standard_error == pytest.approx(np.std(D) / math.sqrt(len(D)), abs=1e-15)
    assert result.a_only + result.b_only == np.count_nonzero(a != b)


@given(
    data=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=2, max_size=300),
)
def test_paired_variance_is_unpaired_minus_twice_the_covariance(data):
    a = np.array([x for x, _ in data], dtype=float)
    b = np.array([y for _, y in data], dtype=float)
    result = paired_difference(a, b)
    n = len(a)
    covariance = np.mean(a * b) - a.mean() * b.mean()
    assert result.standard_error**2 == pytest.approx(
        result.unpaired_standard_error**2 - 2 * covariance / n, abs=1e-15
    )


def test_paired_standard_error_matches_the_spread_over_fresh_test_sets():
    """The paired error estimates how far the difference moves between test sets drawn from
    the same distribution; the unpaired error overstates it for correlated classifiers."""
    rng = np.random.default_rng(2)
    differences, paired, unpaired = [], [], []
    for _ in range(3000):
        a, b = correlated_classifiers(rng, 5000, 0.90, 0.88, shared=0.8)
        result = paired_difference(a, b)
        differences.append(result.difference)
        paired.append(result.standard_error)
        unpaired.append(result.unpaired_standard_error)
    true_spread = np.std(differences)
    assert np.mean(paired) == pytest.approx(true_spread, rel=0.05)
    assert np.mean(unpaired) > 1.8 * true_spread


def assert_covers_at_95_percent(interval_of, trials, n, seed):
    """interval_of(a, b, trial) -> (low, high) must cover the true difference 0.90 - 0.88 in
    95% of `trials` simulated pairs of classifiers on n shared images (to 3 binomial s.e.)."""
    rng = np.random.default_rng(seed)
    hits = 0
    for trial in range(trials):
        a, b = correlated_classifiers(rng, n, 0.90, 0.88, shared=0.8)
        low, high = interval_of(a, b, trial)
        hits += low <= 0.90 - 0.88 <= high
    assert hits / trials == pytest.approx(0.95, abs=3 * math.sqrt(0.95 * 0.05 / trials))


def test_paired_interval_covers_the_true_difference_at_its_nominal_rate():
    assert_covers_at_95_percent(
        lambda a, b, _: paired_difference(a, b).interval(0.95), trials=3000, n=5000, seed=3
    )


@given(data=paired_outcomes(max_size=200))
def test_paired_standard_error_lies_in_the_range_known_from_the_accuracies_alone(data):
    a, b = data
    result = paired_difference(a, b)
    smallest, largest = paired_standard_error_range(result.accuracy_a, result.accuracy_b, len(a))
    assert smallest - 1e-12 <= result.standard_error <= largest + 1e-12


def test_the_range_is_attained_by_nested_and_by_disjoint_errors():
    n = 100
    a = np.arange(n) >= 10  # wrong on the first 10
    nested = np.arange(n) >= 20  # wrong on the first 20: a superset of a's errors
    disjoint = (np.arange(n) < 10) | (np.arange(n) >= 30)  # wrong on 10..29
    smallest, _ = paired_standard_error_range(0.9, 0.8, n)
    _, largest = paired_standard_error_range(0.9, 0.8, n)
    assert paired_difference(a, nested).standard_error == pytest.approx(smallest)
    assert paired_difference(a, disjoint).standard_error == pytest.approx(largest)


# ---------------------------------------------------------------- paired bootstrap


def test_paired_bootstrap_agrees_with_scipy_bootstrap():
    rng = np.random.default_rng(4)
    a, b = correlated_classifiers(rng, 2000, 0.9, 0.87, shared=0.6)
    ours = paired_bootstrap(a, b, resamples=20_000, seed=5)
    theirs = stats.bootstrap(
        (a.astype(float) - b.astype(float),),
        np.mean,
        n_resamples=20_000,
        method="percentile",
        random_state=6,
    ).confidence_interval
    standard_error = paired_difference(a, b).standard_error
    # Two Monte Carlo estimates of the same quantiles: within a tenth of a standard error.
    assert ours[0] == pytest.approx(theirs.low, abs=0.1 * standard_error)
    assert ours[1] == pytest.approx(theirs.high, abs=0.1 * standard_error)


def test_paired_bootstrap_covers_the_true_difference_at_its_nominal_rate():
    assert_covers_at_95_percent(
        lambda a, b, trial: paired_bootstrap(a, b, resamples=2000, seed=trial),
        trials=1000,
        n=3000,
        seed=7,
    )


def test_paired_bootstrap_is_reproducible_from_its_seed():
    rng = np.random.default_rng(8)
    a, b = correlated_classifiers(rng, 500, 0.8, 0.8, shared=0.5)
    assert paired_bootstrap(a, b, seed=3) == paired_bootstrap(a, b, seed=3)


# ---------------------------------------------------------------- seeds


@pytest.mark.parametrize("dof", [1, 2, 2.7, 3, 4, 5, 9, 29, 100, 1e6])
@pytest.mark.parametrize("probability", [0.5, 0.6, 0.9, 0.975, 0.995, 0.025])
def test_student_t_quantile_equals_scipy(dof, probability):
    # For a million degrees of freedom the log-gamma terms of the incomplete beta cancel in
    # their leading digits: about 1e-9 is left, still far below any use of the quantile.
    rel = 1e-9 if dof <= 100 else 1e-8
    assert student_t_quantile(probability, dof) == pytest.approx(
        stats.t.ppf(probability, dof), rel=rel, abs=1e-12
    )


def test_student_t_quantile_with_infinite_dof_is_the_normal_quantile():
    assert student_t_quantile(0.975, math.inf) == pytest.approx(stats.norm.ppf(0.975))


def two_way_correctness(rng, seeds, n, seed_spread, image_effect):
    """Correctness of two models trained with ``seeds`` seeds on ``n`` fresh test images:
    each image has a difficulty shared by both models; each seed shifts each model's accuracy
    by a normal amount with standard deviation ``seed_spread``; the true accuracies are
    0.90 and 0.89 on average over seeds."""
    difficulty = rng.random(n)
    shift_a = rng.normal(0, seed_spread, size=(seeds, 1))
    shift_b = rng.normal(0, seed_spread, size=(seeds, 1))
    noise = rng.random((2, seeds, n))
    verdict_a = np.where(rng.random((seeds, n)) < image_effect, difficulty, noise[0])
    verdict_b = np.where(rng.random((seeds, n)) < image_effect, difficulty, noise[1])
    return verdict_a < 0.90 + shift_a, verdict_b < 0.89 + shift_b


@pytest.mark.parametrize("seed_spread", [0.0, 0.004, 0.015])
def test_seeded_interval_covers_the_true_difference_at_least_at_its_nominal_rate(seed_spread):
    rng = np.random.default_rng(9)
    trials = 1500
    hits = 0
    for _ in range(trials):
        a, b = two_way_correctness(rng, 3, 2000, seed_spread, image_effect=0.8)
        low, high = compare_over_seeds(a, b).interval
        hits += low <= 0.01 <= high
    # Conservative by construction: at least nominal, allowing for the simulation's noise.
    assert hits / trials >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / trials)


def test_seeded_comparison_reports_its_parts():
    a = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]], dtype=bool)
    b = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [1, 0, 1, 0]], dtype=bool)
    result = compare_over_seeds(a, b)
    assert result.differences == (0.5, 0.0, 0.5)
    assert result.seeds == 3 and result.seeds_ahead == 2
    assert result.mean_difference == pytest.approx(1 / 3)
    assert result.seed_standard_error == pytest.approx(np.std([0.5, 0, 0.5], ddof=1) / math.sqrt(3))
    per_image = (a.astype(float) - b).mean(axis=0)
    assert result.test_standard_error == pytest.approx(np.std(per_image, ddof=1) / 2)
    low, high = result.interval
    dof = 2 * (result.standard_error / result.seed_standard_error) ** 4  # Satterthwaite
    assert result.degrees_of_freedom == pytest.approx(dof)
    t = stats.t.ppf(0.975, dof)
    assert high - low == pytest.approx(2 * t * result.standard_error)
    assert result.ranked == 0


def test_a_clear_difference_is_ranked_and_a_tie_is_not():
    rng = np.random.default_rng(10)
    a, b = two_way_correctness(rng, 3, 10_000, 0.001, image_effect=0.8)
    assert compare_over_seeds(a, b).ranked == 1
    assert compare_over_seeds(b, a).ranked == -1
    assert compare_over_seeds(a, a).ranked == 0
    assert compare_over_seeds(a, b).verdict("A", "B").startswith("A ranked above B")
    assert compare_over_seeds(b, a).verdict("B", "A").startswith("A ranked above B")
    assert compare_over_seeds(a, a).verdict("A", "B").startswith("no ranking")


# ---------------------------------------------------------------- the counted test set


def test_test_set_counts_every_use_and_keeps_its_arrays_read_only():
    X = np.arange(12.0).reshape(4, 3)
    labels = np.array([0, 1, 2, 1])
    test_set = TestSet(X, labels)
    correct = test_set.correct(lambda X: np.array([0, 1, 0, 1]), "first model")
    assert correct.tolist() == [True, True, False, True]
    scores = np.eye(3)[[0, 1, 2, 2]]
    assert test_set.correct(lambda X: scores, "second model").tolist() == [True, True, True, False]
    X_used, _ = test_set.use("third model")
    assert test_set.uses == 3
    assert test_set.models == ("first model", "second model", "third model")
    with pytest.raises(ValueError):
        X_used[0, 0] = 1.0
    X[0, 0] = 99.0  # the caller's array is copied
    assert test_set.use("fourth model")[0][0, 0] == 0.0


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: accuracy_standard_error(1.2, 100), "accuracy must be in \\[0, 1\\]"),
        (lambda: accuracy_standard_error(float("nan"), 100), "accuracy"),
        (lambda: accuracy_standard_error(0.5, 0), "n must be"),
        (lambda: difference_standard_error(0.5, -0.1, 10, 10), "accuracy"),
        (lambda: mcnemar_exact(-1, 3), "a_only"),
        (lambda: mcnemar_exact(2, 2.5), "b_only"),
        (lambda: paired_difference([True, False], [True]), "same test examples"),
        (lambda: paired_difference([], []), "no examples"),
        (lambda: paired_difference([0.5, 1.0], [1, 0]), "booleans or 0/1"),
        (lambda: paired_difference(None, [1, 0]), "correct_a"),
        (lambda: paired_difference([[True]], [[True]]), "shape \\(n,\\)"),
        (lambda: paired_bootstrap([1, 0], [0, 1], confidence=1.0), "confidence"),
        (lambda: paired_bootstrap([1, 0], [0, 1], resamples=0), "resamples"),
        (lambda: paired_difference([1, 0], [0, 1]).interval(95), "confidence"),
        (lambda: compare_over_seeds([[1, 0]], [[0, 1]]), "at least two seeds"),
        (lambda: compare_over_seeds([1, 0], [0, 1]), "\\(seeds, n\\)"),
        (lambda: compare_over_seeds([[1], [0]], [[0], [1]]), "two test examples"),
        (lambda: student_t_quantile(0.0, 3), "strictly between"),
        (lambda: student_t_quantile(0.5, 0), "dof"),
        (lambda: student_t_quantile(0.5, float("nan")), "dof"),
        (lambda: TestSet(np.zeros((3, 2)), np.array([0.0, 1.0, 2.0])), "integer classes"),
        (lambda: TestSet(np.zeros((3, 2)), np.array([0, 1])), "shape \\(3,\\)"),
        (lambda: TestSet(np.zeros((2, 2)), np.array([0, 1])).use(""), "non-empty name"),
        (lambda: TestSet(np.zeros((2, 2)), np.array([0, 1])).correct(3, "m"), "predict must"),
        (
            lambda: TestSet(np.zeros((2, 2)), np.array([0, 1])).correct(
                lambda X: np.zeros(3, dtype=int), "m"
            ),
            "one class per test example",
        ),
    ],
)
def test_bad_arguments_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_a_failed_scoring_is_not_counted():
    test_set = TestSet(np.zeros((2, 2)), np.array([0, 1]))
    with pytest.raises(ValueError):
        test_set.correct(lambda X: np.zeros(3, dtype=int), "m")
    assert test_set.uses == 0
