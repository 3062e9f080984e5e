"""A local stand-in for the Veza API that the seed k6 script and veza-ray scenarios hit.

It validates like a real backend (so broken flows fail as they would on staging), adds
per-endpoint latency from a seeded profile, injects 503s and connection resets on demand,
and counts every request exactly at ``GET /__stats`` so tests can check a load tester's
numbers against the server's. It binds loopback only unless told otherwise.
"""

from .app import build_app
from .catalogue import STREAM_TRACK_ID
from .config import EmulatorConfig
from .latency import PROFILES, LatencyProfile
from .server import EmulatorThread, serve_forever, start_emulator
from .stats import StatsSnapshot

__all__ = [
    "PROFILES",
    "STREAM_TRACK_ID",
    "EmulatorConfig",
    "EmulatorThread",
    "LatencyProfile",
    "StatsSnapshot",
    "build_app",
    "serve_forever",
    "start_emulator",
]
