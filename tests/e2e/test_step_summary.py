"""`veza-ray run` and $GITHUB_STEP_SUMMARY: the Markdown summary is appended with no
``--markdown`` and with ``--markdown -`` (stdout is the job's log, not its page), not
with ``--markdown FILE`` (the user said where it goes). A real run on a local Ray cluster
against a real server; the step summary is a temporary file that already holds an
earlier step's line, which must stay."""

from __future__ import annotations

from pathlib import Path

import pytest
from servers import KnownServer, veza, write_script

pytestmark = pytest.mark.ray

SCRIPT = """
from veza_ray import env

options = {"scenarios": {"s": {"executor": "shared-iterations", "vus": 1, "iterations": 3}}}

async def default(vu):
    await vu.http.get(env("URL") + "/fast")
"""
EARLIER = "earlier step\n"
HEAD = "### ✅ veza-ray: PASS"


@pytest.mark.parametrize("markdown", [None, "-", "FILE"])
def test_step_summary_is_appended_unless_a_file_was_named(
    tmp_path: Path, known_server: KnownServer, markdown: str | None
) -> None:
    step = tmp_path / "step_summary.md"
    step.write_text(EARLIER)
    md_file = tmp_path / "summary.md"
    args = ["run", write_script(tmp_path, SCRIPT), "--actors", "1", "--quiet"]
    args += ["-e", f"URL={known_server.url}"]
    if markdown is not None:
        args += ["--markdown", str(md_file) if markdown == "FILE" else markdown]
    res = veza(*args, env={"GITHUB_STEP_SUMMARY": str(step)})
    assert res.returncode == 0, res.stderr[-3000:] + res.stdout[-3000:]
    assert known_server.counts["fast"] == 3
    text = step.read_text()
    assert text.startswith(EARLIER)  # appended, never replaced
    appended = text[len(EARLIER) :]
    if markdown == "FILE":
        assert appended == ""
        assert md_file.read_text().startswith(HEAD)
        return
    assert appended.startswith(HEAD) and appended.count(HEAD) == 1
    assert "| scenario | requests |" in appended
    if markdown == "-":
        assert appended.rstrip("\n") in res.stdout  # the same Markdown, also in the log
