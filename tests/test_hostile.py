"""The hostile suite: broken and hostile servers against the CLI and a real Scrapy crawl.

Limits checked here (docs/limits.md): robots.txt parsed from its first 500 KiB, tdmrep.json
from its first 1 MiB, HTML heads from their first 512 KiB, policy files refused past 64 MiB
decoded, at most 5 redirects, timeouts fail closed, peak memory under 250 MB. No assertion is
on time: slow servers hang or drip far past any timeout, so the answer never depends on the
machine's load, and a run that did not bound a fetch would not finish at all (the
subprocess's own timeout fails the test).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hostile import cases, hostile_site

from servers import serving

HERE = Path(__file__).parent
TIMEOUT = 3.0  # seconds per network operation: ample for every well-behaved answer
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
    proc = subprocess.run(
        [sys.executable, str(HERE / "run_measured.py"), "check", "--json", "--no-cache",
         "--timeout", str(TIMEOUT), "--agent", "mybot", *[c.url for c in all_cases]],
        capture_output=True, text=True, timeout=120, env=proxy_env(hostile, tmp_path))
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["url"] for r in results] == [c.url for c in all_cases]
    wrong = []
    for case, result in zip(all_cases, results, strict=True):
        if result["allowed"] is not case.allowed or case.evidence not in evidence_text(result):
            wrong.append((case.host, result["allowed"], evidence_text(result)[:300]))
    assert wrong == []
    rss_kb = int(re.search(r"VMHWM_KB=(\d+)", proc.stderr).group(1))  # its own peak
    assert rss_kb / 1024 < MAX_RSS_MB


def test_scrapy_crawl_survives_every_hostile_server(hostile, tmp_path):
    from test_scrapy_e2e import crawl

    all_cases = cases()
    items, stats, audit, log = crawl(
        tmp_path, [c.url for c in all_cases], env=proxy_env(hostile, tmp_path),
        TDM_GUARD_TIMEOUT=TIMEOUT, DOWNLOAD_TIMEOUT=TIMEOUT * 2, TDM_GUARD_AGENT="mybot")
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
    assert stats["max_rss_mb"] < MAX_RSS_MB
