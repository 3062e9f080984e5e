"""core/stats.py against published tables, hand-worked cases and scipy (tests only)."""

from __future__ import annotations

import random

import pytest

from veza_ray.core.stats import _exact_counts, mann_whitney_u, normal_sf, rank, two_proportions


def test_ranks_share_their_mean_on_ties() -> None:
    ranks, ties = rank([3.0, 1.0, 3.0, 2.0, 3.0])
    assert ranks == [4.0, 1.0, 4.0, 2.0, 4.0]
    assert ties == [3]


def test_exact_null_distribution_is_the_gaussian_binomial() -> None:
    # [4 choose 2]_q = 1 + q + 2q^2 + q^3 + q^4: the six arrangements of 2 among 4
    assert _exact_counts(2, 2) == [1, 1, 2, 1, 1]
    counts = _exact_counts(3, 5)
    assert sum(counts) == 56 and counts == counts[::-1]  # C(8,3), symmetric


def test_exact_p_matches_the_critical_value_table() -> None:
    # Mann-Whitney tables (two-sided, alpha 0.05): n1 = n2 = 8 -> critical U = 13, i.e.
    # 2 P(U <= 13) <= 0.05 < 2 P(U <= 14).
    counts = _exact_counts(8, 8)
    total = sum(counts)
    assert 2 * sum(counts[:14]) / total <= 0.05 < 2 * sum(counts[:15]) / total
    # A sample with U = 13: x holds ranks 1-6, 13 and 15 of 16 (rank sum 49 = 13 + 36).
    x_ranks = {1, 2, 3, 4, 5, 6, 13, 15}
    x = [float(r) for r in sorted(x_ranks)]
    y = [float(r) for r in range(1, 17) if r not in x_ranks]
    r = mann_whitney_u(x, y)
    assert r.statistic == 13
    assert r.p_value == pytest.approx(2 * sum(counts[:14]) / total)
    assert r.p_value <= 0.05


def test_complete_separation_small_samples() -> None:
    # 5 vs 5 all above: one arrangement of 252, two-sided 2/252
    r = mann_whitney_u([10, 11, 12, 13, 14], [1, 2, 3, 4, 5])
    assert r.statistic == 25
    assert r.p_value == pytest.approx(2 / 252)
    assert mann_whitney_u([10, 11, 12, 13, 14], [1, 2, 3, 4, 5], "greater").p_value == (
        pytest.approx(1 / 252)
    )
    assert mann_whitney_u([10, 11, 12, 13, 14], [1, 2, 3, 4, 5], "less").p_value == 1.0


def test_normal_tail() -> None:
    assert normal_sf(1.959963984540054) == pytest.approx(0.025, rel=1e-9)
    assert normal_sf(0.0) == 0.5


def test_two_proportions_hand_worked() -> None:
    # 10/1000 against 25/1000: pooled 0.0175, z = 0.015 / sqrt(.0175*.9825*.002) = 2.5579
    r = two_proportions(10, 1000, 25, 1000)
    assert r.statistic == pytest.approx(2.5579, abs=1e-4)
    assert r.p_value == pytest.approx(0.010529, abs=1e-6)
    assert two_proportions(0, 500, 0, 500).p_value == 1.0
    assert two_proportions(0, 0, 3, 10).p_value == 1.0


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        mann_whitney_u([], [1.0])
    with pytest.raises(ValueError, match="alternative"):
        mann_whitney_u([1.0], [2.0], "bigger")


def test_agrees_with_scipy_on_random_samples() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(7)
    for trial in range(200):
        n1, n2 = rng.randint(1, 15), rng.randint(1, 60)
        digits = 1 if trial % 3 == 0 else 6  # a third with many ties
        x = [round(rng.gauss(0, 1), digits) for _ in range(n1)]
        y = [round(rng.gauss(0.4, 1), digits) for _ in range(n2)]
        for alt in ("two-sided", "greater", "less"):
            mine = mann_whitney_u(x, y, alt)
            ref = stats.mannwhitneyu(x, y, alternative=alt, method="auto")
            assert mine.statistic == pytest.approx(float(ref.statistic))
            assert mine.p_value == pytest.approx(float(ref.pvalue), abs=1e-12)
    for k1, n1, k2, n2 in [(3, 400, 9, 380), (0, 50, 4, 60), (120, 1000, 90, 1000)]:
        table = [[k1, n1 - k1], [k2, n2 - k2]]
        ref = stats.chi2_contingency(table, correction=False)
        assert two_proportions(k1, n1, k2, n2).p_value == pytest.approx(ref.pvalue, rel=1e-9)
