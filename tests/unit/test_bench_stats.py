"""The benchmark's verdict statistics, on synthetic data whose answer is known."""

from __future__ import annotations

import random

import pytest

from bench.stats import FAIL, NOISE, PASS, Estimate, judge, median_ci, median_interval_ranks, paired_ratios


@pytest.mark.parametrize(
    ("n", "ranks"),
    # The sign-test ranks of published tables of confidence intervals for a median at 95%.
    [(6, (1, 6)), (11, (2, 10)), (25, (8, 18)), (100, (40, 61))],
)
def test_interval_ranks_match_the_published_95_percent_tables(n: int, ranks: tuple[int, int]) -> None:
    lo, hi, coverage = median_interval_ranks(n)
    assert (lo, hi) == ranks
    assert coverage >= 0.95


def test_interval_coverage_is_exact_binomial() -> None:
    # n = 11, ranks (2, 10): 1 - 2 * P(B <= 1) = 1 - 2 * (1 + 11) / 2**11.
    assert median_interval_ranks(11)[2] == pytest.approx(1 - 24 / 2048)


def test_too_few_samples_give_the_full_range_with_its_low_coverage() -> None:
    assert median_interval_ranks(3) == (1, 3, 0.75)


def test_median_ci_reads_the_order_statistics() -> None:
    estimate = median_ci([float(x) for x in (11, 3, 7, 1, 9, 5, 2, 10, 4, 8, 6)])
    assert (estimate.median, estimate.low, estimate.high, estimate.n) == (6.0, 2.0, 10.0, 11)


def test_interval_covers_a_known_median_at_least_as_often_as_promised() -> None:
    # Log-normal ratios (a long right tail, like timings) whose median is exactly 1.2.
    rng = random.Random(15)
    trials, covered = 2000, 0
    for _ in range(trials):
        samples = [1.2 * rng.lognormvariate(0, 0.2) for _ in range(25)]
        estimate = median_ci(samples)
        covered += estimate.low <= 1.2 <= estimate.high
    assert covered / trials >= 0.94  # promised 95.7 %, minus Monte-Carlo slack


def test_paired_ratios_cancel_drift_that_unpaired_medians_do_not() -> None:
    # The machine slows down fourfold half-way through; ours is always exactly 1.1 x the floor.
    drift = [1.0] * 10 + [4.0] * 10
    floor = [0.1 * d for d in drift]
    ours = [0.11 * d for d in drift]
    estimate = median_ci(paired_ratios(ours, floor))
    assert estimate.low == pytest.approx(1.1) and estimate.high == pytest.approx(1.1)
    # Had the first half of ours met the second half of the floor, the ratio would be nonsense:
    assert median_ci(ours[:10]).median / median_ci(floor[10:]).median == pytest.approx(0.275)


def test_unpaired_samples_are_refused() -> None:
    with pytest.raises(ValueError, match="unpaired"):
        paired_ratios([1.0, 2.0], [1.0])


def test_interval_wholly_under_the_goal_passes() -> None:
    assert judge(median_ci([1.0, 1.01, 1.02, 1.03, 1.04, 1.05, 1.06] * 3), goal=1.10) == PASS


def test_interval_wholly_over_the_goal_fails() -> None:
    assert judge(median_ci([1.3, 1.31, 1.32, 1.33, 1.34, 1.35, 1.36] * 3), goal=1.25) == FAIL


def test_interval_straddling_the_goal_is_within_noise() -> None:
    rng = random.Random(1)
    ratios = [rng.uniform(1.0, 1.2) for _ in range(30)]
    estimate = median_ci(ratios)
    assert estimate.low < 1.10 < estimate.high
    assert judge(estimate, goal=1.10) == NOISE


def test_too_few_rounds_prove_nothing_even_when_every_ratio_passes() -> None:
    assert judge(median_ci([1.0, 1.0, 1.0]), goal=1.10) == NOISE


def test_a_median_exactly_at_the_goal_passes_only_if_the_interval_is_at_it() -> None:
    assert judge(Estimate(1.10, 1.10, 1.10, 0.96, 25), goal=1.10) == PASS
    assert judge(Estimate(1.10, 1.05, 1.15, 0.96, 25), goal=1.10) == NOISE
