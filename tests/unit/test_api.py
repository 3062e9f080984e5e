"""The scenario author's API: env(), check(), sleep() and custom metrics, through ContextVars.

Pure: no Ray, no network, no wall-clock sleeping. A small recorder stands in for the
running VU (it implements context.Recorder, nothing more).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import pytest

from veza_ray.core.metric_types import BUILTIN_METRICS, MetricDef, MetricType, Tags, ValueType
from veza_ray.engine import api
from veza_ray.engine.api import Counter, Gauge, Rate, Trend, check, env
from veza_ray.engine.context import LoadContext, load_context, vu_context


@dataclass
class FakeVU:
    env: Mapping[str, str] = field(default_factory=dict)
    samples: list[tuple[str, float, Tags | None]] = field(default_factory=list)
    slept: list[float] = field(default_factory=list)

    def record(self, name: str, value: float, extra: Tags | None = None) -> None:
        self.samples.append((name, value, extra))

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.fixture
def vu() -> Iterator[FakeVU]:
    fake = FakeVU(env={"BASE_URL": "http://127.0.0.1:8080"})
    token = vu_context.set(fake)
    try:
        yield fake
    finally:
        vu_context.reset(token)


@pytest.fixture
def loading() -> Iterator[LoadContext]:
    ctx = LoadContext(env={"TARGET": "staging"})
    token = load_context.set(ctx)
    try:
        yield ctx
    finally:
        load_context.reset(token)


# --------------------------------------------------------------------------- env


def test_env_outside_any_context_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEZA_TEST_ONLY", "from-os")
    monkeypatch.delenv("VEZA_TEST_MISSING", raising=False)
    assert env("VEZA_TEST_ONLY") == "from-os"
    assert env("VEZA_TEST_MISSING") is None
    assert env("VEZA_TEST_MISSING", "fallback") == "fallback"


def test_env_inside_load_context_reads_its_env_only(
    loading: LoadContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver resolves -e over os.environ once; actors must see exactly that mapping."""
    monkeypatch.setenv("TARGET", "from-os")
    monkeypatch.setenv("VEZA_TEST_ONLY", "from-os")
    assert env("TARGET") == "staging"
    assert env("VEZA_TEST_ONLY") is None
    assert env("VEZA_TEST_ONLY", "d") == "d"


def test_env_inside_a_vu_reads_the_vu_env(vu: FakeVU, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASE_URL", "from-os")
    assert env("BASE_URL") == "http://127.0.0.1:8080"
    assert env("NOPE", "x") == "x"


def test_env_vu_wins_over_load_context(loading: LoadContext, vu: FakeVU) -> None:
    assert env("BASE_URL") == "http://127.0.0.1:8080"
    assert env("TARGET") is None


def test_contexts_do_not_leak_between_copies() -> None:
    ctx = LoadContext(env={"A": "1"})

    def inside() -> str | None:
        load_context.set(ctx)
        return env("A")

    assert contextvars.copy_context().run(inside) == "1"
    assert load_context.get() is None


# --------------------------------------------------------------------------- check


def test_check_records_one_sample_per_predicate(vu: FakeVU) -> None:
    ok = check(
        200,
        {"status is 200": lambda s: s == 200, "status is 201": lambda s: s == 201},
        tags={"scenario": "browse"},
    )
    assert ok is False
    assert vu.samples == [
        ("checks", 1.0, (("check", "status is 200"), ("scenario", "browse"))),
        ("checks", 0.0, (("check", "status is 201"), ("scenario", "browse"))),
    ]


def test_check_all_pass_returns_true(vu: FakeVU) -> None:
    assert check("body", {"non-empty": len, "is str": lambda b: isinstance(b, str)}) is True
    assert [s[1] for s in vu.samples] == [1.0, 1.0]
    assert [dict(s[2])["check"] for s in vu.samples] == ["non-empty", "is str"]


def test_check_evaluates_every_predicate_after_a_failure(vu: FakeVU) -> None:
    seen: list[str] = []

    def pred(name: str, result: bool):
        def f(_: object) -> bool:
            seen.append(name)
            return result

        return f

    assert check(None, {"a": pred("a", False), "b": pred("b", True)}) is False
    assert seen == ["a", "b"]


def test_check_with_no_predicates_passes_and_records_nothing(vu: FakeVU) -> None:
    assert check(1, {}) is True
    assert vu.samples == []


def test_check_raising_predicate_propagates(vu: FakeVU) -> None:
    def boom(_: object) -> bool:
        raise KeyError("missing")

    with pytest.raises(KeyError):
        check({}, {"first": lambda _: True, "explodes": boom, "never": lambda _: True})
    assert vu.samples[0] == ("checks", 1.0, (("check", "first"),))


def test_check_raising_predicate_counts_as_a_failed_check(vu: FakeVU) -> None:
    def boom(_: object) -> bool:
        raise KeyError("missing")

    with pytest.raises(KeyError):
        check({}, {"explodes": boom})
    assert vu.samples == [("checks", 0.0, (("check", "explodes"),))]


def test_check_accepts_plain_values(vu: FakeVU) -> None:
    assert check(None, {"true": True, "false": 0}) is False  # type: ignore[dict-item]
    assert [s[1] for s in vu.samples] == [1.0, 0.0]


def test_check_outside_a_vu_raises() -> None:
    with pytest.raises(RuntimeError, match="check"):
        check(1, {"x": lambda _: True})


# --------------------------------------------------------------------------- sleep


def test_sleep_inside_a_vu_goes_through_the_vu(vu: FakeVU) -> None:
    asyncio.run(api.sleep(2.5))
    assert vu.slept == [2.5]


# --------------------------------------------------------------------------- metrics


def test_custom_metrics_register_in_load_context(loading: LoadContext) -> None:
    t = Trend("upload_ms", time=True)
    c = Counter("bytes_up", data=True)
    g = Gauge("queue_depth")
    r = Rate("cache_hits")
    assert loading.errors == []
    assert loading.metrics == {
        "upload_ms": MetricDef("upload_ms", MetricType.TREND, ValueType.TIME),
        "bytes_up": MetricDef("bytes_up", MetricType.COUNTER, ValueType.DATA),
        "queue_depth": MetricDef("queue_depth", MetricType.GAUGE, ValueType.DEFAULT),
        "cache_hits": MetricDef("cache_hits", MetricType.RATE, ValueType.DEFAULT),
    }
    assert (t.name, c.name, g.name, r.name) == (
        "upload_ms",
        "bytes_up",
        "queue_depth",
        "cache_hits",
    )
    assert repr(t) == "Trend('upload_ms')"


def test_same_metric_twice_with_same_type_is_fine(loading: LoadContext) -> None:
    Trend("t1")
    Trend("t1")
    assert loading.errors == []


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (lambda: Trend("dup"), lambda: Counter("dup")),
        (lambda: Counter("dup"), lambda: Rate("dup")),
        (lambda: Trend("dup"), lambda: Trend("dup", time=True)),
    ],
)
def test_metric_redefinition_with_another_type_is_an_error(
    loading: LoadContext, first, second
) -> None:
    first()
    second()
    assert len(loading.errors) == 1
    assert "'dup'" in loading.errors[0]
    assert "already defined" in loading.errors[0]
    assert loading.metrics["dup"] == first().definition


# k6 metrics/registry_test.go, TestMetricNames (names k6 refuses), plus the length bounds
@pytest.mark.parametrize(
    "name",
    ["", "@", "a", "special\n\t", "hello.World_in_한글一안녕一세상", "t" + "o" * 140 + "g",
     "1abc", "has-dash", "has space", "é", "a" * 130, "a.b", "ok_name\n"],
)  # fmt: skip
def test_invalid_metric_names_rejected(loading: LoadContext, name: str) -> None:
    Counter(name)
    assert len(loading.errors) == 1
    assert "invalid metric name" in loading.errors[0]
    assert name not in loading.metrics


# k6 metrics/registry_test.go, TestMetricNames (names k6 accepts), plus the length bounds
@pytest.mark.parametrize("name", ["simple", "still_simple", "ab", "a" * 129, "_x"])
def test_valid_metric_names_accepted(loading: LoadContext, name: str) -> None:
    Counter(name)
    assert loading.errors == []
    assert name in loading.metrics


@pytest.mark.parametrize("name", ["http_req_duration", "checks", "vus", "iterations"])
def test_builtin_names_rejected(loading: LoadContext, name: str) -> None:
    assert name in BUILTIN_METRICS
    Trend(name)
    assert len(loading.errors) == 1
    assert "built-in" in loading.errors[0]
    assert name not in loading.metrics


def test_invalid_and_builtin_names_raise_outside_a_load() -> None:
    with pytest.raises(ValueError, match="invalid metric name"):
        Counter("9lives")
    with pytest.raises(ValueError, match="built-in"):
        Trend("http_req_duration")


def test_valid_name_edges(loading: LoadContext) -> None:
    Counter("__")
    Counter("a" * 129)
    Counter("Mixed_Case_9")
    assert loading.errors == []


def test_metric_add_records_into_the_vu(vu: FakeVU) -> None:
    t = Trend("upload_ms", time=True)
    r = Rate("cache_hits")
    t.add(12.5)
    t.add(3, tags={"size": "big", "kind": "mp3"})
    r.add(True)
    r.add(False)
    assert vu.samples == [
        ("upload_ms", 12.5, None),
        ("upload_ms", 3.0, (("kind", "mp3"), ("size", "big"))),
        ("cache_hits", 1.0, None),
        ("cache_hits", 0.0, None),
    ]


def test_metric_add_outside_a_vu_raises() -> None:
    with pytest.raises(RuntimeError, match="c_out"):
        Counter("c_out").add(1)
