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

import re
from collections.abc import Iterable, Iterator

MAX_HEAD_BYTES = 64 * 1024


class H1Error(Exception):
    """A response that breaks HTTP/1.1 framing (k6 reports these as code 1000)."""


class ResponseHead:
    """The parsed status line, how the body is delimited, and the header block; header
    lines are split into pairs only when asked for (most responses never are)."""

    __slots__ = ("_block", "_low", "chunked", "keep_alive", "length", "reason", "status", "version")

    def __init__(
        self,
        status: int,
        reason: str,
        version: str,
        block: str,
        length: int,
        chunked: bool,
        keep_alive: bool,
    ) -> None:
        self.status = status
        self.reason = reason
        self.version = version
        self._block = block  # "\r\nName: value..." as received, or ""
        self._low = block.lower()
        # Body bytes still expected: -1 means "until the connection closes".
        self.length = length
        self.chunked = chunked
        self.keep_alive = keep_alive

    @property
    def headers(self) -> list[tuple[str, str]]:
        """(name, value) pairs in the order received, names as sent."""
        out = []
        for line in self._block.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            out.append((name, value.strip(" \t")))
        return out

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.headers)

    def values(self, name: str) -> list[str]:
        """Every value of one header (case-insensitive), e.g. each Set-Cookie."""
        tag = "\r\n" + name.lower() + ":"
        low, out = self._low, []
        i = low.find(tag)
        while i >= 0:
            j = low.find("\r\n", i + len(tag))
            out.append(self._block[i + len(tag) : j if j >= 0 else None].strip(" \t"))
            i = low.find(tag, i + len(tag))
        return out


# A header line with no colon (searched in the block with "\r\n" appended). Lenient on
# white space before the colon, which RFC 9112 asks servers, not clients, to refuse.
_BAD_LINE = re.compile(r"\r\n[^:\r\n]*\r\n")


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
    """Parse a response head (without its final blank line) sent for ``method``.

    The framing headers are found with a few ``find`` calls on the lower-cased block
    rather than a loop over every line: this runs once per response on the hot path.
    """
    text = raw.decode("latin-1")
    eol = text.find("\r\n")
    first = text if eol < 0 else text[:eol]
    if not first.startswith("HTTP/1.") or len(first) < 12 or first[8] != " ":
        raise H1Error(f"malformed status line {first[:60]!r}")
    version = first[5:8]
    try:
        status = int(first[9:12])
    except ValueError:
        raise H1Error(f"malformed status line {first[:60]!r}") from None
    if not 100 <= status <= 599:
        raise H1Error(f"status {status} out of range")
    block = "" if eol < 0 else text[eol:]
    bad = _BAD_LINE.search(block + "\r\n")
    if bad is not None or "\r\n:" in block:
        line = block[bad.start() + 2 :] if bad is not None else block[block.find("\r\n:") + 2 :]
        raise H1Error(f"malformed header line {line.split(chr(13), 1)[0][:60]!r}")
    head = ResponseHead(status, first[13:], version, block, -1, False, True)
    length = -1
    for value in head.values("content-length"):
        if not value.isdigit():
            raise H1Error(f"bad Content-Length {value[:30]!r}")
        if length >= 0 and int(value) != length:
            raise H1Error("conflicting Content-Length headers")
        length = int(value)
    chunked = False
    if "\r\ntransfer-encoding:" in head._low:
        te = head.values("transfer-encoding")[-1].lower()
        chunked = te.rsplit(",", 1)[-1].strip() == "chunked"
    conn = ",".join(head.values("connection")).lower() if "\r\nconnection:" in head._low else ""
    keep_alive = "close" not in conn if version == "1.1" else "keep-alive" in conn
    if method == "HEAD" or status < 200 or status in (204, 304):
        length, chunked = 0, False
    elif chunked:
        length = 0  # chunked wins over Content-Length (RFC 9112 6.3)
    elif length < 0:
        keep_alive = False  # delimited by close
    head.length, head.chunked, head.keep_alive = length, chunked, keep_alive
    return head


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
