"""``--tag NAME=VALUE``: parsed, refused when malformed, and replacing the script's tags."""

from __future__ import annotations

import pytest

from veza_ray.core.options import parse_options
from veza_ray.core.runconfig import ConfigError, parse_tags


def test_parse_tags_last_wins() -> None:
    assert parse_tags(["a=1", "b=x=y", "a=2", "c="]) == {"a": "2", "b": "x=y", "c": ""}


@pytest.mark.parametrize("bad", ["nameonly", "=value", " =v"])
def test_a_malformed_tag_is_named(bad: str) -> None:
    with pytest.raises(ConfigError, match="--tag"):
        parse_tags([bad])


def test_run_tags_replace_the_scripts_tags_as_k6() -> None:
    options = parse_options({"tags": {"team": "script", "env": "ci"}})
    assert options.with_run_tags({}).tags == (("env", "ci"), ("team", "script"))
    assert options.with_run_tags({"team": "data"}).tags == (("team", "data"),)
