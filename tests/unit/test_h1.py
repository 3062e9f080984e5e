"""HTTP/1.1 framing rules of the lean client, as tables (no sockets)."""

from __future__ import annotations

import pytest

from veza_ray.h1 import ChunkedBody, H1Error, build_head, parse_head


@pytest.mark.parametrize(
    ("raw", "method", "status", "length", "chunked", "keep_alive"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2", "GET", 200, 2, False, True),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close", "GET", 200, 2, False, False),
        (
            b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0",
            "GET",
            200,
            0,
            False,
            False,
        ),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2", "GET", 200, 2, False, False),
        (
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2",
            "GET",
            200,
            2,
            False,
            True,
        ),
        # no length, not chunked: the body runs until the server closes
        (b"HTTP/1.1 200 OK\r\nX-A: b", "GET", 200, -1, False, False),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked", "GET", 200, 0, True, True),
        # chunked wins over Content-Length
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: gzip, chunked",
            "GET",
            200,
            0,
            True,
            True,
        ),
        # bodiless whatever the headers say
        (b"HTTP/1.1 200 OK\r\nContent-Length: 50", "HEAD", 200, 0, False, True),
        (b"HTTP/1.1 204 No Content", "GET", 204, 0, False, True),
        (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50", "GET", 304, 0, False, True),
        (b"HTTP/1.1 100 Continue", "POST", 100, 0, False, True),
    ],
)
def test_parse_head_framing(
    raw: bytes, method: str, status: int, length: int, chunked: bool, keep_alive: bool
) -> None:
    head = parse_head(raw, method)
    assert (head.status, head.length, head.chunked, head.keep_alive) == (
        status,
        length,
        chunked,
        keep_alive,
    )


def test_parse_head_keeps_headers_in_order_and_case() -> None:
    head = parse_head(
        b"HTTP/1.1 404 Not Found\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-Pad:   v  \r\n"
        b"Content-Length: 0",
        "GET",
    )
    assert head.reason == "Not Found"
    assert head.headers[:2] == [("Set-Cookie", "a=1"), ("set-cookie", "b=2")]
    assert head.values("SET-COOKIE") == ["a=1", "b=2"]
    assert head.values("x-pad") == ["v"]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"HTTP/2 200 OK", "status line"),
        (b"ICY 200 OK", "status line"),
        (b"HTTP/1.1 2x0 OK", "status line"),
        (b"HTTP/1.1 999 Nope", "out of range"),
        (b"HTTP/1.1 200 OK\r\nno colon here", "header line"),
        (b"HTTP/1.1 200 OK\r\n: v", "header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2", "conflicting"),
    ],
)
def test_parse_head_refuses_broken_heads(raw: bytes, fragment: str) -> None:
    with pytest.raises(H1Error, match=fragment):
        parse_head(raw, "GET")


def test_build_head_layout() -> None:
    head = build_head("POST", "/a?b=1", [("Host", "h:81"), ("Content-Length", "2")])
    assert head == b"POST /a?b=1 HTTP/1.1\r\nHost: h:81\r\nContent-Length: 2\r\n\r\n"


@pytest.mark.parametrize(
    "header", [("X-A", "v\r\nX-Evil: 1"), ("X-A\nB", "v"), ("X:A", "v"), ("X-A", "v\r")]
)
def test_build_head_refuses_header_injection(header: tuple[str, str]) -> None:
    with pytest.raises(ValueError, match="line break or colon"):
        build_head("GET", "/", [header])


CHUNKED = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\n"


@pytest.mark.parametrize("keep", [True, False])
@pytest.mark.parametrize("step", [1, 2, 3, 7, len(CHUNKED)])
def test_chunked_body_in_any_slicing(keep: bool, step: int) -> None:
    dec = ChunkedBody(keep)
    tail = b"NEXT"
    data = CHUNKED + tail
    used_total = 0
    for i in range(0, len(data), step):
        piece = data[i : i + step]
        used = dec.feed(piece)
        used_total += used
        if dec.done:
            break
    assert dec.done
    assert used_total == len(CHUNKED)  # stops right after the body, tail untouched
    assert dec.size == 23
    assert dec.body() == (b"Wikipedia in\r\n\r\nchunks." if keep else b"")


def test_chunked_body_with_offset_and_uppercase_hex() -> None:
    dec = ChunkedBody(True)
    data = b"XXA\r\n0123456789\r\n0\r\n\r\n"
    assert dec.feed(data, 2) == len(data)
    assert dec.done and dec.body() == b"0123456789"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"zz\r\n", "bad chunk size"),
        (b"2\r\nabc\r\n", "longer than its size"),
        (b"1" * 5000, "too long"),
    ],
)
def test_chunked_body_refuses_broken_framing(data: bytes, fragment: str) -> None:
    with pytest.raises(H1Error, match=fragment):
        ChunkedBody(True).feed(data)
