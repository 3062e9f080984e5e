"""k6 options -> validated dataclasses: defaults, durations, shortcuts, and every error reported.

Pure: no Ray, no network, no sleeping, no wall-clock limits.
"""

from __future__ import annotations

import math

import pytest

from veza_ray.core.options import (
    DEFAULT_TREND_STATS,
    EXECUTORS,
    Options,
    OptionsError,
    ScenarioConfig,
    parse_duration,
    parse_options,
    parse_trend_stats,
)
from veza_ray.core.schedule import Stage


def _one(scenario: dict) -> ScenarioConfig:
    opts = parse_options({"scenarios": {"s": scenario}})
    assert len(opts.scenarios) == 1
    return opts.scenarios[0]


def _errors(raw: object) -> list[str]:
    with pytest.raises(OptionsError) as info:
        parse_options(raw)
    assert info.value.errors, "an OptionsError must carry at least one message"
    assert str(info.value) == "; ".join(info.value.errors)
    return info.value.errors


def _has(errors: list[str], *parts: str) -> bool:
    return any(all(p in e for p in parts) for e in errors)


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("1m30s", 90.0),
        ("1.5h", 5400.0),
        ("250ms", 0.25),
        ("2h3m4s", 7384.0),
        ("1m", 60.0),
        ("1h0m0s", 3600.0),
        ("100us", 1e-4),
        ("100µs", 1e-4),
        ("5ns", 5e-9),
        (".5s", 0.5),
        ("0", 0.0),
        ("0s", 0.0),
        (" 10s ", 10.0),
        (1500, 1.5),
        (250, 0.25),
        (0, 0.0),
        (12.5, 0.0125),
    ],
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "30x",
        "s",
        "1m30",
        "30S",
        "-5s",
        "1..5s",
        "ten seconds",
        -1,
        math.inf,
        math.nan,
        True,
        None,
        [1],
    ],
)
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_parse_duration_error_quotes_value() -> None:
    with pytest.raises(ValueError, match='"30x"'):
        parse_duration("30x")


@pytest.mark.parametrize(("text", "seconds"), [("500", 0.5), ("1d", 86400.0), ("1d12h", 129600.0)])
def test_parse_duration_k6_extended_forms(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


# --------------------------------------------------------------------------- defaults


def test_constant_vus_defaults() -> None:
    sc = _one({"executor": "constant-vus", "duration": "30s"})
    assert (sc.name, sc.executor, sc.exec) == ("s", "constant-vus", "default")
    assert sc.vus == 1
    assert sc.duration == 30.0
    assert sc.start_time == 0.0
    assert sc.graceful_stop == 30.0
    assert sc.tags == ()
    assert sc.env == ()
    assert sc.max_vus_needed == 1
    assert sc.run_duration == 30.0
    assert sc.end_time == 60.0


def test_ramping_vus_defaults() -> None:
    sc = _one({"executor": "ramping-vus", "stages": [{"duration": "10s", "target": 5}]})
    assert sc.start_vus == 1
    assert sc.stages == (Stage(10.0, 5),)
    assert sc.graceful_ramp_down == 30.0
    assert sc.graceful_stop == 30.0
    assert sc.max_vus_needed == 5
    assert sc.run_duration == 10.0
    assert sc.end_time == 40.0  # k6: stages + gracefulStop; gracefulRampDown is inside it


@pytest.mark.parametrize("executor", ["per-vu-iterations", "shared-iterations"])
def test_iteration_executor_defaults(executor: str) -> None:
    sc = _one({"executor": executor})
    assert sc.vus == 1
    assert sc.iterations == 1
    assert sc.max_duration == 600.0  # k6: 10m
    assert sc.graceful_stop == 30.0
    assert sc.run_duration == 600.0


def test_constant_arrival_rate_defaults() -> None:
    sc = _one(
        {
            "executor": "constant-arrival-rate",
            "rate": 50,
            "duration": "1m",
            "preAllocatedVUs": 20,
        }
    )
    assert sc.is_arrival_rate
    assert sc.rate == 50.0
    assert sc.time_unit == 1.0
    assert sc.duration == 60.0
    assert sc.pre_allocated_vus == 20
    assert sc.max_vus == 20  # k6: maxVUs defaults to preAllocatedVUs
    assert sc.max_vus_needed == 20
    assert sc.graceful_stop == 30.0


def test_ramping_arrival_rate_defaults() -> None:
    sc = _one(
        {
            "executor": "ramping-arrival-rate",
            "preAllocatedVUs": 5,
            "maxVUs": 50,
            "stages": [{"duration": "30s", "target": 100}, {"duration": "1m", "target": 0}],
        }
    )
    assert sc.start_rate == 0.0
    assert sc.time_unit == 1.0
    assert sc.pre_allocated_vus == 5
    assert sc.max_vus == 50
    assert sc.max_vus_needed == 50
    assert sc.stages == (Stage(30.0, 100), Stage(60.0, 0))
    assert sc.run_duration == 90.0


def test_every_executor_has_a_defaults_test() -> None:
    assert set(EXECUTORS) == {
        "constant-vus",
        "ramping-vus",
        "per-vu-iterations",
        "shared-iterations",
        "constant-arrival-rate",
        "ramping-arrival-rate",
    }


def test_common_keys_are_read() -> None:
    sc = _one(
        {
            "executor": "constant-vus",
            "vus": 10,
            "duration": "5m",
            "startTime": "30s",
            "gracefulStop": "5s",
            "exec": "browse",
            "tags": {"team": "web", "kind": "read"},
            "env": {"BASE": "http://127.0.0.1"},
        }
    )
    assert sc.exec == "browse"
    assert sc.start_time == 30.0
    assert sc.graceful_stop == 5.0
    assert sc.tags == (("kind", "read"), ("team", "web"))
    assert sc.env == (("BASE", "http://127.0.0.1"),)
    assert sc.end_time == 30.0 + 300.0 + 5.0


def test_option_level_defaults_and_values() -> None:
    opts = parse_options(None)
    assert isinstance(opts, Options)
    assert opts.summary_trend_stats == ("avg", "min", "med", "max", "p(90)", "p(95)")
    assert opts.discard_response_bodies is False
    assert opts.thresholds == {}
    opts = parse_options(
        {
            "vus": 2,
            "duration": "10s",
            "discardResponseBodies": True,
            "summaryTrendStats": ["avg", "p(99)", "p(99.9)", "count"],
            "userAgent": "veza/1",
            "thresholds": {"http_req_duration": ["p(95)<500"]},
            "tags": {"env": "staging"},
        }
    )
    assert opts.discard_response_bodies is True
    assert opts.summary_trend_stats == ("avg", "p(99)", "p(99.9)", "count")
    assert opts.user_agent == "veza/1"
    assert opts.thresholds == {"http_req_duration": ["p(95)<500"]}
    assert opts.tags == (("env", "staging"),)
    assert opts.raw["vus"] == 2


def test_total_duration_is_latest_scenario_end() -> None:
    opts = parse_options(
        {
            "scenarios": {
                "a": {"executor": "constant-vus", "duration": "1m", "gracefulStop": "0s"},
                "b": {
                    "executor": "constant-vus",
                    "duration": "1m",
                    "startTime": "2m",
                    "gracefulStop": "10s",
                },
            }
        }
    )
    assert max(s.end_time for s in opts.scenarios) == 190.0
    assert [s.name for s in opts.scenarios] == ["a", "b"]


# --------------------------------------------------------------------------- shortcuts


def test_shortcut_vus_duration_is_constant_vus_default() -> None:
    (sc,) = parse_options({"vus": 10, "duration": "30s"}).scenarios
    assert (sc.name, sc.executor, sc.vus, sc.duration) == ("default", "constant-vus", 10, 30.0)


def test_shortcut_duration_alone_has_one_vu() -> None:
    (sc,) = parse_options({"duration": "1m"}).scenarios
    assert (sc.executor, sc.vus) == ("constant-vus", 1)


def test_shortcut_iterations_is_shared_iterations() -> None:
    (sc,) = parse_options({"vus": 5, "iterations": 100}).scenarios
    assert (sc.name, sc.executor, sc.vus, sc.iterations) == ("default", "shared-iterations", 5, 100)
    assert sc.max_duration == 600.0
    (sc,) = parse_options({"iterations": 10, "duration": "20s"}).scenarios
    assert (sc.executor, sc.vus, sc.iterations, sc.max_duration) == (
        "shared-iterations",
        1,
        10,
        20.0,
    )


def test_shortcut_stages_is_ramping_vus() -> None:
    stages = [{"duration": "10s", "target": 20}, {"duration": "20s", "target": 0}]
    (sc,) = parse_options({"stages": stages}).scenarios
    assert (sc.name, sc.executor, sc.start_vus) == ("default", "ramping-vus", 1)
    assert sc.stages == (Stage(10.0, 20), Stage(20.0, 0))
    (sc,) = parse_options({"vus": 3, "stages": stages}).scenarios
    assert sc.start_vus == 3  # k6: startVUs = vus


def test_no_execution_options_is_one_iteration_of_one_vu() -> None:
    (sc,) = parse_options({}).scenarios
    assert (sc.name, sc.executor, sc.vus, sc.iterations) == (
        "default",
        "per-vu-iterations",
        1,
        1,
    )


@pytest.mark.parametrize("other", [{"duration": "10s"}, {"iterations": 10}])
def test_conflicting_shortcuts_are_an_error(other: dict) -> None:
    errors = _errors({"stages": [{"duration": "10s", "target": 5}], **other})
    assert _has(errors, "stages")


@pytest.mark.parametrize("shortcut", [{"duration": "10s"}, {"iterations": 10}])
def test_shortcuts_and_scenarios_together_are_an_error(shortcut: dict) -> None:
    scenarios = {"a": {"executor": "constant-vus", "duration": "1s"}}
    errors = _errors({**shortcut, "scenarios": scenarios})
    assert _has(errors, "options", "scenarios")


def test_vus_with_scenarios_is_ignored_like_k6() -> None:
    # k6 v1.1 (checked with `k6 run`): top-level vus next to scenarios is silently ignored
    opts = parse_options(
        {"vus": 5, "scenarios": {"a": {"executor": "constant-vus", "duration": "1s"}}}
    )
    assert opts.scenarios[0].vus == 1
    assert opts.warnings == ()


# --------------------------------------------------------------------------- errors


def test_unknown_executor() -> None:
    errors = _errors({"scenarios": {"a": {"executor": "constant-vu", "duration": "1s"}}})
    assert _has(errors, "scenarios.a.executor", "'constant-vu'")


def test_missing_executor() -> None:
    errors = _errors({"scenarios": {"a": {"duration": "1s"}}})
    assert _has(errors, "scenarios.a.executor", "None")


@pytest.mark.parametrize("executor", ["constant-vus", "constant-arrival-rate"])
def test_missing_duration(executor: str) -> None:
    scenario = {"executor": executor, "rate": 1, "preAllocatedVUs": 1}
    if executor == "constant-vus":
        scenario = {"executor": executor, "vus": 2}
    errors = _errors({"scenarios": {"a": scenario}})
    assert _has(errors, "scenarios.a.duration")


def test_zero_duration() -> None:
    errors = _errors({"scenarios": {"a": {"executor": "constant-vus", "duration": "0s"}}})
    assert _has(errors, "scenarios.a.duration", "above 0")


def test_bad_duration_value_is_quoted() -> None:
    errors = _errors({"scenarios": {"a": {"executor": "constant-vus", "duration": "30 secs"}}})
    assert _has(errors, "scenarios.a.duration", '"30 secs"')


def test_shared_iterations_fewer_iterations_than_vus() -> None:
    errors = _errors(
        {"scenarios": {"a": {"executor": "shared-iterations", "vus": 10, "iterations": 5}}}
    )
    assert _has(errors, "scenarios.a.iterations", "(5)", "(10)")


def test_per_vu_iterations_may_have_fewer_iterations_than_vus() -> None:
    sc = _one({"executor": "per-vu-iterations", "vus": 10, "iterations": 5})
    assert (sc.vus, sc.iterations) == (10, 5)


def test_max_vus_below_pre_allocated() -> None:
    errors = _errors(
        {
            "scenarios": {
                "a": {
                    "executor": "constant-arrival-rate",
                    "rate": 10,
                    "duration": "1m",
                    "preAllocatedVUs": 20,
                    "maxVUs": 5,
                }
            }
        }
    )
    assert _has(errors, "scenarios.a.maxVUs", "5", "20")


@pytest.mark.parametrize("executor", ["constant-arrival-rate", "ramping-arrival-rate"])
def test_pre_allocated_vus_required(executor: str) -> None:
    scenario = {
        "executor": executor,
        "rate": 1,
        "duration": "1m",
        "stages": [{"duration": "1s", "target": 1}],
    }
    if executor == "ramping-arrival-rate":
        del scenario["rate"], scenario["duration"]
    errors = _errors({"scenarios": {"a": scenario}})
    assert _has(errors, "scenarios.a.preAllocatedVUs", "required")


def test_constant_arrival_rate_needs_a_positive_rate() -> None:
    base = {"executor": "constant-arrival-rate", "duration": "1m", "preAllocatedVUs": 1}
    assert _has(_errors({"scenarios": {"a": base}}), "scenarios.a.rate", "required")
    assert _has(_errors({"scenarios": {"a": {**base, "rate": 0}}}), "scenarios.a.rate")
    assert _has(_errors({"scenarios": {"a": {**base, "rate": "10"}}}), "scenarios.a.rate", "'10'")


def test_time_unit_must_be_positive() -> None:
    errors = _errors(
        {
            "scenarios": {
                "a": {
                    "executor": "constant-arrival-rate",
                    "rate": 1,
                    "duration": "1m",
                    "preAllocatedVUs": 1,
                    "timeUnit": "0s",
                }
            }
        }
    )
    assert _has(errors, "scenarios.a.timeUnit")


def test_unknown_scenario_key_typo() -> None:
    errors = _errors(
        {"scenarios": {"browse": {"executor": "constant-vus", "vus": 2, "duraton": "30s"}}}
    )
    assert _has(errors, "scenarios.browse.duraton", "constant-vus")
    assert _has(errors, "scenarios.browse.duration")  # and the real key is still missing


def test_key_of_another_executor_is_unknown() -> None:
    errors = _errors(
        {"scenarios": {"a": {"executor": "constant-vus", "duration": "1s", "rate": 5}}}
    )
    assert _has(errors, "scenarios.a.rate", "constant-vus")


def test_unknown_top_level_key_typo() -> None:
    errors = _errors({"vus": 1, "duraton": "30s"})
    assert _has(errors, "options.duraton")


@pytest.mark.parametrize(
    ("stages", "path", "quoted"),
    [
        ([{"duration": "10s"}], "scenarios.r.stages[0]", "'duration': '10s'"),
        ([{"target": 3}], "scenarios.r.stages[0]", "'target': 3"),
        ([{"duration": "10x", "target": 3}], "scenarios.r.stages[0].duration", '"10x"'),
        ([{"duration": "10s", "target": -1}], "scenarios.r.stages[0].target", "-1"),
        ([{"duration": "10s", "target": 1.5}], "scenarios.r.stages[0].target", "1.5"),
        (
            [{"duration": "1s", "target": 1}, {"duration": "1s", "target": 2, "vus": 1}],
            "scenarios.r.stages[1]",
            "vus",
        ),
        ([], "scenarios.r.stages", "non-empty"),
        ("10s", "scenarios.r.stages", "non-empty"),
    ],
)
def test_bad_stage(stages: object, path: str, quoted: str) -> None:
    errors = _errors({"scenarios": {"r": {"executor": "ramping-vus", "stages": stages}}})
    assert _has(errors, path, quoted), errors


def test_missing_stages() -> None:
    errors = _errors({"scenarios": {"r": {"executor": "ramping-vus"}}})
    assert _has(errors, "scenarios.r.stages")


def test_ramping_vus_all_zero_is_an_error() -> None:
    errors = _errors(
        {
            "scenarios": {
                "r": {
                    "executor": "ramping-vus",
                    "startVUs": 0,
                    "stages": [{"duration": "10s", "target": 0}],
                }
            }
        }
    )
    assert _has(errors, "scenarios.r")


@pytest.mark.parametrize(
    ("stats", "quoted"),
    [
        (["avg", "p95"], '"p95"'),
        (["avg", "p(101)"], '"p(101)"'),
        (["mean"], '"mean"'),
        (["avg", "p()"], '"p()"'),
    ],
)
def test_bad_summary_trend_stats(stats: list[str], quoted: str) -> None:
    errors = _errors({"summaryTrendStats": stats})
    assert _has(errors, "summaryTrendStats", quoted)


def test_summary_trend_stats_not_a_list() -> None:
    assert _has(_errors({"summaryTrendStats": 5}), "summaryTrendStats", "5")
    assert parse_options({"summaryTrendStats": []}).summary_trend_stats == ()


def test_parse_trend_stats_direct() -> None:
    assert parse_trend_stats("avg, p(99),max") == ("avg", "p(99)", "max")
    assert parse_trend_stats(["p(0)", "p(100)", "p(99.99)", "count", "med", "min"]) == (
        "p(0)",
        "p(100)",
        "p(99.99)",
        "count",
        "med",
        "min",
    )
    with pytest.raises(OptionsError) as info:
        parse_trend_stats("avg,p(999),foo")
    assert len(info.value.errors) == 2
    assert _has(info.value.errors, '"p(999)"')
    assert _has(info.value.errors, '"foo"')


@pytest.mark.parametrize(
    ("raw", "path", "quoted"),
    [
        ({"discardResponseBodies": "yes"}, "options.discardResponseBodies", "'yes'"),
        ({"userAgent": 5}, "options.userAgent", "5"),
        ({"thresholds": ["p(95)<1"]}, "options.thresholds", "['p(95)<1']"),
        ({"scenarios": {}}, "options.scenarios", "non-empty"),
        ({"scenarios": []}, "options.scenarios", "non-empty"),
        ({"scenarios": {"a": 5}}, "scenarios.a", "5"),
        (
            {"scenarios": {"bad name!": {"executor": "shared-iterations"}}},
            "scenarios.bad name!",
            "",
        ),
        (
            {"scenarios": {"a": {"executor": "shared-iterations", "exec": "not-a-name"}}},
            "scenarios.a.exec",
            "'not-a-name'",
        ),
        (
            {"scenarios": {"a": {"executor": "shared-iterations", "tags": {"x": 1}}}},
            "scenarios.a.tags",
            "{'x': 1}",
        ),
        (
            {"scenarios": {"a": {"executor": "shared-iterations", "vus": 0}}},
            "scenarios.a.vus",
            "0",
        ),
        (
            {"scenarios": {"a": {"executor": "shared-iterations", "vus": 2.5, "iterations": 5}}},
            "scenarios.a.vus",
            "2.5",
        ),
        (
            {"scenarios": {"a": {"executor": "shared-iterations", "vus": True}}},
            "scenarios.a.vus",
            "True",
        ),
        (
            {"scenarios": {"a": {"executor": "per-vu-iterations", "maxDuration": "0s"}}},
            "scenarios.a.maxDuration",
            "",
        ),
    ],
)
def test_invalid_values_name_path_and_quote_value(raw: dict, path: str, quoted: str) -> None:
    errors = _errors(raw)
    assert _has(errors, path, quoted), errors


def test_options_must_be_a_dict() -> None:
    assert _has(_errors([1, 2]), "options", "list")


def test_several_problems_all_reported() -> None:
    errors = _errors(
        {
            "summaryTrendStats": ["avg", "p95"],
            "duraton": "1m",
            "scenarios": {
                "a": {"executor": "constant-vu", "duration": "1s"},
                "b": {"executor": "shared-iterations", "vus": 10, "iterations": 2},
                "c": {
                    "executor": "constant-arrival-rate",
                    "rate": 10,
                    "duration": "1m",
                    "preAllocatedVUs": 10,
                    "maxVUs": 1,
                },
                "d": {"executor": "ramping-vus", "stages": [{"duration": "1s"}]},
                "e": {"executor": "constant-vus", "vus": 1, "duraton": "1m"},
            },
        }
    )
    assert _has(errors, "options.duraton")
    assert _has(errors, "summaryTrendStats", '"p95"')
    assert _has(errors, "scenarios.a.executor", "'constant-vu'")
    assert _has(errors, "scenarios.b.iterations")
    assert _has(errors, "scenarios.c.maxVUs")
    assert _has(errors, "scenarios.d.stages[0]")
    assert _has(errors, "scenarios.e.duraton")
    assert _has(errors, "scenarios.e.duration")
    assert len(errors) >= 8


@pytest.mark.parametrize("value", [math.inf, math.nan])
def test_non_finite_vus_is_an_options_error(value: float) -> None:
    errors = _errors(
        {"scenarios": {"a": {"executor": "constant-vus", "vus": value, "duration": "1s"}}}
    )
    assert _has(errors, "scenarios.a.vus")


def test_bad_top_level_tags_are_reported() -> None:
    errors = _errors({"tags": {"team": 1}})
    assert _has(errors, "options.tags", "{'team': 1}")


@pytest.mark.parametrize("key", ["noConnectionReuse", "insecureSkipTLSVerify"])
def test_boolean_options_refuse_strings(key: str) -> None:
    errors = _errors({key: "false"})
    assert _has(errors, f"options.{key}", "'false'")


def test_boolean_options_read() -> None:
    opts = parse_options({"noConnectionReuse": True, "insecureSkipTLSVerify": True})
    assert opts.no_connection_reuse is True
    assert opts.insecure_skip_tls_verify is True


def test_options_are_frozen() -> None:
    opts = parse_options({"vus": 1, "duration": "1s"})
    with pytest.raises(AttributeError):
        opts.scenarios[0].vus = 5  # type: ignore[misc]


# --------------------------------------------------------------------------- k6 tables

# k6 lib/types/types_test.go, TestParseExtendedDuration (negative results, which k6
# parses and then refuses in validation, are refused here at once).
K6_DURATIONS_OK = [
    ("1.12s", 1.12),
    ("0d1.12s", 1.12),
    ("10d1.12s", 240 * 3600 + 1.12),
    ("1s", 1.0),
    ("1d", 86400.0),
    ("20d", 480 * 3600.0),
    ("1d23h", 47 * 3600.0),
    ("1d24h15m", 48 * 3600 + 15 * 60.0),
    ("1d25h80m", 50 * 3600 + 20 * 60.0),
    ("0d25h120m80s", 27 * 3600 + 80.0),
    ("2d1ns", 48 * 3600 + 1e-9),
    # k6 types.ParseExtendedDuration: a decimal number without a unit is milliseconds
    ("1000.001", 1.000001),
    ("500", 0.5),
    ("1e3", 1.0),
    ("5.s", 5.0),
    ("1μs", 1e-6),
]
K6_DURATIONS_BAD = ["", "d", "d2h", "2.1d", "2d-2h", "-2d-2h", "2+d", "2da", "2-d", "-1d2h"]


@pytest.mark.parametrize(("text", "seconds"), K6_DURATIONS_OK)
def test_k6_extended_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds, abs=1e-12)


@pytest.mark.parametrize("text", K6_DURATIONS_BAD)
def test_k6_extended_durations_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


# k6 lib/executor/executors_test.go, TestConfigMapParsingAndValidation: True means k6
# accepts the scenario map, False that it reports a parse or validation error.
K6_CONFIGS: list[tuple[dict, bool]] = [
    ({"someKey": {}}, False),
    ({"someKey": {"executor": "constant-blah-blah", "vus": 10, "duration": "60s"}}, False),
    ({"someKey": {"executor": "constant-vus", "uknownField": "should_error"}}, False),
    ({"someKey": {"executor": "constant-vus", "vus": 10, "duration": "60s", "env": 123}}, False),
    ({"aname": {"executor": "constant-vus", "duration": "60s"}}, True),
    ({"": {"executor": "constant-vus", "vus": 10, "duration": "60s"}}, False),
    ({"aname": {"executor": "constant-vus"}}, False),
    ({"aname": {"executor": "constant-vus", "vus": 0.5}}, False),
    ({"aname": {"executor": "constant-vus", "vus": 10}}, False),
    ({"aname": {"executor": "constant-vus", "vus": 0, "duration": "60s"}}, False),
    ({"aname": {"executor": "constant-vus", "vus": -1, "duration": "60s"}}, False),
    ({"aname": {"executor": "constant-vus", "vus": 10, "duration": "0s"}}, False),
    ({"aname": {"executor": "constant-vus", "vus": 10, "duration": "10s", "startTime": "-10s"}},
     False),
    ({"aname": {"executor": "constant-vus", "vus": 10, "duration": "10s", "exec": ""}}, False),
    ({"aname": {"executor": "constant-vus", "vus": 10, "duration": "10s", "gracefulStop": "-2s"}},
     False),
    ({"varloops": {"executor": "ramping-vus", "startVUs": 20, "gracefulStop": "15s",
                   "gracefulRampDown": "10s", "startTime": "23s",
                   "stages": [{"duration": "60s", "target": 30},
                              {"duration": "130s", "target": 10}]}}, True),
    ({"varloops": {"executor": "ramping-vus", "startVUs": 0,
                   "stages": [{"duration": "60s", "target": 0}]}}, False),
    ({"varloops": {"executor": "ramping-vus", "startVUs": -1,
                   "stages": [{"duration": "60s", "target": 30}]}}, False),
    ({"varloops": {"executor": "ramping-vus", "startVUs": 2,
                   "stages": [{"duration": "-60s", "target": 30}]}}, False),
    ({"varloops": {"executor": "ramping-vus", "startVUs": 2,
                   "stages": [{"duration": "60s", "target": -30}]}}, False),
    ({"varloops": {"executor": "ramping-vus", "stages": [{"duration": "60s"}]}}, False),
    ({"varloops": {"executor": "ramping-vus", "stages": [{"target": 30}]}}, False),
    ({"varloops": {"executor": "ramping-vus", "stages": []}}, False),
    ({"varloops": {"executor": "ramping-vus"}}, False),
    ({"ishared": {"executor": "shared-iterations"}}, True),
    ({"ishared": {"executor": "shared-iterations", "iterations": 20}}, True),
    ({"ishared": {"executor": "shared-iterations", "vus": 10}}, False),
    ({"ishared": {"executor": "shared-iterations", "iterations": 20, "vus": 10,
                  "maxDuration": "30m"}}, True),
    ({"ishared": {"executor": "shared-iterations", "iterations": 20, "vus": 10,
                  "maxDuration": "-3m"}}, False),
    ({"ishared": {"executor": "shared-iterations", "iterations": 20, "vus": 10,
                  "maxDuration": "0s"}}, False),
    ({"ishared": {"executor": "shared-iterations", "iterations": 20, "vus": -10}}, False),
    ({"ishared": {"executor": "shared-iterations", "iterations": -1, "vus": 1}}, False),
    ({"ishared": {"executor": "shared-iterations", "iterations": 20, "vus": 30}}, False),
    ({"ipervu": {"executor": "per-vu-iterations"}}, True),
    ({"ipervu": {"executor": "per-vu-iterations", "iterations": 20}}, True),
    ({"ipervu": {"executor": "per-vu-iterations", "vus": 10}}, True),
    ({"ipervu": {"executor": "per-vu-iterations", "iterations": 20, "vus": 10}}, True),
    ({"ipervu": {"executor": "per-vu-iterations", "iterations": 20, "vus": 10,
                 "maxDuration": "-3m"}}, False),
    ({"ipervu": {"executor": "per-vu-iterations", "iterations": 20, "vus": 10,
                 "maxDuration": "0s"}}, False),
    ({"ipervu": {"executor": "per-vu-iterations", "iterations": 20, "vus": -10}}, False),
    ({"ipervu": {"executor": "per-vu-iterations", "iterations": -1, "vus": 1}}, False),
    ({"carrival": {"executor": "constant-arrival-rate", "rate": 10, "duration": "10m",
                   "preAllocatedVUs": 20, "maxVUs": 30}}, True),
    ({"carrival": {"executor": "constant-arrival-rate", "rate": 10, "duration": "10m",
                   "preAllocatedVUs": 20, "maxVUs": 30, "timeUnit": "-1s"}}, False),
    ({"carrival": {"executor": "constant-arrival-rate", "rate": 10, "duration": "10m",
                   "preAllocatedVUs": 20, "maxVUs": 30, "timeUnit": "0s"}}, False),
    ({"carrival": {"executor": "constant-arrival-rate", "rate": 10, "duration": "10m",
                   "maxVUs": 30}}, False),
    ({"carrival": {"executor": "constant-arrival-rate", "rate": 10, "preAllocatedVUs": 20,
                   "maxVUs": 30}}, False),
    ({"carrival": {"executor": "constant-arrival-rate", "duration": "10m",
                   "preAllocatedVUs": 20, "maxVUs": 30}}, False),
    ({"carrival": {"executor": "constant-arrival-rate", "rate": 10, "duration": "0m",
                   "preAllocatedVUs": 20, "maxVUs": 30}}, False),
    ({"carrival": {"executor": "constant-arrival-rate", "rate": 0, "duration": "10m",
                   "preAllocatedVUs": 20, "maxVUs": 30}}, False),
    ({"carrival": {"executor": "constant-arrival-rate", "rate": 10, "duration": "10m",
                   "preAllocatedVUs": 20, "maxVUs": 15}}, False),
    ({"carrival": {"executor": "constant-arrival-rate", "rate": 10, "duration": "0s",
                   "preAllocatedVUs": 20, "maxVUs": 25}}, False),
    ({"carrival": {"executor": "constant-arrival-rate", "rate": 10, "duration": "10m",
                   "preAllocatedVUs": -2, "maxVUs": 25}}, False),
    ({"varrival": {"executor": "ramping-arrival-rate", "preAllocatedVUs": 20, "maxVUs": 50,
                   "stages": [{"duration": "5m", "target": 10}]}}, True),
    ({"varrival": {"executor": "ramping-arrival-rate", "preAllocatedVUs": -20, "maxVUs": 50,
                   "stages": [{"duration": "5m", "target": 10}]}}, False),
    ({"varrival": {"executor": "ramping-arrival-rate", "startRate": -1, "preAllocatedVUs": 20,
                   "maxVUs": 50, "stages": [{"duration": "5m", "target": 10}]}}, False),
    ({"varrival": {"executor": "ramping-arrival-rate", "maxVUs": 50,
                   "stages": [{"duration": "5m", "target": 10}]}}, False),
    ({"varrival": {"executor": "ramping-arrival-rate", "preAllocatedVUs": 20, "maxVUs": 50}},
     False),
    ({"varrival": {"executor": "ramping-arrival-rate", "preAllocatedVUs": 20, "maxVUs": 50,
                   "stages": []}}, False),
    ({"varrival": {"executor": "ramping-arrival-rate", "preAllocatedVUs": 20, "maxVUs": 50,
                   "stages": [{"duration": "5m", "target": 10}], "timeUnit": "-1s"}}, False),
    ({"varrival": {"executor": "ramping-arrival-rate", "preAllocatedVUs": 20, "maxVUs": 50,
                   "stages": [{"duration": "5m", "target": 10}], "timeUnit": "0s"}}, False),
    ({"varrival": {"executor": "ramping-arrival-rate", "preAllocatedVUs": 30, "maxVUs": 20,
                   "stages": [{"duration": "5m", "target": 10}]}}, False),
    ({"ui": {"executor": "shared-iterations", "iterations": 22, "vus": 12,
             "maxDuration": "100s", "options": {"unsupported": {}}}}, False),
]  # fmt: skip


@pytest.mark.parametrize(("scenarios", "ok"), K6_CONFIGS)
def test_k6_config_map_parsing_and_validation(scenarios: dict, ok: bool) -> None:
    if ok:
        assert parse_options({"scenarios": scenarios}).scenarios
    else:
        _errors({"scenarios": scenarios})


def test_k6_ramping_vus_end_is_stages_plus_graceful_stop() -> None:
    # k6 TestConfigMapParsingAndValidation "varloops": end offset 205 s (190 s of stages +
    # gracefulStop 15 s; gracefulRampDown 10 s does not add), 228 s with startTime 23 s
    (sc,) = parse_options({"scenarios": K6_CONFIGS[15][0]}).scenarios
    assert sc.end_time == 228.0
    assert sc.end_time - sc.start_time == 205.0


@pytest.mark.parametrize(
    ("raw", "key", "value"),
    [({"gracefulStop": None}, "graceful_stop", 30.0), ({"startTime": None}, "start_time", 0.0),
     ({"vus": None}, "vus", 1), ({"exec": None}, "exec", "default"),
     ({"tags": None}, "tags", ())],
)  # fmt: skip
def test_none_means_unset(raw: dict, key: str, value: object) -> None:
    """k6 reads a null option as not set (NullDuration/null.Int Valid=false): the default."""
    sc = _one({"executor": "constant-vus", "duration": "10s", **raw})
    assert getattr(sc, key) == value


def test_none_at_top_level_and_in_stages() -> None:
    opts = parse_options({"vus": None, "duration": "5s", "summaryTrendStats": None})
    assert opts.scenarios[0].vus == 1
    assert opts.summary_trend_stats == DEFAULT_TREND_STATS
    errors = _errors({"stages": [{"duration": "5s", "target": None}]})
    assert _has(errors, "stages[0]", "target")


# k6 v1.1.0, checked with `k6 run`/`k6 inspect` on a one-line script, and k6
# lib/executor/execution_config_shortcuts.go DeriveScenariosFromShortcuts.
SHORTCUTS = [
    ({"vus": 10}, ("per-vu-iterations", 1, 1), 1),  # `vus=10` option will be ignored
    ({"vus": 0}, ("per-vu-iterations", 1, 1), 1),
    ({"vus": 1}, ("per-vu-iterations", 1, 1), 0),
    ({"stages": []}, ("per-vu-iterations", 1, 1), 1),
    ({}, ("per-vu-iterations", 1, 1), 0),
    ({"vus": 10, "iterations": 100}, ("shared-iterations", 10, 100), 0),
    ({"iterations": 3}, ("shared-iterations", 1, 3), 0),
    ({"vus": 2, "duration": "1s"}, ("constant-vus", 2, 1), 0),
    ({"vus": 2, "iterations": 4, "duration": "5s"}, ("shared-iterations", 2, 4), 0),
]


@pytest.mark.parametrize(("raw", "want", "warnings"), SHORTCUTS)
def test_k6_shortcuts(raw: dict, want: tuple[str, int, int], warnings: int) -> None:
    opts = parse_options(raw)
    (sc,) = opts.scenarios
    assert (sc.executor, sc.vus, sc.iterations) == want
    assert len(opts.warnings) == warnings
    if raw.get("vus") not in (None, 1) and warnings:
        assert f"`vus={raw['vus']}` option will be ignored" in opts.warnings[0]


def test_k6_shortcut_errors() -> None:
    # k6 run: "the number of iterations (5) can't be less than the number of VUs (10)"
    assert _has(_errors({"vus": 10, "iterations": 5}), "can't be less than")
    # k6 run: "the number of VUs must be more than 0"
    assert _errors({"vus": 0, "iterations": 3})


# k6 internal/cmd/config_consolidation_test.go, "Test summary trend stats"
@pytest.mark.parametrize(
    ("cli", "want"),
    [("", ()), ("med,avg,p(99.999)", ("med", "avg", "p(99.999)")), ("coun", None),
     ("med,avg,p(", None), ("med,avg,p(-1)", None), ("med,avg,p(101)", None)],
)  # fmt: skip
def test_k6_summary_trend_stats_flag(cli: str, want: tuple[str, ...] | None) -> None:
    if want is None:
        with pytest.raises(OptionsError):
            parse_trend_stats(cli)
    else:
        assert parse_trend_stats(cli) == want


def test_start_rate_is_a_whole_number_like_k6() -> None:
    errors = _errors(
        {"scenarios": {"r": {"executor": "ramping-arrival-rate", "startRate": 1.5,
                             "preAllocatedVUs": 1, "stages": [{"duration": "1s", "target": 1}]}}}
    )  # fmt: skip
    assert _has(errors, "startRate", "1.5")
