"""`veza-ray convert` over k6 scripts that no one here wrote (see SOURCES.md beside this file).

The scripts are not in this repository (they are other projects' code: k6's examples are
AGPL-3.0); the test reads them from ``$VEZA_RAY_CONVERT_CORPUS`` or ``../shared/convert_corpus``
(one folder per source, ``*.js`` inside) and skips when neither exists. Per script it reports
clean / partial (TODO count) / refused, and holds every clean conversion to `veza-ray inspect`:
a clean script must inspect green unless real k6 refuses the same script as well.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from veza_ray.convert import ConvertRefused, convert_source

REPO_ROOT = Path(__file__).resolve().parents[2]


def corpus_root() -> Path | None:
    for candidate in (
        os.environ.get("VEZA_RAY_CONVERT_CORPUS"),
        str(REPO_ROOT.parent / "shared" / "convert_corpus"),
    ):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def classify(path: Path) -> tuple[str, int, str]:
    """('clean'|'partial'|'refused', TODO count, the Python text or the refusal)."""
    try:
        conv = convert_source(path.read_text(encoding="utf-8"), str(path))
    except ConvertRefused as exc:
        return "refused", 0, str(exc)
    return ("clean" if not conv.todos else "partial"), len(conv.todos), conv.python


def inspect_rc(cmd: list[str], cwd: Path) -> int:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, check=False).returncode


def test_corpus_converts(tmp_path: Path) -> None:
    root = corpus_root()
    if root is None:
        pytest.skip("no corpus: set VEZA_RAY_CONVERT_CORPUS or provide ../shared/convert_corpus")
    scripts = sorted(root.glob("*/*.js"))
    assert scripts, f"no *.js under {root}/*/"
    rows: list[tuple[str, str, int, str]] = []
    bad: list[str] = []
    k6 = shutil.which("k6")
    for js in scripts:
        kind, todos, text = classify(js)
        note = ""
        if kind == "clean":
            py = tmp_path / (
                js.parent.name + "_" + js.stem.replace("-", "_").replace(".", "_") + ".py"
            )
            py.write_text(text)
            rc = inspect_rc(
                [sys.executable, "-m", "veza_ray.cli", "inspect", str(py), "--actors", "1"],
                tmp_path,
            )
            if rc != 0:
                k6_rc = inspect_rc([k6, "inspect", str(js)], js.parent) if k6 else None
                note = f"inspect {rc}; k6 inspect {k6_rc}"
                if k6_rc in (None, 0):
                    bad.append(f"{js}: converted clean but inspect exits {rc} (k6: {k6_rc})")
        rows.append((f"{js.parent.name}/{js.name}", kind, todos, note))
    width = max(len(r[0]) for r in rows)
    print()
    for name, kind, todos, note in rows:
        print(f"{name:<{width}}  {kind:<8} {todos:>3} TODO  {note}")
    counts = {k: sum(1 for r in rows if r[1] == k) for k in ("clean", "partial", "refused")}
    print(f"{len(rows)} scripts: {counts}")
    assert not bad, "\n".join(bad)
