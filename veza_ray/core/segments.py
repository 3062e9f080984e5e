"""k6's execution segments: how a test's VUs, iterations and rates are cut between actors.

A faithful port of the arithmetic in k6's ``lib/execution_segment.go`` (no code copied),
in exact fractions. The actors of a run are the segments of one sequence (k6's
``Split(n)``: 0, 1/n, 2/n, ..., 1). Work is dealt out by *striping*: the units 0, 1, 2, ...
of a value (VUs, iterations) repeat a pattern of period ``lcd`` (the least common
denominator of the segments' lengths), and each segment owns fixed positions of that
pattern. So a segment's share of a value is the count of its positions below the value,
the shares always add up to the value, and raising the value by one raises exactly one
share by one: no actor ever has to give a unit back.

Executors re-cut the sequence by a value first (``ExecutionTuple.new_from_value``): k6
splits shared-iterations' iterations in proportion to each segment's VUs, and an
arrival-rate scenario's iterations in proportion to each segment's maxVUs. A segment that
gets no VU drops out of the new sequence and so gets no work.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "ExecutionSegment",
    "ExecutionTuple",
    "SegmentSequence",
    "Stripe",
    "split_sequence",
]


def _ratio(text: str) -> Fraction:
    """k6's stringToRat: "50%", "0.5", "1/2"."""
    t = text.strip()
    try:
        if t.endswith("%"):
            return Fraction(int(t[:-1]), 100)
        return Fraction(t)
    except (ValueError, ZeroDivisionError):
        raise ValueError(
            f"'{text}' is not a valid percentage, decimal, fraction or interval value"
        ) from None


def _rat_string(x: Fraction) -> str:
    """big.Rat's RatString: "1/3", and "1" rather than "1/1"."""
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


def _round_half_up(x: Fraction) -> int:
    """k6's roundUp: the nearest integer, halves rounded up (used only for x >= 0)."""
    q, r = divmod(x.numerator, x.denominator)
    return q + 1 if 2 * r >= x.denominator else q


@dataclass(frozen=True)
class ExecutionSegment:
    """The part (start, end] of a test's work, 0 <= start < end <= 1."""

    start: Fraction
    end: Fraction

    def __post_init__(self) -> None:
        if self.start < 0:
            raise ValueError(f"segment start value must be at least 0 but was {self.start}")
        if self.start >= self.end:
            raise ValueError(f"segment start({self.start}) must be less than its end({self.end})")
        if self.end > 1:
            raise ValueError(f"segment end value can't be more than 1 but was {self.end}")

    @property
    def length(self) -> Fraction:
        return self.end - self.start

    @classmethod
    def parse(cls, text: str) -> ExecutionSegment:
        """k6's forms: "1/2:3/4", "50%:75%", and a lone end "0.2" meaning (0, 0.2]."""
        start = Fraction(0)
        end_text = text or "1"
        if ":" in end_text:
            start_text, _, end_text = end_text.partition(":")
            start = _ratio(start_text)
        return cls(start, _ratio(end_text))

    def __str__(self) -> str:
        return f"{_rat_string(self.start)}:{_rat_string(self.end)}"

    def scale(self, value: int) -> int:
        """k6's ExecutionSegment.Scale: round(value*end - round(value*start)).

        Alone, without a sequence; the shares of the segments of a sequence add up to the
        value, but a share may shrink as the value grows. Executors use ExecutionTuple.
        """
        return _round_half_up(value * self.end - _round_half_up(value * self.start))

    def split(self, parts: int) -> list[ExecutionSegment]:
        """``parts`` equal consecutive sub-segments (k6's Split)."""
        if parts < 1:
            raise ValueError(f"the number of parts must be at least 1, {parts} received")
        step = self.length / parts
        return [
            ExecutionSegment(self.start + i * step, self.start + (i + 1) * step)
            for i in range(parts)
        ]


FULL = ExecutionSegment(Fraction(0), Fraction(1))


@dataclass(frozen=True)
class Stripe:
    """The positions one segment owns: index k is its iff ``k % period`` is in ``residues``."""

    period: int
    residues: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.period < 1:
            raise ValueError(f"stripe period must be >= 1, got {self.period}")
        if list(self.residues) != sorted(set(self.residues)) or any(
            not 0 <= r < self.period for r in self.residues
        ):
            raise ValueError(f"stripe residues must be distinct, sorted, in [0, {self.period})")

    @classmethod
    def every(cls, index: int = 0, count: int = 1) -> Stripe:
        """Index k with k % count == index: an equal split's striping."""
        return cls(count, (index,))

    def count_below(self, n: int) -> int:
        """How many owned indices are < n (k6's ScaleInt64 for this segment)."""
        if n <= 0:
            return 0
        cycles, rest = divmod(n, self.period)
        return cycles * len(self.residues) + sum(1 for r in self.residues if r < rest)

    def nth(self, k: int) -> int:
        """The ``k``-th owned index (from 0): k6's SegmentedIndex ``unscaled`` for the
        local count ``k``, which is how k6 numbers iterationInTest across instances."""
        if not self.residues:
            raise ValueError("this stripe owns no index")
        cycles, rest = divmod(k, len(self.residues))
        return cycles * self.period + self.residues[rest]

    def indices(self, first: int = 0) -> Iterator[int]:
        """Owned indices >= ``first``, increasing, without end (empty if none are owned)."""
        if not self.residues:
            return
        base = (max(0, first) // self.period) * self.period
        while True:
            for r in self.residues:
                k = base + r
                if k >= first:
                    yield k
            base += self.period


class SegmentSequence:
    """A full chain of segments 0 = p0 < p1 < ... < pn = 1 with k6's striped offsets."""

    def __init__(self, segments: Sequence[ExecutionSegment]) -> None:
        if not segments or segments[0].start != 0 or segments[-1].end != 1:
            raise ValueError("a segment sequence must start at 0 and end at 1")
        for i in range(1, len(segments)):
            if segments[i].start != segments[i - 1].end:
                raise ValueError(
                    f"the start value {segments[i].start} of segment #{i} must be equal to "
                    f"the end value of the previous one, but it is {segments[i - 1].end}"
                )
        self.segments = tuple(segments)
        self.lcd = math.lcm(*(s.length.denominator for s in self.segments))
        self._positions = self._stripe()
        # value -> (re-cut sequence, new index of each old segment or -1); every actor of
        # a plan asks for the same re-cut, and striping a big one takes a while
        self._recut: dict[int, tuple[SegmentSequence, list[int]]] = {}

    @classmethod
    def parse(cls, text: str) -> SegmentSequence:
        """k6's "0,1/3,2/3,1"; gaps at either end are filled as k6 does."""
        points = [_ratio(p) for p in text.split(",")] if text else [Fraction(0), Fraction(1)]
        if len(points) < 2:
            raise ValueError(
                f"at least 2 points are needed for an execution segment sequence, "
                f"{len(points)} given"
            )
        segs = [ExecutionSegment(a, b) for a, b in itertools.pairwise(points)]
        return cls.filled(segs)

    @classmethod
    def filled(
        cls, segments: Sequence[ExecutionSegment], fallback: ExecutionSegment | None = None
    ) -> SegmentSequence:
        """k6's GetFilledExecutionSegmentSequence: add the missing head and tail segments."""
        segs = list(segments) or ([fallback] if fallback is not None else [FULL])
        if segs[0].start != 0:
            segs.insert(0, ExecutionSegment(Fraction(0), segs[0].start))
        if segs[-1].end != 1:
            segs.append(ExecutionSegment(segs[-1].end, Fraction(1)))
        return cls(segs)

    def __str__(self) -> str:
        return ",".join(
            _rat_string(p) for p in [self.segments[0].start] + [s.end for s in self.segments]
        )

    def __len__(self) -> int:
        return len(self.segments)

    def _stripe(self) -> list[list[int]]:
        """k6's striping: positions 0..lcd-1 dealt to segments, biggest first.

        Position i goes to the first segment (by length, longest first, ties in sequence
        order) whose next due position ``taken * lcd / numerator`` is at or before i. This
        spreads each segment's positions as evenly as possible over the period.
        """
        lcd = self.lcd
        nums = [s.length.numerator * (lcd // s.length.denominator) for s in self.segments]
        order = sorted(range(len(nums)), key=lambda i: -nums[i])  # stable: ties keep order
        taken = [0] * len(order)
        positions: list[list[int]] = [[] for _ in nums]
        for i in range(lcd):
            for rank, seg in enumerate(order):
                num, den = divmod(taken[rank] * lcd, nums[seg])
                if i > num or (i == num and den == 0):
                    taken[rank] += 1
                    positions[seg].append(i)
                    break
        return positions

    def stripe(self, index: int) -> Stripe:
        return Stripe(self.lcd, tuple(self._positions[index]))

    def striped_offsets(self, index: int) -> tuple[int, list[int], int]:
        """k6's GetStripedOffsets: first position, the gaps to each next one, and lcd."""
        pos = self._positions[index]
        gaps = [b - a for a, b in itertools.pairwise(pos)] + [pos[0] + self.lcd - pos[-1]]
        return pos[0], gaps, self.lcd

    def scale(self, index: int, value: int) -> int:
        """Segment ``index``'s share of ``value`` (k6's ScaleInt64 on the sequence)."""
        if len(self.segments) == 1:
            return value
        return self.stripe(index).count_below(value)

    def at(self, index: int) -> ExecutionTuple:
        """The tuple of segment ``index``: what that actor sees."""
        return ExecutionTuple(self, index)

    def new_from_value(self, value: int, tracked: int) -> tuple[SegmentSequence, int] | None:
        """The sequence re-cut so each segment's length is its share of ``value``.

        Segments whose share is 0 are dropped; None if ``tracked`` is one of them or value
        is below 1 (k6's GetNewExecutionSegmentSequenceFromValue returns an error then).
        """
        if value < 1:
            return None
        if value % self.lcd == 0:
            return self, tracked
        if value not in self._recut:
            new: list[ExecutionSegment] = []
            where: list[int] = []
            prev = 0
            for i in range(len(self.segments)):
                share = self.scale(i, value)
                where.append(len(new) if share else -1)
                if share:
                    new.append(
                        ExecutionSegment(Fraction(prev, value), Fraction(prev + share, value))
                    )
                    prev += share
            self._recut[value] = (SegmentSequence(new), where)
        sequence, where = self._recut[value]
        if where[tracked] < 0:
            return None
        return sequence, where[tracked]


@dataclass(frozen=True)
class ExecutionTuple:
    """One segment of a sequence: the view an actor (a k6 instance) has of the test."""

    sequence: SegmentSequence
    index: int

    @property
    def segment(self) -> ExecutionSegment:
        return self.sequence.segments[self.index]

    def scale(self, value: int) -> int:
        """This segment's share of ``value``; the shares of all segments add up to it."""
        return self.sequence.scale(self.index, value)

    def stripe(self) -> Stripe:
        if len(self.sequence) == 1:
            return Stripe(1, (0,))
        return self.sequence.stripe(self.index)

    def striped_offsets(self) -> tuple[int, list[int], int]:
        return self.sequence.striped_offsets(self.index)

    def new_from_value(self, value: int) -> ExecutionTuple | None:
        """This segment in the sequence re-cut by ``value``; None if its share is 0."""
        got = self.sequence.new_from_value(value, self.index)
        if got is None:
            return None
        return ExecutionTuple(*got)


def split_sequence(parts: int) -> SegmentSequence:
    """The sequence of ``parts`` equal segments: one per actor."""
    return SegmentSequence(FULL.split(parts))
