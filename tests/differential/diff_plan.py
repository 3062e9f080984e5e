"""From one seed: what the target does for every request (``Plan.acts``), the thresholds a
gate would set, and the same run written twice, as a k6 script and as a veza-ray scenario.

The run is ``per-vu-iterations`` (every VU makes exactly ``iterations`` iterations of
``per_iter`` GETs), so the set of requests is fixed whatever the scheduling, and the
model below knows every sample the target imposes: counts exactly, durations up to the
clients' own overhead. Thresholds are placed from that model, clear of the value by more
than the tolerance, so a verdict that differs between the tools is a real disagreement.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from diff_target import BODY_FAILS, KINDS, Act

TREND_STATS = ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"]
USER_AGENT = "differential/1"
# Tolerances (docs/http-client.md, "The differential harness"). Both tools meet the same
# multiset of target durations, and noise of at most e per sample moves every order
# statistic by at most e; so a latency statistic may differ by the client overhead and
# scheduling jitter of a shared 2-core box (ABS_MS, plus REL of the value), plus the
# spread of the target's own durations over the ranks that the t-digest's rank error and
# a different interpolation can move a percentile across (RANK_WINDOW of q, at least half
# a rank), over the models with and without replays. Counts, rates, verdicts and the exit
# code must be equal (data_sent and the requests read: up to the possible replays).
ABS_MS = 15.0
EXPECTED = "http_req_duration{expected_response:true}"
REL = 0.05
RANK_WINDOW = 0.01


@dataclass
class Plan:
    seed: int
    vus: int
    iterations: int
    per_iter: int
    timeout_s: float
    latency: str  # the latency distribution's name
    acts: dict[tuple[int, int, int], Act]
    thresholds: dict[str, list[str]] = field(default_factory=dict)
    passes: bool = False  # every threshold was placed to pass: both tools must exit 0

    def keys(self) -> list[tuple[int, int, int]]:
        return sorted(self.acts)

    def names(self) -> list[str]:
        """The kind of every request, in key order: the scripts' ``name`` tag."""
        return [self.acts[k].kind for k in self.keys()]

    def posts(self) -> list[int]:
        """The POST body size of every request in key order (0: a GET)."""
        return [self.acts[k].post for k in self.keys()]

    def durations_ms(
        self, name: str | None = None, replayed: bool = False, expected: bool = False
    ) -> list[float]:
        """Every http_req_duration sample the target imposes (sorted; only those k6
        counts as expected responses when ``expected``), with none or all of the requests
        that may be replayed (diff_target.REPLAYED) replayed."""
        out: list[float] = []
        for act in self.acts.values():
            if name is None or act.kind == name:
                out += [
                    ms
                    for ms, failed in act.samples(self.timeout_s, replayed)
                    if not (expected and failed)
                ]
        return sorted(out)

    def models(self, name: str | None = None, expected: bool = False) -> list[list[float]]:
        """The durations with no replay and with every possible one: which requests get
        a reused connection (and so a replay) is the one thing scheduling decides."""
        return [self.durations_ms(name, r, expected) for r in (False, True)]

    def replayable(self) -> int:
        return sum(a.may_replay() for a in self.acts.values())

    def http_reqs(self) -> int:
        return sum(a.hops() for a in self.acts.values())

    def failed_rate(self) -> float:
        return sum(a.failed() for a in self.acts.values()) / self.http_reqs()

    def checks_rate(self) -> float:
        """'status is 200' passes for every final 200, 'cookie kept' always."""
        ok = sum(not a.failed() for a in self.acts.values())
        return (ok + len(self.acts)) / (2 * len(self.acts))


# ---- statistics of the model ---------------------------------------------------------


def percentile(sorted_ms: Sequence[float], q: float) -> float:
    """k6's percentile: linear interpolation between closest ranks."""
    if not sorted_ms:
        return 0.0
    pos = q * (len(sorted_ms) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_ms) - 1)
    return sorted_ms[lo] + (sorted_ms[hi] - sorted_ms[lo]) * (pos - lo)


def window(models: Sequence[Sequence[float]], q: float) -> tuple[float, float]:
    """The range ``p(q)`` can land in when noise moves samples a few ranks, over the
    models (sorted durations) the target allows."""
    los, his = [], []
    for ms in models:
        n = len(ms)
        if not n:
            continue
        w = max(RANK_WINDOW, 0.5 / max(1, n - 1))
        los.append(percentile(ms, max(0.0, q - w)))
        his.append(percentile(ms, min(1.0, q + w)))
    return (min(los), max(his)) if los else (0.0, 0.0)


def tolerance_ms(models: Sequence[Sequence[float]], q: float) -> float:
    """How far k6's and veza-ray's ``p(q)`` may be apart (see ABS_MS above)."""
    lo, hi = window(models, q)
    return ABS_MS + REL * hi + (hi - lo)


# ---- drawing a plan ------------------------------------------------------------------


def _latency(rng: random.Random) -> tuple[str, float, float, float]:
    """A latency distribution: (name, a, b, slow share); delays drawn by ``_delay``."""
    name = rng.choice(["constant", "uniform", "lognormal", "bimodal"])
    if name == "constant":
        return name, rng.uniform(0.005, 0.02), 0.0, 0.0
    if name == "uniform":
        return name, rng.uniform(0.002, 0.01), rng.uniform(0.02, 0.08), 0.0
    if name == "lognormal":
        return name, rng.uniform(0.01, 0.04), rng.uniform(0.3, 0.8), 0.0
    return name, 0.0, 0.0, rng.uniform(0.05, 0.2)


def _delay(rng: random.Random, dist: tuple[str, float, float, float]) -> float:
    name, a, b, slow = dist
    if name == "constant":
        return a
    if name == "uniform":
        return rng.uniform(a, b)
    if name == "lognormal":
        return min(0.25, rng.lognormvariate(math.log(a), b))
    return rng.uniform(0.1, 0.25) if rng.random() < slow else rng.uniform(0.002, 0.015)


def _mix(rng: random.Random) -> dict[str, float]:
    """Which kinds this seed uses and their shares; 'ok' takes what is left."""
    mix = {k: rng.uniform(0.02, 0.08) for k in KINDS if k != "ok" and rng.random() < 0.6}
    mix["ok"] = max(0.3, 1.0 - sum(mix.values()))
    return mix


def _kinds(rng: random.Random, mix: dict[str, float], n: int) -> list[str]:
    """Exactly ``round(share * n)`` of each kind (at least one of each chosen), shuffled."""
    out: list[str] = []
    total = sum(mix.values())
    for k, share in sorted(mix.items()):
        if k != "ok":
            out += [k] * max(1, round(share / total * n))
    out = out[:n]
    out += ["ok"] * (n - len(out))
    rng.shuffle(out)
    return out


def _act(rng: random.Random, kind: str, delay: float, timeout: float) -> Act:
    post = rng.choice([10, 700, 5000]) if rng.random() < 0.2 else 0
    if kind in ("reset", "reset_body"):
        delay = min(delay, 0.05)
    if kind == "slow_redirect":
        return Act(kind, 0.6 * timeout, post=post)
    if kind == "status":
        return Act(kind, delay, status=rng.choice([404, 500, 503]), post=post)
    if kind == "slow_body":
        pieces = rng.randint(3, 5)
        gap = rng.uniform(0.01, 0.4 * timeout / pieces)
        size = rng.randint(2000, 20000)
        return Act(kind, min(delay, 0.05), size=size, pieces=pieces, gap=gap, post=post)
    sizes = [100, 1500, 5000, 30000] if kind in BODY_FAILS else [0, 100, 1500, 5000, 30000]
    return Act(kind, delay, size=rng.choice(sizes), post=post)


def draw(
    seed: int,
    vus: int | None = None,
    iterations: int | None = None,
    per_iter: int | None = None,
    mix: dict[str, float] | None = None,
    timeout_s: float | None = None,
    latency: tuple[str, float, float, float] | None = None,
    thresholds: dict[str, list[str]] | None = None,
) -> Plan:
    """The plan for ``seed``; any argument given replaces what the seed would draw."""
    rng = random.Random(seed)
    vus = vus or rng.randint(3, 5)
    iterations = iterations or rng.randint(3, 6)
    per_iter = per_iter or rng.randint(5, 8)
    timeout = timeout_s or round(rng.uniform(0.5, 0.8), 3)
    dist = latency or _latency(rng)
    keys = [
        (v, i, j) for v in range(1, vus + 1) for i in range(iterations) for j in range(per_iter)
    ]
    kinds = _kinds(rng, mix or _mix(rng), len(keys))
    acts = {
        k: _act(rng, kind, _delay(rng, dist), timeout) for k, kind in zip(keys, kinds, strict=True)
    }
    plan = Plan(seed, vus, iterations, per_iter, timeout, dist[0], acts)
    plan.thresholds = thresholds if thresholds is not None else _thresholds(rng, plan)
    return plan


def _bound(
    rng: random.Random, lo: float, hi: float, margin: float, op: str, fail: float
) -> str | None:
    """A bound that the true value (somewhere in [lo, hi]) clearly passes or (with
    probability ``fail``) clearly fails; None when it would have to be negative."""
    passing = rng.random() >= fail
    if op == "<":
        b = hi + margin if passing else lo - margin
    else:
        b = lo - margin if passing else hi + margin
    return None if b <= 0 else f"{b:.4g}"


def _thresholds(rng: random.Random, plan: Plan) -> dict[str, list[str]]:
    """Thresholds on what a gate is judged on, each clear of the model's value."""
    out: dict[str, list[str]] = {}
    fail = 0.0 if rng.random() < 0.35 else 0.5  # a third of the seeds pass: exit 0
    plan.passes = not fail
    models = plan.models()
    for stat, q in (("med", 0.5), ("p(95)", 0.95), ("p(99)", 0.99), ("max", 1.0)):
        lo, hi = window(models, q)
        b = _bound(rng, lo, hi, 2 * tolerance_ms(models, q), "<", fail)
        if b:
            out.setdefault("http_req_duration", []).append(f"{stat}<{b}")
    models = plan.models(expected=True)
    lo, hi = window(models, 0.95)
    b = _bound(rng, lo, hi, 2 * tolerance_ms(models, 0.95), "<", fail)
    if b:
        out[EXPECTED] = [f"p(95)<{b}"]
    fr = plan.failed_rate()
    b = _bound(rng, fr, fr, 0.02, "<", fail)
    if b:
        out["http_req_failed"] = [f"rate<{b}"]
    cr = plan.checks_rate()
    b = _bound(rng, cr, cr, 0.02, ">", fail)
    if b:
        out["checks"] = [f"rate>{b}"]
    n = plan.http_reqs()
    out["http_reqs"] = [f"count{'<' if rng.random() < fail else '>='}{n}"]  # exact
    named = sorted({a.kind for a in plan.acts.values()})
    for kind in rng.sample(named, min(2, len(named))):
        models = plan.models(kind)
        lo, hi = window(models, 0.9)
        b = _bound(rng, lo, hi, 2 * tolerance_ms(models, 0.9), "<", fail)
        if b:
            out[f"http_req_duration{{name:{kind}}}"] = [f"p(90)<{b}"]
    return out


# ---- the two scripts -----------------------------------------------------------------


def options(plan: Plan) -> dict[str, object]:
    return {
        "scenarios": {
            "diff": {
                "executor": "per-vu-iterations",
                "vus": plan.vus,
                "iterations": plan.iterations,
                "maxDuration": "300s",
            }
        },
        "userAgent": USER_AGENT,
        "summaryTrendStats": TREND_STATS,
        "thresholds": plan.thresholds,
    }


K6_TEMPLATE = """\
// Generated by tests/differential/diff_plan.py from seed {seed}: the same run as the veza-ray
// scenario beside it. BASE: the target's URL; SUMMARY: where the summary JSON goes.
import http from 'k6/http';
import {{ check }} from 'k6';

const NAMES = {names};
const POSTS = {posts};
const BASE = __ENV.BASE;
export const options = {options};

export default function () {{
  for (let j = 0; j < {per_iter}; j++) {{
    const i = ((__VU - 1) * {iterations} + __ITER) * {per_iter} + j;
    const name = NAMES[i];
    const url = `${{BASE}}/d/${{__VU}}/${{__ITER}}/${{j}}`;
    const params = {{ timeout: {timeout_ms}, tags: {{ name }} }};
    const res = POSTS[i] ? http.post(url, 'p'.repeat(POSTS[i]), params) : http.get(url, params);
    check(res, {{
      'status is 200': (r) => r.status === 200,
      'cookie kept': (r) => !(r.body || '').includes('cookie=missing'),
    }});
  }}
}}

export function handleSummary(data) {{
  return {{ [__ENV.SUMMARY]: JSON.stringify(data) }};
}}
"""

VR_TEMPLATE = '''\
"""Generated by tests/differential/diff_plan.py from seed {seed}: the same run as the k6
script beside it. BASE: the target's URL."""

from veza_ray import check, env

NAMES = {names}
POSTS = {posts}
BASE = env("BASE")
options = {options}


async def default(vu):
    for j in range({per_iter}):
        i = ((vu.id - 1) * {iterations} + vu.iteration) * {per_iter} + j
        url = f"{{BASE}}/d/{{vu.id}}/{{vu.iteration}}/{{j}}"
        kw = {{"timeout": {timeout_s}, "tags": {{"name": NAMES[i]}}}}
        if POSTS[i]:
            res = await vu.http.post(url, data="p" * POSTS[i], **kw)
        else:
            res = await vu.http.get(url, **kw)
        check(
            res,
            {{
                "status is 200": lambda r: r.status == 200,
                "cookie kept": lambda r: b"cookie=missing" not in (r.body or b""),
            }},
        )
'''


def scripts(plan: Plan) -> tuple[str, str]:
    """(k6 JS, veza-ray Python) for the plan."""
    common = {
        "seed": plan.seed,
        "names": json.dumps(plan.names()),
        "posts": json.dumps(plan.posts()),
        "per_iter": plan.per_iter,
        "iterations": plan.iterations,
    }
    k6 = K6_TEMPLATE.format(
        options=json.dumps(options(plan), indent=2),
        timeout_ms=round(plan.timeout_s * 1000),
        **common,
    )
    vr = VR_TEMPLATE.format(options=repr(options(plan)), timeout_s=plan.timeout_s, **common)
    return k6, vr
