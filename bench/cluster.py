"""Benchmark: a 3-node scrapy-redis cluster over 300 origins, with and without the shared
policy store. Local servers only (a redis-server, one process serving every origin).

usage: python bench/cluster.py [--runs 3] [--origins 300] [--nodes 3] [--quick] [--report-only]

For each variant the same crawl runs: every origin serves robots.txt (a real file from the
shared corpus when it is there), tdmrep.json and a chain of pages that link to reserved
URLs; all nodes share scrapy-redis's queue and dupefilter, so every origin's pages reach
every node. "per node" keeps policy files in each node's memory (TDM_GUARD_CACHE = None);
"shared" lets REDIS_URL be the policy store. Reported: policy-file fetches the sites saw,
reserved URLs downloaded (must be 0), the crawl time (first to last page request at the
sites) and the wall time until every node has exited, and MEMORY USAGE per origin of the
store's keys. Writes a section of docs/benchmarks.md and bench/results/cluster.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from importlib import metadata
from pathlib import Path

from aiohttp import web

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))
from redis_server import RedisServer, redis_binary  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "robots"
NODE = ROOT / "tests" / "scrapy_redis_node.py"
PAGES = 5  # per origin, a chain
LATENCY = 0.02  # seconds before every answer
BEGIN, END = "<!-- begin bench/cluster.py -->", "<!-- end bench/cluster.py -->"
TDMREP = json.dumps([{"location": "/tdm/", "tdm-reservation": 1,
                      "tdm-policy": "https://example.org/policy.json"}]).encode()
SYNTHETIC = b"User-agent: *\nDisallow: /private/\nDisallow: /search\n\n" \
            b"User-agent: GPTBot\nDisallow: /\n"


def robots_bodies() -> list[bytes]:
    """Real robots.txt files (each with `Disallow: /private/` added for the crawl), else one
    synthetic file."""
    if not CORPUS.is_dir():
        return [SYNTHETIC]
    bodies = []
    for path in sorted(CORPUS.glob("*.txt")):
        if path.name.startswith("ai-robots"):
            continue
        bodies.append(b"User-agent: *\nDisallow: /private/\n\n" + path.read_bytes())
    return bodies or [SYNTHETIC]


class Sites:
    """Every origin (127.0.0.1, one port each) on one event loop, counting requests."""

    def __init__(self, origins: int) -> None:
        self.origins = origins
        self.bodies = robots_bodies()
        self.hits: Counter[tuple[int, str]] = Counter()
        self.page_times: list[float] = []
        self.ports: list[int] = []
        self.lock = threading.Lock()
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_until_complete, args=(self._serve(),),
                         daemon=True).start()
        self._ready.wait(60)

    def base(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    async def _handle(self, request: web.Request) -> web.Response:
        port = request.transport.get_extra_info("sockname")[1]
        path = request.path
        with self.lock:
            self.hits[(port, path)] += 1
            if path.startswith("/p/"):
                self.page_times.append(time.monotonic())
        await asyncio.sleep(LATENCY)
        index = self.ports.index(port)
        if path == "/robots.txt":
            return web.Response(body=self.bodies[index % len(self.bodies)],
                                content_type="text/plain")
        if path == "/.well-known/tdmrep.json":
            return web.Response(body=TDMREP, content_type="application/json")
        if path.startswith("/p/"):
            k = int(path.rsplit("/", 1)[1])
            links = [f"/private/{k}", f"/tdm/{k}"] + ([f"/p/{k + 1}"] if k + 1 < PAGES else [])
            html = "<html><head><title>p</title></head><body>" + "".join(
                f'<a href="{u}">x</a>' for u in links) + "</body></html>"
            return web.Response(text=html, content_type="text/html")
        return web.Response(text="<html><body>reserved</body></html>", content_type="text/html")

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for _ in range(self.origins):
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.ports.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        self._ready.set()
        await asyncio.Event().wait()

    def reset(self) -> None:
        with self.lock:
            self.hits.clear()
            self.page_times.clear()

    def count(self, predicate) -> int:
        with self.lock:
            return sum(n for (_, path), n in self.hits.items() if predicate(path))


def run_variant(sites: Sites, redis: RedisServer, nodes: int, shared: bool,
                folder: Path) -> dict:
    client = redis.client()
    client.flushall()
    sites.reset()
    for i in range(sites.origins):
        client.rpush("cluster:start_urls", json.dumps({"url": f"{sites.base(i)}/p/0"}))
    procs = []
    t0 = time.monotonic()
    for n in range(nodes):
        node = folder / f"{'shared' if shared else 'local'}-{n}"
        node.mkdir(parents=True, exist_ok=True)
        settings = {"REDIS_URL": redis.url, "LOG_LEVEL": "WARNING",
                    "CONCURRENT_REQUESTS": 32, "CONCURRENT_REQUESTS_PER_DOMAIN": 4,
                    "MAX_IDLE_TIME_BEFORE_CLOSE": 2, "COOKIES_ENABLED": False,
                    # most real robots.txt files reserve training (AI-crawler groups): a
                    # search crawl follows the chains, and still never fetches /private/
                    # (robots.txt) or /tdm/ (TDMRep binds every purpose)
                    "TDM_GUARD_PURPOSE": "search"}
        if not shared:
            settings["TDM_GUARD_CACHE"] = None
        (node / "config.json").write_text(json.dumps(
            {"output": str(node / "out.json"), "settings": settings,
             "batch_size": max(1, sites.origins // nodes // 3)}))
        procs.append((subprocess.Popen([sys.executable, str(NODE), str(node / "config.json")],
                                       stdout=subprocess.DEVNULL,
                                       stderr=open(node / "log.txt", "w")), node))  # noqa: SIM115
    for proc, node in procs:
        if proc.wait(timeout=900) != 0:
            raise SystemExit(f"node failed: {(node / 'log.txt').read_text()[-3000:]}")
    wall = time.monotonic() - t0
    outs = [json.loads((node / "out.json").read_text()) for _, node in procs]
    with sites.lock:
        times = sorted(sites.page_times)
    result = {
        "robots": sites.count(lambda p: p == "/robots.txt"),
        "tdmrep": sites.count(lambda p: p == "/.well-known/tdmrep.json"),
        "reserved_downloads": sites.count(lambda p: p.startswith(("/private/", "/tdm/"))),
        "pages": sites.count(lambda p: p.startswith("/p/")),
        "crawl_s": times[-1] - times[0] if times else 0.0,
        "wall_s": wall,
        "items": [len(o["items"]) for o in outs],
        "store": {k: sum(o["stats"].get(f"tdm_guard/store/{k}", 0) for o in outs)
                  for k in ("fetched", "hit", "wait", "local", "takeover")},
        "max_rss_mb": max(o["stats"]["max_rss_mb"] for o in outs),
    }
    if shared:
        result["memory"] = store_memory(client, sites)
    return result


def store_memory(client, sites: Sites) -> dict:
    """MEMORY USAGE of every key the store keeps per origin (robots.txt and tdmrep.json:
    record and freshness key each), and the record sizes."""
    per_origin, records = [], []
    for i in range(sites.origins):
        base = sites.base(i)
        total = 0
        for path in ("/robots.txt", "/.well-known/tdmrep.json"):
            for suffix in ("rec", "fresh"):
                key = f"tdmg:v1:{{{base}{path}}}:{suffix}"
                total += client.memory_usage(key, samples=0) or 0
                if suffix == "rec":
                    records.append(client.strlen(key))
        per_origin.append(total)
    info = client.info("memory")
    return {"per_origin_median": statistics.median(per_origin),
            "per_origin_mean": statistics.fmean(per_origin),
            "per_origin_max": max(per_origin),
            "record_bytes_mean": statistics.fmean(records),
            "robots_body_mean": statistics.fmean(len(b) for b in sites.bodies),
            "used_memory": info["used_memory"], "keys": client.dbsize()}


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def runs_of(runs: list[dict], key: str) -> str:
    return ", ".join(f"{r[key]:.1f}" for r in runs)


def write_section(data: dict, path: Path) -> None:
    local, shared = data["per_node"], data["shared"]
    n, origins = data["nodes"], data["origins"]
    fetches = {name: [r["robots"] + r["tdmrep"] for r in runs]
               for name, runs in (("local", local), ("shared", shared))}
    mem = shared[-1]["memory"]
    section = f"""{BEGIN}
## A scrapy-redis cluster: policy files with and without the shared store

Reproduce with `python bench/cluster.py` (needs `redis-server`; about {data['minutes']:.0f}
minutes). {n} scrapy-redis {data['versions']['scrapy-redis']} nodes share one queue and
dupefilter and crawl {origins} origins (127.0.0.1, one port each; {PAGES} chained pages per
origin, each linking to a robots.txt-reserved and a TDMRep-reserved URL; {LATENCY * 1000:.0f} ms
before every answer; robots.txt bodies from the shared corpus, mean
{mem['robots_body_mean'] / 1024:.1f} KiB). {data['runs']} runs of each, alternating; medians.
Machine and versions as above (Redis {data['versions']['redis-server']}, redis-py
{data['versions']['redis']}). Raw numbers: `bench/results/cluster.json` (not committed).

| policy store | policy-file fetches (robots.txt + tdmrep.json) | per origin | reserved URLs downloaded | crawl time (first to last page) | wall, until every node exited |
|---|---|---|---|---|---|
| each node its own (`TDM_GUARD_CACHE = None`) | {statistics.median(fetches['local']):.0f} (runs: {', '.join(map(str, fetches['local']))}) | {statistics.median(fetches['local']) / origins:.2f} | {max(r['reserved_downloads'] for r in local)} | {median_of(local, 'crawl_s'):.1f} s (runs: {runs_of(local, 'crawl_s')}) | {median_of(local, 'wall_s'):.1f} s (runs: {runs_of(local, 'wall_s')}) |
| shared through Redis (scrapy-redis's `REDIS_URL`) | {statistics.median(fetches['shared']):.0f} (runs: {', '.join(map(str, fetches['shared']))}) | {statistics.median(fetches['shared']) / origins:.2f} | {max(r['reserved_downloads'] for r in shared)} | {median_of(shared, 'crawl_s'):.1f} s (runs: {runs_of(shared, 'crawl_s')}) | {median_of(shared, 'wall_s'):.1f} s (runs: {runs_of(shared, 'wall_s')}) |

- **Fetches.** Without the shared store every node that meets an origin fetches its two
  policy files, so the sites see up to {n}x the requests ({statistics.median(fetches['local']) / (2 * origins):.2f}x here); with it,
  exactly one robots.txt and one tdmrep.json per origin for the whole cluster in every run
  (the store's counts in the last run, summed over the nodes: {shared[-1]['store']['fetched']} fetched, {shared[-1]['store']['hit']} read
  from Redis, {shared[-1]['store']['wait']} waits for another node's fetch, {shared[-1]['store']['takeover']} takeovers). Waits are rare here
  because each node takes its own batch of start URLs, so two nodes seldom reach a new
  origin at the same moment; `tests/test_scrapy_redis_cluster.py` forces that case (policy
  files held until every node waits for them) and still sees one fetch per origin.
- **Time.** The shared store did not slow the crawl (one likely reason: fewer policy-file
  requests wait in each node's queue before an origin's first page). The runs spread widely (three Scrapy
  processes, the sites and Redis share two cores, and other work ran on the machine), so
  read the difference as "no slower", not as a speed-up to expect. The wall time includes
  each node's start-up and scrapy-redis's idle close (`MAX_IDLE_TIME_BEFORE_CLOSE = 2`). A
  miss costs two Redis round trips (claim, then publish); the warm path (an origin already
  loaded in the node) never touches Redis.
- **Memory in Redis.** `MEMORY USAGE` of the four keys an origin keeps (a record and a
  freshness key for robots.txt and for tdmrep.json): median {mem['per_origin_median'] / 1024:.2f} KiB,
  mean {mem['per_origin_mean'] / 1024:.2f} KiB, largest {mem['per_origin_max'] / 1024:.1f} KiB per origin (records are
  zlib-compressed: {mem['record_bytes_mean']:.0f} bytes on average). So about
  {mem['per_origin_mean'] * 1e6 / 2**30:.1f} GiB per million origins.
{END}"""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if BEGIN in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1] if END in rest else ""
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def versions() -> dict:
    out = {name: metadata.version(name) for name in ("scrapy", "scrapy-redis", "redis")}
    line = subprocess.run([redis_binary() or "redis-server", "--version"], capture_output=True,
                          text=True).stdout
    out["redis-server"] = line.split("v=")[1].split()[0] if "v=" in line else "?"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--origins", type=int, default=300)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 run of 30 origins, no report")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the section from bench/results/cluster.json")
    args = parser.parse_args()
    if args.report_only:
        write_section(json.loads((HERE / "results" / "cluster.json").read_text()),
                      ROOT / "docs" / "benchmarks.md")
        return
    if redis_binary() is None:
        raise SystemExit("redis-server is needed (apt-get install redis-server)")
    runs, origins = (1, 30) if args.quick else (args.runs, args.origins)
    started = time.monotonic()
    sites = Sites(origins)
    with tempfile.TemporaryDirectory() as tmp:
        redis = RedisServer(Path(tmp) / "redis").start()
        try:
            data: dict = {"nodes": args.nodes, "origins": origins, "runs": runs,
                          "per_node": [], "shared": []}
            for run in range(runs):
                for shared in (False, True):
                    name = "shared" if shared else "per_node"
                    print(f"run {run + 1}/{runs}: {name} ...", file=sys.stderr, flush=True)
                    result = run_variant(sites, redis, args.nodes, shared,
                                         Path(tmp) / f"run{run}")
                    data[name].append(result)
                    print(json.dumps({k: v for k, v in result.items() if k != "memory"}),
                          file=sys.stderr, flush=True)
        finally:
            redis.stop()
    data["versions"] = versions()
    data["minutes"] = (time.monotonic() - started) / 60
    data["date"] = time.strftime("%Y-%m-%d")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "cluster.json").write_text(json.dumps(data, indent=2))
    if not args.quick:
        write_section(data, ROOT / "docs" / "benchmarks.md")
    print(json.dumps({"fetches_per_node": [r["robots"] + r["tdmrep"] for r in data["per_node"]],
                      "fetches_shared": [r["robots"] + r["tdmrep"] for r in data["shared"]],
                      "memory": data["shared"][-1]["memory"]}, indent=2))


if __name__ == "__main__":
    main()
