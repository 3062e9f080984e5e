"""The version veza-ray was installed as, for summaries and reports.

Here rather than in the package root so the pure core (core/merge.py writes it into every
summary) does not import the package that loads the engine."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("veza-ray")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"
