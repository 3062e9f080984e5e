"""Two-sample tests in pure Python: Mann-Whitney U and a two-proportion z test.

Why here and not scipy: scipy is not a dependency of veza-ray (it would triple the
install for two functions). Both tests follow scipy's conventions so their p-values can
be checked against it (tests/unit/test_stats.py does, and against printed tables):

- ``mann_whitney_u`` is ``scipy.stats.mannwhitneyu(x, y, alternative=...,
  method="auto")``: the exact null distribution when one sample has 8 values or fewer and
  there are no ties, else the normal approximation with the tie correction and the 0.5
  continuity correction.
- ``two_proportions`` is the pooled two-proportion z test (a 2x2 chi-square without
  continuity correction, ``scipy.stats.chi2_contingency(..., correction=False)``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

EXACT_MAX_N = 8  # scipy's "auto": exact when min(n1, n2) <= 8 and no ties


@dataclass(frozen=True)
class TestResult:
    """A test's statistic and p-value, with the test's name as a report shows it."""

    name: str
    statistic: float
    p_value: float


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal variable."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def rank(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """Average ranks (1-based, ties share their mean rank) and the sizes of tied groups."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    ties: list[int] = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        mean_rank = (i + j) / 2.0 + 1.0
        for k in range(i, j + 1):
            ranks[order[k]] = mean_rank
        if j > i:
            ties.append(j - i + 1)
        i = j + 1
    return ranks, ties


def _exact_counts(n1: int, n2: int) -> list[int]:
    """How many of the C(n1+n2, n1) arrangements give each U = 0 .. n1*n2 (no ties).

    The recurrence c(m, n)[u] = c(m-1, n)[u-n] + c(m, n-1)[u] (the largest value is
    either one of the m or one of the n), kept as one row per m: cheap while the smaller
    sample is small (``EXACT_MAX_N``). U is symmetric, so which sample is which does not
    matter for the counts."""
    small, large = min(n1, n2), max(n1, n2)
    # rows[m] = c(m, n) for the current n; c(m, 0) = [1] (U = 0 whatever m is)
    rows: list[list[int]] = [[1] for _ in range(small + 1)]
    for n in range(1, large + 1):
        new_rows: list[list[int]] = [[1]]  # c(0, n) = [1]
        for m in range(1, small + 1):
            left, down = new_rows[m - 1], rows[m]  # c(m-1, n), c(m, n-1)
            out = [0] * (m * n + 1)
            for u, c in enumerate(left):
                out[u + n] += c
            for u, c in enumerate(down):
                out[u] += c
            new_rows.append(out)
        rows = new_rows
    return rows[small]


def mann_whitney_u(
    x: Sequence[float], y: Sequence[float], alternative: str = "two-sided"
) -> TestResult:
    """U of ``x`` against ``y`` and its p-value; ``greater``: x tends to be larger than y."""
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("mann_whitney_u needs two non-empty samples")
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"alternative {alternative!r}: use two-sided, greater or less")
    ranks, ties = rank([*x, *y])
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2.0
    u2 = n1 * n2 - u1
    if alternative == "greater":
        u, factor = u1, 1.0
    elif alternative == "less":
        u, factor = u2, 1.0
    else:
        u, factor = max(u1, u2), 2.0
    if min(n1, n2) <= EXACT_MAX_N and not ties:
        counts = _exact_counts(n1, n2)
        total = sum(counts)
        p = sum(counts[int(u) :]) / total  # P(U >= u): U is an integer without ties
        name = "Mann-Whitney U (exact)"
    else:
        n = n1 + n2
        tie_term = sum(t**3 - t for t in ties)
        sd = math.sqrt(n1 * n2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1))))
        p = 1.0 if sd == 0 else normal_sf((u - n1 * n2 / 2.0 - 0.5) / sd)
        name = "Mann-Whitney U"
    return TestResult(name, u1, min(1.0, max(0.0, p * factor)))


def two_proportions(k1: int, n1: int, k2: int, n2: int) -> TestResult:
    """Two-sided pooled z test of k1/n1 against k2/n2; p = 1 when either sample is empty
    or neither has a single event (nothing to tell apart)."""
    if n1 <= 0 or n2 <= 0:
        return TestResult("two-proportion z", 0.0, 1.0)
    pooled = (k1 + k2) / (n1 + n2)
    var = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
    if var <= 0:
        return TestResult("two-proportion z", 0.0, 1.0)
    z = (k2 / n2 - k1 / n1) / math.sqrt(var)
    return TestResult("two-proportion z", z, min(1.0, 2.0 * normal_sf(abs(z))))
