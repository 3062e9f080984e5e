"""The driver's hint when a Ray address does not answer (Ray itself only logs the cause)."""

from __future__ import annotations

from veza_ray.cluster.driver import connect_hint
from veza_ray.core.guards import redact


def test_token_mode_points_at_the_token() -> None:
    hint = connect_hint("token")
    assert "InvalidAuthToken" in hint
    assert "RAY_AUTH_TOKEN is not the cluster's token" in hint


def test_without_token_mode_says_how_to_turn_it_on() -> None:
    for mode in ("", "disabled"):
        hint = connect_hint(mode)
        assert "set RAY_AUTH_MODE to token" in hint
        assert "token is missing" in hint


def test_the_hint_survives_the_redactor() -> None:
    """The hint reaches the user through the redactor, which hides NAME=value pairs."""
    for mode in ("", "token"):
        hint = connect_hint(mode)
        assert redact(hint) == hint
