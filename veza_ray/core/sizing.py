"""How much a plan needs: memory per actor and the cluster's peak VUs, before any load.

Pure. The figures come from ``bench/`` on the 2-core reference machine (docs/BENCHMARKS.md
and docs/cluster.md): a VU on the lean client holds 11.6 KB at 10,000 VUs in one process,
and an idle actor process costs about 100 MB. The estimate rounds both up so a plan it
accepts is not refused later by the out-of-memory killer; a script that keeps large
response bodies needs more than this, which the body limit bounds per response.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from veza_ray.core.options import ScenarioConfig

KB = 1024
MB = 1024 * KB
VU_BYTES = 16 * KB  # measured 11.6 KB/VU (bench memory case), rounded up
ACTOR_BYTES = 128 * MB  # measured ~100 MB per idle actor, rounded up


def peak_vus(scenarios: Sequence[ScenarioConfig]) -> int:
    """The most VUs allocated at once: scenarios that overlap in time add up, as in k6."""
    peak = 0
    for sc in scenarios:
        at = sc.start_time
        peak = max(
            peak,
            sum(
                o.max_vus_needed
                for o in scenarios
                if o.start_time <= at < o.start_time + max(o.run_duration, 1e-9)
            ),
        )
    return peak


@dataclass(frozen=True)
class MemoryEstimate:
    vus: int
    actors: int
    bytes_needed: int

    @property
    def per_actor(self) -> int:
        return self.bytes_needed // max(1, self.actors)

    def text(self) -> str:
        return (
            f"{self.vus} VUs on {self.actors} actor(s) need about "
            f"{self.bytes_needed / MB:,.0f} MB ({VU_BYTES // KB} KB per VU + "
            f"{ACTOR_BYTES // MB} MB per actor; docs/cluster.md)"
        )


def memory_bytes(vus: int, actors: int = 1) -> int:
    """What ``vus`` VUs on ``actors`` actor processes hold, by the figures above."""
    return vus * VU_BYTES + actors * ACTOR_BYTES


def estimate_memory(scenarios: Sequence[ScenarioConfig], actors: int) -> MemoryEstimate:
    vus = peak_vus(scenarios)
    return MemoryEstimate(vus, actors, memory_bytes(vus, actors))


def memory_refusal(est: MemoryEstimate, available_bytes: float) -> str | None:
    """Why the plan cannot fit in the memory the cluster offers, or None when it can."""
    if available_bytes <= 0 or est.bytes_needed <= available_bytes:
        return None
    return (
        f"the plan does not fit in the cluster's memory: {est.text()}, the Ray cluster "
        f"offers {available_bytes / MB:,.0f} MB; lower the VUs or add nodes"
    )


def output_refusal(label: str, path: str | None) -> str | None:
    """Why an output file could not be written at the end of the run, checked before it.

    A run whose summary cannot be saved is a run whose measurements are lost, so the
    directory must exist and be writable now (the file is not created yet).
    """
    if not path or path == "-":
        return None
    if os.path.isdir(path):
        return f"{label} {path!r} is a directory, not a file"
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return f"{label} {path!r}: the directory {folder!r} does not exist"
    if os.path.exists(path):
        if not os.access(path, os.W_OK):
            return f"{label} {path!r} exists and is not writable"
    elif not os.access(folder, os.W_OK | os.X_OK):
        return f"{label} {path!r}: the directory {folder!r} is not writable"
    return None
