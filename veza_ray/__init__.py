"""veza-ray: k6-style load scenarios spread over a Ray cluster.

The names a scenario file imports live here: ``check``, ``sleep``, ``env``, ``file``, ``open`` and
the custom metric classes. They are loaded on first use (PEP 562), so importing a pure
module such as ``veza_ray.core.thresholds`` does not bring in the engine or asyncio, and
importing this package never imports Ray.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from veza_ray.core.version import __version__ as __version__  # the installed version

if TYPE_CHECKING:
    from veza_ray.engine.api import (
        CookieJar,
        Counter,
        DataFile,
        Gauge,
        Rate,
        SharedArray,
        Trend,
        check,
        env,
        execution,
        fail,
        file,
        group,
        open,
        set_response_callback,
        sleep,
    )

__all__ = [
    "CookieJar",
    "Counter",
    "DataFile",
    "Gauge",
    "Rate",
    "SharedArray",
    "Trend",
    "check",
    "env",
    "execution",
    "fail",
    "file",
    "group",
    "open",
    "set_response_callback",
    "sleep",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        value = getattr(import_module("veza_ray.engine.api"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'veza_ray' has no attribute {name!r}")
