"""Every output a run can write, in one table: its flag, what it writes, when, and whether a
Ray job brings it back.

Pure data. The CLI's option parser (``core.runconfig``), the driver (which builds the
interval outputs and writes the end-of-run files from it), the Ray job wrapper (which
collects the files) and the submitter (which writes them back) all read this table, so
adding an output is one entry here plus the code that renders it (``impl``).
"""

from __future__ import annotations

from dataclasses import dataclass

INTERVAL = "interval"  # fed every merged interval (an ``outputs.base.Output`` class)
END = "end"  # rendered from the summary at the end (a function summary -> text)


@dataclass(frozen=True)
class OutputKind:
    """One output: how it is asked for and what becomes of it."""

    kind: str  # short name; also the key of RunConfig.outputs
    flag: str  # "--html", or "--out KIND=" for the repeatable -o/--out option
    writes: str  # what it writes, in words (help text, docs)
    phase: str  # INTERVAL or END
    impl: str  # "module:attribute": the Output class (INTERVAL) or renderer (END)
    job_file: str | None = None  # the name a Ray job collects it under; None: not a file
    stdout_ok: bool = False  # "-" means standard output, not a file
    target: str = "PATH"  # what follows the flag, in usage messages

    @property
    def is_file(self) -> bool:
        """Its target is a local path (checked before the run, may collide with an input)."""
        return self.job_file is not None

    @property
    def via_out(self) -> bool:
        """Asked for as ``--out KIND=TARGET`` rather than a flag of its own."""
        return self.flag.startswith("--out ")

    def label(self, target: str) -> str:
        """The flag and target as the user wrote them, for messages."""
        return f"--out {self.kind}={target}" if self.via_out else f"{self.flag} {target}"


OUTPUTS: tuple[OutputKind, ...] = (
    OutputKind(
        "summary",
        "--summary-export",
        "the end-of-test summary JSON (k6's layout, plus veza_ray.outcome and the rest)",
        END,
        "veza_ray.core.summary:summary_json",
        "summary.json",
    ),
    OutputKind(
        "json",
        "--out json=",
        "one NDJSON line per interval with the merged per-scenario metrics",
        INTERVAL,
        "veza_ray.outputs.streams:NdjsonOutput",
        "metrics.ndjson",
    ),
    OutputKind(
        "prometheus",
        "--out prometheus=",
        "the merged series pushed each interval to a Prometheus remote-write endpoint",
        INTERVAL,
        "veza_ray.outputs.prometheus:PrometheusPush",
        target="URL",
    ),
    OutputKind(
        "web-dashboard",
        "--out web-dashboard=",
        "the live web dashboard (k6's K6_WEB_DASHBOARD*; --web-dashboard): the merged run "
        "each period over server-sent events, and a stop control",
        INTERVAL,
        "veza_ray.outputs.dashboard:DashboardOutput",
        target="host=H&port=P&period=D",
    ),
    OutputKind(
        "html",
        "--html",
        "a self-contained HTML report",
        END,
        "veza_ray.reports.html:render_html",
        "report.html",
    ),
    OutputKind(
        "junit",
        "--junit",
        "JUnit XML, a test case per threshold and check",
        END,
        "veza_ray.reports.junit:render_junit",
        "junit.xml",
    ),
    OutputKind(
        "markdown",
        "--markdown",
        "the Markdown step summary ('-': standard output)",
        END,
        "veza_ray.reports.markdown:render_markdown",
        "summary.md",
        stdout_ok=True,
    ),
)

BY_KIND = {o.kind: o for o in OUTPUTS}
BY_FLAG = {o.flag: o for o in OUTPUTS}
OUT_KINDS = tuple(o.kind for o in OUTPUTS if o.via_out)  # what --out KIND=... accepts


def param_name(o: OutputKind) -> str:
    """The CLI option's parameter name of an output with a flag of its own."""
    return o.flag.lstrip("-").replace("-", "_")


def out_usage() -> str:
    """What --out accepts, for the message that refuses anything else."""
    return " or ".join(f"{o.kind}={o.target}" for o in OUTPUTS if o.via_out)
