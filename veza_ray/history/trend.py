"""The recent runs of one script as the HTML report's history section draws them."""

from __future__ import annotations

from typing import Any

from veza_ray.core.compare import scope_stats
from veza_ray.core.series import ALL
from veza_ray.history.store import History


def recent_runs(
    h: History, script: str, options_hash: str | None, last: int
) -> list[dict[str, Any]]:
    """Oldest first: per run its id, day, verdict and, per scope (``all`` and each
    scenario), p95, p99 and error rate recomputed from the stored digests and counts."""
    out = []
    for row in reversed(h.runs(script=script, options_hash=options_hash, last=last)):
        run = h.get(int(row["id"]))
        if run is None:
            continue
        data = run["data"]
        scopes = {}
        for name in [ALL, *(data.get("scenarios") or ())]:
            st = scope_stats(data, name)
            scopes[name] = {"p95": st["p95"], "p99": st["p99"], "error_rate": st["error_rate"]}
        out.append(
            {
                "id": run["id"],
                "day": run["day"],
                "start_epoch": run["start_epoch"],
                "code": run["code"],
                "regressed": run["regressed"],
                "complete": run["complete"],
                "scopes": scopes,
            }
        )
    return out
