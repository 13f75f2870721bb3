"""Faults fail safe and say so: a broken cache never changes an answer, the audit log holds
whole lines or stops the run naming the file, unwritable outputs and closed pipes are
reported with a non-zero exit, a fetch is bounded as a whole, Ctrl-C stops network work."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading

import pytest

from tdm_guard.signals.robots import MAX_ROBOTS_BYTES

from conftest import decision_records, json_lines
from servers import Resp, Site, serving

CLI = [sys.executable, "-m", "tdm_guard.cli"]


def env_for(tmp_path, proxy: Site | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    if proxy is not None:
        env["http_proxy"] = proxy.base
    return env


def many_origins_site(origins: int = 30) -> tuple[Site, list[str]]:
    """`origins` hosts (through the proxy), each with a robots.txt of some size."""
    site = Site()
    urls = []
    for i in range(origins):
        host = f"o{i}.test"
        site.add("/robots.txt", Resp(200, "User-agent: *\nDisallow: /private/\n"
                                     + "# padding\n" * 200), host=host)
        urls += [f"http://{host}/private/{i}", f"http://{host}/open/{i}"] * 5
    return site, urls


def run(args, tmp_path, proxy=None, fsize: int | None = None, **kw):
    def limits() -> None:  # a "full disk": files stop growing past `fsize` bytes
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run(CLI + args, capture_output=True, text=True, timeout=120,
                          env=env_for(tmp_path, proxy), preexec_fn=limits if fsize else None,
                          **kw)


def decisions(stdout: str) -> list[tuple[str, bool]]:
    return [(r["url"], r["allowed"]) for r in json_lines(stdout)]


# -- the cache ----------------------------------------------------------------------------
@pytest.mark.parametrize("content", [b"this is not a database\n" * 100,
                                     b"SQLite format 3\x00" + os.urandom(8192)],
                         ids=["text-file", "corrupted-sqlite"])
def test_a_broken_cache_file_changes_no_answer(tmp_path, content):
    site, urls = many_origins_site()
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(urls) + "\n")
    cache = tmp_path / "cache.sqlite3"
    cache.write_bytes(content)
    with serving(site):
        reference = run(["check", "--json", "--no-fetch", "--no-cache", "--input", str(seeds)],
                        tmp_path, site)
        broken = run(["check", "--json", "--no-fetch", "--cache", str(cache), "--input",
                      str(seeds)], tmp_path, site)
    assert len(decisions(reference.stdout)) == 300
    assert decisions(broken.stdout) == decisions(reference.stdout)
    assert broken.returncode == reference.returncode == 1
    assert "Traceback" not in broken.stderr
    warnings = [line for line in broken.stderr.splitlines() if "policy cache" in line]
    assert len(warnings) == 1 and str(cache) in warnings[0]  # said once, naming the file


def test_a_full_disk_under_the_cache_changes_no_answer(tmp_path):
    site, urls = many_origins_site()
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(urls) + "\n")
    with serving(site):
        reference = run(["check", "--json", "--no-fetch", "--no-cache", "--input", str(seeds)],
                        tmp_path, site)
        full = run(["check", "--json", "--no-fetch", "--cache", str(tmp_path / "c.sqlite3"),
                    "--input", str(seeds)], tmp_path, site, fsize=32 * 1024)
    assert len(decisions(full.stdout)) == 300
    assert decisions(full.stdout) == decisions(reference.stdout)
    assert "Traceback" not in full.stderr and "policy cache" in full.stderr


def test_scrapy_crawl_with_a_corrupted_cache_decides_as_without_one(tmp_path):
    from test_scrapy_e2e import crawl

    site = Site()
    site.add("/robots.txt", Resp(200, "User-agent: *\nDisallow: /private/\n"))
    for path in ("/open/1", "/open/2", "/private/1"):
        site.add(path, Resp(200, "<html></html>", [("Content-Type", "text/html")]))
    for name, content in (("text", b"not a database"), ("garbage", b"SQLite format 3\x00"
                                                                   + os.urandom(4096))):
        cache = tmp_path / f"{name}.sqlite3"
        cache.write_bytes(content)
        with serving(site):
            items, stats, audit, log = crawl(
                tmp_path / name, [site.base + p for p in ("/open/1", "/open/2", "/private/1")],
                TDM_GUARD_CACHE=str(cache))
        assert sorted(i["url"] for i in items) == [site.base + "/open/1", site.base + "/open/2"]
        assert stats.get("tdm_guard/blocked/robots") == 1, stats
        assert "policy cache" in log


# -- the audit log --------------------------------------------------------------------------
def test_a_full_disk_under_the_audit_log_stops_with_whole_lines(tmp_path):
    site, urls = many_origins_site(3)
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(urls) + "\n")
    log = tmp_path / "audit.jsonl"
    with serving(site):
        proc = run(["check", "--json", "--no-fetch", "--no-cache", "--audit-log", str(log),
                    "--input", str(seeds)], tmp_path, site, fsize=6000)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (error,) = [line for line in proc.stderr.splitlines() if "audit log" in line]
    assert str(log) in error and "cannot be written" in error
    records = decision_records(log.read_text())  # all whole JSON
    assert log.read_bytes().endswith(b"\n")
    answers = json_lines(proc.stdout)
    assert 0 < len(answers) < len(urls)
    assert [r["url"] for r in records] == [a["url"] for a in answers]  # no answer unlogged


def test_the_audit_log_records_blocked_urls_as_blocked(cli, tmp_path, site):
    site.add("/robots.txt", Resp(200, "User-agent: *\nDisallow: /private/\n"
                                      "\nUser-agent: GPTBot\nDisallow: /\n"))
    log = tmp_path / "audit.jsonl"
    code, _, _ = cli("check", "--no-fetch", "--no-cache", "--audit-log", str(log),
                     site.base + "/private/1", site.base + "/open", "not a url")
    actions = [r["action"] for r in decision_records(log.read_text())]
    assert actions == ["blocked", "reserved", "error"]


@pytest.mark.parametrize("args, words", [
    (["check", "--offline", "--audit-log", "{tmp}", "https://example.org/"],
     "audit log"),
    (["check", "--offline", "--audit-log", "/proc/no-such-dir/x.jsonl", "https://example.org/"],
     "audit log /proc/no-such-dir/x.jsonl"),
    (["audit", "{seeds}", "--offline", "--format", "junit", "--output", "/proc/x.xml"],
     "--output /proc/x.xml"),
    (["audit", "{seeds}", "--offline", "--output", "{tmp}"], "is a folder"),
    (["check", "--offline", "--input", "/nonexistent/seeds.txt"], "--input /nonexistent"),
])
def test_outputs_that_cannot_be_written_are_a_one_line_error(tmp_path, args, words):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("https://example.org/\n")
    args = [a.format(tmp=tmp_path, seeds=seeds) for a in args]
    proc = run(args, tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in proc.stderr


# -- stdout ---------------------------------------------------------------------------------
def test_a_closed_pipe_never_exits_as_all_allowed(tmp_path):
    urls = [f"https://example{i}.org/" for i in range(3000)]
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(urls) + "\n")
    proc = subprocess.Popen(CLI + ["check", "--offline", "--json", "--input", str(seeds)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env_for(tmp_path))
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()  # as `| head -1` does
    proc.stdout.close()
    code = proc.wait(timeout=60)
    err = proc.stderr.read().decode()
    assert json.loads(first)["allowed"] is True
    assert code == 2 and "output closed" in err and "Traceback" not in err


# -- time ---------------------------------------------------------------------------------
def test_a_dripping_robots_txt_is_bounded_as_a_whole_fetch(tmp_path):
    """One byte every 0.2 s, forever: only a deadline on the whole fetch ends it (without
    one this run would never finish and the subprocess timeout would fail the test)."""
    site = Site()
    site.add("/robots.txt", Resp(200, "User-agent: *\nAllow: /\n", drip=0.2))
    with serving(site):
        proc = run(["check", "--json", "--no-fetch", "--no-cache", "--timeout", "1",
                    site.base + "/a"], tmp_path)
    (result,) = json_lines(proc.stdout)
    assert proc.returncode == 1 and result["allowed"] is False
    assert "unreachable (timeout: no complete answer within 3 s)" in \
        result["reasons"][0]["evidence"]


def test_ctrl_c_stops_network_work_at_once(tmp_path):
    site = Site()
    received_after: list[str] = []
    interrupted = threading.Event()
    started = threading.Event()
    count = [0]

    def page(path: str) -> Resp:
        count[0] += 1
        if count[0] >= 8:
            started.set()
        if interrupted.is_set():
            received_after.append(path)
        return Resp(200, "<html></html>", [("Content-Type", "text/html")], delay=0.3)

    for i in range(2000):
        site.add(f"/p{i}", page)
    urls = [f"/p{i}" for i in range(2000)]
    with serving(site):
        seeds = tmp_path / "seeds.txt"
        seeds.write_text("\n".join(site.base + u for u in urls) + "\n")
        proc = subprocess.Popen(CLI + ["check", "--json", "--no-cache", "--input", str(seeds)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=env_for(tmp_path))
        assert started.wait(60), "the check never started fetching pages"
        interrupted.set()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
        err = proc.stderr.read().decode() if proc.stderr else ""
    assert code == 130 and "interrupted" in err and "Traceback" not in err
    # at most the fetches already on the wire (4 per host) may still arrive
    assert len(received_after) <= 4, received_after


# -- what "allowed" may not hide ---------------------------------------------------------------
def test_an_unreachable_tdmrep_json_is_listed_as_unchecked(cli, site):
    site.add("/.well-known/tdmrep.json", Resp(503, "down"))
    code, out, _ = cli("check", "--json", "--no-fetch", "--no-cache", site.base + "/a")
    (result,) = json_lines(out)
    assert code == 0 and result["allowed"] is True
    assert any(u.startswith("tdmrep.json: unreachable (HTTP 503)") for u in result["unchecked"])


def test_a_robots_txt_blocked_only_by_a_503_asks_for_no_licence(cli, site):
    site.add("/robots.txt", Resp(503, "down"))
    code, out, _ = cli("check", "--no-fetch", "--no-cache", site.base + "/a")
    assert code == 1 and out.startswith("BLOCKED")
    assert "Ask for a licence" not in out and "try again later" in out


def robots_cut_at_the_limit() -> bytes:
    """A robots.txt whose 500 KiB limit falls inside `Disallow: /secret-area/`, right after
    `Disallow: /`: reading the cut line would disallow everything."""
    head = b"User-agent: *\nDisallow: /private/\n"
    cut = b"Disallow: /"
    filler = b"#" * (MAX_ROBOTS_BYTES - len(head) - len(cut) - 1) + b"\n"
    body = head + filler + cut + b"secret-area/\nDisallow: /late/\n"
    assert body[:MAX_ROBOTS_BYTES].endswith(b"\nDisallow: /")
    return body


@pytest.mark.parametrize("via", ["cli", "scrapy"])
def test_a_rule_cut_at_the_500_kib_limit_is_dropped(tmp_path, via):
    site = Site()
    site.add("/robots.txt", Resp(200, robots_cut_at_the_limit()))
    for path in ("/open", "/private/1"):
        site.add(path, Resp(200, "<html></html>", [("Content-Type", "text/html")]))
    with serving(site):
        urls = [site.base + "/open", site.base + "/private/1"]
        if via == "cli":
            proc = run(["check", "--json", "--no-fetch", "--no-cache", *urls], tmp_path)
            allowed = [r["allowed"] for r in json_lines(proc.stdout)]
        else:
            from test_scrapy_e2e import crawl

            items, _, _, _ = crawl(tmp_path, urls)
            allowed = [url in {i["url"] for i in items} for url in urls]
    assert allowed == [True, False]  # /open is not read as under "Disallow: /"
