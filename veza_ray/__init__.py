"""veza-ray: k6-style load scenarios spread over a Ray cluster.

The names a scenario file imports live here: ``check``, ``sleep``, ``env`` and the custom
metric classes. Importing this package must stay cheap and must not import Ray: actors
and the driver load scenario files, and so do plain unit tests.
"""

from veza_ray.api import Counter, Gauge, Rate, Trend, check, env, file, sleep

__all__ = ["Counter", "Gauge", "Rate", "Trend", "check", "env", "file", "sleep"]

try:  # the version the package was installed as, so reports and summaries name it right
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("veza-ray")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"
