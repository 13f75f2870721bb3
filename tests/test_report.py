"""`tdm-guard report` on the audit logs of `check` and of a real Scrapy crawl (with
snapshots on), the page rendered in a real headless Chromium: no network request, the
figures in the DOM are summary.json's, the screenshot is not blank; and `verify` on the
crawl's log."""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime
from functools import partial
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import decision_records
from evidence_site import evidence_site, urls
from servers import Site, serving

CLI = [sys.executable, "-m", "tdm_guard.cli"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NO_CHROMIUM = "headless Chromium not found (apt-get install chromium); .ci/run installs it"
# The flags this machine needs (/work/.library/env: a closed network, running as root).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def env(tmp: Path) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    out["XDG_CACHE_HOME"] = str(tmp / "xdg")
    return out


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """Audit logs of `check` and of a Scrapy crawl over the same site, one snapshot folder."""
    pytest.importorskip("scrapy")
    from test_scrapy_e2e import crawl

    tmp = tmp_path_factory.mktemp("logs")
    snaps = tmp / "snaps"
    with serving(evidence_site(Site())) as site:
        proc = subprocess.run(CLI + ["check", "--json", "--no-cache", "--audit-log",
                                     str(tmp / "check.jsonl"), "--snapshots", str(snaps),
                                     *urls(site), "not a url"],
                              capture_output=True, text=True, env=env(tmp), timeout=120)
        assert proc.returncode == 2, proc.stderr
        _, stats, audit, log = crawl(tmp / "crawl", urls(site), TDM_GUARD_SNAPSHOTS=str(snaps))
    assert "Traceback" not in log
    return tmp / "check.jsonl", tmp / "crawl" / "audit.jsonl", snaps


@pytest.fixture(scope="module")
def report(logs, tmp_path_factory):
    check_log, crawl_log, snaps = logs
    out = tmp_path_factory.mktemp("report")
    proc = subprocess.run(CLI + ["report", str(check_log), str(crawl_log), "--snapshots",
                                 str(snaps), "--output", str(out), "--format", "md"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return out, json.loads((out / "summary.json").read_text())


# -- the crawl's evidence ---------------------------------------------------------------
def test_verify_re_derives_every_decision_of_a_scrapy_crawl(logs):
    _, crawl_log, snaps = logs
    records = decision_records(crawl_log.read_text())
    stages = Counter(r["stage"] for r in records)
    assert stages["request"] and stages["response"]
    xrt = next(r for r in records if r["url"].endswith("/xrt"))
    (reason,) = [r for r in xrt["reasons"] if r["signal"] == "noai-header"]
    assert reason["sha256"] and reason["fetched_at"] and xrt["evidence"]["page"]
    proc = subprocess.run(CLI + ["verify", str(crawl_log), "--snapshots", str(snaps)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout
    assert f"{len(records)} decisions; {len(records)} re-derived the same; no findings" \
        in proc.stdout


def test_a_scrapy_crawl_with_snapshots_and_no_audit_log_does_not_start(tmp_path):
    from test_scrapy_e2e import run_crawl

    proc = run_crawl(tmp_path, ["http://127.0.0.1:9/"], TDM_GUARD_AUDIT_LOG=None,
                     TDM_GUARD_SNAPSHOTS=str(tmp_path / "s"))
    assert proc.returncode != 0
    assert "TDM_GUARD_SNAPSHOTS needs TDM_GUARD_AUDIT_LOG" in proc.stderr


def test_a_scrapy_crawl_whose_snapshot_folder_cannot_be_made_does_not_start(tmp_path):
    from test_scrapy_e2e import run_crawl

    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = run_crawl(tmp_path, ["http://127.0.0.1:9/"],
                     TDM_GUARD_SNAPSHOTS=str(blocker / "snaps"))
    assert proc.returncode != 0
    assert f"snapshots {blocker / 'snaps'}: cannot be created: Not a directory" in proc.stderr
    assert not (tmp_path / "out.json").exists()


def test_a_full_disk_under_a_crawls_snapshots_closes_the_spider(tmp_path):
    from test_scrapy_e2e import run_crawl

    from evidence_site import html

    site = evidence_site(Site())
    site.add("/big-head", html("<meta name='x' content='y'>" * 2000))  # 50 KB of evidence
    snaps = tmp_path / "snaps"
    with serving(site):
        start = [site.base + p for p in ("/open/1", "/open/2", "/big-head", "/hdr", "/xrt")]
        proc = run_crawl(tmp_path, start, fsize=30000, TDM_GUARD_SNAPSHOTS=str(snaps),
                         CONCURRENT_REQUESTS=1)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"snapshots {snaps}: cannot be written" in proc.stderr
    result = json.loads((tmp_path / "out.json").read_text())
    assert result["stats"]["finish_reason"] == "tdm_guard_audit_log_failed"
    delivered = {i["url"].removeprefix(site.base) for i in result["items"]}
    assert "/big-head" not in delivered  # no content without its evidence
    records = decision_records((tmp_path / "audit.jsonl").read_text())
    assert {r["url"].removeprefix(site.base) for r in records} >= delivered
    proc = subprocess.run(CLI + ["verify", str(tmp_path / "audit.jsonl"), "--snapshots",
                                 str(snaps)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout  # every record it holds re-derives


# -- the figures --------------------------------------------------------------------------
def test_summary_counts_every_decision_of_both_logs(logs, report):
    check_log, crawl_log, _ = logs
    out, summary = report
    records = decision_records(check_log.read_text()) + decision_records(crawl_log.read_text())
    actions = Counter(r["action"] for r in records)
    assert summary["totals"] == {"decisions": len(records), **{
        a: actions[a] for a in ("allowed", "blocked", "reserved", "tagged", "error")
        if a in actions}}
    assert abs(sum(summary["shares"].values()) - 1) < 1e-9
    reserving = Counter(s for r in records for s in {x["signal"] for x in r["reasons"]
                                                     if x["reserved"]})
    assert summary["by_signal"] == dict(reserving)
    assert summary["crawler"]["agents"] == {"tdm-guard": 13, "Scrapy": 12}
    assert {r["tool"] for r in summary["crawler"]["runs"]} == {"tdm-guard check",
                                                               "scrapy-tdm-guard"}
    assert all(i["chain"]["intact"] for i in summary["inputs"])
    # policy files: status and the snapshot links, relative to the report
    robots = [f for f in summary["policy_files"] if f["role"] == "robots.txt"]
    assert robots and all(f["status"] == 200 for f in robots)
    assert (out / robots[0]["snapshot"]).is_file()
    assert (out / "summary.md").read_text().startswith("## Opt-outs and usage preferences")


def test_the_template_lists_the_top_share_of_domains(tmp_path):
    log = tmp_path / "a.jsonl"
    lines = []
    for d in range(20):  # domain d has d + 1 allowed documents
        for i in range(d + 1):
            lines.append({"url": f"https://www.site{d}.co.uk/{i}", "allowed": True,
                          "action": "allowed", "purpose": "train", "agent": "bot",
                          "reasons": [], "checked_at": "2026-05-01T10:00:00+00:00"})
    log.write_text("".join(json.dumps(x) + "\n" for x in lines))
    for args, listed in (([], 2), (["--top-share", "0.25"], 5),
                         (["--top-share", "0.05", "--top-max", "0"], 0)):
        proc = subprocess.run(CLI + ["report", str(log), "--output", str(tmp_path / "r"),
                                     *args], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        summary = json.loads((tmp_path / "r" / "summary.json").read_text())
        top = summary["ai_act_summary"]["section_2_3"]["top_domains"]
        assert top["domains_with_allowed_content"] == 20 and top["listed"] == listed
        assert [d["domain"] for d in top["domains"]] == \
            [f"site{d}.co.uk" for d in range(19, 19 - listed, -1)]
    assert not summary["inputs"][0]["chain"]["intact"]  # not written by tdm-guard
    proc = subprocess.run(CLI + ["report", str(log), "--output", str(tmp_path / "r"),
                                 "--top-share", "2"], capture_output=True, text=True)
    assert proc.returncode == 2 and "between 0 and 1" in proc.stderr


# -- the page in a real browser -----------------------------------------------------------
class _Figures(HTMLParser):
    """Every element with data-key: its key and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._open: list[list] = []

    def handle_starttag(self, tag, attrs):
        key = dict(attrs).get("data-key")
        if key is not None:
            self._open.append([key, ""])

    def handle_data(self, data):
        for item in self._open:
            item[1] += data

    def handle_endtag(self, tag):
        if tag == "span" and self._open:
            self.found.append(tuple(self._open.pop()))


def _value(summary: dict, key: str):
    node = summary
    for part in key.split("."):
        if part == "length":
            return len(node)
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _serve(folder: Path, inject: str = ""):
    """Serve `folder` with a Content-Security-Policy forbidding every request and reporting
    each violation to /csp; return (server, log of request lines, violation reports)."""
    hits: list[str] = []
    reports: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def end_headers(self):
            self.send_header("Content-Security-Policy",
                             "default-src 'none'; style-src 'unsafe-inline'; "
                             "script-src 'unsafe-inline'; img-src data:; report-uri /csp")
            super().end_headers()

        def do_GET(self):
            hits.append(self.path)
            if inject and self.path.endswith(".html"):
                page = (folder / self.path.lstrip("/")).read_text()
                body = page.replace("<head>", "<head>" + inject, 1).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            super().do_GET()

        def do_POST(self):
            size = int(self.headers.get("Content-Length", 0))
            reports.append(self.rfile.read(size).decode("utf-8", "replace"))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             partial(Handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, hits, reports


# records every CSP violation in the DOM, so --dump-dom shows it (runs before the page's
# own policy, which allows only its own script)
WATCH = ("<script>document.addEventListener('securitypolicyviolation', function (e) {"
         "document.documentElement.setAttribute('data-violations', (document.documentElement"
         ".getAttribute('data-violations') || '') + ' ' + e.blockedURI); });</script>")


def _chromium(tmp: Path, url: str, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}",
                           "--virtual-time-budget=3000", *extra, url],
                          capture_output=True, text=True, timeout=120)


def _page_requests(netlog: Path, origin: str) -> list[str]:
    """URLs the page itself asked for (netlog requests initiated by its origin)."""
    data = json.loads(netlog.read_text())
    names = {v: k for k, v in data["constants"]["logEventTypes"].items()}
    return [e["params"]["url"] for e in data["events"]
            if names.get(e["type"]) == "URL_REQUEST_START_JOB"
            and e.get("params", {}).get("initiator") == origin]


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_the_page_makes_no_request_and_shows_the_figures_of_summary_json(report, tmp_path):
    out, summary = report
    server, hits, reports = _serve(out, inject=WATCH)
    try:
        origin = f"http://127.0.0.1:{server.server_address[1]}"
        proc = _chromium(tmp_path, f"{origin}/report.html",
                         f"--log-net-log={tmp_path / 'net.json'}", "--dump-dom")
        # the control: the same page with one image from elsewhere is caught by this check
        (out / "control.html").write_text((out / "report.html").read_text().replace(
            "<main>", '<main><img src="https://cdn.example/x.png" alt="">', 1))
        control = _chromium(tmp_path, f"{origin}/control.html", "--dump-dom")
    finally:
        server.shutdown()
        (out / "control.html").unlink()
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert 'data-violations="' not in dom, re.findall(r'data-violations="[^"]*"', dom)
    assert "cdn.example/x.png" in control.stdout.split("data-violations=")[1][:200]
    assert hits[0] == "/report.html" and "/report.html" not in hits[1:-1]
    assert not [h for h in hits if h not in ("/report.html", "/control.html")]  # no favicon
    assert [r for r in reports if "report.html" in r] == []
    assert _page_requests(tmp_path / "net.json", origin) == []
    # the figures in the DOM are summary.json's
    parser = _Figures()
    parser.feed(dom)
    figures = dict(parser.found)
    assert len(figures) > 30
    for key, text in figures.items():
        expected = _value(summary, key)
        if text.endswith("%"):
            assert text == f"{expected * 100:.1f}%", key
        else:
            assert int(text.replace(",", "")) == expected, key
    assert {"totals.decisions", "totals.allowed", "totals.blocked", "shares.blocked",
            "by_signal.robots", "domains.top.0.decisions"} <= set(figures)
    assert dom.count("<svg") >= 4  # the charts, inline


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_the_screenshot_of_the_page_opened_from_disk_is_not_blank(report, tmp_path):
    from PIL import Image

    out, _ = report
    shot = tmp_path / "shot.png"
    proc = _chromium(tmp_path, (out / "report.html").as_uri(), "--window-size=1280,1800",
                     f"--screenshot={shot}")
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 1800)
    colours = Counter({c: n for n, c in image.getcolors(maxcolors=1 << 24)})
    background, share = colours.most_common(1)[0][0], colours.most_common(1)[0][1]
    assert share / (1280 * 1800) < 0.9, "the page is (nearly) one colour"
    # the outcome colours of the charts are drawn
    assert any(sum(abs(a - b) for a, b in zip(c, (0x2E, 0x7D, 0x32), strict=True)) < 30
               for c in colours), "no 'allowed' green in the picture"
    assert background != (0, 0, 0)


def test_time_buckets_stay_few_whatever_the_period(tmp_path):
    log = tmp_path / "a.jsonl"
    start = 1_780_000_000
    with open(log, "w") as out:
        for i in range(3000):  # one decision a second for 3,000 seconds
            out.write(json.dumps({"url": f"https://a.example/{i}", "allowed": True,
                                  "action": "allowed", "purpose": "train", "agent": "bot",
                                  "reasons": [], "checked_at": datetime.fromtimestamp(
                                      start + i, UTC).isoformat()}) + "\n")
        out.write(json.dumps({"url": "https://a.example/late", "allowed": True,
                              "action": "allowed", "purpose": "train", "agent": "bot",
                              "reasons": [], "checked_at": datetime.fromtimestamp(
                                  start + 30 * 86400, UTC).isoformat()}) + "\n")
    proc = subprocess.run(CLI + ["report", str(log), "--output", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    over = summary["over_time"]
    assert over["step_seconds"] == 60 and len(over["buckets"]) == 52  # seconds, then minutes
    assert sum(b["counts"]["allowed"] for b in over["buckets"]) == 3001
    page = (tmp_path / "r" / "report.html").read_text()
    assert "52 buckets of one minute each" in page
