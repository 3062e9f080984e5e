"""A test that needs a tool from outside Python skips with what to install, unless
VEZA_RAY_TESTS_REQUIRE_ALL=1 (CI, which installs everything) makes that a failure."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["pytester"]

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CONFTEST = f"""
import sys
sys.path.insert(0, {TESTS_DIR!r})
import requires

requires.NEEDS["nothere"] = ("browser", lambda: "nothere is not installed: apt-get install -y nothere")
requires.NEEDS["here"] = (None, lambda: None)

def pytest_configure(config):
    config.addinivalue_line("markers", "requires: needs")
    config.addinivalue_line("markers", "browser: tier")

def pytest_collection_modifyitems(items):
    for item in items:
        for tier in requires.tier_markers(item):
            item.add_marker(tier)

def pytest_runtest_setup(item):
    requires.check(item)
"""

TESTS = """
from requires import requires

@requires("nothere")
def test_needs_a_missing_tool():
    pass

@requires("here")
def test_needs_a_present_tool():
    pass
"""


def test_missing_tool_skips_with_the_install_line(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VEZA_RAY_TESTS_REQUIRE_ALL", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(TESTS)
    res = pytester.runpytest_subprocess("-rs")
    res.assert_outcomes(passed=1, skipped=1)
    res.stdout.fnmatch_lines(["*nothere is not installed: apt-get install -y nothere*"])
    # the need puts its tier marker on the test: the fast tier deselects it
    res = pytester.runpytest_subprocess("-m", "not browser")
    res.assert_outcomes(passed=1, deselected=1)


def test_require_all_turns_the_skip_into_a_failure(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEZA_RAY_TESTS_REQUIRE_ALL", "1")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(TESTS)
    res = pytester.runpytest_subprocess()
    res.assert_outcomes(passed=1, errors=1)
    res.stdout.fnmatch_lines(["*nothere is not installed*VEZA_RAY_TESTS_REQUIRE_ALL=1*"])


def test_an_unknown_need_is_refused() -> None:
    from requires import requires

    with pytest.raises(ValueError, match="unknown need"):
        requires("chromum")
