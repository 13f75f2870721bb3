"""`tdm-guard check` on a shared policy store: --cache / TDM_GUARD_CACHE name SQLite or Redis,
two concurrent runs on one store fetch each origin once, a store that is down or paused
changes no answer, and a value that names no store is a one-line usage error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import json_lines
from servers import Site, held, serving

CLI = [sys.executable, "-m", "tdm_guard.cli"]
ORIGINS = 8
ROBOTS = "User-agent: *\nDisallow: /private/\n"
TDMREP = json.dumps([{"location": "/tdm/", "tdm-reservation": 1}])


def env_for(tmp_path, site: Site, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if "proxy" not in k.lower() and k != "TDM_GUARD_CACHE"}
    env.update(XDG_CACHE_HOME=str(tmp_path / "xdg"), http_proxy=site.base, **extra)
    return env


def cluster_site(gate: threading.Event | None = None) -> tuple[Site, list[str]]:
    """ORIGINS hosts (through the proxy), each with robots.txt, tdmrep.json and pages; with
    `gate`, policy files are answered only once it is set."""
    site = Site()
    seeds = []

    for i in range(ORIGINS):
        host = f"o{i}.test"
        site.add("/robots.txt", held(ROBOTS, gate), host=host)
        site.add("/.well-known/tdmrep.json", held(TDMREP, gate), host=host)
        seeds += [f"http://{host}/private/{i}", f"http://{host}/tdm/{i}", f"http://{host}/ok"]
    return site, seeds


def fetched_once_per_origin(site: Site) -> bool:
    return all(site.count("/robots.txt", f"o{i}.test") == 1
               and site.count("/.well-known/tdmrep.json", f"o{i}.test") == 1
               for i in range(ORIGINS))


def decisions(stdout: str) -> list[tuple[str, bool]]:
    return [(r["url"], r["allowed"]) for r in json_lines(stdout)]


def check(tmp_path, site, seeds, *args, **env):
    seed_file = tmp_path / "seeds.txt"
    seed_file.write_text("\n".join(seeds) + "\n")
    return subprocess.run(CLI + ["check", "--json", "--no-fetch", "--input", str(seed_file),
                                 *args], capture_output=True, text=True, timeout=120,
                          env=env_for(tmp_path, site, **env))


EXPECTED = [False, False, True] * ORIGINS  # /private/ (robots), /tdm/ (tdmrep), /ok


def test_a_redis_store_serves_the_next_run_with_the_same_evidence(redis_server, tmp_path):
    site, seeds = cluster_site()
    with serving(site):
        first = check(tmp_path, site, seeds, "--cache", redis_server.url)
        second = check(tmp_path, site, seeds, "--cache", redis_server.url)
        assert fetched_once_per_origin(site)
    assert first.returncode == second.returncode == 1, first.stderr
    assert [a for _, a in decisions(first.stdout)] == EXPECTED
    assert decisions(first.stdout) == decisions(second.stdout)
    # a decision made by one run is explained by the file the other stored: same digest, time
    for a, b in zip(json_lines(first.stdout), json_lines(second.stdout), strict=True):
        assert [(r.get("sha256"), r.get("fetched_at")) for r in a["reasons"]] == \
            [(r.get("sha256"), r.get("fetched_at")) for r in b["reasons"]]
    assert json_lines(first.stdout)[0]["reasons"][0]["sha256"]


def test_the_environment_names_the_store_when_no_option_does(redis_server, tmp_path):
    site, seeds = cluster_site()
    with serving(site):
        check(tmp_path, site, seeds, TDM_GUARD_CACHE=redis_server.url + "?prefix=jobs:")
        proc = check(tmp_path, site, seeds, TDM_GUARD_CACHE=redis_server.url + "?prefix=jobs:")
        assert fetched_once_per_origin(site)
    assert [a for _, a in decisions(proc.stdout)] == EXPECTED
    keys = redis_server.client().keys("jobs:v1:*")
    assert len(keys) == 2 * 2 * ORIGINS  # a record and its freshness, per file


def _connected_pids(redis_server) -> set[int]:
    return {int(c["name"].rsplit(":", 1)[1]) for c in redis_server.client().client_list()
            if c.get("name", "").startswith("tdm-guard:")}


def _has_open(pid: int, path: Path) -> bool:
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(path)
                   for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


@pytest.mark.parametrize("kind", ["redis", "sqlite"])
def test_two_concurrent_runs_on_one_store_fetch_each_origin_once(kind, tmp_path, request):
    gate = threading.Event()
    site, seeds = cluster_site(gate)
    if kind == "redis":
        server = request.getfixturevalue("redis_server")
        value = server.url + "?timeout=2"  # counts fetches: a loaded machine must not trip it
    else:
        value = str(tmp_path / "shared.sqlite3")
    seed_file = tmp_path / "seeds.txt"
    seed_file.write_text("\n".join(seeds) + "\n")
    with serving(site):
        procs = [subprocess.Popen(CLI + ["check", "--json", "--no-fetch", "--input",
                                         str(seed_file), "--cache", value],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env_for(tmp_path / str(n), site)) for n in range(2)]
        try:
            # both runs are at work before any policy file is answered: the one that claimed
            # a file fetches it while the other waits for it
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not all(
                    p.pid in _connected_pids(server) if kind == "redis"
                    else _has_open(p.pid, Path(value)) for p in procs):
                time.sleep(0.02)
            gate.set()
            outs = [p.communicate(timeout=120) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        assert fetched_once_per_origin(site), site.hits
    for (out, err), proc in zip(outs, procs, strict=True):
        assert proc.returncode == 1, err
        assert [a for _, a in decisions(out)] == EXPECTED


@pytest.mark.parametrize("trouble", ["refused", "paused"])
def test_a_store_that_is_down_or_paused_changes_no_answer(redis_server, tmp_path, trouble):
    site, seeds = cluster_site()
    with serving(site):
        reference = check(tmp_path, site, seeds, "--no-cache")
        if trouble == "refused":
            redis_server.kill()
        else:
            redis_server.pause()
        try:
            proc = check(tmp_path, site, seeds, "--cache",
                         redis_server.url.replace("redis://", "redis://user:pw@"))
        finally:
            redis_server.resume()
    assert proc.returncode == reference.returncode == 1
    assert decisions(proc.stdout) == decisions(reference.stdout)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "unusable" in lines[0] and "answers are unchanged" in lines[0]
    assert "pw" not in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("value, words", [
    ("postgres://db/x", "unknown store postgres://"),
    ("redis://:secret@h:port/0", "port is not a number"),
    ("redis://h/0?prefix=a%7Bb", "prefix="),
    ("redis://h/0?bogus=1", "bogus"),
])
def test_a_store_value_that_names_no_store_is_a_usage_error(cli, value, words):
    code, out, err = cli("check", "--offline", "--cache", value, "https://example.org/")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and words in err and err.startswith("tdm-guard: --cache: ")
    assert "secret" not in err


def test_the_environment_value_is_named_when_it_is_wrong(cli, monkeypatch):
    monkeypatch.setenv("TDM_GUARD_CACHE", "ftp://x")
    code, _, err = cli("check", "--offline", "https://example.org/")
    assert code == 2 and err.startswith("tdm-guard: $TDM_GUARD_CACHE: ")


def test_max_stale_is_a_duration(cli, capsys):
    with pytest.raises(SystemExit) as exited:
        cli("check", "--offline", "--max-stale", "forever", "https://example.org/")
    assert exited.value.code == 2 and "not a duration" in capsys.readouterr().err
