"""The layout holds: the pure core imports no I/O, and test modules have unique names."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]

# What a pure module must never bring in: Ray, the HTTP stacks, the event loop, and
# veza-ray's own I/O sides (its socket-level client lives in veza_ray.engine). The stdlib
# ``socket`` module itself is not listed: importlib.metadata (the package version) loads
# it through email.utils without opening anything.
FORBIDDEN = (
    "ray",
    "aiohttp",
    "httptools",
    "asyncio",
    "uvloop",
    "veza_ray.engine",
    "veza_ray.cluster",
    "veza_ray.outputs",
    "veza_ray.reports",
    "veza_ray.emulator",
)

PROBE = """
import importlib, json, pkgutil, sys
import veza_ray.core as core
names = [m.name for m in pkgutil.walk_packages(core.__path__, "veza_ray.core.")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "loaded": sorted(sys.modules)}))
"""


def test_the_pure_core_imports_no_io() -> None:
    """Every module under veza_ray/core, imported in a fresh interpreter, loads none of
    FORBIDDEN: the folder's name is a promise the tree keeps."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, check=True
    )
    data = json.loads(out.stdout)
    assert len(data["modules"]) >= 15, data["modules"]
    loaded = data["loaded"]
    bad = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert not bad, f"the pure core pulled in: {bad}"


def test_test_modules_have_unique_names() -> None:
    """pytest (rootdir import mode) cannot collect two test modules of the same name."""
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py")]
    twice = sorted({n for n in names if names.count(n) > 1})
    assert not twice, twice
