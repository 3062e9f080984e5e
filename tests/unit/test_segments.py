"""k6's execution-segment arithmetic: tables from k6 v1.1.0 lib/execution_segment_test.go.

Pure math: no Ray, no network, no sleeping.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veza_ray.core.segments import (
    ExecutionSegment,
    ExecutionTuple,
    SegmentSequence,
    Stripe,
    split_sequence,
)


def _tuple(seg: str | None, seq: str | None) -> ExecutionTuple:
    segment = ExecutionSegment.parse(seg) if seg is not None else None
    sequence = SegmentSequence.parse(seq) if seq else SegmentSequence.filled([], segment)
    index = 0 if segment is None else list(sequence.segments).index(segment)
    return sequence.at(index)


# k6 TestExecutionSegmentSplit
@pytest.mark.parametrize(
    ("seg", "parts", "want"),
    [
        ("0:1", 1, ["0:1"]),
        ("0:1", 2, ["0:1/2", "1/2:1"]),
        ("0:1", 3, ["0:1/3", "1/3:2/3", "2/3:1"]),
        ("1/4:2/4", 1, ["1/4:1/2"]),
        ("1/4:2/4", 2, ["1/4:3/8", "3/8:1/2"]),
        ("1/4:2/4", 3, ["1/4:1/3", "1/3:5/12", "5/12:1/2"]),
        ("1/4:2/4", 4, ["1/4:5/16", "5/16:3/8", "3/8:7/16", "7/16:1/2"]),
    ],
)
def test_k6_split(seg: str, parts: int, want: list[str]) -> None:
    assert [str(s) for s in ExecutionSegment.parse(seg).split(parts)] == want


@pytest.mark.parametrize("parts", [0, -1])
def test_k6_split_refuses(parts: int) -> None:
    with pytest.raises(ValueError):
        ExecutionSegment.parse("0:1").split(parts)


# k6 TestExecutionSegmentNew / UnmarshalText: bad segments
@pytest.mark.parametrize("text", ["-1:1", "1:0", "0:2", "1/2:1/2", "0.5:0.5", "a:1", "1%%"])
def test_k6_bad_segments(text: str) -> None:
    with pytest.raises(ValueError):
        ExecutionSegment.parse(text)


# k6 TestExecutionSegmentUnmarshalText: the forms it accepts
@pytest.mark.parametrize(
    ("text", "start", "end"),
    [("0:1", 0, 1), ("", 0, 1), ("0.5", 0, Fraction(1, 2)), ("1/2:3/4", Fraction(1, 2),
     Fraction(3, 4)), ("50%:75%", Fraction(1, 2), Fraction(3, 4)), ("2/4:75%", Fraction(1, 2),
     Fraction(3, 4)), ("20%", 0, Fraction(1, 5))],
)  # fmt: skip
def test_k6_segment_forms(text: str, start: Fraction, end: Fraction) -> None:
    seg = ExecutionSegment.parse(text)
    assert (seg.start, seg.end) == (start, end)


# k6 TestExecutionSegmentFailures: ExecutionSegment.Scale alone
@pytest.mark.parametrize(
    ("seg", "value", "want"),
    [("0:0.25", 2, 1), ("0:0.25", 3, 1), ("0.25:0.5", 2, 0), ("0.25:0.5", 3, 1),
     ("0.5:0.75", 2, 1), ("0.5:0.75", 3, 0), ("0.75:1", 2, 0), ("0.75:1", 3, 1)],
)  # fmt: skip
def test_k6_segment_scale(seg: str, value: int, want: int) -> None:
    assert ExecutionSegment.parse(seg).scale(value) == want


# k6 TestExecutionTupleScale and TestBigScale
@pytest.mark.parametrize(
    ("seg", "seq", "value", "want"),
    [("0.5", None, 2, 1), ("0.5", None, 3, 2), ("0.5:1.0", None, 2, 1), ("0.5:1.0", None, 3, 1),
     ("0.5", "0,0.5,1", 2, 1), ("0.5", "0,0.5,1", 3, 2), ("0.5:1.0", "0,0.5,1", 2, 1),
     ("0.5:1.0", "0,0.5,1", 3, 1), ("0:7/20", "0,7/20,7/10,1", 50, 18)],
)  # fmt: skip
def test_k6_tuple_scale(seg: str, seq: str | None, value: int, want: int) -> None:
    assert _tuple(seg, seq).scale(value) == want


# k6 TestGetStripedOffsets
STRIPED = [
    ("0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0:0.3", 0, [4, 3, 3], 10),
    ("0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.3:0.5", 1, [4, 6], 10),
    ("0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.5:0.6", 2, [10], 10),
    ("0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.6:0.7", 3, [10], 10),
    ("0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.8:0.9", 8, [10], 10),
    ("0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.9:1", 9, [10], 10),
    ("0,0.2,0.5,0.6,0.7,0.8,0.9,1", "0.9:1", 9, [10], 10),
    ("0,0.2,0.5,0.6,0.7,0.8,0.9,1", "0:0.2", 1, [4, 6], 10),
    ("0,0.2,0.5,0.6,0.7,0.8,0.9,1", "0.6:0.7", 3, [10], 10),
    ("0,0.2,0.5", "0:0.2", 3, [6, 4], 10),
    ("0,0.2,0.5", "0.2:0.5", 1, [4, 2, 4], 10),
    ("0,2/5,4/5", "0:2/5", 0, [3, 2], 5),
    ("0,2/5,4/5", "2/5:4/5", 1, [3, 2], 5),
    (None, "0:0.2", 1, [5], 5),
    (None, "0:1/5", 1, [5], 5),
    (None, "0:2/10", 1, [5], 5),
    (None, "0:0.4", 1, [2, 3], 5),
    (None, "0:2/5", 1, [2, 3], 5),
    (None, "2/5:4/5", 1, [3, 2], 5),
    (None, "0:4/10", 1, [2, 3], 5),
    (None, "1/10:5/10", 1, [2, 2, 4, 2], 10),
]


@pytest.mark.parametrize(("seq", "seg", "start", "offsets", "lcd"), STRIPED)
def test_k6_striped_offsets(
    seq: str | None, seg: str, start: int, offsets: list[int], lcd: int
) -> None:
    assert _tuple(seg, seq).striped_offsets() == (start, offsets, lcd)


# k6 TestSequenceLCD
@pytest.mark.parametrize(
    ("seq", "lcd"),
    [("0,0.3,0.5,0.6,0.7,0.8,0.9,1", 10), ("0,0.1,0.5,0.6,0.7,0.8,0.9,1", 10),
     ("0,0.2,0.5,0.6,0.7,0.8,0.9,1", 10), ("0,1/3,5/6", 6), ("0,1/3,4/7", 21)],
)  # fmt: skip
def test_k6_sequence_lcd(seq: str, lcd: int) -> None:
    assert SegmentSequence.parse(seq).lcd == lcd


def test_k6_new_tuple_based_on_value() -> None:
    # k6 TestGetNewExecutionTupleBesedOnValue
    got = _tuple("0:1/3", "0,1/3,2/3,1").new_from_value(20)
    assert got is not None
    assert str(got.sequence) == "0,7/20,7/10,1"


# k6 TestNewExecutionTuple: (segment, sequence, {value: share},
# {re-cut value: {value: share} or None when the segment drops out})
NEW_TUPLE = [
    (None, None, {50: 50, 1: 1, 0: 0}, {50: {50: 50, 1: 1, 0: 0}, 1: {50: 50, 1: 1, 0: 0}, 0: None}),
    ("0:1", None, {50: 50, 1: 1, 0: 0}, {50: {50: 50, 1: 1, 0: 0}, 1: {50: 50, 1: 1, 0: 0}, 0: None}),
    ("0:1", "0,1", {50: 50, 1: 1, 0: 0}, {50: {50: 50, 1: 1, 0: 0}, 1: {50: 50, 1: 1, 0: 0}, 0: None}),
    ("0:1", "", {50: 50, 1: 1, 0: 0}, {50: {50: 50, 1: 1, 0: 0}, 1: {50: 50, 1: 1, 0: 0}, 0: None}),
    ("0:1/3", "0,1/3,2/3,1", {50: 17, 3: 1, 2: 1, 1: 1, 0: 0},
     {50: {50: 17, 1: 1, 0: 0}, 20: {50: 18, 1: 1, 0: 0}, 3: {50: 17, 1: 1, 0: 0},
      2: {50: 25, 1: 1, 0: 0}, 1: {50: 50, 1: 1, 0: 0}, 0: None}),
    ("1/3:2/3", "0,1/3,2/3,1", {50: 17, 3: 1, 2: 1, 1: 0, 0: 0},
     {50: {50: 17, 1: 0, 0: 0}, 20: {50: 17, 1: 0, 0: 0}, 3: {50: 17, 1: 0, 0: 0},
      2: {50: 25, 1: 0, 0: 0}, 1: None, 0: None}),
    ("2/3:1", "0,1/3,2/3,1", {50: 16, 3: 1, 2: 0, 1: 0, 0: 0},
     {50: {50: 16, 1: 0, 0: 0}, 20: {50: 15, 1: 0, 0: 0}, 3: {50: 16, 1: 0, 0: 0},
      2: None, 1: None, 0: None}),
]  # fmt: skip


@pytest.mark.parametrize(("seg", "seq", "scales", "new_scales"), NEW_TUPLE)
def test_k6_new_execution_tuple(
    seg: str | None,
    seq: str | None,
    scales: dict[int, int],
    new_scales: dict[int, dict[int, int] | None],
) -> None:
    et = _tuple(seg, seq)
    for value, want in scales.items():
        assert et.scale(value) == want
    for cut, table in new_scales.items():
        got = et.new_from_value(cut)
        if table is None:
            assert got is None
            continue
        assert got is not None
        for value, want in table.items():
            assert got.scale(value) == want


def test_k6_corner_case_no_work_for_a_segment_without_vus() -> None:
    # k6 ramping_arrival_rate_test.go TestRampingArrivalRateCornerCase: maxVUs 2 gives the
    # segment 1/5:2/5 of "0,1/5,2/5,1" no VU, so it has no work
    et = _tuple("1/5:2/5", "0,1/5,2/5,1")
    assert et.scale(2) == 0
    assert et.new_from_value(2) is None


def test_equal_split_is_modulo_striping() -> None:
    for n in (1, 2, 3, 7, 16):
        seq = split_sequence(n)
        assert [seq.at(i).stripe() for i in range(n)] == [
            Stripe.every(i, n) if n > 1 else Stripe(1, (0,)) for i in range(n)
        ]


random_sequences = st.lists(st.integers(1, 12), min_size=1, max_size=8).map(
    lambda parts: [Fraction(sum(parts[:i]), sum(parts)) for i in range(len(parts) + 1)]
)


@given(random_sequences, st.integers(0, 500))
def test_shares_add_up_and_never_shrink(points: list[Fraction], value: int) -> None:
    # k6 TestExecutionTupleScaleConsistency and TestExecutionSegmentScaleNoWobble
    seq = SegmentSequence([ExecutionSegment(a, b) for a, b in itertools.pairwise(points)])
    shares = [seq.scale(i, value) for i in range(len(seq))]
    assert sum(shares) == value
    assert all(seq.scale(i, value + 1) >= s for i, s in enumerate(shares))
    stripes = [seq.at(i).stripe() for i in range(len(seq))]
    owners = [sum(1 for s in stripes if r % s.period in s.residues) for r in range(value)]
    assert all(o == 1 for o in owners)  # every index belongs to exactly one segment


@given(random_sequences, st.integers(1, 300), st.integers(0, 300))
def test_recut_shares_add_up(points: list[Fraction], cut: int, value: int) -> None:
    seq = SegmentSequence([ExecutionSegment(a, b) for a, b in itertools.pairwise(points)])
    total = 0
    for i in range(len(seq)):
        got = seq.at(i).new_from_value(cut)
        assert (got is None) == (seq.scale(i, cut) == 0)
        total += got.scale(value) if got is not None else 0
    assert total == value
