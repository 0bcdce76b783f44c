"""How far a measured accuracy, or a difference of accuracies, could move by chance.

One model. An accuracy ``p`` measured on ``n`` test examples is a proportion. Drawn afresh, the
examples would give another proportion; its standard error is ``sqrt(p (1 - p) / n)``
(:func:`accuracy_standard_error`), never more than ``0.5 / sqrt(n)``. It covers the sampling of
the test examples only: not the randomness of training, and not a choice made by looking at the
test set.

Two models on the same test examples. Score both on the same ``n`` images and record, for each
image, whether each model got it right: boolean arrays ``correct_a, correct_b: (n,)``. The
difference of accuracies is the mean of ``D_i = correct_a[i] - correct_b[i]``, which is
``+1`` on the images only A gets right, ``-1`` on those only B gets right and ``0`` where they
agree. Its standard error depends on the disagreements only (:func:`paired_difference`):
``sqrt((f_a + f_b - d^2) / n)``, with ``f_a``, ``f_b`` the fractions of images that only A,
only B gets right and ``d = f_a - f_b``. McNemar's exact test (:func:`mcnemar_exact`) asks
whether the ``a_only`` and ``b_only`` counts could be a fair coin's split of the disagreements;
the paired bootstrap (:func:`paired_bootstrap`) resamples the images. The formula for two
*independent* test samples (:func:`difference_standard_error`) is not for this case: on a
shared test set it overstates the error whenever the two models tend to be right on the same
images, which is the rule.

Seeds. Another seed trains another model. :func:`compare_over_seeds` takes both models trained
with ``k`` seeds, scored on the same images, and adds the seed-to-seed spread of the differences
to the test-set noise. Its interval is the book's one rule for a ranking: A is ranked above B
only when the whole interval is above zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from .validation import (
    ArgumentTypeError,
    as_rng,
    nonnegative_int,
    positive_int,
    positive_number,
    proportion,
)


def accuracy_standard_error(accuracy: float, n: int) -> float:
    """``sqrt(p (1 - p) / n)``: the binomial standard error of an accuracy ``p`` measured on
    ``n`` independent examples."""
    p = proportion(accuracy, "accuracy", " (a fraction of examples classified correctly)")
    n = positive_int(n, "n")
    return math.sqrt(p * (1 - p) / n)


def difference_standard_error(first: float, second: float, n_first: int, n_second: int) -> float:
    """The standard error of ``first - second``, two accuracies measured on *independent*
    samples of ``n_first`` and ``n_second`` examples: ``sqrt(se_1^2 + se_2^2)``.

    Not for two models scored on the same test examples: use :func:`paired_difference`.
    """
    return math.hypot(
        accuracy_standard_error(first, n_first), accuracy_standard_error(second, n_second)
    )


def _confidence(value) -> float:
    confidence = proportion(value, "confidence", " (e.g. 0.95 for a 95% interval)")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {value!r}.")
    return confidence


def check_correct(correct, name: str, ndim: int = 1) -> np.ndarray:
    """Per-example correctness, ``correct: (n,)`` (or ``(k, n)`` for ``ndim=2``), as a boolean
    array: ``True`` where the model classified the example right. Booleans and the integers
    0 and 1 are accepted."""
    if correct is None or isinstance(correct, str | bytes):
        raise ArgumentTypeError(
            f"{name} must be an array of booleans (True where the model is right), "
            f"got {correct!r:.40}."
        )
    arr = np.asarray(correct)
    if arr.ndim != ndim:
        layout = "(n,), one entry per test example" if ndim == 1 else "(seeds, n)"
        raise ValueError(f"{name} must have shape {layout}; got shape {arr.shape}.")
    if arr.shape[-1] == 0:
        raise ValueError(f"{name} has no examples (shape {arr.shape}); score at least one.")
    if arr.dtype != bool:
        if not np.issubdtype(arr.dtype, np.number) or not np.isin(arr, (0, 1)).all():
            raise ValueError(
                f"{name} must hold booleans or 0/1 (right or wrong per example), got dtype "
                f"{arr.dtype}. Compute it as predictions == labels."
            )
        arr = arr.astype(bool)
    return arr


def _check_pair(correct_a, correct_b, ndim: int = 1) -> tuple[np.ndarray, np.ndarray]:
    a = check_correct(correct_a, "correct_a", ndim)
    b = check_correct(correct_b, "correct_b", ndim)
    if a.shape != b.shape:
        raise ValueError(
            f"correct_a and correct_b must score the same test examples; got shapes {a.shape} "
            f"and {b.shape}. Pair them image by image (the same test set, in the same order)."
        )
    return a, b


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """McNemar's exact two-sided p-value from the discordant counts.

    ``a_only``: examples model A gets right and B wrong; ``b_only``: the reverse. If the two
    models were equally good, each of the ``m = a_only + b_only`` disagreements would go either
    way with probability 1/2, so ``a_only ~ Binomial(m, 1/2)``. The p-value is the probability
    of a split at least as uneven: ``min(1, 2 P(X <= min(a_only, b_only)))``, computed exactly
    with integers. It is 1 when the models never disagree.
    """
    a_only = nonnegative_int(a_only, "a_only")
    b_only = nonnegative_int(b_only, "b_only")
    m = a_only + b_only
    smaller = min(a_only, b_only)
    tail = sum(math.comb(m, j) for j in range(smaller + 1))  # exact integers
    return min(1.0, 2 * tail / 2**m)


@dataclass(frozen=True)
class PairedComparison:
    """Two models scored on the same ``n`` test examples (see :func:`paired_difference`)."""

    n: int
    accuracy_a: float
    accuracy_b: float
    a_only: int
    b_only: int
    standard_error: float
    unpaired_standard_error: float
    p_value: float

    @property
    def difference(self) -> float:
        """``accuracy_a - accuracy_b``."""
        return self.accuracy_a - self.accuracy_b

    @property
    def disagreements(self) -> int:
        """Examples exactly one of the two models gets right."""
        return self.a_only + self.b_only

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """The normal-approximation interval ``difference +- z * standard_error``."""
        z = NormalDist().inv_cdf(0.5 + _confidence(confidence) / 2)
        return self.difference - z * self.standard_error, self.difference + z * self.standard_error


def paired_difference(correct_a, correct_b) -> PairedComparison:
    """Compare two models scored on the same test examples, image by image.

    ``correct_a, correct_b: (n,)`` booleans, ``True`` where each model is right. The difference
    of accuracies is the mean of ``D_i = correct_a[i] - correct_b[i]``; its standard error is
    the sample standard deviation of ``D`` over ``sqrt(n)``:
    ``sqrt((f_a + f_b - d^2) / n)``, with ``f_a = a_only / n``, ``f_b = b_only / n`` and
    ``d = f_a - f_b`` (the ``1/n`` form of the variance, as for one accuracy). Images both
    models get right, or both wrong, do not enter it. The result also carries the unpaired
    error ``sqrt(se_a^2 + se_b^2)`` for comparison, and McNemar's exact p-value.
    """
    a, b = _check_pair(correct_a, correct_b)
    n = a.size
    a_only = int(np.count_nonzero(a & ~b))
    b_only = int(np.count_nonzero(b & ~a))
    f_a, f_b = a_only / n, b_only / n
    d = f_a - f_b
    accuracy_a = float(np.count_nonzero(a)) / n
    accuracy_b = float(np.count_nonzero(b)) / n
    return PairedComparison(
        n=n,
        accuracy_a=accuracy_a,
        accuracy_b=accuracy_b,
        a_only=a_only,
        b_only=b_only,
        standard_error=math.sqrt(max(f_a + f_b - d * d, 0.0) / n),
        unpaired_standard_error=difference_standard_error(accuracy_a, accuracy_b, n, n),
        p_value=mcnemar_exact(a_only, b_only),
    )


def paired_standard_error_range(
    accuracy_a: float, accuracy_b: float, n: int
) -> tuple[float, float]:
    """The smallest and largest paired standard error two accuracies on the same ``n``
    examples can have, when the per-example verdicts of one model are unknown (a published
    accuracy without its predictions).

    With ``d = accuracy_a - accuracy_b`` and ``f_a - f_b = d``, the disagreements
    ``f_a + f_b`` are at least ``|d|`` (one model's right answers contain the other's) and at
    most ``min(1, (1 - accuracy_a) + (1 - accuracy_b))`` (the two never wrong on the same
    example). The paired variance ``(f_a + f_b - d^2) / n`` grows with the disagreements.
    """
    p_a = proportion(accuracy_a, "accuracy_a")
    p_b = proportion(accuracy_b, "accuracy_b")
    n = positive_int(n, "n")
    d = p_a - p_b
    fewest = abs(d)
    most = min(1.0, (1 - p_a) + (1 - p_b))
    return math.sqrt(max(fewest - d * d, 0.0) / n), math.sqrt(max(most - d * d, 0.0) / n)


def paired_bootstrap(
    correct_a, correct_b, confidence: float = 0.95, resamples: int = 10_000, seed=0
) -> tuple[float, float]:
    """A percentile bootstrap interval for ``accuracy_a - accuracy_b`` on shared test examples.

    Each resample draws ``n`` test examples with replacement, keeping each example's pair of
    verdicts together, and records the difference of accuracies. An example counts only
    through its kind (only A right, only B right, or the two agree), so drawing ``n`` examples
    is drawing the three counts from a multinomial with the observed fractions: the same
    distribution, without an ``(resamples, n)`` array of indices. Returns the
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the resampled differences.
    """
    a, b = _check_pair(correct_a, correct_b)
    confidence = _confidence(confidence)
    resamples = positive_int(resamples, "resamples")
    rng = as_rng(seed)
    n = a.size
    kinds = np.array([np.count_nonzero(a & ~b), np.count_nonzero(b & ~a)]) / n
    counts = rng.multinomial(n, [kinds[0], kinds[1], 1 - kinds.sum()], size=resamples)
    differences = (counts[:, 0] - counts[:, 1]) / n
    low, high = np.quantile(differences, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def _regularized_incomplete_beta(x: float, a: float, b: float) -> float:
    """``I_x(a, b)`` by Lentz's continued fraction: about 1e-13 relative for the moderate ``a``
    and ``b`` of a t quantile; for ``a + b`` near a million the log-gamma terms cancel and about
    1e-9 remains."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast on this side only
        return 1.0 - _regularized_incomplete_beta(1 - x, b, a)
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 1000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return math.exp(log_front) * fraction / a


def student_t_quantile(probability: float, dof: float) -> float:
    """The ``probability`` quantile of Student's t with ``dof > 0`` degrees of freedom (not
    necessarily an integer; ``math.inf`` gives the normal quantile).

    The t distribution is the sampling distribution of a mean divided by its estimated standard
    error from ``dof + 1`` normal draws. Its CDF is an incomplete beta function; the quantile is
    found by bisection on it.
    """
    probability = proportion(probability, "probability")
    if not 0 < probability < 1:
        raise ValueError(f"probability must lie strictly between 0 and 1, got {probability!r}.")
    if dof == math.inf:
        return NormalDist().inv_cdf(probability)
    dof = positive_number(dof, "dof", " (degrees of freedom)")

    def cdf(t: float) -> float:
        # P(T < -|t|) = I_x(dof/2, 1/2) / 2 with x = dof / (dof + t^2). Near t = 0, x rounds to
        # 1, so there the complement I_{1-x}(1/2, dof/2) is computed from 1 - x = t^2 / (dof + t^2).
        if t * t < dof:
            tail = 0.5 * (1 - _regularized_incomplete_beta(t * t / (dof + t * t), 0.5, dof / 2))
        else:
            tail = 0.5 * _regularized_incomplete_beta(dof / (dof + t * t), dof / 2, 0.5)
        return 1 - tail if t > 0 else tail

    low, high = -1.0, 1.0
    while cdf(low) > probability:
        low *= 2
    while cdf(high) < probability:
        high *= 2
    for _ in range(200):
        middle = (low + high) / 2
        if cdf(middle) < probability:
            low = middle
        else:
            high = middle
        if high - low < 1e-13 * max(1.0, abs(middle)):
            break
    return (low + high) / 2


@dataclass(frozen=True)
class SeededComparison:
    """Two models, each trained with the same ``k`` seeds, scored on the same test examples
    (see :func:`compare_over_seeds`). Differences are ``accuracy_a - accuracy_b``."""

    differences: tuple[float, ...]
    seed_standard_error: float
    test_standard_error: float
    confidence: float

    @property
    def seeds(self) -> int:
        return len(self.differences)

    @property
    def mean_difference(self) -> float:
        """The difference averaged over seeds."""
        return float(np.mean(self.differences))

    @property
    def standard_error(self) -> float:
        """``sqrt(seed_standard_error^2 + test_standard_error^2)``: a conservative standard
        error of the mean difference over new seeds and new test examples."""
        return math.hypot(self.seed_standard_error, self.test_standard_error)

    @property
    def degrees_of_freedom(self) -> float:
        """Satterthwaite's effective degrees of freedom of ``standard_error``: the seed part is
        estimated from ``k`` values (``k - 1`` degrees of freedom), the test part from
        thousands of images (treated as exact). Between ``k - 1`` (the seeds dominate) and
        infinity (no seed spread at all)."""
        if self.seed_standard_error == 0:
            return math.inf
        share = (self.standard_error / self.seed_standard_error) ** 4
        return (self.seeds - 1) * share

    @property
    def interval(self) -> tuple[float, float]:
        """``mean_difference +- t * standard_error``, with Student's t on
        :attr:`degrees_of_freedom`."""
        t = student_t_quantile(0.5 + self.confidence / 2, self.degrees_of_freedom)
        return (
            self.mean_difference - t * self.standard_error,
            self.mean_difference + t * self.standard_error,
        )

    @property
    def seeds_ahead(self) -> int:
        """In how many seeds A scored higher than B."""
        return int(np.count_nonzero(np.asarray(self.differences) > 0))

    @property
    def ranked(self) -> int:
        """The book's rule: ``+1`` if the whole interval lies above zero (A ranked above B),
        ``-1`` if below (B above A), ``0`` when the evidence supports no ranking."""
        low, high = self.interval
        return 1 if low > 0 else -1 if high < 0 else 0

    def verdict(self, name_a: str, name_b: str) -> str:
        """The rule's verdict in words, e.g. ``"SGD ranked above Adam"`` or ``"no ranking"``,
        for a sentence whose claim must follow the evidence wherever the book is run."""
        if self.ranked == 0:
            return f"no ranking of {name_a} and {name_b}: the interval contains zero"
        first, second = (name_a, name_b) if self.ranked == 1 else (name_b, name_a)
        return f"{first} ranked above {second}: the interval excludes zero"


def compare_over_seeds(correct_a, correct_b, confidence: float = 0.95) -> SeededComparison:
    """Compare two models trained with ``k >= 2`` seeds each and scored on the same images.

    ``correct_a, correct_b: (k, n)`` booleans: row ``s`` is the model trained with seed ``s``,
    column ``i`` the ``i``-th test example. Two sources of chance move the mean difference
    ``d = mean over seeds and images of (correct_a - correct_b)``:

    * the seeds: ``seed_standard_error = std(d_s, ddof=1) / sqrt(k)`` from the per-seed
      differences ``d_s``;
    * the test images: ``test_standard_error``, the paired standard error of the per-image
      differences averaged over seeds, ``std(mean_s D_si, ddof=1) / sqrt(n)``.

    In expectation their squares add up to the variance of ``d`` plus a non-negative
    interaction term (the comparing-models chapter proves it), so the combined error is
    conservative. Both spreads use ``ddof=1``, the unbiased form the proof needs.
    """
    a, b = _check_pair(correct_a, correct_b, ndim=2)
    confidence = _confidence(confidence)
    k, n = a.shape
    if k < 2:
        raise ValueError(
            f"compare_over_seeds needs at least two seeds per model to measure their spread; "
            f"got {k}. Train each model with more seeds (the book uses at least 3)."
        )
    if n < 2:
        raise ValueError(f"compare_over_seeds needs at least two test examples, got {n}.")
    per_image = a.astype(np.float64) - b.astype(np.float64)  # (k, n), entries -1, 0, 1
    differences = per_image.mean(axis=1)  # d_s, one per seed
    seed_averaged = per_image.mean(axis=0)  # one per test image
    return SeededComparison(
        differences=tuple(float(d) for d in differences),
        seed_standard_error=float(np.std(differences, ddof=1) / math.sqrt(k)),
        test_standard_error=float(np.std(seed_averaged, ddof=1) / math.sqrt(n)),
        confidence=confidence,
    )


__all__ = [
    "PairedComparison",
    "SeededComparison",
    "accuracy_standard_error",
    "check_correct",
    "compare_over_seeds",
    "difference_standard_error",
    "mcnemar_exact",
    "paired_bootstrap",
    "paired_difference",
    "paired_standard_error_range",
    "student_t_quantile",
]
