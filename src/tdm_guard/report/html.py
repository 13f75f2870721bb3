"""`report.html`: one self-contained page a compliance officer reads at a glance.

Everything is inline (CSS, the one small script, the charts as SVG): opening the page makes
no network request of any kind, and its own Content-Security-Policy forbids every request
(`default-src 'none'`; the script is allowed by its hash), so a value from a log can never
load anything even if it slipped past escaping. Every value from a log is text, escaped;
external URLs are shown, never fetched or linked except as plain `https:`/`mailto:` links a
person may click; snapshot links are relative files beside the report.

Every figure in the page carries `data-key`, the path of the same figure in summary.json.
"""

from __future__ import annotations

import base64
import hashlib
import html
from datetime import UTC
from typing import Any

from . import charts

SCRIPT = """
document.querySelectorAll('input[data-filter]').forEach(function (box) {
  var rows = document.querySelectorAll('#' + box.dataset.filter + ' tbody tr');
  box.addEventListener('input', function () {
    var q = box.value.toLowerCase();
    rows.forEach(function (tr) {
      tr.hidden = q !== '' && tr.textContent.toLowerCase().indexOf(q) < 0;
    });
  });
});
"""
STYLE = """
:root { --ink: #1f2933; --muted: #52606d; --line: #d9e2ec; --bg: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: var(--bg); }
header { background: #102a43; color: #fff; padding: 20px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #bcccdc; }
main { max-width: 1180px; margin: 0 auto; padding: 16px 32px 48px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 16px 20px; margin: 16px 0; }
h2 { font-size: 17px; margin: 0 0 10px; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; }
.card { flex: 1 1 150px; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px;
  border-top: 5px solid #90a4ae; }
.card .n { font-size: 26px; font-weight: 650; }
.card .s { color: var(--muted); }
.allowed { border-top-color: #2e7d32; } .blocked { border-top-color: #c62828; }
.reserved { border-top-color: #ef6c00; } .tagged { border-top-color: #6a1b9a; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { background: #f0f4f8; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .hash { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
.hash { word-break: break-all; }
.muted { color: var(--muted); }
.ok { color: #2e7d32; font-weight: 600; } .bad { color: #c62828; font-weight: 600; }
.chart svg { max-width: 100%; height: auto; }
.two { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
@media (max-width: 900px) { .two { grid-template-columns: 1fr; } }
input[data-filter] { margin: 0 0 8px; padding: 5px 8px; width: 280px;
  border: 1px solid var(--line); border-radius: 4px; }
dl { display: grid; grid-template-columns: 260px 1fr; gap: 4px 16px; margin: 0; }
dt { color: var(--muted); } dd { margin: 0; }
"""
MAX_ROWS = 500  # policy-file rows shown (all are in summary.json)
MAX_BARS = 240  # bars in the chart of decisions over time


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _n(value: int, key: str) -> str:
    return f'<span data-key="{_e(key)}">{value:,}</span>'


def _pct(value: float, key: str) -> str:
    return f'<span data-key="{_e(key)}">{value * 100:.1f}%</span>'


def _contact(value: str) -> str:
    """A contact as a link a person may click (mailto: and https: only), else text."""
    address = value.split(" ", 1)[0]
    if address.startswith(("mailto:", "https://")) and '"' not in address:
        return f'<a href="{_e(address)}" rel="noreferrer noopener">{_e(value)}</a>'
    return _e(value)


def _link(path: str | None, text: str) -> str:
    if not path:
        return f'<span class="hash">{_e(text)}</span>'
    return f'<a class="hash" href="{_e(path)}">{_e(text)}</a>'


def csp() -> str:
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode()
    return (f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
            "img-src data:; base-uri 'none'; form-action 'none'")


def render_html(s: dict[str, Any]) -> str:
    """The page for one summary (summary.json's dict)."""
    totals, shares = s["totals"], s["shares"]
    outcomes = [a for a in totals if a != "decisions"]
    parts = [_head(s), "<main>"]
    parts.append(_glance(totals, shares, outcomes))
    parts.append(_integrity(s))
    parts.append(_identity(s))
    parts.append(_signals_purposes(s))
    parts.append(_timeline(s, outcomes))
    parts.append(_domains(s))
    parts.append(_declarations(s))
    parts.append(_policy_files(s))
    parts.append(_template(s))
    parts.append(_protocols(s))
    parts.append(f"</main><script>{SCRIPT}</script></body></html>\n")
    return "".join(parts)


def _head(s: dict[str, Any]) -> str:
    period = s["period"]
    when = (f"{_e(period['first'])} to {_e(period['last'])}" if period["first"]
            else "no decisions")
    gen = s["generated_by"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_e(csp())}">
<meta name="referrer" content="no-referrer">
<meta http-equiv="x-dns-prefetch-control" content="off">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>tdm-guard compliance report</title>
<style>{STYLE}</style></head><body>
<header><h1>TDM / AI opt-out compliance report</h1>
<p>Decisions from {when} · {_n(s['totals']['decisions'], 'totals.decisions')} decisions ·
made by {_e(gen['tool'])} {_e(gen['version'])} on {_e(gen['generated_at'])}</p></header>
"""


def _glance(totals: dict, shares: dict, outcomes: list[str]) -> str:
    cards = "".join(
        f'<div class="card {_e(a)}"><div class="n">{_n(totals[a], f"totals.{a}")}</div>'
        f'<div class="s">{_e(a)} · {_pct(shares[a], f"shares.{a}")}</div></div>'
        for a in outcomes)
    chart = charts.totals({a: totals[a] for a in outcomes}) if outcomes else ""
    return (f'<section id="glance"><h2>At a glance</h2><div class="cards">{cards}</div>'
            f'<div class="chart">{chart}</div><p class="muted">allowed: may be used for the '
            "purpose; blocked: never fetched, or dropped; reserved: reported reserved; "
            "tagged: delivered marked as reserved (Scrapy tag mode); error: not decided."
            "</p></section>")


def _integrity(s: dict[str, Any]) -> str:
    rows = []
    for i, f in enumerate(s["inputs"]):
        chain = f["chain"]
        if chain["intact"]:
            state = '<span class="ok">intact</span>'
        elif chain["breaks"]:
            state = f'<span class="bad">broken at line {_e(chain["first_break"])}</span>'
        else:
            state = f'<span class="bad">{_e(chain["unchained"])} lines not chained</span>'
        rows.append(f"<tr><td><code>{_e(f['file'])}</code></td>"
                    f'<td class="num">{_n(f["lines"], f"inputs.{i}.lines")}</td>'
                    f'<td class="num">{_n(f["unreadable"], f"inputs.{i}.unreadable")}</td>'
                    f"<td>{state}</td><td class=\"hash\">{_e(chain['head'])}</td></tr>")
    problems = "".join(f"<li>{_e(p)}</li>" for p in s.get("snapshot_problems", []))
    return ('<section id="integrity"><h2>Audit logs read</h2><table><thead><tr><th>log</th>'
            '<th class="num">lines</th><th class="num">unreadable</th><th>hash chain</th>'
            "<th>chain head</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
            '<p class="muted">A chain that is intact says no line was edited, deleted or '
            "inserted; <code>tdm-guard verify</code> also re-derives every decision from "
            "its snapshots.</p>" + (f"<ul>{problems}</ul>" if problems else "") + "</section>")


def _identity(s: dict[str, Any]) -> str:
    rows = []
    for run in s["crawler"]["runs"]:
        files = "<br>".join(
            f"{_e(d['id'])} <span class=\"hash muted\">sha256 {_e(d['sha256'][:16])}…</span>"
            for d in run["declarations"])
        rows.append(f"<tr><td>{_e(run['tool'])}</td><td>{_e(run['version'])}</td>"
                    f"<td><code>{_e(run['agent'])}</code></td><td>{_e(run['purpose'])}</td>"
                    f"<td>{_e(run['profile'])}{' (fail-closed)' if run['fail_closed'] else ''}"
                    f"{' · ' + _e(run['mode']) + ' mode' if run['mode'] else ''}</td>"
                    f"<td>{_e(run['started_at'])}</td><td>{files}</td></tr>")
    if not rows:
        rows.append('<tr><td colspan="7" class="muted">No run header in these logs (written '
                    "by an older tdm-guard): agents seen: "
                    + _e(", ".join(s["crawler"]["agents"])) + "</td></tr>")
    return ('<section id="identity"><h2>Crawler identity</h2><table><thead><tr><th>tool</th>'
            "<th>tdm-guard</th><th>agent (robots.txt token)</th><th>purpose</th>"
            "<th>profile</th><th>started</th><th>declaration files (versions)</th></tr></thead>"
            "<tbody>" + "".join(rows) + "</tbody></table></section>")


def _signals_purposes(s: dict[str, Any]) -> str:
    by_signal = s["by_signal"]
    rows = "".join(f"<tr><td>{_e(k)}</td><td class=\"num\">{_n(v, f'by_signal.{k}')}</td></tr>"
                   for k, v in by_signal.items())
    chart = charts.horizontal_bars(list(by_signal), list(by_signal.values()),
                                   "Decisions reserved, by signal") if by_signal else \
        '<p class="muted">No reservation was met.</p>'
    outcomes = sorted({a for c in s["by_purpose"].values() for a in c})
    head = "".join(f'<th class="num">{_e(a)}</th>' for a in outcomes)
    body = "".join(
        f"<tr><td>{_e(p)}</td>" + "".join(
            f'<td class="num">{_n(c.get(a, 0), f"by_purpose.{p}.{a}")}</td>'
            if a in c else '<td class="num">0</td>' for a in outcomes) + "</tr>"
        for p, c in s["by_purpose"].items())
    return (f'<section id="signals"><h2>Decisions by signal and by purpose</h2>'
            f'<div class="two"><div class="chart">{chart}</div><div>'
            f"<table><thead><tr><th>signal</th><th class=\"num\">decisions it reserved</th>"
            f"</tr></thead><tbody>{rows}</tbody></table><h3>By purpose</h3><table><thead><tr>"
            f"<th>purpose</th>{head}</tr></thead><tbody>{body}</tbody></table></div></div>"
            "</section>")


def _timeline(s: dict[str, Any], outcomes: list[str]) -> str:
    over = s["over_time"]
    buckets = over["buckets"]
    if not buckets:
        return ""
    step, buckets = _bars(over["step_seconds"], buckets)
    unit = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}.get(step, "week")
    fmt = 19 if step < 60 else 16 if step < 86400 else 10
    starts = [b["start"][:fmt].replace("T", " ") for b in buckets]
    series = {a: [b["counts"].get(a, 0) for b in buckets] for a in outcomes}
    chart = charts.timeline(starts, series, f"Decisions per {unit}")
    return (f'<section id="time"><h2>Decisions over time</h2><div class="chart">{chart}</div>'
            f'<p class="muted">{len(buckets)} buckets of one {unit} each (UTC).</p></section>')


def _bars(step: int, buckets: list[dict]) -> tuple[int, list[dict]]:
    """At most MAX_BARS bars: buckets merged to a coarser step (minute, hour, day, week)."""
    from datetime import datetime

    from .summary import STEPS

    while len(buckets) > MAX_BARS and step != STEPS[-1]:
        step = next(s for s in STEPS if s > step)
        merged: dict[int, dict] = {}
        for b in buckets:
            key = int(datetime.fromisoformat(b["start"]).timestamp()) // step
            into = merged.setdefault(key, {"start": datetime.fromtimestamp(
                key * step, UTC).isoformat(), "counts": {}})
            for action, n in b["counts"].items():
                into["counts"][action] = into["counts"].get(action, 0) + n
        buckets = [merged[k] for k in sorted(merged)]
    return step, buckets


def _domains(s: dict[str, Any]) -> str:
    top = s["domains"]["top"]
    rows = []
    for i, d in enumerate(top):
        signals = ", ".join(f"{_e(k)} ({v:,})" for k, v in d["signals"].items()) or \
            '<span class="muted">nothing</span>'
        contacts = "<br>".join(_contact(c) for c in d["contacts"]) or \
            '<span class="muted">—</span>'
        rows.append(f"<tr><td>{_e(d['domain'])}</td>"
                    f'<td class="num">{_n(d["decisions"], f"domains.top.{i}.decisions")}</td>'
                    f'<td class="num">{_n(d["allowed"], f"domains.top.{i}.allowed")}</td>'
                    f'<td class="num">{_n(d["not_allowed"], f"domains.top.{i}.not_allowed")}'
                    f"</td><td>{signals}</td><td>{contacts}</td></tr>")
    chart = ""
    if top:
        chart = charts.stacked_bars(
            [d["domain"] for d in top],
            {"allowed": [d["allowed"] for d in top],
             "not allowed": [d["not_allowed"] for d in top]},
            f"Top {len(top)} domains by decisions")
    return (f'<section id="domains"><h2>Top domains by volume</h2><p class="muted">'
            f'{_n(s["domains"]["count"], "domains.count")} registered domains in all.</p>'
            f'<div class="chart">{chart}</div>'
            '<input data-filter="domain-table" placeholder="filter domains" '
            'aria-label="filter domains"><table id="domain-table"><thead><tr><th>domain</th>'
            '<th class="num">decisions</th><th class="num">allowed</th><th class="num">'
            "not allowed</th><th>what it reserved (decisions)</th><th>whom to ask</th></tr>"
            "</thead><tbody>" + "".join(rows) + "</tbody></table></section>")


def _declarations(s: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td><code>{_e(d['id'])}</code></td><td>{_e(d['label'])}</td>"
        f'<td class="num">{_n(d["decisions"], f"declarations_matched.{i}.decisions")}</td>'
        f"<td>{'<br>'.join(_contact(c) for c in d['contacts'])}</td></tr>"
        for i, d in enumerate(s["declarations_matched"]))
    if not rows:
        rows = '<tr><td colspan="4" class="muted">No published declaration matched.</td></tr>'
    return ('<section id="declarations"><h2>Declarations matched</h2><table><thead><tr>'
            '<th>declaration</th><th>statement</th><th class="num">decisions reserved</th>'
            "<th>contacts</th></tr></thead><tbody>" + rows + "</tbody></table></section>")


def _policy_files(s: dict[str, Any]) -> str:
    files = s["policy_files"]
    rows = []
    for f in files[:MAX_ROWS]:
        status = _e(f.get("status")) if f.get("status") is not None else \
            _e(f.get("error") or "—")
        rows.append(f"<tr><td>{_e(f['origin'])}</td><td>{_e(f['role'])}</td><td>{status}</td>"
                    f"<td>{_e(f['fetched_at'] or '—')}</td>"
                    f"<td>{_link(f.get('snapshot'), f['sha256'])}</td></tr>")
    more = f'<p class="muted">{len(files) - MAX_ROWS:,} more in summary.json.</p>' \
        if len(files) > MAX_ROWS else ""
    return (f'<section id="files"><h2>Policy files per origin</h2><p class="muted">'
            f'{_n(len(files), "policy_files.length")} files. The sha256 names each body as '
            "read; with --snapshots it links to the snapshot itself.</p>"
            '<input data-filter="file-table" placeholder="filter origins" '
            'aria-label="filter origins"><table id="file-table"><thead><tr><th>origin</th>'
            "<th>file</th><th>status</th><th>fetched at</th><th>sha256 (snapshot)</th></tr>"
            "</thead><tbody>" + "".join(rows) + f"</tbody></table>{more}</section>")


def _template(s: dict[str, Any]) -> str:
    t = s["ai_act_summary"]
    sec = t["section_2_3"]
    top = sec["top_domains"]
    key = "ai_act_summary.section_2_3.top_domains."
    share = t["template"]["top_share_used"]
    types = ", ".join(f"{k} ({v:,})" for k, v in sec["content_types"].items()) or "—"
    rows = [
        ("§2.3 crawlers used", "yes" if sec["crawlers_used"] else "no"),
        ("§2.3 crawler names", f"<code>{_e(', '.join(sec['crawler_names']))}</code>"),
        ("§2.3 purposes", _e(", ".join(sec["purposes"]))),
        ("§2.3 crawler behaviour", _e(sec["crawler_behaviour"])),
        ("§2.3 period of collection",
         f"{_e(sec['period']['first'])} to {_e(sec['period']['last'])}"),
        ("§2.3 content types", _e(types)),
        (f"§2.3 top domains ({share * 100:g}% of "
         f"{_n(top['domains_with_allowed_content'], key + 'domains_with_allowed_content')} "
         f"domains; {_e(top['basis'])})",
         f"{_n(top['listed'], key + 'listed')} listed: "
         + (", ".join(_e(d["domain"]) for d in top["domains"]) or "—")),
        ("§3.1 protocols followed", _e("; ".join(t["section_3_1"]["protocols_followed"]))),
        ("§3.1 declarations honoured",
         _e(", ".join(t["section_3_1"]["declarations_honoured"]) or "—")),
    ]
    items = "".join(f"<dt>{a}</dt><dd>{b}</dd>" for a, b in rows)
    not_answered = "".join(f"<li><b>{_e(n['field'])}</b>: {_e(n['why'])}</li>"
                           for n in t["not_answered"])
    tpl = t["template"]
    return ('<section id="template"><h2>AI Act training-content summary: what these logs '
            f'answer</h2><p class="muted">{_e(tpl["title"])}, {_e(tpl["publisher"])}, '
            f'{_e(tpl["published"])}. {_e(tpl["top_domains_rule"])}.</p><dl>{items}</dl>'
            f"<h3>What the logs cannot answer</h3><ul>{not_answered}</ul></section>")


def _protocols(s: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td>{_e(p['name'])}</td><td>{_e(p['version'])}</td>"
                   f"<td><code>{_e(', '.join(p['signals']))}</code></td></tr>"
                   for p in s["protocols"])
    return ('<section id="protocols"><h2>Protocols checked</h2><table><thead><tr>'
            "<th>protocol</th><th>version followed</th><th>signal ids</th></tr></thead><tbody>"
            + rows + "</tbody></table></section>")
