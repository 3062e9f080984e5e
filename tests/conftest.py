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

from servers import KnownServer


@pytest.fixture
def known_server() -> Iterator[KnownServer]:
    with KnownServer() as srv:
        yield srv
