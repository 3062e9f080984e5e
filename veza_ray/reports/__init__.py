"""Reports rendered from a run's summary dict: HTML, JUnit XML and a Markdown step summary.

Pure functions (summary in, text out) so ``veza-ray run`` can write them at the end of a
run and ``veza-ray report`` can write the same ones later from a saved summary JSON.
"""

from __future__ import annotations

from veza_ray.reports.html import render_html
from veza_ray.reports.junit import render_junit
from veza_ray.reports.markdown import append_step_summary, render_markdown

__all__ = ["append_step_summary", "render_html", "render_junit", "render_markdown"]
