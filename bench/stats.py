"""Verdicts a noisy shared machine cannot fake: medians of paired ratios with an interval.

Ours and the floor run round by round, interleaved, so each round gives one paired ratio
(ours / floor, measured moments apart): drift of the machine over a run (another agent's
build, a thermal step) moves both sides of a pair alike and cancels in the ratio. The figure
is the median of those ratios, with a distribution-free confidence interval for it: the
order statistics x(k) and x(n+1-k) bound the median with probability 1 - 2·P(B ≤ k-1),
B ~ Binomial(n, 1/2), whatever the ratios' distribution (the sign-test interval; no normal
assumption, which timing data with its long right tail would break). Stdlib only.

A figure passes only when the whole interval is at or under the goal, fails only when the
whole interval is over it, and is "within noise" otherwise.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

PASS = "pass"
FAIL = "fail"
NOISE = "within noise"
CONFIDENCE = 0.95


def _binomial_cdf_half(k: int, n: int) -> float:
    """P(B ≤ k) for B ~ Binomial(n, 1/2)."""
    if k < 0:
        return 0.0
    return float(sum(math.comb(n, i) for i in range(min(k, n) + 1)) / 2**n)


def median_interval_ranks(n: int, confidence: float = CONFIDENCE) -> tuple[int, int, float]:
    """1-based ranks (lo, hi) of the order statistics bounding the median, and their coverage.

    The narrowest symmetric pair whose coverage is at least `confidence`; when n is too small
    for that, the widest pair (1, n), whose coverage 1 - 2/2**n is then below it.
    """
    if n < 1:
        raise ValueError("no samples")
    best = 1
    for k in range(1, (n + 1) // 2 + 1):
        if 1 - 2 * _binomial_cdf_half(k - 1, n) >= confidence:
            best = k
        else:
            break
    return best, n + 1 - best, 1 - 2 * _binomial_cdf_half(best - 1, n)


@dataclass(frozen=True)
class Estimate:
    """The median of some samples with a distribution-free confidence interval."""

    median: float
    low: float
    high: float
    confidence: float  # the interval's actual coverage (≥ the asked-for one when n allows)
    n: int

    def shown(self, digits: int = 2) -> str:
        return (
            f"{self.median:.{digits}f} (CI {self.low:.{digits}f}–{self.high:.{digits}f}, "
            f"{self.confidence:.0%}, n={self.n})"
        )


def median_ci(samples: Sequence[float], confidence: float = CONFIDENCE) -> Estimate:
    """The median of `samples` and the order-statistic interval around it."""
    ordered = sorted(samples)
    lo, hi, coverage = median_interval_ranks(len(ordered), confidence)
    return Estimate(
        float(statistics.median(ordered)), ordered[lo - 1], ordered[hi - 1], coverage, len(ordered)
    )


def paired_ratios(ours: Sequence[float], floor: Sequence[float]) -> list[float]:
    """ours[i] / floor[i] for each round i (both measured in the same round)."""
    if len(ours) != len(floor):
        raise ValueError(f"unpaired samples: {len(ours)} vs {len(floor)}")
    return [o / f for o, f in zip(ours, floor, strict=True)]


def judge(estimate: Estimate, goal: float, confidence: float = CONFIDENCE) -> str:
    """pass / fail only when the interval is clear of the goal (ratio ≤ goal), else within noise.

    An interval whose coverage falls short of `confidence` (too few rounds) proves nothing.
    """
    if estimate.confidence < confidence:
        return NOISE
    if estimate.high <= goal:
        return PASS
    if estimate.low > goal:
        return FAIL
    return NOISE
