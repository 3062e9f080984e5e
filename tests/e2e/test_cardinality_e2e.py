"""A cardinality explosion degrades with one early warning instead of taking the run down.

Each run makes RATE x SECONDS requests (arrival rate), each with a tag value never seen before (a unique
path, a unique query string, or a custom metric's unique tag), on 1 and 2 actors. The
driver must warn once, while the run is still young, put the series count in the summary,
keep its RSS within a bound derived from the per-metric limit, and still count every
request exactly (http_reqs == what the server saw).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from driverwatch import run_watched
from servers import KnownServer, write_script

from veza_ray.core import cardinality

pytestmark = pytest.mark.ray

RATE, SECONDS = 600, 10  # 6,000 unique values planned: 6 x the per-metric limit
# The bound on the driver's RSS: the same plan's peak with a `name` tag (few series),
# plus every metric touched at its limit of tag sets at twice the driver's measured cost
# per series (~4 KB: bench.series_cost, and 261 vs 180 MiB for 3,200 URLs without and
# with the limit). Without the limit 6,000 unique URLs would keep ~54,000 series.
DRIVER_PER_SERIES = 8 * 1024
METRICS = 10  # the 9 series of a request's tag set, or a custom metric's
SLACK = 32 * 1024 * 1024


def bound(baseline: int) -> int:
    return baseline + cardinality.MAX_SERIES_PER_METRIC * METRICS * DRIVER_PER_SERIES + SLACK


HEAD = f"""
import random
from veza_ray import Counter, env

hits = Counter("unique_hits")
options = {{"scenarios": {{"s": {{"executor": "constant-arrival-rate", "rate": {RATE},
                               "timeUnit": "1s", "duration": "{SECONDS}s",
                               "preAllocatedVUs": 20}}}}}}
"""
FLOWS = {
    "named": """
async def default(vu):
    await vu.http.get(env("URL") + "/hit/u%d" % random.getrandbits(60), tags={"name": "u"})
""",
    "paths": """
async def default(vu):
    await vu.http.get(env("URL") + "/hit/u%d" % random.getrandbits(60))
""",
    "queries": """
async def default(vu):
    await vu.http.get(env("URL") + "/hit/q?id=%d" % random.getrandbits(60))
""",
    "custom": """
async def default(vu):
    await vu.http.get(env("URL") + "/hit/c", tags={"name": "c"})
    hits.add(1, tags={"id": str(random.getrandbits(60))})
""",
}


def _plan(
    tmp: Path, url: str, variant: str, actors: int
) -> tuple[int, list[tuple[float, str]], int]:
    script = write_script(tmp, HEAD + FLOWS[variant])
    return run_watched(
        [
            "run",
            script,
            "--actors",
            str(actors),
            "-e",
            f"URL={url}",
            "--summary-export",
            str(tmp / "summary.json"),
            "--quiet",
            "--no-preflight",
        ]
    )


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> int:
    """The driver's peak RSS for the same plan with a `name` tag: no explosion."""
    with KnownServer() as srv:
        code, lines, peak = _plan(tmp_path_factory.mktemp("named"), srv.url, "named", 2)
    assert code == 0, "\n".join(line for _, line in lines)
    assert not any("unique time series" in line for _, line in lines)
    print(f"named: driver peak RSS {peak / 2**20:.0f} MiB")
    return peak


@pytest.mark.parametrize("actors", [1, 2])
@pytest.mark.parametrize("variant", ["custom", "paths", "queries"])
def test_unique_tag_values_warn_once_early_and_stay_bounded_and_exact(
    tmp_path: Path, known_server: KnownServer, variant: str, actors: int, baseline: int
) -> None:
    summary_path = tmp_path / "summary.json"
    before = known_server.total
    code, lines, peak = _plan(tmp_path, known_server.url, variant, actors)
    text = "\n".join(line for _, line in lines)
    print(f"{variant} actors={actors}: driver peak RSS {peak / 2**20:.0f} MiB")
    assert code == 0, text
    warned = [(t, line) for t, line in lines if "unique time series" in line]
    assert len(warned) == 1, text
    assert "use the name metric tag or URL grouping" in warned[0][1]
    started = next(t for t, line in lines if "actor(s) on" in line)
    ended = next(t for t, line in lines if line.startswith("veza-ray: PASS"))
    share = (warned[0][0] - started) / (ended - started)
    print(f"the warning came at {share:.0%} of the run")
    assert share < 0.7, "the warning came late"
    summary = json.loads(summary_path.read_text())
    series = summary["veza_ray"]["series"]
    assert series["count"] >= cardinality.MAX_SERIES_PER_METRIC and series["overflow_series"]
    assert series["limit_per_metric"] == cardinality.MAX_SERIES_PER_METRIC
    folded_metric = "unique_hits" if variant == "custom" else "http_reqs"
    assert series["folded_samples"][folded_metric] > 0
    assert any("folded" in n for n in summary["veza_ray"]["outcome"]["notes"])
    reqs = summary["metrics"]["http_reqs"]["values"]["count"]
    assert reqs == known_server.total - before  # every request counted, folded or not
    assert reqs > 2 * cardinality.MAX_SERIES_PER_METRIC
    if variant == "custom":
        assert summary["metrics"]["unique_hits"]["values"]["count"] == reqs
    limit = bound(baseline)
    assert peak < limit, f"driver peak RSS {peak / 2**20:.0f} MiB over {limit / 2**20:.0f} MiB"
    print(f"{series['count']} series, folded {series['folded_samples']}")
