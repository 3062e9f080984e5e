"""The k6 conformance cases: byte-exact asyncio servers and the requests made to them.

Each case has its own server (``asyncio.start_server``, no framework between the bytes and
the client) that records every request it reads (method, target, headers, body) and the
connection it came on, and answers with exact bytes, closes, resets or hangs. The same
requests are then made by real k6 (``k6_cases.js``) and by veza-ray through its CLI
(``vr_cases.py``), both reading the cases from one JSON file; ``test_k6_conformance.py``
compares them case by case.

A case whose behaviour deliberately differs from k6's names the difference in ``differs``
(the same text is in docs/http-client.md); the test then checks that difference, so it
cannot drift silently either way.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import re
import socket
import ssl
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import brotli

try:
    from compression import zstd  # type: ignore[import-not-found,unused-ignore]
except ImportError:
    from backports import zstd  # type: ignore[import-not-found,no-redef,unused-ignore]

from rawserver import CaseServer, Conn, LoopThread, Seen, Serve, response

# ---- answers ---------------------------------------------------------------------------


def answer(data: bytes) -> Serve:
    async def serve(conn: Conn, req: Seen) -> None:
        await conn.send(data)

    return serve


def answer_then(data: bytes, end: str) -> Serve:
    """Write ``data``, then "close", "reset" or "hang"."""

    async def serve(conn: Conn, req: Seen) -> None:
        await conn.send(data)
        await getattr(conn, end)()

    return serve


def first_only(data: bytes) -> Serve:
    """Answer the first request on a connection; close (FIN) on the second, unanswered, as
    a server whose idle timeout fired just as the request arrived."""

    async def serve(conn: Conn, req: Seen) -> None:
        if req.nth == 1:
            await conn.send(data)
        else:
            await conn.close()

    return serve


def routes(table: dict[str, bytes]) -> Serve:
    """Answer by path (the target without its query); anything else is a 404."""

    async def serve(conn: Conn, req: Seen) -> None:
        path = req.target.split("?", 1)[0]
        await conn.send(table.get(path, response(b"no route", "404 Not Found")))

    return serve


async def _endless_redirects(conn: Conn, req: Seen) -> None:
    n = int(req.target.rsplit("/", 1)[-1])
    await conn.send(response(b"", "302 Found", b"Location: /r/%d\r\n" % (n + 1)))


async def _absolute_utf8_redirect(conn: Conn, req: Seen) -> None:
    """301 to this server by absolute URL, its path in raw UTF-8 bytes."""
    if req.target == "/start":
        host = next(v for k, v in req.headers if k.lower() == "host").encode()
        loc = b"http://" + host + "/café/ü".encode()
        await conn.send(response(b"", "301 Moved", b"Location: " + loc + b"\r\n"))
    else:
        await conn.send(response(b"landed " + req.target.encode()))


_RAW_QUERY = (
    "non-ASCII in a query is %-encoded as UTF-8; k6 v1.1 writes the raw bytes into the "
    "request line (a space there breaks it)"
)


_TWO_CODING_LINES = (
    "two Content-Encoding lines are one list (RFC 9110), both undone; k6 v1.1 reads only "
    "the first and fails the request (1701)"
)
_EMPTY_GZIP = (
    "a HEAD or empty answer with Content-Encoding: gzip has nothing to decode and succeeds; "
    "k6 v1.1 fails it (1701)"
)


def _set_cookies(*lines: str) -> bytes:
    return response(b"set", headers=b"".join(b"Set-Cookie: %s\r\n" % ln.encode() for ln in lines))


# ---- the cases -------------------------------------------------------------------------


@dataclass
class Req:
    """One request: ``url`` is relative to the case's server, or absolute with {base},
    {host} ({base} without the scheme) and {port} filled in."""

    method: str = "GET"
    url: str = "/"
    body: Any = None  # str | {"form": {...}} | {"multipart": {"fields": {}, "files": {}}}
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None  # seconds
    show: list[str] = field(default_factory=list)  # response headers to report
    params: dict[str, Any] = field(default_factory=dict)  # more k6 params, as k6 names them


@dataclass
class Case:
    name: str
    reqs: list[Req]
    serve: Serve | None  # None: nothing listens on the port (connection refused)
    tls: str | None = None  # "trusted", "untrusted" or "mismatch"
    # A deliberate difference from k6: the compared fields it touches, and why.
    differs: dict[str, str] = field(default_factory=dict)


TEXT = b"The quick brown fox jumps over the lazy dog. " * 20
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nTrailer: x\r\n\r\n"
)
# Text that compresses poorly, so a cut compressed stream is cut mid-content.
NOISE = b" ".join(b"%d" % (i * 7919 % 100003) for i in range(4000))
REDIRECT_HEADERS = {"Content-Type": "text/x-original", "X-Trace": "t1"}


def _redirect(code: int, to: bytes = b"/after") -> Serve:
    return routes(
        {
            "/start": response(b"", f"{code} Moved", b"Location: " + to + b"\r\n"),
            "/after": response(b"landed"),
        }
    )


def cases() -> list[Case]:
    """Every case: the rows of issue 12's table, and the framing, redirect, cookie,
    body and error cases around them."""
    return [
        # -- framing (llhttp decides) --
        Case("content_length", [Req()], answer(response(b"hello"))),
        Case("chunked_with_extension_and_trailer", [Req()], answer(CHUNKED)),
        Case(
            "close_delimited", [Req()], answer_then(b"HTTP/1.1 200 OK\r\n\r\nuntil close", "close")
        ),
        Case(
            "reset_mid_close_delimited_body",
            [Req()],
            answer_then(b"HTTP/1.1 200 OK\r\n\r\npartial", "reset"),
        ),
        Case(
            "reset_mid_content_length_body",
            [Req()],
            answer_then(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", "reset"),
        ),
        Case(
            "eof_mid_content_length_body",
            [Req()],
            answer_then(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", "close"),
        ),
        Case("eof_before_response", [Req()], answer_then(b"", "close")),
        Case("eof_mid_head", [Req()], answer_then(b"HTTP/1.1 200 OK\r\nContent-Le", "close")),
        Case("reset_before_response", [Req()], answer_then(b"", "reset")),
        Case(
            "bare_lf_line_ends",
            [Req(show=["X-A"])],
            answer(b"HTTP/1.1 200 OK\nX-A: b\nContent-Length: 2\n\nok"),
        ),
        Case(
            "obs_fold_header",
            [Req(show=["X-Fold"])],
            answer(b"HTTP/1.1 200 OK\r\nX-Fold: a\r\n  b\r\nContent-Length: 2\r\n\r\nok"),
        ),
        Case(
            "repeated_headers_joined",
            [Req(show=["X-Dup", "Content-Type"])],
            answer(
                response(b"ok", headers=b"X-Dup: a\r\nx-dup: b\r\ncontent-type: text/plain\r\n")
            ),
        ),
        Case(
            "chunked_and_content_length",
            [Req()],
            answer(
                b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"2\r\nok\r\n0\r\n\r\n"
            ),
        ),
        Case(
            "space_before_header_colon",
            [Req(show=["X-A"])],
            answer_then(b"HTTP/1.1 200 OK\r\nX-A : b\r\nContent-Length: 2\r\n\r\nok", "close"),
        ),
        Case(
            "bytes_after_the_body",
            [Req(), Req()],
            answer(response(b"ok") + b"garbage"),
        ),
        Case("no_reason_phrase", [Req()], answer(b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok")),
        Case("malformed_status_line", [Req()], answer_then(b"HTTP/1.1 2x0 OK\r\n\r\n", "close")),
        Case(
            "head_with_content_length",
            [Req("HEAD"), Req("GET")],
            routes({"/": b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n"}),
        ),
        Case(
            "no_content_204_then_304",
            [Req(url="/204"), Req(url="/304")],
            routes(
                {
                    "/204": b"HTTP/1.1 204 No Content\r\n\r\n",
                    "/304": b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n",
                }
            ),
        ),
        Case(
            "interim_100_continue",
            [Req("POST", body="data")],
            answer(b"HTTP/1.1 100 Continue\r\n\r\n" + response(b"after interim")),
        ),
        Case("one_megabyte_body", [Req()], answer(response(TEXT * 1200))),
        Case(
            "connection_close_then_new_connection",
            [Req(), Req()],
            answer_then(response(b"bye", headers=b"Connection: close\r\n"), "close"),
        ),
        Case(
            "http10_without_keep_alive",
            [Req(), Req()],
            answer_then(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nold", "close"),
        ),
        Case("keep_alive_reused", [Req(), Req(), Req()], answer(response(b"again"))),
        # -- statuses and errors --
        Case("status_404_failed", [Req()], answer(response(b"nope", "404 Not Found"))),
        Case("status_500_failed", [Req()], answer(response(b"boom", "500 Internal Server Error"))),
        Case("connection_refused", [Req()], None),
        Case("timeout_before_response", [Req(timeout=1.0)], answer_then(b"", "hang")),
        Case(
            "timeout_mid_body",
            [Req(timeout=1.0)],
            answer_then(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", "hang"),
        ),
        # -- stale keep-alive connections (Go resends only replayable requests) --
        Case("stale_keep_alive_get", [Req(), Req()], first_only(response(b"fresh"))),
        Case("stale_keep_alive_head", [Req("HEAD"), Req("HEAD")], first_only(response(b"fresh"))),
        Case(
            "stale_keep_alive_put",
            [Req("PUT", body="one"), Req("PUT", body="two")],
            first_only(response(b"fresh")),
        ),
        Case(
            "stale_keep_alive_delete",
            [Req("DELETE"), Req("DELETE")],
            first_only(response(b"fresh")),
        ),
        Case(
            "stale_keep_alive_post",
            [Req("POST", body="one"), Req("POST", body="two")],
            first_only(response(b"fresh")),
        ),
        Case(
            "stale_keep_alive_post_with_idempotency_key",
            [
                Req("POST", body="one", headers={"Idempotency-Key": "k1"}),
                Req("POST", body="two", headers={"Idempotency-Key": "k2"}),
            ],
            first_only(response(b"fresh")),
        ),
        # -- what a request sends --
        Case("get_plain_headers", [Req(headers={"X-Custom": "v 1"})], answer(response())),
        Case("str_body_no_content_type", [Req("POST", body="hello")], answer(response())),
        Case("post_without_body", [Req("POST")], answer(response())),
        Case("query_sent_as_written", [Req(url="/p%2Fq?a=%2Fb&c=d+e&f=%7e")], answer(response())),
        Case(
            "url_credentials_basic_auth",
            [Req(url="http://us%40r:pa%20ss@{host}/auth")],
            answer(response()),
        ),
        Case(
            "url_credentials_not_carried_by_redirect",
            [Req(url="http://user:s3cr3t-pw@{host}/start")],
            _redirect(302),
        ),
        Case(
            "explicit_authorization_wins_over_url",
            [Req(url="http://user:s3cr3t-pw@{host}/", headers={"Authorization": "Bearer t"})],
            answer(response()),
        ),
        Case(
            "form_body",
            [Req("POST", body={"form": {"b": "x y", "a": ["1", "2"], "c": "é/&"}})],
            answer(response()),
        ),
        Case(
            "multipart_with_file",
            [
                Req(
                    "POST",
                    body={
                        "multipart": {
                            "fields": {"g": "v"},
                            "files": {"f": ["file content", "n.txt", "text/plain"]},
                        }
                    },
                )
            ],
            answer(response()),
        ),
        Case(
            "form_null_value",
            [Req("POST", body={"form": {"a": "1", "c": None}})],
            answer(response()),
            differs={
                "requests": "a null form value is sent empty (c=), as k6 does since v1.2 "
                "(grafana/k6#1185); k6 v1.1 sends c=%3Cnil%3E"
            },
        ),
        Case(
            "form_with_explicit_content_type",
            [Req("POST", body={"form": {"a": "1"}}, headers={"Content-Type": "text/x-mine"})],
            answer(response()),
        ),
        # -- redirects, as Go's client follows them --
        Case("redirect_302_get", [Req(url="/start")], _redirect(302)),
        Case(
            "redirect_302_put_becomes_get",
            [Req("PUT", "/start", body="payload", headers=REDIRECT_HEADERS)],
            _redirect(302),
        ),
        Case(
            "redirect_301_post_becomes_get",
            [Req("POST", "/start", body="payload", headers=REDIRECT_HEADERS)],
            _redirect(301),
        ),
        Case(
            "redirect_303_delete_becomes_get",
            [Req("DELETE", "/start", headers=REDIRECT_HEADERS)],
            _redirect(303),
        ),
        Case(
            "redirect_307_put_keeps_method_and_body",
            [Req("PUT", "/start", body="payload", headers=REDIRECT_HEADERS)],
            _redirect(307),
        ),
        Case(
            "redirect_308_post_keeps_method_and_body",
            [Req("POST", "/start", body="payload", headers=REDIRECT_HEADERS)],
            _redirect(308),
        ),
        Case(
            "redirect_302_form_post_becomes_get",
            [Req("POST", "/start", body={"form": {"a": "1"}})],
            _redirect(302),
        ),
        Case("redirect_302_head_stays_head", [Req("HEAD", "/start")], _redirect(302)),
        Case("redirect_query_as_written", [Req(url="/start")], _redirect(302, b"/after?x=%2Fy")),
        Case(
            "redirect_sets_cookie_for_next_hop",
            [Req(url="/start"), Req(url="/after")],
            routes(
                {
                    "/start": response(
                        b"", "302 Found", b"Location: /after\r\nSet-Cookie: s=1; Path=/\r\n"
                    ),
                    "/after": response(b"landed", headers=b"Set-Cookie: t=2; Path=/\r\n"),
                }
            ),
        ),
        # -- the cookie jar (Go's net/http/cookiejar) --
        Case(
            "cookie_reset_in_the_past_is_deleted",
            [
                Req(url="/set"),
                Req(url="/del"),
                Req(url="/check"),
                Req(url="/maxage0"),
                Req(url="/check"),
            ],
            routes(
                {
                    "/set": _set_cookies("a=1", "b=1"),
                    "/del": _set_cookies("a=2; Expires=Thu, 01 Jan 1970 00:00:00 GMT"),
                    "/maxage0": _set_cookies("b=2; Max-Age=0"),
                    "/check": response(),
                }
            ),
        ),
        Case(
            "cookie_unknown_attributes_ignored",
            [Req(url="/set"), Req(url="/check")],
            routes(
                {
                    "/set": _set_cookies(
                        "a=1; Priority=High", "b=2; Partitioned", "c=3; HttpOnly; SameSite=Lax"
                    ),
                    "/check": response(),
                }
            ),
        ),
        Case(
            "cookie_values_as_received",
            [Req(url="/set"), Req(url="/check")],
            routes(
                {
                    "/set": _set_cookies("s=x y", "c=x,y", "e=b=c", 'q="quoted"'),
                    "/check": response(),
                }
            ),
        ),
        Case(
            "cookie_same_name_two_paths",
            [Req(url="/p/set"), Req(url="/p/x"), Req(url="/other")],
            routes(
                {
                    "/p/set": _set_cookies("a=root; Path=/", "a=deep; Path=/p"),
                    "/p/x": response(),
                    "/other": response(),
                }
            ),
        ),
        Case(
            "cookie_script_header_merged_with_jar",
            [Req(url="/set"), Req(url="/check", headers={"Cookie": "mine=1"})],
            routes({"/set": _set_cookies("jar=2"), "/check": response()}),
        ),
        Case(
            "cookie_param_added_replaced_or_doubled",
            [
                Req(url="/set"),
                Req(url="/check", params={"cookies": {"extra": "x y"}}),
                Req(url="/check", params={"cookies": {"pj": {"value": "mine", "replace": True}}}),
                Req(url="/check", params={"cookies": {"pj": "dup"}}),
                Req(url="/check"),
            ],
            routes({"/set": _set_cookies("pj=jar"), "/check": response()}),
        ),
        Case(
            "cookie_of_a_body_that_fails_is_not_kept",
            [Req(url="/set"), Req(url="/check")],
            routes(
                {
                    "/set": response(
                        b"not gzip at all",
                        headers=b"Content-Encoding: gzip\r\nSet-Cookie: z=1\r\n",
                    ),
                    "/check": response(),
                }
            ),
        ),
        Case(
            "cookie_attributes_as_go_reads_them",
            [Req(url="/p/set"), Req(url="/p/check")],
            routes(
                {
                    "/p/set": _set_cookies(
                        "dot=1; Domain=.127.0.0.1",  # an IP host: a dotted Domain refused
                        "ip=1; Domain=127.0.0.1",
                        "sp= 1",  # the value keeps its space
                        "z=1; Max-Age=05",  # a leading zero: Max-Age ignored
                        'q=1; Path="/x"',  # a quote in an attribute: ignored
                        "old=1; Expires=Thursday, 01-Jan-70 00:00:00 GMT",  # unread: kept
                        "gone=1; Expires=Thu, 01-Jan-1970 00:00:00 GMT",  # Go's 2nd form
                    ),
                    "/p/check": response(),
                }
            ),
        ),
        Case("redirect_more_than_ten", [Req(url="/r/0")], _endless_redirects),
        Case("redirect_without_location", [Req()], answer(response(b"", "302 Found"))),
        # -- k6's timeout param as a duration string (a JS number is ms; Python's: seconds) --
        Case(
            "timeout_string_500ms",
            [Req(params={"timeout": "500ms"})],
            answer_then(b"", "hang"),
        ),
        Case(
            "timeout_string_fraction_of_seconds",
            [Req(params={"timeout": "1.5s"})],
            answer_then(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\npart", "hang"),
        ),
        Case(
            "timeout_string_minutes_answered",
            [Req(params={"timeout": "1m"}), Req(params={"timeout": "2s"})],
            answer(response(b"in time")),
        ),
        # -- empty bodies and empty headers --
        Case(
            "empty_body_chunked_on_post_put_patch",
            [Req("POST", body=""), Req("PUT", body=""), Req("PATCH", body="")],
            answer(response()),
        ),
        Case(
            "empty_body_unframed_on_get_delete_options",
            [Req("GET", body=""), Req("DELETE", body=""), Req("OPTIONS", body="")],
            answer(response()),
        ),
        Case(
            "empty_body_redirect_307_keeps_framing",
            [Req("POST", "/start", body="")],
            _redirect(307),
        ),
        Case("empty_user_agent_sends_none", [Req(headers={"User-Agent": ""})], answer(response())),
        Case("script_user_agent_wins", [Req(headers={"user-agent": "mine/2"})], answer(response())),
        # -- redirects param --
        Case(
            "redirects_0_returns_the_3xx",
            [Req(url="/start", params={"redirects": 0})],
            _redirect(302),
        ),
        Case(
            "redirects_2_stops_after_two",
            [Req(url="/r/0", params={"redirects": 2})],
            _endless_redirects,
        ),
        Case(
            "redirects_1_enough",
            [Req("PUT", "/start", body="x", params={"redirects": 1})],
            _redirect(307),
        ),
        # -- a Location with raw UTF-8 bytes (Go %-encodes each byte once) --
        Case(
            "redirect_location_raw_utf8",
            [Req(url="/start")],
            routes(
                {
                    "/start": response(b"", "302 Found", "Location: /ü?q=1\r\n".encode()),
                    "/%C3%BC": response(b"landed"),
                }
            ),
        ),
        Case(
            "redirect_location_raw_utf8_absolute",
            [Req(url="/start")],
            _absolute_utf8_redirect,
        ),
        Case("url_non_ascii_path", [Req(url="/caf\u00e9/\u00fc?r=%2F")], answer(response())),
        Case(
            "url_non_ascii_query",
            [Req(url="/caf\u00e9?q=\u00fc")],
            answer(response()),
            differs={"requests": _RAW_QUERY, "responses": _RAW_QUERY},
        ),
        # -- the reason phrase (status_text) --
        Case(
            "status_text_odd_reasons",
            [Req(url="/a"), Req(url="/b"), Req(url="/c")],
            routes(
                {
                    "/a": response(b"", "418 I'm a teapot"),
                    "/b": response(b"", "299  two  spaces"),
                    "/c": response(b"", "503 Slow Down Please"),
                }
            ),
        ),
        # -- bodies k6 decodes --
        Case(
            "gzip_body_decoded",
            [Req(show=["Content-Encoding"])],
            answer(response(gzip.compress(TEXT), headers=b"Content-Encoding: gzip\r\n")),
        ),
        Case(
            "deflate_body_decoded",
            [Req()],
            answer(response(zlib.compress(TEXT), headers=b"Content-Encoding: deflate\r\n")),
        ),
        Case(
            "br_body_decoded",
            [Req()],
            answer(response(brotli.compress(TEXT), headers=b"Content-Encoding: br\r\n")),
        ),
        Case(
            "zstd_body_decoded",
            [Req()],
            answer(response(zstd.compress(TEXT), headers=b"Content-Encoding: zstd\r\n")),
        ),
        Case(
            "gzip_chunked_body_decoded",
            [Req()],
            answer(
                b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
                + b"%x\r\n" % len(gzip.compress(TEXT))
                + gzip.compress(TEXT)
                + b"\r\n0\r\n\r\n"
            ),
        ),
        Case(
            "unknown_encoding_left_as_is",
            [Req()],
            answer(response(b"raw", headers=b"Content-Encoding: x-custom\r\n")),
        ),
        Case(
            "gzip_truncated_keeps_what_decoded",
            [Req()],
            answer(response(gzip.compress(NOISE)[:3000], headers=b"Content-Encoding: gzip\r\n")),
        ),
        Case(
            "deflate_truncated_keeps_what_decoded",
            [Req()],
            answer(
                response(zlib.compress(TEXT * 50)[:600], headers=b"Content-Encoding: deflate\r\n")
            ),
        ),
        Case(
            "gzip_garbage_fails_1701",
            [Req()],
            answer(response(b"not gzip at all", headers=b"Content-Encoding: gzip\r\n")),
        ),
        Case(
            "x_gzip_and_upper_case_left_as_is",
            [Req(url="/x"), Req(url="/upper")],
            routes(
                {
                    "/x": response(gzip.compress(b"x"), headers=b"Content-Encoding: x-gzip\r\n"),
                    "/upper": response(gzip.compress(b"u"), headers=b"Content-Encoding: GZIP\r\n"),
                }
            ),
        ),
        Case(
            "gzip_then_br_in_one_line",
            [Req()],
            answer(
                response(
                    brotli.compress(gzip.compress(TEXT)), headers=b"Content-Encoding: gzip, br\r\n"
                )
            ),
        ),
        Case(
            "gzip_then_br_on_two_lines",
            [Req()],
            answer(
                response(
                    brotli.compress(gzip.compress(TEXT)),
                    headers=b"Content-Encoding: gzip\r\nContent-Encoding: br\r\n",
                )
            ),
            differs={
                "responses": _TWO_CODING_LINES,
                "http_req_failed": _TWO_CODING_LINES,
                "http_reqs_proto": _TWO_CODING_LINES,
            },
        ),
        Case(
            "head_and_empty_with_gzip_encoding",
            [Req("HEAD"), Req("GET", url="/empty")],
            routes(
                {
                    "/": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 50\r\n\r\n",
                    "/empty": response(b"", headers=b"Content-Encoding: gzip\r\n"),
                }
            ),
            differs={
                "responses": _EMPTY_GZIP,
                "http_req_failed": _EMPTY_GZIP,
                "http_reqs_proto": _EMPTY_GZIP,
            },
        ),
        Case(
            "script_asks_for_gzip",
            [Req(headers={"Accept-Encoding": "gzip"})],
            answer(response(gzip.compress(TEXT), headers=b"Content-Encoding: gzip\r\n")),
        ),
        # -- TLS --
        Case("tls_trusted", [Req()], answer(response(b"secure")), tls="trusted"),
        Case("tls_untrusted_certificate", [Req()], answer(response()), tls="untrusted"),
        Case("tls_host_name_mismatch", [Req()], answer(response()), tls="mismatch"),
    ]


# ---- certificates for the TLS cases ----------------------------------------------------


def make_tls(tmp: Path) -> tuple[dict[str, ssl.SSLContext], Path]:
    """Server contexts for the TLS cases and a CA bundle (SSL_CERT_FILE) that trusts the
    "trusted" and "mismatch" certificates but not the "untrusted" one."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def cert(
        subject: str, san: x509.GeneralName, issuer: Any, issuer_key: Any, key: Any, ca: bool
    ) -> Any:
        b = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            b = b.add_extension(x509.SubjectAlternativeName([san]), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = cert(
        "conformance CA", x509.DNSName("ca"), name("conformance CA"), ca_key, ca_key, True
    )
    loopback = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    contexts = {}
    for kind in ("trusted", "mismatch", "untrusted"):
        key = ec.generate_private_key(ec.SECP256R1())
        if kind == "untrusted":  # self-signed, known to nobody
            c = cert("127.0.0.1", loopback, name("127.0.0.1"), key, key, False)
        else:
            san = loopback if kind == "trusted" else x509.DNSName("other.example")
            c = cert(kind, san, ca_cert.subject, ca_key, key, False)
        cert_file, key_file = tmp / f"{kind}.pem", tmp / f"{kind}.key"
        cert_file.write_bytes(c.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert_file, key_file)
        ctx.set_alpn_protocols(["http/1.1"])  # k6 would take h2 if offered
        contexts[kind] = ctx
    bundle = tmp / "ca.pem"
    bundle.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    return contexts, bundle


# ---- running the servers ---------------------------------------------------------------


class Servers:
    """Every case's server on one event loop in a daemon thread, for subprocess clients."""

    def __init__(self, all_cases: list[Case], tls: dict[str, ssl.SSLContext]) -> None:
        self.cases = all_cases
        self._tls = tls
        self.servers: dict[str, CaseServer] = {}
        self.ports: dict[str, int] = {}
        self._loop: LoopThread | None = None

    def __enter__(self) -> Servers:
        self._loop = LoopThread()
        self._loop.call(self._start())
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._loop is not None
        self._loop.call(self._stop())
        self._loop.stop()

    async def _start(self) -> None:
        for case in self.cases:
            if case.serve is None:
                with socket.socket() as s:  # a port nothing listens on
                    s.bind(("127.0.0.1", 0))
                    self.ports[case.name] = s.getsockname()[1]
                continue
            srv = CaseServer(case.serve, self._tls.get(case.tls) if case.tls else None)
            await srv.start()
            self.servers[case.name] = srv
            self.ports[case.name] = srv.port

    async def _stop(self) -> None:
        for srv in self.servers.values():
            await srv.stop()

    def take(self) -> dict[str, tuple[list[Seen], int]]:
        """What each server saw since the last call (and forget it)."""

        async def grab() -> dict[str, tuple[list[Seen], int]]:
            await asyncio.sleep(0.3)  # let the last closes land
            return {name: srv.take() for name, srv in self.servers.items()}

        assert self._loop is not None
        return self._loop.call(grab())

    def spec(self) -> list[dict[str, Any]]:
        """The cases as the two scripts read them (JSON): absolute URLs, tags."""
        out = []
        for case in self.cases:
            port = self.ports[case.name]
            scheme = "https" if case.tls else "http"
            host = f"127.0.0.1:{port}"
            reqs = []
            for r in case.reqs:
                url = r.url.format(base=f"{scheme}://{host}", host=host, port=port)
                if url.startswith("/"):
                    url = f"{scheme}://{host}{url}"
                reqs.append(
                    {
                        "method": r.method,
                        "url": url,
                        "body": r.body,
                        "headers": r.headers,
                        "timeout": r.timeout,
                        "show": r.show,
                        "params": r.params,
                    }
                )
            out.append({"name": case.name, "reqs": reqs})
        return out


# ---- what is compared ------------------------------------------------------------------

_BOUNDARY = re.compile(rb"boundary=([0-9A-Za-z'()+_,./:=?-]+)")


def normalise_seen(seen: list[Seen]) -> list[dict[str, Any]]:
    """What a server saw, made comparable: header names lower-cased and sorted (Go
    canonicalises and sorts them), a multipart body as its sorted parts (Go writes a form's
    fields in random map order, with a random boundary)."""
    out = []
    for s in seen:
        headers = sorted((k.lower(), v) for k, v in s.headers)
        body: Any = s.body.decode("latin-1")
        ctype = next((v for k, v in headers if k == "content-type"), "")
        if ctype.startswith("multipart/form-data"):
            m = _BOUNDARY.search(ctype.encode())
            assert m is not None
            boundary = m.group(1)
            parts = s.body.split(b"--" + boundary)
            body = sorted(p.strip(b"\r\n").decode("latin-1") for p in parts[1:-1])
            assert parts[-1].strip() == b"--", "a multipart body ends with the closing boundary"
            headers = [
                (k, "multipart/form-data; boundary=<60 hex>" if k == "content-type" else v)
                for k, v in headers
            ]
            assert len(boundary) == 60, boundary
            headers = [
                (k, v if k != "content-length" else "<multipart length>") for k, v in headers
            ]
        out.append(
            {
                "conn": s.conn,
                "method": s.method,
                "target": s.target,
                "headers": headers,
                "body": body,
            }
        )
    return out
