"""What the web dashboard's browser tests share: Debian's Chromium under Playwright, the
page's console and off-origin requests, waits on the page's own readiness signals, and
the screenshots that docs/ takes from them on request.

``VEZA_RAY_DASHBOARD_SHOTS=DIR`` saves the views a test names there as PNGs; unset (a
normal test run), nothing is written, so the tree stays clean.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from requires import find_chromium

CHROMIUM = find_chromium() or "/usr/bin/chromium"
SHOTS_ENV = "VEZA_RAY_DASHBOARD_SHOTS"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--no-proxy-server",
]
WAIT_MS = 120_000  # a safety net for a wedged browser, never the synchronisation itself


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, closed on exit (Playwright never downloads its own)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield b
        finally:
            b.close()


def watch(page: Any, origin: str) -> tuple[list[str], list[str]]:
    """Console messages and page errors; requests outside the dashboard's origin."""
    messages: list[str] = []
    outside: list[str] = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    page.on("request", lambda r: None if r.url.startswith(origin) else outside.append(r.url))
    return messages, outside


def wait(page: Any, js: str, arg: Any = None) -> Any:
    """Until ``js`` is truthy on the page (polled); its value."""
    return page.wait_for_function(js, arg=arg, timeout=WAIT_MS, polling=100).json_value()


def shot(page: Any, name: str) -> Path | None:
    """The page's viewport as ``$VEZA_RAY_DASHBOARD_SHOTS/name``, only when asked for."""
    where = os.environ.get(SHOTS_ENV)
    if not where:
        return None
    path = Path(where) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=False)
    return path


def scenario_p95(summary: dict[str, Any], name: str) -> float:
    """A scenario's p95 as the summary has it (its submetric, else veza-ray's digest)."""
    sub = summary["metrics"].get(f"http_req_duration{{scenario:{name}}}")
    if sub is not None:
        return float(sub["values"]["p(95)"])
    return float(summary["veza_ray"]["distributions"][name]["quantiles"]["p(95)"])


def ms_text(text: str) -> float:
    """A duration as the page prints it ("1.23 ms", "850 µs", "1.2 s") in milliseconds."""
    m = re.fullmatch(r"([\d.,]+) (µs|ms|s)", text.strip())
    assert m, text
    v = float(m.group(1).replace(",", ""))
    return {"µs": v / 1000.0, "ms": v, "s": v * 1000.0}[m.group(2)]
