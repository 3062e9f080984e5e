"""The live web dashboard's page: the HTML report's own sections, refreshed in place.

Pure (summary in, text out). The page is ``html.page`` around ``html.render_body`` with a
bar (tabs, the run's state, a stop button) and one inline script; each server-sent event
carries the body rendered again from the merged run, so the page and the report are one
renderer and cannot disagree. No external fetch: every style and script is inline here.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from veza_ray.reports.html import TABS, page, render_body
from veza_ray.reports.model import build

OPEN, TOKEN, CLOSED = "open", "token", "read-only"  # who may use the control actions

_TAB_CSS = "".join(
    f"body[data-tab={t}] main>section[data-tab]:not([data-tab={t}]){{display:none}}" for t in TABS
)
_CSS = (
    """
#vr-bar{position:sticky;top:0;z-index:5;display:flex;gap:12px;align-items:center;
background:#1d232b;color:#fff;padding:8px 24px;font-size:13px}
#vr-bar strong{font-size:15px;margin-right:8px}
#vr-tabs button{background:transparent;color:#c9d1db;border:0;border-bottom:2px solid transparent;
padding:6px 10px;font:inherit;cursor:pointer}
#vr-tabs button.on{color:#fff;border-bottom-color:#5aa3ff}
#vr-state{margin-left:auto;color:#c9d1db}
#vr-stop{background:#c62828;color:#fff;border:0;border-radius:4px;padding:6px 12px;font:inherit;
font-weight:600;cursor:pointer}
#vr-stop[hidden]{display:none}
.verdict.running{border-color:#2f6db5;background:#f2f6fc}
.verdict.running .big{background:#2f6db5}
.verdict.running.fail{border-color:#c62828;background:#fdf1f1}
.verdict.running.fail .big{background:#c62828}
"""
    + _TAB_CSS
)

_SCRIPT = """
(() => {
  const body = document.body, main = document.querySelector('main');
  const stateEl = document.getElementById('vr-state'), stop = document.getElementById('vr-stop');
  const hash = new URLSearchParams(location.hash.slice(1));
  const token = hash.get('token') || '';
  const mayControl = body.dataset.control === 'open' || (body.dataset.control === 'token' && token);
  const say = (t) => { stateEl.textContent = t; };
  const show = (t) => {
    body.dataset.tab = t;
    for (const b of document.querySelectorAll('#vr-tabs button')) {
      b.classList.toggle('on', b.dataset.tab === t);
    }
  };
  for (const b of document.querySelectorAll('#vr-tabs button')) {
    b.addEventListener('click', () => show(b.dataset.tab));
  }
  show(hash.get('tab') || 'overview');
  stop.hidden = !mayControl || body.dataset.running !== 'true';
  if (!mayControl) say('read-only: control actions need the token');
  const apply = (d) => {
    const t0 = performance.now();
    main.innerHTML = d.html;
    body.dataset.seq = d.seq;
    body.dataset.points = d.points;
    body.dataset.firstT = d.first_t === null ? '' : d.first_t;
    body.dataset.running = d.running ? 'true' : 'false';
    body.dataset.verdict = d.verdict;
    body.dataset.updateMs = (performance.now() - t0).toFixed(2);
    if (!d.running) {
      stop.hidden = true;
      say('run ended: ' + d.verdict + ', exit code ' + d.exit_code);
    } else if (mayControl) {
      say('live · updated ' + new Date().toLocaleTimeString());
    }
  };
  window.vrApply = apply;
  const es = new EventSource('events');
  es.addEventListener('update', (ev) => apply(JSON.parse(ev.data)));
  es.addEventListener('end', () => es.close());
  es.onerror = () => {
    if (body.dataset.running === 'true') say('disconnected from the run: reload to reconnect');
    es.close();
  };
  stop.addEventListener('click', async () => {
    if (!confirm('Stop the test? The VUs stop gracefully and the summary is written (exit 105).')) {
      return;
    }
    const headers = {'Content-Type': 'application/json'};
    if (token) headers['Authorization'] = 'Bearer ' + token;
    const res = await fetch('v1/status', {
      method: 'PATCH', headers,
      body: JSON.stringify({data: {type: 'status', id: 'default', attributes: {stopped: true}}}),
    });
    if (res.ok) { say('stopping: waiting for the VUs to finish'); stop.hidden = true; }
    else { say('stop refused (' + res.status + '): ' + (await res.text())); }
  });
})();
"""


def event(summary: Mapping[str, Any], seq: int) -> dict[str, Any]:
    """One server-sent update: the rendered body and what the page's bar needs."""
    r = build(summary)
    live = r.live
    return {
        "seq": seq,
        "running": bool(live.get("running")),
        "html": render_body(r, summary),
        "verdict": "RUNNING" if live.get("running") else r.verdict.status,
        "exit_code": None if live.get("running") else r.verdict.exit_code,
        "points": len(r.extra.get("intervals") or []),
        "first_t": (r.extra.get("intervals") or [{}])[0].get("t"),
        "elapsed_s": live.get("elapsed_s"),
    }


def live_page(summary: Mapping[str, Any] | None, control: str, period_s: float) -> str:
    """The whole page as served: the latest state inline, the script to keep it fresh."""
    summary = summary or {"veza_ray": {"live": {"running": True}}}
    r = build(summary)
    running = bool(r.live.get("running"))
    tabs = "".join(f'<button type="button" data-tab="{t}">{t}</button>' for t in TABS)
    bar = (
        f'<div id="vr-bar"><strong>veza-ray</strong><nav id="vr-tabs">{tabs}</nav>'
        '<span id="vr-state">connecting</span>'
        '<button id="vr-stop" type="button" hidden>Stop the test</button></div>'
    )
    attrs = (
        f' data-control="{escape(control)}" data-period="{period_s:g}" '
        f'data-running="{"true" if running else "false"}"'
    )
    doc = page(r, render_body(r, summary), head=f"<style>{_CSS}</style>", before=bar)
    doc = doc.replace("<body>", f"<body{attrs}>", 1)
    return doc.replace("</body>", f"<script>{_SCRIPT}</script></body>", 1)
