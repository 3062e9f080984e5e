"""Exact request counters behind ``GET /__stats``.

Tests compare a load tester's ``http_reqs`` with ``total``, so every counter is an exact
integer updated on the server's single event loop (no sampling, no locks needed).
"""

from __future__ import annotations

from collections import Counter
from typing import TypedDict


class StatsSnapshot(TypedDict):
    """The ``/__stats`` body. Status codes are string keys because JSON keys are strings."""

    total: int
    routes: dict[str, int]
    statuses: dict[str, int]
    route_statuses: dict[str, dict[str, int]]
    health: int
    control: int
    bytes_received_upload: int
    upload_bytes_accepted: int
    bytes_sent_segments: int
    resets_injected: int
    errors_injected: int
    uploads_open: int


class EmulatorStats:
    """Counters for API traffic; health and control requests are kept out of ``total``."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total = 0
        self.routes: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.route_statuses: dict[str, Counter[int]] = {}
        self.health = 0
        self.control = 0
        self.bytes_received_upload = 0
        self.upload_bytes_accepted = 0
        self.bytes_sent_segments = 0
        self.resets_injected = 0
        self.errors_injected = 0

    def count_request(self, route: str) -> None:
        self.total += 1
        self.routes[route] += 1

    def count_status(self, route: str, status: int) -> None:
        self.statuses[status] += 1
        per_route = self.route_statuses.get(route)
        if per_route is None:
            per_route = self.route_statuses[route] = Counter()
        per_route[status] += 1

    def snapshot(self, uploads_open: int) -> StatsSnapshot:
        return StatsSnapshot(
            total=self.total,
            routes=dict(self.routes),
            statuses={str(code): n for code, n in sorted(self.statuses.items())},
            route_statuses={
                route: {str(code): n for code, n in sorted(codes.items())}
                for route, codes in self.route_statuses.items()
            },
            health=self.health,
            control=self.control,
            bytes_received_upload=self.bytes_received_upload,
            upload_bytes_accepted=self.upload_bytes_accepted,
            bytes_sent_segments=self.bytes_sent_segments,
            resets_injected=self.resets_injected,
            errors_injected=self.errors_injected,
            uploads_open=uploads_open,
        )
