"""What one merge-tree aggregator costs on a local Ray: start + attach, memory, one hop.

    python -m bench.aggregator_cost

Two idle actors that answer a pull with an empty delta stand for a node's load actors;
the aggregator is started as the driver starts it (num_cpus=0, NodeAffinity) and pulled
20 times, then the two actors are pulled directly 20 times. No network, no load.
"""

from __future__ import annotations

import statistics
import time

import psutil
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from veza_ray.cluster.aggregator import remote_aggregator
from veza_ray.core.digest import BINARY_FORMAT
from veza_ray.core.metric_types import BUILTIN_METRICS
from veza_ray.core.wire import encode_delta


@ray.remote(num_cpus=0)
class Idle:
    """A load actor's pull, without the load."""

    def pull(self, fmt: str) -> bytes:
        return encode_delta(
            {
                "series": [], "scenarios": {}, "errors": {}, "lag_ms": [], "cpu": 0.0,
                "wall": time.time(), "done": False, "started": True, "end": None,
            }
        )  # fmt: skip

    def ping(self) -> int:
        return 1


def _median_ms(call: object, n: int = 20) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        ray.get(call())  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> None:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    node = ray.get_runtime_context().get_node_id()
    actors = [Idle.remote() for _ in range(2)]  # type: ignore[attr-defined]
    ray.get([a.ping.remote() for a in actors])
    t0 = time.perf_counter()
    strategy = NodeAffinitySchedulingStrategy(node, soft=False)
    agg = (
        remote_aggregator()
        .options(num_cpus=0, scheduling_strategy=strategy)
        .remote(node, dict(BUILTIN_METRICS), 8.0)
    )
    where = ray.get(agg.attach.remote(dict(enumerate(actors))))
    start_s = time.perf_counter() - t0
    mem = psutil.Process(where["pid"]).memory_full_info()
    via = _median_ms(lambda: agg.pull.remote(BINARY_FORMAT, 0.4))
    direct = _median_ms(lambda: [a.pull.remote(BINARY_FORMAT) for a in actors])
    mib = 2**20
    print(
        f"start+attach {start_s:.2f} s; RSS {mem.rss / mib:.0f} MiB, PSS {mem.pss / mib:.0f} "
        f"MiB, USS {mem.uss / mib:.0f} MiB; pull via aggregator median {via:.1f} ms vs "
        f"direct {direct:.1f} ms"
    )
    ray.shutdown()


if __name__ == "__main__":
    main()
