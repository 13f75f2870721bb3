"""Real crawls on a shared policy store (a real redis-server, the released scrapy-redis):
3 scrapy-redis nodes fetch each policy file once for the whole cluster, download no
reserved URL and decide as one node does; a Redis killed or paused mid-crawl changes no
answer and the crawl finishes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from conftest import decision_records
from servers import Resp, Site, held, serving

pytest.importorskip("scrapy")
pytest.importorskip("scrapy_redis", reason="scrapy-redis not installed (pip install -e '.[dev]')")

HERE = Path(__file__).parent
ORIGINS = 4
PAGES = 6  # per origin
NODES = 3
ROBOTS = "User-agent: *\nDisallow: /private/\n"
TDMREP = json.dumps([{"location": "/tdm/", "tdm-reservation": 1}])
RESERVED = ("/private/", "/tdm/")  # reserved before download: never downloaded


def page(links: list[str], extra: str = "") -> Resp:
    anchors = "".join(f'<a href="{u}">x</a>' for u in links)
    return Resp(200, f"<html><head>{extra}</head><body>{anchors}</body></html>",
                [("Content-Type", "text/html")])


def build_sites(stack: ExitStack, gate: threading.Event | None = None) -> list[Site]:
    """ORIGINS sites on their own ports; page k of each links to page k+1 of every origin
    and to its own reserved pages; policy files wait for `gate`, if given."""
    sites = [stack.enter_context(serving(Site())) for _ in range(ORIGINS)]

    for site in sites:
        site.add("/robots.txt", held(ROBOTS, gate))
        site.add("/.well-known/tdmrep.json", held(TDMREP, gate))
        for k in range(PAGES):
            nxt = [f"{s.base}/p/{k + 1}" for s in sites] if k + 1 < PAGES else []
            own = [f"{site.base}/private/{k}", f"{site.base}/tdm/{k}", f"{site.base}/meta/{k}"]
            site.add(f"/p/{k}", page(nxt + own))
            site.add(f"/private/{k}", page([]))
            site.add(f"/tdm/{k}", page([]))
            site.add(f"/meta/{k}", page([], '<meta name="robots" content="noai">'))
    return sites


def start_node(tmp_path: Path, name: str, **settings) -> tuple[subprocess.Popen, Path]:
    folder = tmp_path / name
    folder.mkdir(parents=True)
    config = {"output": str(folder / "out.json"),
              "settings": {"TDM_GUARD_AUDIT_LOG": str(folder / "audit.jsonl"),
                           "TDM_GUARD_TIMEOUT": 90, **settings}}
    (folder / "config.json").write_text(json.dumps(config))
    proc = subprocess.Popen([sys.executable, str(HERE / "scrapy_redis_node.py"),
                             str(folder / "config.json")], stdout=subprocess.DEVNULL,
                            stderr=open(folder / "log.txt", "w"))  # noqa: SIM115
    return proc, folder


def results(folder: Path) -> tuple[dict, list[dict], str]:
    out = json.loads((folder / "out.json").read_text())
    audit = decision_records((folder / "audit.jsonl").read_text())  # run headers left out
    return out, audit, (folder / "log.txt").read_text()


def decided(audits: list[list[dict]]) -> set[tuple]:
    """Every decision of a crawl: URL, stage, action and the signals that reserved it."""
    return {(r["url"], r["stage"], r["action"],
             tuple(sorted({x["signal"] for x in r["reasons"] if x["reserved"]})))
            for audit in audits for r in audit}


def push_start_urls(redis_server, sites: list[Site]) -> None:
    client = redis_server.client()
    client.delete(*client.keys("cluster:*")) if client.keys("cluster:*") else None
    for k in range(3):  # more start URLs than nodes: each node takes some
        for site in sites:
            client.rpush("cluster:start_urls", json.dumps({"url": f"{site.base}/p/{k}"}))


def tdm_guard_clients(redis_server) -> int:
    return len({c["name"] for c in redis_server.client().client_list()
                if c.get("name", "").startswith("tdm-guard:")})


def wait_all(procs, timeout=180) -> None:
    for proc in procs:
        assert proc.wait(timeout=timeout) == 0


def test_three_scrapy_redis_nodes_fetch_each_policy_file_once_and_decide_as_one(
        redis_server, tmp_path):
    gate = threading.Event()
    with ExitStack() as stack:
        sites = build_sites(stack, gate)
        # one node, its own memory store: the reference decisions
        gate.set()
        push_start_urls(redis_server, sites)
        single, folder = start_node(tmp_path, "single", REDIS_URL=redis_server.url,
                                    TDM_GUARD_CACHE=None)
        wait_all([single])
        _, single_audit, _ = results(folder)
        for site in sites:
            with site.lock:
                site.hits.clear()
        redis_server.client().flushall()

        # three nodes sharing the queue, the dupefilter and (through REDIS_URL) the store;
        # policy files are answered only once every node is at work, so they contend
        gate.clear()
        push_start_urls(redis_server, sites)
        nodes = [start_node(tmp_path, f"node{n}", REDIS_URL=redis_server.url)
                 for n in range(NODES)]
        deadline = time.monotonic() + 90
        while tdm_guard_clients(redis_server) < NODES and time.monotonic() < deadline:
            time.sleep(0.05)
        contended = tdm_guard_clients(redis_server) >= NODES
        gate.set()
        wait_all([p for p, _ in nodes])
        outs, audits, logs = zip(*(results(folder) for _, folder in nodes), strict=True)

        assert contended, "the three nodes did not all reach the store"
        for site in sites:  # once per origin for the whole cluster
            assert site.count("/robots.txt") == 1, site.hits
            assert site.count("/.well-known/tdmrep.json") == 1, site.hits
            with site.lock:
                leaked = [p for (_, p) in site.hits if p.startswith(RESERVED)]
            assert leaked == []  # zero downloads of reserved URLs
    assert decided(audits) == decided([single_audit])  # the same decisions as one node
    assert sum(1 for out in outs if out["items"]) == NODES  # every node crawled
    fetched = sum(out["stats"].get("tdm_guard/store/fetched", 0) for out in outs)
    assert fetched == 2 * ORIGINS
    assert sum(out["stats"].get("tdm_guard/store/hit", 0) for out in outs) > 0
    for log in logs:
        assert log.count("policy files are shared through Redis") == 1
        assert "from scrapy-redis's REDIS_URL" in log
    # a decision on one node is explained by the file another node fetched
    robots = {(x["source"], x["sha256"], x["fetched_at"])
              for audit in audits for r in audit for x in r["reasons"]
              if x["signal"] == "robots"}
    assert len(robots) == ORIGINS


@pytest.mark.parametrize("trouble", ["kill", "pause"])
def test_redis_killed_or_paused_mid_crawl_changes_no_answer(redis_server, tmp_path, trouble):
    """Redis used only as tdm-guard's store (many independent jobs): origin i links to origin
    i+1, and Redis dies (or hangs) when the third origin's robots.txt is asked for, so the
    crawl goes on with publishes that fail and claims that time out or are refused."""
    from test_scrapy_e2e import crawl

    chain = 6
    armed = threading.Event()
    site = Site()
    for i in range(chain):
        host = f"o{i}.test"
        nxt = [f"http://o{i + 1}.test/p"] if i + 1 < chain else []
        site.add("/p", page(nxt + [f"http://{host}/private/1", f"http://{host}/tdm/1",
                                   f"http://{host}/ok"]), host=host)
        for path in ("/ok", "/private/1", "/tdm/1"):
            site.add(path, page([]), host=host)
        site.add("/robots.txt", Resp(200, ROBOTS), host=host)
        site.add("/.well-known/tdmrep.json", Resp(200, TDMREP), host=host)

    def trouble_then_robots(path: str) -> Resp:
        if armed.is_set():
            armed.clear()
            getattr(redis_server, trouble)()
        return Resp(200, ROBOTS)

    site.add("/robots.txt", trouble_then_robots, host="o2.test")
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    try:
        with serving(site):
            env["http_proxy"] = site.base
            reference = crawl(tmp_path / "ref", ["http://o0.test/p"], env=env,
                              follow_links=True, TDM_GUARD_CACHE=None)
            with site.lock:
                site.hits.clear()
            armed.set()
            items, stats, audit, log = crawl(tmp_path / "redis", ["http://o0.test/p"],
                                             env=env, follow_links=True,
                                             TDM_GUARD_CACHE=redis_server.url)
            with site.lock:
                leaked = [(h, p) for (h, p) in site.hits if p.startswith(RESERVED)]
                robots = [h for (h, p) in site.hits if p == "/robots.txt"]
    finally:
        redis_server.resume()
    assert not armed.is_set()  # Redis did die (or hang) mid-crawl
    assert leaked == []  # no reserved URL downloaded
    assert sorted(robots) == [f"o{i}.test" for i in range(chain)]
    assert sorted(i["url"] for i in items) == sorted(i["url"] for i in reference[0])
    assert decided([audit]) == decided([reference[2]])  # the same answers
    assert stats["tdm_guard/store/down"] == 1
    assert stats["tdm_guard/store/local"] >= 2 * (chain - 3)  # later origins: fetched here
    assert log.count("unusable") == 1 and "answers are unchanged" in log
