"""HTTP/1.1 message framing, pure: request heads out, response heads and bodies in.

Why our own: aiohttp spends most of a small request in Python bookkeeping (see
docs/BENCHMARKS.md), while a keep-alive GET needs only a pre-built head, one ``find`` for
the end of the response head and a byte count. This module holds the byte-level rules
(RFC 9112) with no sockets, so they are tested as tables; ``h1client`` does the I/O.

Covered: Content-Length, chunked (trailers skipped), read-until-close, bodiless responses
(HEAD, 1xx, 204, 304), ``Connection: close`` and HTTP/1.0 keep-alive rules. Not covered
(the caller falls back to aiohttp): request compression, ``Expect: 100-continue``,
HTTP/2, upgrades.
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_HEAD_BYTES = 64 * 1024


class H1Error(Exception):
    """A response that breaks HTTP/1.1 framing (k6 reports these as code 1000)."""


class ResponseHead:
    """The parsed status line and headers, and how the body is delimited."""

    __slots__ = ("chunked", "headers", "keep_alive", "length", "reason", "status", "version")

    def __init__(
        self,
        status: int,
        reason: str,
        version: str,
        headers: list[tuple[str, str]],
        length: int,
        chunked: bool,
        keep_alive: bool,
    ) -> None:
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers
        # Body bytes still expected: -1 means "until the connection closes".
        self.length = length
        self.chunked = chunked
        self.keep_alive = keep_alive

    def values(self, name: str) -> list[str]:
        low = name.lower()
        return [v for k, v in self.headers if k.lower() == low]


def build_head(method: str, target: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """A request head: request line, header lines, blank line. Values must not hold CR/LF
    (a header injection would send a second request the metrics never see)."""
    parts = [f"{method} {target} HTTP/1.1\r\n"]
    for k, v in headers:
        if "\r" in k or "\n" in k or "\r" in v or "\n" in v or ":" in k:
            raise ValueError(f"header {k!r} holds a line break or colon")
        parts.append(f"{k}: {v}\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("utf-8")


def parse_head(raw: bytes, method: str) -> ResponseHead:
    """Parse a response head (without its final blank line) sent for ``method``."""
    text = raw.decode("latin-1")
    lines = text.split("\r\n")
    first = lines[0]
    if not first.startswith("HTTP/1.") or len(first) < 12 or first[8] != " ":
        raise H1Error(f"malformed status line {first[:60]!r}")
    version = first[5:8]
    try:
        status = int(first[9:12])
    except ValueError:
        raise H1Error(f"malformed status line {first[:60]!r}") from None
    if not 100 <= status <= 599:
        raise H1Error(f"status {status} out of range")
    reason = first[13:]
    headers: list[tuple[str, str]] = []
    length = -1
    chunked = False
    conn_tokens = ""
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name[-1] in " \t":
            raise H1Error(f"malformed header line {line[:60]!r}")
        value = value.strip(" \t")
        headers.append((name, value))
        low = name.lower()
        if low == "content-length":
            if not value.isdigit():
                raise H1Error(f"bad Content-Length {value[:30]!r}")
            n = int(value)
            if length >= 0 and n != length:
                raise H1Error("conflicting Content-Length headers")
            length = n
        elif low == "transfer-encoding":
            chunked = value.lower().rsplit(",", 1)[-1].strip() == "chunked"
        elif low == "connection":
            conn_tokens += "," + value.lower()
    keep_alive = "close" not in conn_tokens if version == "1.1" else "keep-alive" in conn_tokens
    if method == "HEAD" or status < 200 or status in (204, 304):
        length, chunked = 0, False
    elif chunked:
        length = 0  # chunked wins over Content-Length (RFC 9112 6.3)
    elif length < 0:
        keep_alive = False  # delimited by close
    return ResponseHead(status, reason, version, headers, length, chunked, keep_alive)


class ChunkedBody:
    """A chunked-body decoder fed arbitrary slices; keeps the payload only when asked."""

    __slots__ = ("_line", "_state", "done", "keep", "parts", "remaining", "size")

    # states: 0 size line, 1 chunk data, 2 CRLF after data, 3 trailer lines
    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self.parts: list[bytes] = []
        self.size = 0  # payload bytes seen
        self.remaining = 0
        self.done = False
        self._state = 0
        self._line = b""

    def feed(self, data: bytes, start: int = 0) -> int:
        """Consume from ``data[start:]``; return the index after the last byte used."""
        i, n = start, len(data)
        while i < n and not self.done:
            if self._state == 1:
                take = min(self.remaining, n - i)
                if self.keep:
                    self.parts.append(data[i : i + take])
                self.size += take
                self.remaining -= take
                i += take
                if self.remaining == 0:
                    self._state = 2
                continue
            j = data.find(b"\n", i)
            if j < 0:
                self._line += data[i:]
                if len(self._line) > 4096:
                    raise H1Error("chunk line too long")
                return n
            line = (self._line + data[i:j]).rstrip(b"\r")
            self._line = b""
            i = j + 1
            if self._state == 0:
                try:
                    self.remaining = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise H1Error(f"bad chunk size {line[:20]!r}") from None
                if self.remaining < 0:
                    raise H1Error("negative chunk size")
                self._state = 1 if self.remaining else 3
            elif self._state == 2:
                if line:
                    raise H1Error("chunk data longer than its size")
                self._state = 0
            elif not line:  # end of trailers
                self.done = True
        return i

    def body(self) -> bytes:
        return b"".join(self.parts)
