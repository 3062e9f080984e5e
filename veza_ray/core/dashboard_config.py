"""The web dashboard's settings: k6's environment variables, k6's defaults, one target string.

Pure. k6 turns its dashboard on with ``K6_WEB_DASHBOARD=true`` and reads ``_HOST``,
``_PORT`` (5665; -1: no server, the export is still written), ``_PERIOD`` (10s), ``_OPEN``
and ``_EXPORT``. Here the same variables (and ``--web-dashboard``) become one
``--out web-dashboard=host=H&port=P&period=S&open=B`` target, so the settings travel to a
Ray job with the rest of ``RunConfig``; the export is the HTML report (``--html``).

One deliberate difference: k6 listens on every interface when ``_HOST`` is empty; here
the default is loopback, and a non-loopback bind needs a token for control actions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from veza_ray.core.durations import parse_k6_duration

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5665
DEFAULT_PERIOD_S = 10.0
ENV_PREFIX = "K6_WEB_DASHBOARD"
_TRUE = ("1", "true", "yes", "on")
_KEYS = ("host", "port", "period", "open")


class DashboardConfigError(ValueError):
    """A dashboard setting that cannot be used; the message names it."""


@dataclass(frozen=True)
class DashboardConfig:
    """Where the dashboard listens and how often it sends the merged state."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    period_s: float = DEFAULT_PERIOD_S
    open_browser: bool = False

    @property
    def serves(self) -> bool:
        """Port -1 (k6's rule): no server; only the export is written."""
        return self.port >= 0

    def target(self) -> str:
        """The ``--out web-dashboard=`` value that parses back to this configuration."""
        return urlencode(
            {
                "host": self.host,
                "port": str(self.port),
                "period": f"{self.period_s:g}s",
                "open": "true" if self.open_browser else "false",
            }
        )


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in _TRUE


def _port(raw: str, where: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        port = -2
    if port < -1 or port > 65535:
        raise DashboardConfigError(f"{where} {raw!r}: write a port 0-65535, or -1 for no server")
    return port


def _period(raw: str, where: str) -> float:
    try:
        period = parse_k6_duration(raw)
    except (ValueError, TypeError) as exc:
        raise DashboardConfigError(f"{where} {raw!r}: write a duration such as 10s") from exc
    if period < 0.5:
        raise DashboardConfigError(f"{where} {raw!r}: the period must be at least 0.5s")
    return period


def parse_target(target: str) -> DashboardConfig:
    """``host=H&port=P&period=D&open=B`` (any subset; ``--out web-dashboard=...``)."""
    values: dict[str, str] = {}
    for key, value in parse_qsl(target, keep_blank_values=True):
        if key not in _KEYS:
            raise DashboardConfigError(
                f"--out web-dashboard={target!r}: unknown setting {key!r}; use " + ", ".join(_KEYS)
            )
        values[key] = value
    where = "--out web-dashboard"
    return DashboardConfig(
        host=values.get("host") or DEFAULT_HOST,
        port=_port(values["port"], f"{where} port") if "port" in values else DEFAULT_PORT,
        period_s=(
            _period(values["period"], f"{where} period") if "period" in values else DEFAULT_PERIOD_S
        ),
        open_browser=_truthy(values.get("open")),
    )


def from_env(env: Mapping[str, str], enabled: bool) -> tuple[DashboardConfig | None, str | None]:
    """(the dashboard, or None when off; the export path, or None) from k6's variables;
    ``enabled`` is ``--web-dashboard``. As in k6, the variables mean nothing while the
    dashboard is off, and port -1 still writes the export."""
    if not (enabled or _truthy(env.get(ENV_PREFIX))):
        return None, None
    export = env.get(f"{ENV_PREFIX}_EXPORT") or None
    host = env.get(f"{ENV_PREFIX}_HOST") or DEFAULT_HOST
    port_raw = env.get(f"{ENV_PREFIX}_PORT")
    period_raw = env.get(f"{ENV_PREFIX}_PERIOD")
    cfg = DashboardConfig(
        host=host,
        port=_port(port_raw, f"{ENV_PREFIX}_PORT") if port_raw else DEFAULT_PORT,
        period_s=_period(period_raw, f"{ENV_PREFIX}_PERIOD") if period_raw else DEFAULT_PERIOD_S,
        open_browser=_truthy(env.get(f"{ENV_PREFIX}_OPEN")),
    )
    return cfg, export
