"""``--tag NAME=VALUE`` (one flag: run history's label and k6's run tags): parsed, refused
when malformed, replacing the script's tags, and reaching the configuration."""

from __future__ import annotations

import pytest

from veza_ray.core.history import parse_tags
from veza_ray.core.options import parse_options


def test_parse_tags_last_wins() -> None:
    assert parse_tags(["a=1", "b=x=y", "a=2", "c="]) == {"a": "2", "b": "x=y", "c": ""}


@pytest.mark.parametrize("bad", ["nameonly", "=value", " =v"])
def test_a_malformed_tag_is_named(bad: str) -> None:
    with pytest.raises(ValueError, match="--tag"):
        parse_tags([bad])


def test_run_tags_replace_the_scripts_tags_as_k6() -> None:
    options = parse_options({"tags": {"team": "script", "env": "ci"}})
    assert options.with_run_tags({}).tags == (("env", "ci"), ("team", "script"))
    assert options.with_run_tags({"team": "data"}).tags == (("team", "data"),)


def test_one_tag_flag_labels_the_history_and_tags_the_samples() -> None:
    from veza_ray.core.runconfig import from_params, to_argv

    cfg = from_params({"script": "s.py", "tag": ["team=data", "env=ci"]})
    assert cfg.run_tags == {"team": "data", "env": "ci"} == cfg.history.tags
    argv = to_argv(cfg)  # what a Ray job's run gets back: the same tags
    assert [argv[i + 1] for i, x in enumerate(argv) if x == "--tag"] == ["team=data", "env=ci"]
