from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from servers import KnownServer


@pytest.fixture
def known_server() -> Iterator[KnownServer]:
    with KnownServer() as srv:
        yield srv
