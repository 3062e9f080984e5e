"""What a converted k6 script imports: JavaScript's semantics where Python's differ.

`veza-ray convert` writes plain Python where the two languages agree and calls these
helpers where they do not (an absent property is ``undefined``, not an error; ``parseInt``
stops at the first non-digit; ``encodeURIComponent`` keeps ``!'()*``). ``http`` is k6's
module bound to the running VU, so helper functions need no ``vu`` argument, as in k6.
"""

from __future__ import annotations

import base64
import json
import math
import random
import re
import string as string_
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, unquote

from veza_ray.core.durations import parse_k6_duration
from veza_ray.engine.context import vu_context

__all__ = [
    "Error",
    "Obj",
    "encode_uri_component",
    "expected_statuses",
    "get",
    "http",
    "index",
    "now_ms",
    "params",
    "parse_float",
    "parse_int",
    "string",
    "stringify",
    "text_summary",
    "timeout_s",
    "typeof",
    "vu",
]


class Error(Exception):
    """``throw new Error(msg)``: ends the iteration, as in k6."""


class Obj(dict[str, Any]):
    """A parsed JSON object: ``o.key`` reads like JavaScript (``None`` when absent)."""

    def __getattr__(self, name: str) -> Any:
        return self.get(name)


def vu() -> Any:
    """The running VU (``__VU`` is ``vu().id``); an error outside a flow, as k6's init."""
    current = vu_context.get()
    if current is None:
        raise Error("this needs a running VU (k6 allows it only inside a VU function)")
    return current


def get(obj: Any, key: Any) -> Any:
    """``obj.key`` / ``obj[key]`` with JavaScript's ``undefined`` (None) for a miss."""
    if obj is None:
        raise Error(f"cannot read property {key!r} of undefined")
    if isinstance(obj, Mapping):
        return obj.get(key)
    if isinstance(obj, (list, tuple, str, bytes)):
        if isinstance(key, (int, float)) and 0 <= int(key) < len(obj):
            return obj[int(key)]
        return len(obj) if key == "length" else None
    return getattr(obj, str(key), None)


def index(obj: Any, key: Any) -> Any:
    """``obj[key]`` for a key whose type the converter could not know."""
    return get(obj, key)


def typeof(value: Any) -> str:
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "function" if callable(value) else "object"


def string(value: Any) -> str:
    """JavaScript's ``String(value)``."""
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return "NaN" if math.isnan(value) else repr(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, list):
        return ",".join("" if v is None else string(v) for v in value)
    return str(value)


_INT = re.compile(r"\s*([+-]?)(0[xX][0-9a-fA-F]+|\d+)")
_FLOAT = re.compile(r"\s*[+-]?(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|Infinity)")


def parse_int(value: Any, radix: int | None = None) -> float | int:
    """``parseInt``: the leading digits, NaN (a float) when there are none."""
    text = string(value)
    if radix not in (None, 10, 16):
        try:
            return int(text.strip(), radix or 10)
        except ValueError:
            return math.nan
    m = _INT.match(text)
    if m is None:
        return math.nan
    sign = -1 if m.group(1) == "-" else 1
    digits = m.group(2)
    if digits[:2].lower() == "0x" or radix == 16:
        return sign * int(digits, 16)
    return sign * int(digits)


def parse_float(value: Any) -> float:
    m = _FLOAT.match(string(value))
    return float(m.group(1).replace("Infinity", "inf")) if m else math.nan


def encode_uri_component(value: Any) -> str:
    return quote(string(value), safe="-_.!~*'()")


def stringify(value: Any, _replacer: Any = None, indent: int | str | None = None) -> str:
    """``JSON.stringify``: compact by default, as JavaScript writes it."""
    if isinstance(value, (bytes, bytearray)):
        return "{}"
    sep = (",", ":") if indent is None else (",", ": ")
    return json.dumps(value, separators=sep, indent=indent, ensure_ascii=False, default=_plain)


def _plain(value: Any) -> Any:
    if hasattr(value, "as_dict"):
        return value.as_dict()
    if isinstance(value, Mapping):  # a SharedArray item: a read-only mappingproxy
        return dict(value)
    if isinstance(value, (set, frozenset, tuple, Sequence)) and not isinstance(value, str):
        return list(value)  # a SharedArray (or a frozen list inside one)
    return str(value)


def _text(value: Any) -> str:
    """A string method's receiver: a response body is bytes here (k6: a string)."""
    if value is None:
        raise Error("cannot read a string method of undefined")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def match(value: Any, pattern: str | re.Pattern[str]) -> list[str | None] | None:
    """``s.match(re)`` without ``g``: [whole match, group 1, ...] (undefined groups None),
    or None (JavaScript's null) when nothing matches."""
    found = re.search(pattern, _text(value))
    return None if found is None else [found.group(0), *found.groups()]


def match_all(value: Any, pattern: str | re.Pattern[str]) -> list[str] | None:
    """``s.match(/re/g)``: every whole match, or None (null) when there is none."""
    found = [m.group(0) for m in re.finditer(pattern, _text(value))]
    return found or None


def json_parse(text: Any) -> Any:
    """``JSON.parse``: objects read as ``Obj`` so ``o.key`` works; k6 throws on bad JSON."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")
    if text is None:
        raise Error("JSON.parse: unexpected end of JSON input")
    return json.loads(text, object_hook=Obj)


def now_ms() -> int:
    """``Date.now()``."""
    return int(time.time() * 1000)


def js_round(x: float) -> float:
    """``Math.round``: halves go up (Python's round goes to even)."""
    return float(math.floor(x + 0.5))


def timeout_s(value: Any) -> float:
    """k6's ``timeout`` param: a number is milliseconds, a string a k6 duration."""
    if isinstance(value, str):
        return parse_k6_duration(value)
    return float(value) / 1000.0


def expected_statuses(*items: Any) -> frozenset[int]:
    """``http.expectedStatuses(200, {min: 300, max: 399})``."""
    out: set[int] = set()
    for item in items:
        if isinstance(item, Mapping):
            out.update(range(int(item["min"]), int(item["max"]) + 1))
        else:
            out.add(int(item))
    return frozenset(out)


_PARAMS: dict[str, Callable[[Any], tuple[str, Any]]] = {
    "headers": lambda v: ("headers", {str(k): string(x) for k, x in (v or {}).items()}),
    "tags": lambda v: ("tags", {str(k): string(x) for k, x in (v or {}).items()}),
    "timeout": lambda v: ("timeout", timeout_s(v)),
    "responseType": lambda v: ("response_body", v != "none"),
    "responseCallback": lambda v: ("response_callback", v),
    "cookies": lambda v: ("cookies", v),
    "redirects": lambda v: ("redirects", v),
    "jar": lambda v: ("jar", v),
}


def params(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """k6's request params object, as the client's keyword arguments (at run time)."""
    out: dict[str, Any] = {}
    for key, v in (value or {}).items():
        conv = _PARAMS.get(key)
        if conv is None:
            raise Error(f"request param {key!r} is not supported by veza-ray")
        name, val = conv(v)
        out[name] = val
    return out


class _Http:
    """k6's ``http`` module on the running VU's client."""

    async def request(self, method: str, url: str, body: Any = None, **kw: Any) -> Any:
        client = vu().http
        if body is not None:
            kw["data"] = body
        return await client.request(method, url, **kw)

    async def get(self, url: str, **kw: Any) -> Any:
        return await vu().http.get(url, **kw)

    async def head(self, url: str, **kw: Any) -> Any:
        return await vu().http.head(url, **kw)

    async def post(self, url: str, body: Any = None, **kw: Any) -> Any:
        return await self.request("POST", url, body, **kw)

    async def put(self, url: str, body: Any = None, **kw: Any) -> Any:
        return await self.request("PUT", url, body, **kw)

    async def patch(self, url: str, body: Any = None, **kw: Any) -> Any:
        return await self.request("PATCH", url, body, **kw)

    async def delete(self, url: str, body: Any = None, **kw: Any) -> Any:
        return await self.request("DELETE", url, body, **kw)

    async def options(self, url: str, body: Any = None, **kw: Any) -> Any:
        return await self.request("OPTIONS", url, body, **kw)

    def cookie_jar(self) -> Any:
        """k6's ``http.cookieJar()``: the running VU's jar."""
        return vu().http.cookie_jar()

    async def batch(self, requests: Any) -> Any:
        """k6's ``http.batch``: its array, object and URL forms, as the client's."""
        if isinstance(requests, Mapping):
            return await vu().http.batch({k: batch_item(v) for k, v in requests.items()})
        return await vu().http.batch([batch_item(v) for v in requests])


def batch_item(item: Any) -> Any:
    """One k6 batch request (``'url'``, ``[method, url, body, params]`` or an object)."""
    if isinstance(item, str):
        return item
    if isinstance(item, Mapping):
        method, url = item.get("method", "GET"), item["url"]
        body, par = item.get("body"), item.get("params")
    else:
        method, url = item[0], item[1]
        body = item[2] if len(item) > 2 else None
        par = item[3] if len(item) > 3 else None
    kw = params(par)
    if body is not None:
        kw["data"] = body
    return (str(method).upper(), url, kw)


http = _Http()


def text_summary(data: Mapping[str, Any], _opts: Any = None) -> str:
    """jslib's ``textSummary``: veza-ray's own end-of-test text for this summary."""
    from veza_ray.core.summary import render_text

    lines = []
    for name, entry in sorted(data.get("metrics", {}).items()):
        for expr, verdict in (entry.get("thresholds") or {}).items():
            mark = "✓" if verdict.get("ok") else "✗"
            lines.append(f"   {mark} {name}: '{expr}'")
    head = ("   THRESHOLDS\n" + "\n".join(lines) + "\n\n") if lines else ""
    return head + render_text(data, [])


def fail(message: Any = None) -> None:
    """k6's ``fail()``: ends this iteration with an error (the VU goes on)."""
    raise Error(string(message) if message is not None else "")


def console(level: str, *args: Any) -> None:
    """``console.log`` and its levels, on stderr as k6 writes them."""
    text = " ".join(a if isinstance(a, str) else stringify(a) for a in args)
    print(f'level={"info" if level == "log" else level} msg="{text}"', file=sys.stderr)


def decode_uri_component(value: Any) -> str:
    return unquote(string(value))


def is_nan(value: Any) -> bool:
    number = value if isinstance(value, (int, float)) else parse_float(value)
    return isinstance(number, float) and math.isnan(number)


def index_of(seq: Any, item: Any) -> int:
    if isinstance(seq, str):
        return seq.find(string(item))
    try:
        return list(seq).index(item)
    except ValueError:
        return -1


def keys(obj: Any) -> list[Any]:
    """``for (k in obj)``: an object's keys, an array's indexes (as strings, as in JS)."""
    if isinstance(obj, Mapping):
        return list(obj)
    return [str(i) for i in range(len(obj))]


def object_keys(obj: Mapping[str, Any]) -> list[str]:
    return list(obj)


def object_values(obj: Mapping[str, Any]) -> list[Any]:
    return list(obj.values())


def object_entries(obj: Mapping[str, Any]) -> list[list[Any]]:
    return [[k, v] for k, v in obj.items()]


def assign(target: dict[str, Any], *sources: Mapping[str, Any] | None) -> dict[str, Any]:
    for src in sources:
        target.update(src or {})
    return target


def random_int_between(lo: int, hi: int) -> int:
    """jslib k6-utils ``randomIntBetween``: inclusive on both ends."""
    return random.randint(int(lo), int(hi))


def random_string(length: int, charset: str = string_.ascii_lowercase + string_.digits) -> str:
    return "".join(random.choice(charset) for _ in range(int(length)))


def uuidv4() -> str:
    return str(uuid.uuid4())


def b64encode(data: Any, encoding: str | None = "std") -> str:
    """k6/encoding's ``b64encode`` (std, rawstd, url, rawurl)."""
    encoding = encoding or "std"
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    out = base64.urlsafe_b64encode(raw) if "url" in encoding else base64.b64encode(raw)
    text = out.decode("ascii")
    return text.rstrip("=") if encoding.startswith("raw") else text


def b64decode(data: str, encoding: str | None = "std", fmt: str = "") -> str | bytes:
    """k6/encoding's ``b64decode``; ``'s'`` as the format gives a string."""
    encoding = encoding or "std"
    padded = data + "=" * (-len(data) % 4)
    raw = base64.urlsafe_b64decode(padded) if "url" in encoding else base64.b64decode(padded)
    return raw.decode("utf-8") if fmt == "s" else raw
