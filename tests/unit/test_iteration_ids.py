"""iterationInTest and the per-actor VU offsets: k6's SegmentedIndex, tables.

The first table is k6 v1.1.0's TestSegmentedIndex (lib/execution_segment_test.go): its
``unscaled`` after the n-th Next() is 1-based, ``Stripe.nth(n - 1) + 1`` here.
"""

from __future__ import annotations

import pytest

from veza_ray.core.iteration_ids import iteration_in_test, iteration_stripe, vu_offset
from veza_ray.core.options import parse_options
from veza_ray.core.plan import make_plan
from veza_ray.core.segments import Stripe


@pytest.mark.parametrize(
    ("stripe", "unscaled"),
    [
        (Stripe(1, (0,)), [1, 2, 3]),  # "full"
        (Stripe(2, (0,)), [1, 3, 5]),  # "half"
        (Stripe(2, (1,)), [2, 4, 6]),  # "the other half"
        (Stripe(7, (1, 5)), [2, 6, 9]),  # "strange": start 1, offsets 4, 3
    ],
)
def test_nth_is_k6_segmented_index(stripe: Stripe, unscaled: list[int]) -> None:
    assert [stripe.nth(k) + 1 for k in range(len(unscaled))] == unscaled


def test_nth_of_an_empty_stripe_is_refused() -> None:
    with pytest.raises(ValueError, match="owns no index"):
        Stripe(3, ()).nth(0)


def _scenario(raw: dict[str, object], actors: int) -> tuple[object, list[object]]:
    options = parse_options({"scenarios": {"s": raw}})
    plan = make_plan(options.scenarios, actors)
    return options.scenarios[0], [segs[0] for segs in plan]


# (executor options, actors, the stripe of each actor)
STRIPES = [
    # shared-iterations: re-cut by its VUs (20 VUs: 7/7/6 of period 20), as k6's Init
    (
        {"executor": "shared-iterations", "vus": 20, "iterations": 50},
        3,
        [
            (20, (0, 3, 6, 9, 12, 15, 18)),
            (20, (1, 4, 7, 10, 13, 16, 19)),
            (20, (2, 5, 8, 11, 14, 17)),
        ],
    ),
    # 4 VUs over 3 actors: 2/1/1, so actor 0 takes every other number
    (
        {"executor": "shared-iterations", "vus": 4, "iterations": 40},
        3,
        [(4, (0, 2)), (4, (1,)), (4, (3,))],
    ),
    # a time-based executor: the actor's own segment of 0,1/3,2/3,1
    (
        {"executor": "constant-vus", "vus": 5, "duration": "1s"},
        3,
        [(3, (0,)), (3, (1,)), (3, (2,))],
    ),
    ({"executor": "per-vu-iterations", "vus": 5, "iterations": 2}, 2, [(2, (0,)), (2, (1,))]),
    # arrival rate: re-cut by maxVUs (the plan's own stripe)
    (
        {"executor": "constant-arrival-rate", "rate": 10, "duration": "1s", "preAllocatedVUs": 2},
        3,
        [(2, (0,)), (2, (1,)), (1, ())],
    ),
    ({"executor": "shared-iterations", "vus": 3, "iterations": 9}, 1, [(1, (0,))]),
]


@pytest.mark.parametrize(("raw", "actors", "want"), STRIPES)
def test_stripes_per_executor(raw: dict[str, object], actors: int, want: list[object]) -> None:
    sc, segs = _scenario(raw, actors)
    got = [iteration_stripe(sc, seg) for seg in segs]  # type: ignore[arg-type]
    assert [(s.period, s.residues) for s in got] == want


@pytest.mark.parametrize(
    ("vus", "iterations", "actors"), [(20, 50, 3), (4, 40, 3), (7, 7, 3), (5, 101, 4), (3, 10, 1)]
)
def test_shared_iterations_numbers_are_unique_and_gap_free(
    vus: int, iterations: int, actors: int
) -> None:
    sc, segs = _scenario(
        {"executor": "shared-iterations", "vus": vus, "iterations": iterations}, actors
    )
    numbers: list[int] = []
    for seg in segs:
        stripe = iteration_stripe(sc, seg)  # type: ignore[arg-type]
        numbers += [iteration_in_test(stripe, k) for k in range(seg.iterations)]  # type: ignore[attr-defined]
    assert sorted(numbers) == list(range(iterations))


@pytest.mark.parametrize(
    ("vus", "actors", "offsets"),
    [(10, 3, [0, 4, 7]), (2, 3, [0, 1, 2]), (6, 1, [0]), (7, 2, [0, 4])],
)
def test_vu_offsets_are_the_actors_before(vus: int, actors: int, offsets: list[int]) -> None:
    sc, segs = _scenario({"executor": "constant-vus", "vus": vus, "duration": "1s"}, actors)
    assert [vu_offset(sc, seg) for seg in segs] == offsets  # type: ignore[arg-type]
    ends = [vu_offset(sc, seg) + seg.max_vus for seg in segs]  # type: ignore[arg-type, attr-defined]
    assert ends[-1] == vus and ends[:-1] == offsets[1:]


@pytest.mark.parametrize("actors", [1, 2, 3, 5])
def test_arrival_rate_numbers_are_the_schedules_indices(actors: int) -> None:
    """An actor that starts every planned arrival numbers them 0..total-1 with the others."""
    raw = {"executor": "constant-arrival-rate", "rate": 50, "duration": "1s",
           "preAllocatedVUs": 20}  # fmt: skip
    sc, segs = _scenario(raw, actors)
    numbers: list[int] = []
    for seg in segs:
        planned = sc.planned_iterations(seg)  # type: ignore[attr-defined]
        stripe = iteration_stripe(sc, seg)  # type: ignore[arg-type]
        numbers += [iteration_in_test(stripe, k) for k in range(planned)]
    assert sorted(numbers) == list(range(50))
