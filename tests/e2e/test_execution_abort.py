"""k6/execution: test.abort() in one VU stops every actor of the cluster, exit 108 as k6.

The same k6 script runs in real k6 and, converted, in veza-ray on 3 actors: VU 2 aborts
at its third iteration; every tool must exit 108 (k6's ScriptAborted) long before the
60 s of planned load, with the reason in its output.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from k6run import both, convert, run_tool
from servers import KnownServer

from veza_ray.engine.api import Failure, fail

pytestmark = pytest.mark.ray

SCRIPT = """
import http from 'k6/http';
import exec from 'k6/execution';
import { sleep } from 'k6';

export const options = {
  scenarios: { s: { executor: 'constant-vus', vus: 3, duration: '60s', gracefulStop: '0s' } },
};

export default function () {
  http.get(`${__ENV.URL}/hit/${exec.scenario.name}-${exec.vu.idInTest}`);
  if (exec.vu.idInTest === 2 && exec.vu.iterationInScenario === 2) {
    exec.test.abort('enough for today');
  }
  sleep(0.2);
}
"""


def test_abort_stops_the_whole_cluster(tmp_path: Path) -> None:
    js, py = convert(tmp_path, "abort", SCRIPT)
    for tool, cmd in both(js, py, 3).items():
        with KnownServer() as server:
            proc = run_tool(cmd, "-e", f"URL={server.url}", cwd=tmp_path)
            counts = dict(server.counts)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 108, (tool, out[-3000:])
        assert "enough for today" in out, (tool, out[-3000:])
        assert counts.get("hit:s-2") == 3, (tool, counts)  # VU 2 stopped at its third
        assert set(counts) == {"hit:s-1", "hit:s-2", "hit:s-3"}, (tool, counts)
        assert sum(counts.values()) < 100, (tool, counts)  # 60 s would be ~900


def test_fail_raises_to_end_the_iteration() -> None:
    with pytest.raises(Failure, match="no token"):
        fail("no token")
