"""The hostile suite: broken and hostile servers against the CLI and a real Scrapy crawl.

Limits checked here (docs/limits.md): robots.txt parsed from its first 500 KiB, tdmrep.json
from its first 1 MiB, HTML heads from their first 512 KiB, policy files refused past 64 MiB
decoded, at most 5 redirects, timeouts fail closed, peak memory under 250 MB, and every case
answered within its timeout plus a small constant.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hostile import cases, hostile_site

from servers import serving

HERE = Path(__file__).parent
TIMEOUT = 1.0  # seconds per network operation for the suite
SLACK = 8.0  # seconds of grace on top of the longest single timeout chain
MAX_RSS_MB = 250


@pytest.fixture(scope="module")
def hostile():
    with serving(hostile_site()) as site:
        yield site


def proxy_env(site, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(http_proxy=site.base, no_proxy="", XDG_CACHE_HOME=str(tmp_path / "xdg"))
    return env


def evidence_text(result: dict) -> str:
    parts = [f"{r['evidence']} {r.get('note', '')}" for r in result["reasons"]]
    return " | ".join(parts + result["unchecked"])


def test_cli_survives_every_hostile_server(hostile, tmp_path):
    all_cases = cases()
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(HERE / "run_measured.py"), "check", "--json", "--no-cache",
         "--timeout", str(TIMEOUT), "--agent", "mybot", *[c.url for c in all_cases]],
        capture_output=True, text=True, timeout=120, env=proxy_env(hostile, tmp_path))
    elapsed = time.monotonic() - started
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["url"] for r in results] == [c.url for c in all_cases]
    wrong = []
    for case, result in zip(all_cases, results, strict=True):
        if result["allowed"] is not case.allowed or case.evidence not in evidence_text(result):
            wrong.append((case.host, result["allowed"], evidence_text(result)[:300]))
    assert wrong == []
    # the slowest chain: robots.txt timeout (TIMEOUT) per origin, all origins in parallel
    assert elapsed < 3 * TIMEOUT + SLACK
    rss_kb = int(re.search(r"MAXRSS_KB=(\d+)", proc.stderr).group(1))
    assert rss_kb / 1024 < MAX_RSS_MB


def test_scrapy_crawl_survives_every_hostile_server(hostile, tmp_path):
    from test_scrapy_e2e import crawl

    all_cases = cases()
    started = time.monotonic()
    items, stats, audit, log = crawl(
        tmp_path, [c.url for c in all_cases], env=proxy_env(hostile, tmp_path),
        TDM_GUARD_TIMEOUT=TIMEOUT, DOWNLOAD_TIMEOUT=TIMEOUT * 2, TDM_GUARD_AGENT="mybot")
    elapsed = time.monotonic() - started
    # Scrapy logs its own download errors with tracebacks; none may come from tdm-guard
    assert "tdm_guard" not in "".join(re.findall(r"Traceback.*?\n\S", log, re.DOTALL)), log
    blocked = {a["url"] for a in audit if a["action"] == "blocked"}
    delivered = {i["url"] for i in items}
    wrong = []
    for case in all_cases:
        allowed = case.allowed if case.scrapy_allowed is None else case.scrapy_allowed
        if (case.url not in blocked) is not allowed:
            record = next((a for a in audit if a["url"] == case.url), None)
            wrong.append((case.host, record and evidence_text(record)[:300]))
        if case.url in delivered:
            assert allowed
    assert wrong == []
    assert elapsed < 3 * TIMEOUT + SLACK + 5  # + the crawler's own start-up
    assert stats["max_rss_mb"] < MAX_RSS_MB
