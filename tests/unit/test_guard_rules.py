"""The pure guard rails: host and address decisions, what is a secret, redaction."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest

from veza_ray.core.guards import (
    SECRETS,
    SecretBook,
    address_refusal,
    header_secret_parts,
    host_refusal,
    is_secret_header,
    parse_allowed,
    redact_url,
    secret_names,
    secret_values,
)


@pytest.fixture(autouse=True)
def clean_book() -> Iterator[None]:
    SECRETS.clear()
    yield
    SECRETS.clear()


@pytest.mark.parametrize(
    ("host", "addresses", "allowed", "refused"),
    [
        ("localhost", ["127.0.0.1", "::1"], (), False),
        ("api.localhost", ["127.0.0.2"], (), False),
        ("api.localhost", ["10.231.9.2"], (), True),  # a *.localhost name pointed elsewhere
        ("api.localhost", ["127.0.0.1", "10.231.9.2"], (), True),  # every address counts
        ("localhost", ["::ffff:127.0.0.1"], (), False),
        ("localhost", ["::ffff:10.0.0.1"], (), True),
        ("target.lxd", ["10.0.3.7"], ("target.lxd",), False),  # allowed by name
        ("api.localhost", ["10.0.3.7"], ("10.0.3.7",), False),  # allowed by address
        ("10.0.3.7", ["10.0.3.7"], (), True),
        ("[::1]", ["::1"], (), False),
    ],
)
def test_address_refusal(
    host: str, addresses: list[str], allowed: tuple[str, ...], refused: bool
) -> None:
    why = address_refusal(host, addresses, parse_allowed(allowed, None))
    assert (why is not None) == refused
    if why:
        assert "--allow-host" in why and host.lower().strip("[]") in why


def test_host_refusal_names_the_host_and_the_flag() -> None:
    assert host_refusal("http://127.0.0.1:8080/x", frozenset()) is None
    assert host_refusal("http://x.localhost/", frozenset()) is None
    why = host_refusal("https://staging.veza.fr/", frozenset())
    assert why is not None and "staging.veza.fr" in why and "--allow-host" in why
    assert host_refusal("https://staging.veza.fr/", frozenset({"staging.veza.fr"})) is None


def test_host_refusal_message_hides_userinfo() -> None:
    why = host_refusal("ftp://bob:hunter22@127.0.0.1/", frozenset())
    assert why is not None and "hunter22" not in why


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("USER_TOKEN", True),
        ("api_key", True),
        ("DB_PASSWORD", True),
        ("SMTP_PASSWD", True),
        ("AUTH_HEADER", True),
        ("GCP_CREDENTIALS", True),
        ("COOKIE_JAR", True),
        ("SESSION_ID", True),
        ("MY_SECRET", True),
        ("LIMIT_MS", False),
        ("BASE_URL", False),
        ("VUS", False),
        # settings named after a secret word: their values are words, not secrets
        ("RAY_AUTH_MODE", False),
        ("TOKEN_TYPE", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert (name in secret_names({name: "value-1234"})) == secret


def test_a_setting_value_is_not_redacted_in_messages() -> None:
    """RAY_AUTH_MODE=token once turned every "token" of the connect hint into ***."""
    assert secret_values({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "abcd" * 8}) == ["abcd" * 8]


def test_secret_names_from_flag_and_env_list() -> None:
    env = {"PLAIN": "aaaa", "OTHER": "bbbb", "VEZA_RAY_SECRETS": "OTHER"}
    assert secret_names(env, ["PLAIN"]) == ["OTHER", "PLAIN"]


def test_ordinary_env_values_are_not_redacted() -> None:
    SECRETS.add_env({"LIMIT_MS": "1500", "VUS": "20000", "BASE_URL": "http://127.0.0.1:9/ok"})
    text = "p(95)<1500 vus_max: 20000 GET http://127.0.0.1:9/ok"
    assert SECRETS.redact(text) == text


@pytest.mark.parametrize(
    "header",
    [
        "Authorization",
        "authorization",
        "Proxy-Authorization",
        "Cookie",
        "Set-Cookie",
        "X-Api-Key",
        "X-Auth-Token",
        "PRIVATE-TOKEN",
        "X-Secret",
    ],
)
def test_secret_headers(header: str) -> None:
    assert is_secret_header(header)


@pytest.mark.parametrize("header", ["Accept", "Content-Type", "X-Request-Id", "User-Agent"])
def test_plain_headers(header: str) -> None:
    assert not is_secret_header(header)


@pytest.mark.parametrize(
    ("value", "parts"),
    [
        ("Bearer abc.def.ghi", ["abc.def.ghi"]),
        ("Token zzzz-1234", ["zzzz-1234"]),
        ("ApiKey k-99-k-99", ["k-99-k-99"]),
        ("Basic " + base64.b64encode(b"bob:pa55word").decode(), ["bob:pa55word", "pa55word"]),
        ('Digest username="bob", response="6629fae4939"', ["6629fae4939"]),
        ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2026/s3, Signature=f00dbabe", ["AKIDEXAMPLE"]),
    ],
)
def test_authorization_any_scheme(value: str, parts: list[str]) -> None:
    got = header_secret_parts("Authorization", value)
    assert value in got
    assert all(p in got for p in parts)


def test_cookie_values() -> None:
    got = header_secret_parts("Set-Cookie", "sid=s3ss10n-v4l; Path=/; HttpOnly")
    assert "s3ss10n-v4l" in got and "/" not in got


def test_every_encoding_is_redacted() -> None:
    secret = "ak/SECRET+99= x"
    SECRETS.add(secret)
    for form in [
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        quote(secret, safe="").replace("%2F", "%2f"),
        json.dumps({"k": secret}),
        base64.b64encode(("user:" + secret).encode()).decode(),
        base64.b64encode(("us:" + secret).encode()).decode(),
        base64.b64encode(("u:" + secret).encode()).decode(),
        repr({"k": secret}),
    ]:
        out = SECRETS.redact(f"before {form} after")
        assert "SECRET" not in out and "U0VDUkVU" not in out, (form, out)
        assert out.startswith("before ") and out.endswith(" after")


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("Authorization: Digest username=bob, response=abcdef", "abcdef"),
        ("{'Authorization': 'AWS4-HMAC-SHA256 Credential=AK/x, Signature=zz'}", "Credential"),
        ("('X-Api-Key', 'k3y-v4lue')", "k3y-v4lue"),
        ('{"USER_TOKEN": "tok-abc"}', "tok-abc"),
        ("Cookie: a=1; sid=s3ss", "s3ss"),
        ("sent Bearer eyJhbGciOiJIUzI1NiJ9", "eyJhbGciOiJIUzI1NiJ9"),
        ("GET http://bob:hunter2@127.0.0.1/x", "hunter2"),
        ("GET http://127.0.0.1/x?api_key=abcd&limit=5", "abcd"),
    ],
)
def test_credential_shaped_text_is_redacted_without_knowing_the_value(
    text: str, hidden: str
) -> None:
    out = SECRETS.redact(text)
    assert hidden not in out and "***" in out


@pytest.mark.parametrize(
    "text",
    [
        "KeyError: 'user_id'",
        "p(95)<1500",
        "token expired after 5s",
        "limit=5&page=2",
        '{"metric_key": "http_req_duration", "author": "bob", "session_count": 3}',
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert SECRETS.redact(text) == text


def test_redact_url_keeps_what_is_not_secret() -> None:
    url = "http://bob:pw@127.0.0.1:8080/a/b?token=t1&sig=s2&page=3&api_key=k4#frag"
    assert (
        redact_url(url) == "http://***@127.0.0.1:8080/a/b?token=***&sig=***&page=3&api_key=***#frag"
    )


def test_learned_header_and_url_secrets() -> None:
    book = SecretBook()
    book.learn_headers([("X-Api-Key", "learned-key-1"), ("Accept", "text/plain-1")])
    book.learn_url("http://u:learned-pw-2@127.0.0.1/?sig=learned-sig-3")
    out = book.redact("learned-key-1 learned-pw-2 learned-sig-3 text/plain-1")
    assert out == "*** *** *** text/plain-1"


def test_redact_obj_hides_secret_keyed_values() -> None:
    obj = {"headers": {"Authorization": "Custom zzz-zzz"}, "env": {"LIMIT_MS": "1500"}}
    assert SECRETS.redact_obj(obj) == {
        "headers": {"Authorization": "***"},
        "env": {"LIMIT_MS": "1500"},
    }
