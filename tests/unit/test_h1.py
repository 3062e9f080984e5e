"""HTTP/1.1 messages of the lean client, as tables (no sockets): llhttp's framing as
``ResponseReader`` uses it, request heads, decoded bodies, forms and multipart."""

from __future__ import annotations

import gzip
import re
import zlib
from typing import Any

import brotli
import pytest

from veza_ray.core.durations import parse_size
from veza_ray.engine.h1 import (
    BodyTooLarge,
    DecodeError,
    FileData,
    H1Error,
    ResponseReader,
    Truncated,
    build_head,
    decode_body,
    decode_steps,
    encode_form,
)


def read(raw: bytes, method: str = "GET", step: int = 0, limit: int = 1 << 20) -> ResponseReader:
    """Feed ``raw`` whole or in ``step``-byte slices; stops at the first complete response."""
    r = ResponseReader()
    r.start(method, True, limit)
    pieces = [raw] if not step else [raw[i : i + step] for i in range(0, len(raw), step)]
    for piece in pieces:
        if r.feed(piece):
            break
    return r


@pytest.mark.parametrize("step", [0, 1, 3, 7])
@pytest.mark.parametrize(
    ("raw", "method", "status", "body", "keep_alive"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "GET", 200, b"ok", True),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
            "GET",
            200,
            b"ok",
            False,
        ),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "GET", 200, b"ok", False),
        (
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
            "GET",
            200,
            b"ok",
            True,
        ),
        # chunked, with an extension and a trailer; chunked wins over Content-Length
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nTrailer: x\r\n\r\n",
            "GET",
            200,
            b"Wikipedia",
            True,
        ),
        # bodiless whatever the headers say: HEAD, 204, 304
        (b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n", "HEAD", 200, b"", True),
        (b"HTTP/1.1 204 No Content\r\n\r\n", "GET", 204, b"", True),
        (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n", "GET", 304, b"", True),
        # an interim 100 is skipped, the real response follows
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx",
            "POST",
            201,
            b"x",
            True,
        ),
        # bare LF line ends, as Go accepts them
        (b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok", "GET", 200, b"ok", True),
        # ... whose body is never mended as if it were the head
        (
            b"HTTP/1.1 200 OK\nContent-Length: 10\n\na\n b :\r\n\r\n",
            "GET",
            200,
            b"a\n b :\r\n\r\n",
            True,
        ),
        # chunked wins over a Content-Length beside it; space before a colon is accepted
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"2\r\nok\r\n0\r\n\r\n",
            "GET",
            200,
            b"ok",
            True,
        ),
        (b"HTTP/1.1 200 OK\r\nX-A : b\r\nContent-Length: 2\r\n\r\nok", "GET", 200, b"ok", True),
    ],
)
def test_framing(
    raw: bytes, method: str, status: int, body: bytes, keep_alive: bool, step: int
) -> None:
    r = read(raw, method, step)
    assert r.complete and r.head is not None
    assert (r.head.status, r.body(), r.head.keep_alive) == (status, body, keep_alive)


def test_close_delimited_body_ends_only_at_close() -> None:
    r = read(b"HTTP/1.1 200 OK\r\nX-A: b\r\n\r\nabc")
    assert not r.complete and r.body() == b"abc"
    assert r.ends_at_close() and r.complete
    assert r.head is not None and not r.head.keep_alive


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        b"HTTP/1.1 200 OK\r\nContent-Le",
    ],
)
def test_a_close_does_not_end_a_framed_body(raw: bytes) -> None:
    r = read(raw)
    assert not r.ends_at_close() and not r.complete


def test_headers_in_order_case_kept_values_trimmed_and_folds_unfolded() -> None:
    r = read(
        b"HTTP/1.1 404 Not Found\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-Pad:   v  \r\n"
        b"X-Fold: a\r\n  b\r\nContent-Length: 0\r\n\r\n"
    )
    assert r.head is not None
    assert r.head.headers[:2] == [("Set-Cookie", "a=1"), ("set-cookie", "b=2")]
    assert r.head.values("SET-COOKIE") == ["a=1", "b=2"]
    assert r.head.values("x-pad") == ["v"]
    assert r.head.values("x-fold") == ["a b"]


def test_a_header_with_space_before_its_colon_is_dropped_not_fatal() -> None:
    # Go files it under "X-A " (which no script reads); llhttp would refuse the response
    r = read(b"HTTP/1.1 200 OK\r\nX-A : b\r\nX-B: c\r\nContent-Length: 2\r\n\r\nok", step=3)
    assert r.complete and r.head is not None and r.body() == b"ok"
    assert r.head.headers == [("X-B", "c"), ("Content-Length", "2")]


def test_bytes_after_a_response_mark_the_stream_untrusted() -> None:
    r = read(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n")
    assert r.complete and r.trailing and r.body() == b"ok"


def test_the_reader_is_reused_after_a_head_response() -> None:
    r = read(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", "HEAD")
    assert r.complete
    r.start("GET", True, 100)
    assert r.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
    assert r.body() == b"abc"


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/2 200 OK\r\n\r\n",
        b"ICY 200 OK\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-A\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_broken_responses_are_h1_errors(raw: bytes) -> None:
    with pytest.raises(H1Error):
        read(raw)


@pytest.mark.parametrize("chunked", [False, True])
def test_a_kept_body_past_the_limit_stops_the_read(chunked: bool) -> None:
    if chunked:
        raw = (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"10\r\n"
            + b"x" * 16
            + b"\r\n"
        )
    else:
        raw = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 16
    with pytest.raises(BodyTooLarge):
        read(raw * 1, limit=10)
    r = ResponseReader()
    r.start("GET", False, 10)  # a discarded body is counted, never limited
    r.feed(raw)
    assert r.body_size == 16 and r.parts == []


def test_build_head_layout() -> None:
    head = build_head("POST", "/a?b=1", [("Host", "h:81"), ("Content-Length", "2")])
    assert head == b"POST /a?b=1 HTTP/1.1\r\nHost: h:81\r\nContent-Length: 2\r\n\r\n"


@pytest.mark.parametrize(
    "header", [("X-A", "v\r\nX-Evil: 1"), ("X-A\nB", "v"), ("X:A", "v"), ("X-A", "v\r")]
)
def test_build_head_refuses_header_injection(header: tuple[str, str]) -> None:
    with pytest.raises(ValueError, match="line break or colon"):
        build_head("GET", "/", [header])


TEXT = b"hello " * 100


@pytest.mark.parametrize(
    ("coding", "data"),
    [
        ("gzip", gzip.compress(TEXT)),
        ("deflate", zlib.compress(TEXT)),
        ("br", brotli.compress(TEXT)),
        ("identity", TEXT),
        ("gzip, br", brotli.compress(gzip.compress(TEXT))),  # last applied undone first
        ("x-unknown", TEXT),  # left as it is, as k6 does
    ],
)
def test_decode_body(coding: str, data: bytes) -> None:
    assert decode_body(data, coding, 1 << 20) == TEXT


def test_decode_zstd() -> None:
    try:
        from compression import zstd  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        from backports import zstd  # type: ignore[import-not-found,no-redef,unused-ignore]
    assert decode_body(zstd.compress(TEXT), "zstd", 1 << 20) == TEXT


def test_decode_errors_and_bombs() -> None:
    with pytest.raises(DecodeError):
        decode_body(b"not gzip", "gzip", 100)
    # cut short: k6's "unexpected EOF" (1000), with what decoded so far
    with pytest.raises(Truncated) as cut:
        decode_body(gzip.compress(TEXT)[:-12], "gzip", 1 << 20)
    assert cut.value.decoded and TEXT.startswith(cut.value.decoded)
    with pytest.raises(Truncated):
        decode_body(zlib.compress(TEXT)[:-3], "deflate", 1 << 20)
    # k6 names codings exactly: x-gzip and GZIP are left as they are
    assert decode_body(gzip.compress(TEXT), "x-gzip", 1 << 20) == gzip.compress(TEXT)
    assert decode_body(gzip.compress(TEXT), "GZIP", 1 << 20) == gzip.compress(TEXT)
    assert decode_body(gzip.compress(TEXT), " gzip ", 1 << 20) == TEXT
    with pytest.raises(BodyTooLarge):
        decode_body(gzip.compress(b"\0" * 1_000_000), "gzip", 1000)
    with pytest.raises(BodyTooLarge):
        decode_body(brotli.compress(b"\0" * 1_000_000), "br", 1000)


def _zstd() -> object:
    try:
        from compression import zstd  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        from backports import zstd  # type: ignore[import-not-found,no-redef,unused-ignore]
    return zstd


def _run_steps(body: bytes, coding: str, limit: int, step: int) -> tuple[bytes, int]:
    """The decoded body and how many times the decoder handed the loop back."""
    steps = decode_steps(body, coding, limit, step)
    yields = 0
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value, yields
        yields += 1


BOMB = b"\0" * (8 << 20)


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("br", brotli.compress),
        ("zstd", lambda b: _zstd().compress(b)),  # type: ignore[attr-defined]
        ("gzip, gzip", lambda b: gzip.compress(gzip.compress(b))),
    ],
)
def test_a_bomb_decodes_in_bounded_steps(coding: str, encode: Any) -> None:
    """8 MiB from a few KiB: the decoder hands the loop back between steps of bounded
    output (one call made all 8 MiB before, holding the loop ~25 ms per 8 MiB)."""
    body, yields = _run_steps(encode(BOMB), coding, 1 << 25, 256 << 10)
    assert body == BOMB
    # a step makes at most 256 KiB (brotli: its output buffer may grow to twice that)
    assert yields >= len(BOMB) // (512 << 10) - 1


@pytest.mark.parametrize("coding", ["gzip", "br"])
def test_a_bomb_past_the_limit_stops_at_the_limit(coding: str) -> None:
    data = gzip.compress(BOMB) if coding == "gzip" else brotli.compress(BOMB)
    steps = decode_steps(data, coding, 1 << 20, 64 << 10)
    made = 0
    with pytest.raises(BodyTooLarge):
        for _ in steps:
            made += 1
    assert made <= (1 << 20) // (64 << 10) + 1  # no step beyond the limit


def test_stepped_decoding_keeps_k6s_cut_gzip_body() -> None:
    """A gzip stream cut short keeps what was decoded so far (k6: 1000, body kept),
    however small the steps."""
    text = bytes(range(256)) * 4000
    whole = gzip.compress(text)
    for step in (1, 1000, 1 << 20):
        steps = decode_steps(whole[: len(whole) // 2], "gzip", 1 << 25, step)
        with pytest.raises(Truncated) as cut:
            for _ in steps:
                pass
        assert cut.value.decoded and text.startswith(cut.value.decoded)
        assert _run_steps(whole, "gzip", 1 << 25, step)[0] == text
    # k6 leaves x-gzip and GZIP undecoded: no step at all
    assert _run_steps(whole, "x-gzip", 1 << 25, 1) == (whole, 0)


def test_a_brotli_body_past_the_limit_is_too_large_not_truncated() -> None:
    """Incompressible brotli over the limit: 1702 (too large). The one-shot decoder
    said "truncated input" (1701) when brotli's output buffer stopped short of it."""
    import os

    with pytest.raises(BodyTooLarge):
        decode_body(brotli.compress(os.urandom(700_000)), "br", 600_000)


def test_a_body_in_tiny_chunks_is_kept_in_one_buffer() -> None:
    """2 MiB in 1-byte chunks: one growing buffer, not a list of two million bytes
    objects (whose join and release held the loop 100 ms per 2 MiB)."""
    n = 1 << 21
    r = ResponseReader()
    r.start("GET", True, 1 << 25)
    r.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    frame = b"1\r\nx\r\n" * 65536
    for _ in range(n // 65536):
        r.feed(frame)
        assert len(r.parts) == 1
    assert r.feed(b"0\r\n\r\n")
    assert r.body() == b"x" * n and type(r.body()) is bytes


def test_a_head_in_small_pieces_grows_in_place() -> None:
    """A 1 MB head sent 1 KiB at a time: kept in one buffer searched from where the last
    piece ended (re-joining and re-searching it all per piece took 5 s of loop)."""
    line = b"X-Filler: " + b"a" * 50 + b"\r\n"
    raw = b"HTTP/1.1 200 OK\r\n" + line * 16000 + b"Content-Length: 2\r\n\r\nok"
    r = ResponseReader()
    r.start("GET", True, 1 << 20)
    buffers = set()
    for i in range(0, len(raw), 1024):
        done = r.feed(raw[i : i + 1024])
        buffers.add(id(r._pending))
    assert done and r.body() == b"ok" and r.head is not None
    assert len(r.head.values("x-filler")) == 16000
    assert len(buffers) <= 2  # the one growing buffer (and b"" once the head is whole)


def test_form_as_k6_encodes_it() -> None:
    # k6 (Go url.Values.Encode): keys sorted, lists repeated, space as "+"
    body, ctype = encode_form({"b": "x y", "a": ["1", "2"], "c": 3, "d": "é/&"})
    assert ctype == "application/x-www-form-urlencoded"
    assert body == b"a=1&a=2&b=x+y&c=3&d=%C3%A9%2F%26"


def test_multipart_as_k6_writes_it() -> None:
    body, ctype = encode_form({"f": FileData("abc", "n.txt", "text/plain"), "g": "v"})
    m = re.fullmatch(r"multipart/form-data; boundary=([0-9a-f]{60})", ctype)
    assert m is not None
    b = m.group(1).encode()
    assert body == (
        b"--" + b + b'\r\nContent-Disposition: form-data; name="f"; filename="n.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nabc\r\n"
        b"--" + b + b'\r\nContent-Disposition: form-data; name="g"\r\n\r\nv\r\n'
        b"--" + b + b"--\r\n"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1024, 1024), ("32MiB", 32 << 20), ("500kB", 500_000), ("1GB", 10**9), ("2 mib", 2 << 20)],
)
def test_parse_size(value: object, expected: int) -> None:
    assert parse_size(value) == expected


@pytest.mark.parametrize("value", [0, -1, "12 parsecs", "", True, 1.5, "MiB"])
def test_parse_size_refuses(value: object) -> None:
    with pytest.raises(ValueError):
        parse_size(value)
