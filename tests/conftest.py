from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

sys.path.insert(0, os.path.dirname(__file__))

# The suite runs many Ray runs on a 2-core machine, often beside other work: generators
# there are late for reasons that say nothing about the case under test. Saturation is
# still measured and noted in every outcome; its exit code (112) has its own tests, which
# turn this off (tests/e2e/test_verdicts.py).
os.environ.setdefault("VEZA_RAY_ALLOW_SATURATED", "1")

import requires
from servers import KnownServer

_UNIT_DIR = os.path.join(os.path.dirname(__file__), "unit")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tiers by directory and by need: tests/unit is `unit`; `requires(...)` implies its tier."""
    for item in items:
        if str(item.path).startswith(_UNIT_DIR + os.sep):
            item.add_marker(pytest.mark.unit)
        for tier in requires.tier_markers(item):
            item.add_marker(tier)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A missing need skips with what to install (fails under VEZA_RAY_TESTS_REQUIRE_ALL=1)."""
    requires.check(item)


@pytest.fixture
def known_server() -> Iterator[KnownServer]:
    with KnownServer() as srv:
        yield srv
