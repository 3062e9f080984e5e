"""Redaction as display, never identity: what the book learns (credentials, not the text
around them), the one reset of the process's redaction state, secrets learned after
text was made, multi-line secrets in the actors' writers, and the outputs that redact
when they write (Prometheus labels, colliding keys)."""

from __future__ import annotations

import html
import io
from collections.abc import Iterator

import pytest

from veza_ray.core.guards import (
    SECRETS,
    RedactingWriter,
    SecretBook,
    header_secret_parts,
    redact,
    url_secrets,
)
from veza_ray.engine import api, http
from veza_ray.outputs.prometheus import decode, encode, shown


@pytest.fixture(autouse=True)
def clean_book() -> Iterator[None]:
    SECRETS.clear()
    yield
    SECRETS.clear()


# ---- what the book learns -------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "s=c00kie-v4lue-1; Path=/app; Domain=127.0.0.1",
        "s=c00kie-v4lue-1; Domain=shop.example; Path=/cart; Secure; HttpOnly",
        "s=c00kie-v4lue-1; Expires=Wed, 21 Oct 2099 07:28:00 GMT; Max-Age=3600",
        "s=c00kie-v4lue-1; SameSite=Strict; Priority=High; Partitioned",
        "s=c00kie-v4lue-1; path=/catalogue/items; domain=api.localhost",
    ],
)
def test_set_cookie_learns_the_value_never_the_attributes(header: str) -> None:
    got = header_secret_parts("Set-Cookie", header)
    assert got == ["c00kie-v4lue-1"]
    book = SecretBook()
    book.learn_headers([("Set-Cookie", header)])
    for text in ("/app", "/cart", "/catalogue/items", "127.0.0.1", "shop.example", "Strict"):
        line = f"GET http://127.0.0.1:8080{text}/x name={text}"
        assert book.redact(line) == line
    assert book.redact("id c00kie-v4lue-1") == "id ***"


def test_cookie_header_learns_credentials_not_preferences() -> None:
    parts = header_secret_parts(
        "Cookie", "theme=dark; lang=en-US; PHPSESSID=abc; sid=9f8e7d6c; csrftoken=tok12345"
    )
    assert "dark" not in parts and "en-US" not in parts
    assert "9f8e7d6c" in parts and "tok12345" in parts
    # A value shaped like a credential is learned whatever the cookie's name.
    assert header_secret_parts("Cookie", "x=Zq81mNk2Lp") == ["Zq81mNk2Lp"]
    assert header_secret_parts("Cookie", "when=2024-01-01") == []


@pytest.mark.parametrize(
    ("value", "kept", "hidden"),
    [
        (
            'Digest username="bob", realm="shop", nonce="n0nce", uri="/app/cart", '
            'qop=auth, response="6629fae49393a05397450978507c4ef1", algorithm=MD5',
            ["/app/cart", "shop", "auth", "MD5"],
            ["6629fae49393a05397450978507c4ef1"],
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0",
            ["content-type;host;x-amz-date", "us-east-1"],
            ["AKIDEXAMPLE", "5d672d79c15b13162d9279b0"],
        ),
        ("Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", ["Bearer"], ["eyJhbGciOiJIUzI1NiJ9.e30.sig"]),
    ],
)
def test_scheme_parameters_learned_only_where_they_are_the_credential(
    value: str, kept: list[str], hidden: list[str]
) -> None:
    parts = header_secret_parts("Authorization", value)
    book = SecretBook()
    book.add_all(p for p in parts if p != value and p != value.partition(" ")[2])
    for word in kept:
        assert book.redact(f"x {word} y") == f"x {word} y", word
    for word in hidden:
        assert word in parts


@pytest.mark.parametrize(
    ("url", "learned"),
    [
        ("http://h/search?keyword=shoes&author=tolkien&sort_key=price", []),
        ("http://h/list?key=products&page=2", []),  # a sort key, not an API key
        ("http://h/maps?key=AIzaSyD4xk29qLm", ["AIzaSyD4xk29qLm"]),
        ("http://h/x?token=t0k-123&access_token=at-456", ["t0k-123", "at-456"]),
        ("http://bob:pa55word@h/", ["pa55word"]),
        ("http://ghp_tok3n@h/", ["ghp_tok3n"]),
    ],
)
def test_url_learning_takes_credentials_only(url: str, learned: list[str]) -> None:
    assert url_secrets(url) == learned


def test_redact_with_extra_values_does_not_teach_the_book() -> None:
    SECRETS.add("book-value-1")
    assert redact("a book-value-1 extra-value-2", ["extra-value-2"]) == "a *** ***"
    assert SECRETS.values == ("book-value-1",)
    assert SECRETS.redact("extra-value-2") == "extra-value-2"


# ---- the process's redaction state ----------------------------------------------------


def test_clear_resets_the_book_and_every_memo_it_owns() -> None:
    tags = api._check_tags("sent tok-in-check-1", {"team": "t"})
    name, _ = http._name_and_extra("http://127.0.0.1:9/?token=tok-in-url-22", None)
    assert tags and name and api._CHECK_TAGS and http._NAMES
    http._name_and_extra("http://127.0.0.1:9/", {"name": "n", "k": "v"})
    assert http._TAGSETS and "tok-in-url-22" in SECRETS.values
    generation = SECRETS.generation
    SECRETS.clear()
    assert not api._CHECK_TAGS and not http._NAMES and not http._TAGSETS
    assert SECRETS.values == () and SECRETS.generation > generation
    # A memo emptied with the book relearns its URL's secrets on the next use.
    http._name_and_extra("http://127.0.0.1:9/?token=tok-in-url-22", None)
    assert "tok-in-url-22" in SECRETS.values


def test_a_secret_learned_after_its_text_was_cached_is_hidden_on_output() -> None:
    """The memos keep identity (the real value); outputs redact with the book as it is
    when they write, so a value cached before the book knew it is hidden afterwards."""
    secret = "late-secret-77"
    first = api._check_tags(f"sent {secret}", {"account": secret})
    name, extra = http._name_and_extra(f"http://127.0.0.1:9/u/{secret}", {"team": secret})
    assert dict(first)["check"] == f"sent {secret}"  # identity: thresholds match on it
    assert SECRETS.redact_obj([first, name, extra]) == [
        [["account", secret], ["check", f"sent {secret}"]],
        f"http://127.0.0.1:9/u/{secret}",
        [["team", secret]],
    ]
    SECRETS.add(secret)  # learned now, e.g. env(..., secret=True) later in the flow
    assert api._check_tags(f"sent {secret}", {"account": secret}) is first  # same memo
    assert SECRETS.redact_obj([first, name, extra]) == [
        [["account", "***"], ["check", "sent ***"]],
        "http://127.0.0.1:9/u/***",
        [["team", "***"]],
    ]


def test_learned_since_hands_each_value_once() -> None:
    book = SecretBook()
    book.add("first-value")
    got, mark = book.learned_since(0)
    assert got == ["first-value"]
    book.add("second-value")
    book.add("first-value")  # known: not handed again
    got, mark = book.learned_since(mark)
    assert got == ["second-value"]
    assert book.learned_since(mark)[0] == []


def test_keys_that_redact_alike_stay_apart() -> None:
    SECRETS.add("alpha-secret")
    SECRETS.add("bravo-secret")
    out = SECRETS.redact_obj({"http_req_duration{t:alpha-secret}": 1, "x{t:bravo-secret}": 2})
    assert out == {"http_req_duration{t:***}": 1, "x{t:***}": 2}
    out = SECRETS.redact_obj({"m{t:alpha-secret}": 1, "m{t:bravo-secret}": 2})
    assert out == {"m{t:***}": 1, "m{t:***}#2": 2}


# ---- multi-line secrets in the actors' writers ----------------------------------------

PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"
    "VJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDu\n"
    "-----END PRIVATE KEY-----"
)


def _written(book: SecretBook, *chunks: str, flush_each: bool = False) -> str:
    sink = io.StringIO()
    w = RedactingWriter(sink, book)  # type: ignore[arg-type]
    for chunk in chunks:
        w.write(chunk)
        if flush_each:
            w.flush()
    w.flush()
    return sink.getvalue()


@pytest.mark.parametrize(
    ("chunks", "flush_each"),
    [
        (["key: ", PEM, "\n"], False),  # print("key:", PEM)
        (["key: ", PEM, "\n"], True),  # print(..., flush=True)
        ([f"key: {PEM}\nafter\n"], False),  # one write
        ([c + "\n" for c in f"key: {PEM}".split("\n")], True),  # line by line, flushed
        ([f"key: {PEM[:40]}", PEM[40:90], PEM[90:] + "\nafter\n"], True),  # any split
    ],
)
def test_a_multi_line_secret_is_redacted_whole(chunks: list[str], flush_each: bool) -> None:
    book = SecretBook()
    book.add(PEM)
    out = _written(book, *chunks, flush_each=flush_each)
    assert out.startswith("key: ***")
    for line in PEM.split("\n"):
        assert line not in out, (line, out)


def test_the_writer_passes_ordinary_lines_at_once() -> None:
    book = SecretBook()
    book.add(PEM)
    sink = io.StringIO()
    w = RedactingWriter(sink, book)  # type: ignore[arg-type]
    w.write("one line\n")
    assert sink.getvalue() == "one line\n"  # not held: no secret begins in it
    w.write("-----BEGIN PRIVATE KEY-----\n")
    assert sink.getvalue() == "one line\n"  # held: it may be the key's first line
    w.write("not the key after all\n")
    assert sink.getvalue().endswith("not the key after all\n")


def test_an_html_escaped_multi_line_secret_is_redacted_whole() -> None:
    pem = PEM.replace("PRIVATE KEY", "KEY <&> PART")
    book = SecretBook()
    book.add(pem)
    out = _written(book, html.escape(pem), "\n")
    assert out == "***\n"


# ---- outputs that redact when they write ---------------------------------------------


def test_prometheus_labels_are_redacted_when_sent_and_never_duplicated() -> None:
    SECRETS.add("tag-secret-1")
    points = [
        ((("__name__", "k6_http_reqs_total"), ("name", "http://h/?tok=tag-secret-1")), 3.0),
        ((("__name__", "k6_veza_ray_threshold_ok"), ("threshold", "m{t:tag-secret-1}")), 1.0),
        ((("__name__", "k6_veza_ray_threshold_ok"), ("threshold", "m{t:tag-secret-2}")), 0.0),
    ]
    SECRETS.add("tag-secret-2")
    body = encode(shown(points, SECRETS.redact), 1000)
    assert b"tag-secret" not in body
    got = decode(body)
    assert [dict(lb) for lb, _ in got] == [
        {"__name__": "k6_http_reqs_total", "name": "http://h/?tok=***"},
        {"__name__": "k6_veza_ray_threshold_ok", "threshold": "m{t:***}"},
    ]


def test_check_tags_keep_real_values_for_thresholds() -> None:
    """A threshold selector naming a secret tag value finds its series: the recorded tag
    is the real value, not ***."""
    from veza_ray.core.metric_types import BUILTIN_METRICS
    from veza_ray.core.metrics import MetricStore
    from veza_ray.core.thresholds import evaluate, parse_thresholds

    secret = "sel-secret-9"
    SECRETS.add(secret)
    store = MetricStore(dict(BUILTIN_METRICS))
    tags = api._check_tags("ok", {"account": secret})
    sink = store.sink("checks", tags)
    sink.add(1.0)  # type: ignore[attr-defined]
    store.end_round()
    ths = parse_thresholds({f"checks{{account:{secret}}}": ["rate>0.5"]}, dict(BUILTIN_METRICS))
    (verdict,) = evaluate(store, ths, 1.0)
    assert verdict.observed == 1.0 and verdict.ok


def test_the_terminal_live_view_redacts_what_it_draws() -> None:
    """rich draws straight to the terminal, past the driver's redacting writer."""
    from rich.console import Console

    from veza_ray.core.metric_types import BUILTIN_METRICS
    from veza_ray.core.thresholds import judge, parse_thresholds
    from veza_ray.outputs.live import LiveView, progress_rows

    SECRETS.add("live-secret-5")
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=160, color_system=None)
    view = LiveView(True, 30.0, tty=True, console=console)
    rows = progress_rows(["s"], {"s": {"active": 1, "allocated": 1, "iterations": 1}}, {}, 1.0)
    (th,) = parse_thresholds({"http_reqs{name:live-secret-5}": ["count>0"]}, BUILTIN_METRICS)
    view.update(1.0, rows, [judge(th, 3.0)])
    view.close()
    assert "http_reqs{name:***}: count>0" in buf.getvalue()
    assert "live-secret-5" not in buf.getvalue()


@pytest.mark.parametrize("count", [3, 400], ids=["regex", "index"])
def test_large_and_small_books_redact_alike(count: int) -> None:
    """Thousands of session values sharing a prefix (JWTs) use the indexed matcher: same
    result as the alternation, leftmost and longest first, any case."""
    book = SecretBook()
    values = [f"eyJhbGciOiJIUzI1NiJ9.v{i:04d}x" for i in range(count)]
    book.add_all(values)
    book.add("eyJhbGciOiJIUzI1NiJ9.v0001x-longer")
    text = (
        f"a {values[1]} b {values[-1].upper()} c eyJhbGciOiJIUzI1NiJ9.v0001x-longer d "
        "eyJhbGciOiJIUzI1NiJ9.nope e \u0130stanbul"
    )
    assert book.redact(text) == ("a *** b *** c *** d eyJhbGciOiJIUzI1NiJ9.nope e \u0130stanbul")


def test_headers_with_a_secret_word_but_no_credential_are_not_learned() -> None:
    order = "0b6f1c2e-4d7a-4e55-9a61-3f2d8c9e7b10"
    book = SecretBook()
    book.learn_headers(
        [("Idempotency-Key", order), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")]
    )
    book.learn_headers([("X-Api-Key", "k3y-learned-1")])
    assert book.values == ("k3y-learned-1",)
    assert book.redact(f"/orders/{order}") == f"/orders/{order}"


def test_a_value_first_seen_under_an_ordinary_header_is_still_learned_as_a_credential() -> None:
    book = SecretBook()
    book.learn_headers([("X-Request-Id", "shared-v4lue-9")])
    book.learn_headers([("Authorization", "shared-v4lue-9")])
    assert book.redact("id shared-v4lue-9") == "id ***"


def test_a_sort_key_is_shown_an_api_key_is_not() -> None:
    from veza_ray.core.guards import redact_url

    assert redact_url("http://h/list?key=products&page=2") == "http://h/list?key=products&page=2"
    assert redact_url("http://h/maps?key=AIzaSyD4xk29qLm&z=3") == "http://h/maps?key=***&z=3"


@pytest.mark.parametrize("many", [False, True], ids=["regex", "index"])
def test_a_short_secret_is_redacted_only_where_it_stands_alone(many: bool) -> None:
    """A 4-letter password learned from ``http://u:pass@host`` hides it there, but the
    summary's own ``passes`` key stays whole (it once became ``***es`` and crashed the
    text summary); a long value is still redacted inside other text."""
    book = SecretBook()
    book.add("pass")
    book.add("Zq9longsecretvalue")
    if many:  # past the regex's size: the index path
        book.add_all(f"filler-secret-{i:04d}" for i in range(80))
    assert book.redact("http://u:pass@127.0.0.1/x") == "http://***@127.0.0.1/x"
    assert book.redact("user pass here") == "user *** here"
    assert book.redact("pass") == "***"
    assert book.redact('{"passes": 3, "fails": 0}') == '{"passes": 3, "fails": 0}'
    assert book.redact("bypass compass") == "bypass compass"
    assert book.redact("x=PASS;") == "x=***;"
    assert book.redact("aZq9longsecretvalueb") == "a***b"
    shown = book.redact_obj({"checks": {"passes": 1, "fails": 2, "rate": 0.3}})
    assert shown == {"checks": {"passes": 1, "fails": 2, "rate": 0.3}}
