"""A process killed with SIGKILL mid-run leaves a cache that opens clean and an audit log of
whole lines holding every decision made before the kill."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tdm_guard.stores.sqlite import SQLiteStore

from servers import Resp

HERE = Path(__file__).parent


def wait_for_lines(path: Path, count: int, proc: subprocess.Popen, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        if proc.poll() is not None:
            pytest.fail(f"finished before it could be killed: {proc.stderr.read()[-2000:]}")
        time.sleep(0.02)
    pytest.fail("no audit lines appeared")


def assert_survived(audit: Path, cache: Path, minimum: int) -> list[dict]:
    raw = audit.read_bytes()
    assert raw.endswith(b"\n"), "the last line was cut"
    records = [json.loads(line) for line in raw.splitlines()]  # every line whole JSON
    records = [r for r in records if r.get("record") != "run"]
    assert len(records) >= minimum
    with sqlite3.connect(cache) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    reopened = SQLiteStore(cache)
    assert reopened.fault is None
    reopened.close()
    return records


def proxy_env(site, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(http_proxy=site.base, no_proxy="", XDG_CACHE_HOME=str(tmp_path / "xdg"))
    return env


def test_cli_killed_mid_run(site, tmp_path):
    site.add("/robots.txt", Resp(200, "User-agent: *\nDisallow: /private/\n", delay=0.2))
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("".join(f"http://host{i}.test/private/{i}\n" for i in range(300)))
    audit, cache = tmp_path / "audit.jsonl", tmp_path / "cache.sqlite3"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tdm_guard.cli", "check", "--no-fetch", "--json", "--input",
         str(seeds), "--audit-log", str(audit), "--cache", str(cache), "--workers", "8"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=proxy_env(site, tmp_path))
    wait_for_lines(audit, 21, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    records = assert_survived(audit, cache, 20)
    assert all(r["allowed"] is False and r["reasons"][0]["evidence"] ==
               "line 2: Disallow: /private/" for r in records)
    # the cache kept what was fetched before the kill, readable by the next run
    reopened = SQLiteStore(cache)
    assert reopened.peek("http://host0.test/robots.txt") is not None
    reopened.close()


def test_scrapy_crawl_killed_mid_run(site, tmp_path):
    pytest.importorskip("scrapy")
    site.add("/robots.txt", Resp(200, "User-agent: *\nDisallow: /private/\n"))
    for i in range(200):
        site.add(f"/p{i}", Resp(200, "<html><head></head><body>x</body></html>",
                                [("Content-Type", "text/html")], delay=0.1))
    audit, cache = tmp_path / "audit.jsonl", tmp_path / "cache.sqlite3"
    config = {
        "start_urls": [f"{site.base}/p{i}" for i in range(200)],
        "output": str(tmp_path / "out.json"),
        "settings": {"ADDONS": {"scrapy_tdm_guard.TdmGuardAddon": 0},
                     "TDM_GUARD_AUDIT_LOG": str(audit), "TDM_GUARD_CACHE": str(cache),
                     "CONCURRENT_REQUESTS": 4, "LOG_LEVEL": "WARNING",
                     "TELNETCONSOLE_ENABLED": False},
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    proc = subprocess.Popen([sys.executable, str(HERE / "crawl_script.py"),
                             str(tmp_path / "config.json")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for_lines(audit, 11, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    records = assert_survived(audit, cache, 10)
    assert {r["action"] for r in records} == {"allowed"}
    reopened = SQLiteStore(cache)
    assert reopened.peek(f"{site.base}/robots.txt") is not None
    reopened.close()
