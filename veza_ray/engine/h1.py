"""HTTP/1.1 messages, pure: request heads and bodies out, responses in (framed by llhttp).

Response framing is llhttp's (through ``httptools``, the parser Node.js ships): status
line, headers, Content-Length, chunked, close-delimited bodies, 1xx interim responses,
204/304, bare LF line ends. What llhttp cannot know (the request was a HEAD, a body ends
at a clean close, the caller keeps only so many body bytes) and what k6 adds on top
(decoding gzip/deflate/br/zstd bodies, form and multipart request bodies) is here, with
no sockets, so it is tested as tables; ``h1client`` does the I/O.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote_plus

import brotli
import httptools

from veza_ray.core.durations import DEFAULT_MAX_BODY

try:  # Python 3.14's compression.zstd, or its maintained backport
    from compression import zstd  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - depends on the Python version
    from backports import zstd  # type: ignore[import-not-found,no-redef,unused-ignore]

MAX_HEAD_BYTES = 1024 * 1024  # Go's default MaxResponseHeaderBytes
# Kept response bodies past this fail with BODY_TOO_LARGE_CODE (docs/http-client.md).
BODY_TOO_LARGE_CODE = 1702  # k6 reserves 17xx for content errors; 1702 is unused by k6
DECOMPRESSION_CODE = 1701  # k6's responseDecompressionErrorCode


class H1Error(Exception):
    """A response that breaks HTTP/1.1 framing (k6 reports these as code 1000)."""


class UnexpectedEOF(H1Error):
    """The server closed cleanly before the response was complete (Go: unexpected EOF)."""


class BodyTooLarge(Exception):
    """A kept body grew past its limit: the request fails, the connection is dropped."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"response body larger than {limit} bytes")
        self.limit = limit


class DecodeError(Exception):
    """A Content-Encoding the body does not decode with (k6 code 1701)."""


class Truncated(Exception):
    """A compressed body that ends before its stream does: Go's io.ErrUnexpectedEOF, which
    k6 reports as 1000 with what was decoded so far as the body."""

    def __init__(self, decoded: bytes) -> None:
        super().__init__("unexpected EOF")
        self.decoded = decoded


class ResponseHead:
    """Status, keep-alive verdict and the head as received (bytes, status line first);
    split into header lines only when asked for: most responses are only asked whether
    they set a cookie, which one ``find`` answers."""

    __slots__ = ("_low", "_raw", "block", "keep_alive", "status")

    def __init__(self, status: int, block: bytes, keep_alive: bool) -> None:
        self.status = status
        self.block = block
        self.keep_alive = keep_alive
        self._low: bytes | None = None
        self._raw: list[tuple[bytes, bytes]] | None = None

    @property
    def status_text(self) -> str:
        """The status line after the version, as Go's ``Response.Status`` (so k6's
        ``status_text``): "200 OK", or "200" when the server gave no reason."""
        line = self.block.split(b"\n", 1)[0].rstrip(b"\r")
        return line.partition(b" ")[2].lstrip(b" ").decode("latin-1")

    @property
    def proto(self) -> str:
        """Go's ``Response.Proto`` (k6's ``proto`` tag): "HTTP/1.1", "HTTP/1.0"."""
        block = self.block
        if block.startswith(b"HTTP/1.1"):
            return "HTTP/1.1"
        return block[:8].decode("latin-1")

    @property
    def version(self) -> str:
        return self.block[5:8].decode("latin-1")

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        """(name, value) pairs as bytes, values trimmed, in the order received."""
        if self._raw is None:
            pairs = []
            for line in self.block.split(b"\n")[1:]:
                name, _, value = line.rstrip(b"\r").partition(b":")
                pairs.append((name, value.strip(b" \t")))
            self._raw = pairs
        return self._raw

    @property
    def headers(self) -> list[tuple[str, str]]:
        """(name, value) pairs in the order received, names as sent."""
        return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in self.raw]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.headers)

    def values(self, name: str) -> list[str]:
        """Every value of one header (case-insensitive), e.g. each Set-Cookie."""
        low = self._low
        if low is None:
            low = self._low = self.block.lower()
        needle = _NEEDLES.get(name)
        if needle is None:
            needle = b"\n" + name.lower().encode("latin-1") + b":"
            if len(_NEEDLES) < 1000:
                _NEEDLES[name] = needle
        if needle not in low:
            return []
        key = needle[1:-1]
        return [v.decode("latin-1") for n, v in self.raw if n.lower() == key]


# "\nname:" per header name asked for, lower case (a handful: set-cookie, location, ...)
_NEEDLES: dict[str, bytes] = {}


class _Stop(Exception):
    """Raised from a parser callback to stop llhttp (a HEAD response's end)."""


class _Interim(Exception):
    """Raised from a parser callback at a 1xx response's end: the real one follows."""


class _Trailing(Exception):
    """Bytes after a complete response: the stream cannot be trusted for another."""


# obs-fold: a header line continued on the next one (RFC 9112 5.2); Go unfolds it into
# one space, llhttp refuses it unless lenient about everything in header values.
_FOLD = re.compile(rb"\r?\n[ \t]+")
# White space between a header's name and its colon: llhttp refuses the response; Go's
# client accepts it and files the header under the name with the space, which no script
# asks for (k6's res.headers["X-A"] is undefined for "X-A : b"). Such lines are dropped.
_NAME_SPACE = re.compile(rb"(?<=\n)[!#$%&'*+.^_`|~0-9A-Za-z-]+[ \t]+:[^\r\n]*\r?\n")
_HEAD_END = re.compile(rb"\r?\n\r?\n")  # (also after a HEAD response's head)


class ResponseReader:
    """The responses of one connection, in order: llhttp frames them, this keeps the head,
    counts the body and keeps it (bounded) when asked. ``start`` arms it for a request."""

    __slots__ = (
        "_block",
        "_cut_end",
        "_limit",
        "_method",
        "_p",
        "_pending",
        "_stale_parser",
        "body_size",
        "complete",
        "head",
        "keep",
        "parts",
        "trailing",
    )

    def __init__(self) -> None:
        self._p = self._parser()
        self._stale_parser = False
        self.start("GET", False, DEFAULT_MAX_BODY)

    def _parser(self) -> httptools.HttpResponseParser:
        p = httptools.HttpResponseParser(self)
        # As Go's client: bare LF line ends; chunked wins over a Content-Length beside it.
        p.set_dangerous_leniencies(lenient_optional_cr_before_lf=True, lenient_chunked_length=True)
        return p

    def start(self, method: str, keep: bool, limit: int) -> None:
        """Expect the response to ``method``; keep up to ``limit`` body bytes if ``keep``."""
        if self._stale_parser:
            self._p = self._parser()
            self._stale_parser = False
        self._method = method
        self.keep = keep
        self._limit = limit
        self._pending: bytes | bytearray = b""  # a bytearray once a head is split
        self._block = b""
        self._cut_end = 0
        self.head: ResponseHead | None = None
        self.parts: list[bytes | io.BytesIO] = []
        self.body_size = 0
        self.complete = False
        self.trailing = False

    def feed(self, data: bytes) -> bool:
        """Parse ``data``; True once the response is complete. Raises H1Error on broken
        framing and BodyTooLarge past the limit."""
        if self.head is None:
            # The head goes to llhttp whole, so that what Go tolerates and llhttp does not
            # (folded lines, space before a colon) can be mended first, wherever the
            # packets split it.
            # A head that comes in pieces grows in one buffer and each piece is searched
            # from where the last one ended: re-joining and re-searching it all per
            # piece was quadratic (5 s of loop for a 1 MiB head sent 1 KiB at a time).
            pending = self._pending
            if isinstance(pending, bytearray) and pending:
                seen = max(0, len(pending) - 3)
                pending += data
                cut, end = _head_end(pending, seen)
                if cut < 0 and len(pending) <= MAX_HEAD_BYTES:
                    return False
                data = bytes(pending)
                self._pending = b""
            else:
                cut = data.find(b"\r\n\r\n")  # _head_end's common case, inline
                if cut >= 0 and data.find(b"\n\n", 0, cut) < 0:
                    end = cut + 4
                else:
                    cut, end = _head_end(data)
                if cut < 0 and len(data) <= MAX_HEAD_BYTES:
                    self._pending = bytearray(data)
                    return False
            if cut >= 0:
                if (
                    data.find(b"\n ", 0, cut) >= 0
                    or data.find(b"\n\t", 0, cut) >= 0
                    or data.find(b" :", 0, cut) >= 0
                ):
                    # every header line with its line end, mended
                    head = _NAME_SPACE.sub(b"", _FOLD.sub(b" ", data[: cut + 1] + b"\n"))
                    data = head[:-1] + data[cut + 1 :]
                    cut, end = _head_end(data)
                self._block = data[:cut]
                self._cut_end = end
        try:
            self._p.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            self._stale_parser = True
            if isinstance(cause, _Stop):  # a HEAD response: bytes after its head?
                self.trailing = self._cut_end < len(data)
                return self.complete
            if isinstance(cause, _Interim):  # the real head follows the interim one
                rest = data[self._cut_end :]
                self._p = self._parser()
                self._stale_parser = False
                return self.feed(rest) if rest else False
            if isinstance(cause, _Trailing):
                self.trailing = True
                return self.complete
            if isinstance(cause, BodyTooLarge):
                raise cause from None
            raise H1Error(str(cause or exc)) from None
        except httptools.HttpParserError as exc:
            self._stale_parser = True
            if self.complete:  # garbage after a response that said "close"
                self.trailing = True
                return True
            raise H1Error(str(exc) or "malformed response") from None
        except httptools.HttpParserUpgrade:
            self._stale_parser = True
            self.trailing = True
        return self.complete

    def ends_at_close(self) -> bool:
        """At a clean close: whether the response ends there (a body delimited by the
        close, RFC 9112 6.3 rule 8), in which case it is now complete."""
        head = self.head
        if head is None or self.complete:
            return self.complete
        for name, value in head.raw:
            low = name.lower()
            if low == b"content-length":
                return False
            if low == b"transfer-encoding" and value.lower().rstrip().endswith(b"chunked"):
                return False
        self.complete = True
        return True

    def body(self) -> bytes:
        """What was kept of the body. It grows in one buffer, never as a list of chunks:
        a body in 1-byte chunks (legal, and what a hostile server sends) made millions of
        objects whose join and release held the loop for a second per 16 MiB; and a
        ``BytesIO`` hands its buffer over as ``bytes`` without copying it (a join of 32
        MiB held the loop 20 ms, 70 ms on a busy machine)."""
        parts = self.parts
        if not parts:
            return b""
        first = parts[0]
        return first if isinstance(first, bytes) else first.getvalue()

    # ---- llhttp callbacks ------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:
            raise _Trailing

    def on_headers_complete(self) -> None:
        p = self._p
        status = p.get_status_code()
        if 100 <= status < 200 and status != 101:
            raise _Interim
        block = self._block
        if self._method == "HEAD":
            self.head = ResponseHead(status, block, _keep_alive(block))
            self.complete = True
            raise _Stop  # llhttp would wait for the Content-Length bytes HEAD never gets
        self.head = ResponseHead(status, block, p.should_keep_alive())

    def on_body(self, chunk: bytes) -> None:
        n = self.body_size + len(chunk)
        self.body_size = n
        if self.keep:
            if n > self._limit:
                raise BodyTooLarge(self._limit)
            parts = self.parts
            if not parts:
                parts.append(chunk)  # most bodies: one chunk, kept as it came
                return
            buf = parts[0]
            if isinstance(buf, bytes):
                parts[0] = buf = _grow(buf)
            buf.write(chunk)

    def on_message_complete(self) -> None:
        self.complete = True


def _grow(first: bytes) -> io.BytesIO:
    buf = io.BytesIO()
    buf.write(first)
    return buf


def _keep_alive(block: bytes) -> bool:
    conn = b",".join(v for n, v in ResponseHead(0, block, True).raw if n.lower() == b"connection")
    low = conn.lower()
    return b"close" not in low if block[5:8] == b"1.1" else b"keep-alive" in low


def _head_end(data: bytes | bytearray, start: int = 0) -> tuple[int, int]:
    """Where the first head in ``data`` ends: (its blank line's start, the body's start),
    or (-1, -1) when it has not all arrived. ``start``: no head ends before it."""
    cut = data.find(b"\r\n\r\n", start)
    if cut >= 0 and data.find(b"\n\n", start, cut) < 0:
        return cut, cut + 4
    end = _HEAD_END.search(data, start)  # bare LF line ends
    return (-1, -1) if end is None else (end.start(), end.end())


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


# ---- response bodies: k6 decodes what the server encoded ---------------------------------


# Work per step of a decoding: at most this much output, from at most this much input
# (~1-3 ms here), so a 32 MiB body is decoded in dozens of steps with the event loop free
# between them instead of in one 100 ms+ call (docs/http-client.md, loop lag).
DECODE_STEP = 1 << 20
DECODE_INPUT = 256 << 10


def decode_body(body: bytes, content_encoding: str, limit: int) -> bytes:
    """``decode_steps`` run to its end in one go (for callers with no loop to free)."""
    steps = decode_steps(body, content_encoding, limit)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def decode_steps(
    body: bytes, content_encoding: str, limit: int, step: int = DECODE_STEP
) -> Generator[None, None, bytes]:
    """Undo Content-Encoding as k6 does (last applied first; gzip, deflate as zlib, br,
    zstd, named exactly so: k6 leaves ``x-gzip`` and ``GZIP`` as they are, as it does
    unknown codings), never producing more than ``limit`` bytes. A gzip or deflate
    stream cut short raises ``Truncated`` with what it decoded (k6: 1000, body kept).
    A generator that yields between steps of at most ``step`` output bytes and returns
    the decoded body: the caller frees its event loop at each yield."""
    codings = [c.strip(" \t") for c in reversed(content_encoding.split(","))]
    codings = [c for c in codings if c in _LAYERS]
    if not codings:
        return body
    view = memoryview(body)
    chunks: Sequence[bytes | memoryview] = [
        view[i : i + DECODE_INPUT] for i in range(0, len(body), DECODE_INPUT)
    ]
    out: list[bytes] = []
    for c in codings:
        out = []
        try:
            yield from _LAYERS[c](chunks, limit, step, out)
        except (zlib.error, brotli.error, zstd.ZstdError) as exc:
            raise DecodeError(f"{c}: {exc}") from None
        chunks = out
    if len(out) <= 1:
        return out[0] if out else b""
    # One join of 32 MiB held the loop 20 ms (70 ms on a busy machine): a BytesIO is
    # filled a step at a time and hands over its buffer as bytes without a copy.
    buf = io.BytesIO()
    for i, piece in enumerate(out):
        buf.write(piece)
        out[i] = b""
        if len(piece) >= step:
            yield
    return buf.getvalue()


Layer = Callable[[Sequence[bytes | memoryview], int, int, list[bytes]], Generator[None, None, None]]


def _keep(out: list[bytes], piece: bytes, total: int, limit: int) -> int:
    """Add one step's output; past ``limit`` the body is too large (nothing more made)."""
    if piece:
        out.append(piece)
        total += len(piece)
        if total > limit:
            raise BodyTooLarge(limit)
    return total


def _zlib_layer(wbits: int) -> Layer:
    def layer(
        chunks: Sequence[bytes | memoryview], limit: int, step: int, out: list[bytes]
    ) -> Generator[None, None, None]:
        d = zlib.decompressobj(wbits)
        total = 0
        for chunk in chunks:
            data: bytes | memoryview = chunk
            while True:
                most = min(step, limit + 1 - total)  # never 0: that would mean "no limit"
                piece = d.decompress(data, most)
                total = _keep(out, piece, total, limit)
                if d.eof:
                    return  # bytes after the stream's end are ignored, as before
                data = d.unconsumed_tail
                if not data and len(piece) < most:
                    break  # this input is used up and no output is pending
                yield
            yield
        if not d.eof:
            raise Truncated(b"".join(out))

    return layer


def _brotli_layer(
    chunks: Sequence[bytes | memoryview], limit: int, step: int, out: list[bytes]
) -> Generator[None, None, None]:
    dec = brotli.Decompressor()
    total = 0
    for chunk in chunks:
        piece = dec.process(chunk, output_buffer_limit=min(step, limit + 1 - total))
        total = _keep(out, piece, total, limit)
        while not dec.can_accept_more_data():
            yield
            more = dec.process(b"", output_buffer_limit=min(step, limit + 1 - total))
            total = _keep(out, more, total, limit)
        yield
    while not dec.is_finished():  # output still held back by the step's limit
        more = dec.process(b"", output_buffer_limit=min(step, limit + 1 - total))
        if not more:
            raise DecodeError("brotli: truncated input")
        total = _keep(out, more, total, limit)
        yield


def _zstd_layer(
    chunks: Sequence[bytes | memoryview], limit: int, step: int, out: list[bytes]
) -> Generator[None, None, None]:
    zd = zstd.ZstdDecompressor()
    total = 0
    for chunk in chunks:
        data: bytes | memoryview = chunk
        while True:
            piece = zd.decompress(data, max_length=min(step, limit + 1 - total))
            total = _keep(out, piece, total, limit)
            if zd.eof:
                return
            if zd.needs_input:
                break
            data = b""
            yield
        yield
    raise DecodeError("zstd: truncated input")


_LAYERS: dict[str, Layer] = {
    "gzip": _zlib_layer(16 + zlib.MAX_WBITS),
    "deflate": _zlib_layer(zlib.MAX_WBITS),
    "br": _brotli_layer,
    "zstd": _zstd_layer,
}


# ---- request bodies: k6's form and multipart encodings ------------------------------------


class FileData:
    """k6's ``http.file()``: bytes (or text) sent as a file part of a multipart body."""

    __slots__ = ("content_type", "data", "filename")

    def __init__(
        self,
        data: bytes | str,
        filename: str | None = None,
        content_type: str = "application/octet-stream",
    ) -> None:
        if not isinstance(data, (bytes, bytearray, str)):
            raise TypeError(f"invalid type {type(data).__name__}, expected str or bytes")
        self.data = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        self.filename = filename if filename is not None else _default_filename()
        self.content_type = content_type

    def __repr__(self) -> str:
        return f"FileData({self.filename!r}, {len(self.data)} bytes, {self.content_type!r})"


def _default_filename() -> str:
    import time

    return str(time.time_ns())  # k6: the current time in nanoseconds


def _form_value(v: Any) -> str:
    """A form value as k6 writes it: null as empty, nested objects as empty."""
    if v is None or isinstance(v, (Mapping, list, tuple)):
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def encode_form(data: Mapping[str, Any]) -> tuple[bytes, str]:
    """A dict as k6 sends it: urlencoded (keys sorted, as Go's url.Values), or
    multipart/form-data when a value is a FileData. Returns (body, Content-Type)."""
    if any(isinstance(v, FileData) for v in data.values()):
        return _multipart(data)
    pairs: list[str] = []
    for k in sorted(data):
        v = data[k]
        vals = v if isinstance(v, (list, tuple)) else [v]
        pairs.extend(f"{quote_plus(str(k))}={quote_plus(_form_value(x))}" for x in vals)
    return "&".join(pairs).encode(), "application/x-www-form-urlencoded"


def _quote(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def _multipart(data: Mapping[str, Any]) -> tuple[bytes, str]:
    import os

    boundary = os.urandom(30).hex()  # Go's multipart.Writer: 30 random bytes in hex
    out = bytearray()
    for k, v in data.items():
        out += f"--{boundary}\r\n".encode()
        if isinstance(v, FileData):
            out += (
                f'Content-Disposition: form-data; name="{_quote(k)}"; '
                f'filename="{_quote(v.filename)}"\r\nContent-Type: {v.content_type}\r\n\r\n'
            ).encode()
            out += v.data
        else:
            out += f'Content-Disposition: form-data; name="{_quote(k)}"\r\n\r\n'.encode()
            out += _form_value(v).encode()
        out += b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"
