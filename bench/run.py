"""Benchmarks: the cost of compliance, side by side, on this machine. Local servers only.

usage: python bench/run.py [--runs 5] [--quick]

Writes docs/benchmarks.md (the table) and bench/results/latest.json (raw numbers).
1. A Scrapy crawl of 1,000 generated pages: stock Scrapy with ROBOTSTXT_OBEY against Scrapy
   with the tdm-guard add-on (block mode). Wall and CPU time; target ratio <= 1.03.
2. Warm decisions per second for a cached origin: tdm-guard's full evaluation against
   Protego's bare can_fetch (the floor); target <= 2x the floor's time per decision.
3. `tdm-guard check --no-fetch` of 20,000 URLs over 200 origins with 30 ms injected latency,
   against a plain requests + Protego loop and the latency bound (fetches x latency /
   concurrency); target <= 0.2x the plain loop.
4. Peak memory (max RSS) of each.
Each comparison alternates the contenders, and reports medians.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "robots"
WORKERS = 16


def start_server(latency: float = 0.0) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, str(HERE / "server.py"), "--latency", str(latency)],
                            stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    return proc, port


def child_cpu() -> float:
    t = os.times()
    return t.children_user + t.children_system


def run_json(cmd: list[str], env: dict[str, str] | None = None) -> tuple[dict, float, float]:
    """Run a command that prints JSON last; return (json, wall seconds, child CPU seconds)."""
    cpu0, t0 = child_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall, cpu = time.perf_counter() - t0, child_cpu() - cpu0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd[:3]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    lines = [line for line in (proc.stdout + "\n" + proc.stderr).splitlines()
             if line.startswith("{") and line.endswith("}")]
    return json.loads(lines[-1]), wall, cpu


def med(values: list[float]) -> float:
    return statistics.median(values)


def paired(ours: list[float], theirs: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(ours, theirs, strict=True))


CRAWL_MODES = ("stock", "block", "tag")


def bench_env(proxy_port: int | None = None) -> dict[str, str]:
    """The children's environment: bytecode written and read (PYTHONDONTWRITEBYTECODE would
    make every child recompile the source tree, a start-up cost no installed user pays), no
    proxy unless the benchmark sets its own."""
    env = {k: v for k, v in os.environ.items()
           if "proxy" not in k.lower() and k != "PYTHONDONTWRITEBYTECODE"}
    if proxy_port is not None:
        env.update(http_proxy=f"http://127.0.0.1:{proxy_port}", no_proxy="")
    return env


def compile_tree() -> None:
    """Bytecode for the source tree (an editable install runs it from here)."""
    import compileall
    for folder in ("src", "scrapy_plugin", "bench"):
        compileall.compile_dir(str(ROOT / folder), quiet=1)


def bench_crawl(runs: int, pages: int, origins: int) -> dict:
    """`runs` rounds of stock, block and tag crawls, alternating; CPU is the child's
    user + system time (getrusage), wall beside it; ratios are medians of each round's
    ratio against that round's stock crawl."""
    server, port = start_server()
    base = f"http://127.0.0.1:{port}"
    env = bench_env(port if origins > 1 else None)
    results: dict[str, dict[str, list[float]]] = {
        m: {"wall": [], "cpu": [], "rss": []} for m in CRAWL_MODES}
    try:
        for _ in range(runs):
            for mode in CRAWL_MODES:
                out, wall, cpu = run_json([sys.executable, str(HERE / "crawl.py"), mode, base,
                                           str(pages), str(origins)], env)
                if out["items"] != pages:
                    raise SystemExit(f"{mode}: {out['items']} items, expected {pages}")
                results[mode]["wall"].append(wall)
                results[mode]["cpu"].append(cpu)
                results[mode]["rss"].append(out["maxrss_mb"])
    finally:
        server.terminate()
    summary: dict = {m: {k: med(v) for k, v in r.items()} for m, r in results.items()}
    stock = results["stock"]
    for mode in ("block", "tag"):
        ours = results[mode]
        summary[mode].update(
            ratio_cpu=paired(ours["cpu"], stock["cpu"]),
            ratio_wall=paired(ours["wall"], stock["wall"]),
            pairs_cpu=[a / b for a, b in zip(ours["cpu"], stock["cpu"], strict=True)],
            pairs_wall=[a / b for a, b in zip(ours["wall"], stock["wall"], strict=True)],
            us_per_page=med([(a - b) / pages * 1e6
                             for a, b in zip(ours["cpu"], stock["cpu"], strict=True)]))
    summary["runs"] = results
    summary["pages"] = pages
    summary["origins"] = origins
    return summary


def bench_decisions() -> dict:
    out, _, _ = run_json([sys.executable, str(HERE / "decisions.py"), str(CORPUS)])
    out["ratio_time"] = out["protego_per_s"] / out["tdm_guard_per_s"]
    return out


def bench_bulk(runs: int, origins: int, per_origin: int, latency: float) -> dict:
    server, port = start_server(latency)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(http_proxy=f"http://127.0.0.1:{port}", no_proxy="")
    with tempfile.TemporaryDirectory() as tmp:
        urls = Path(tmp) / "urls.txt"
        urls.write_text("".join(f"http://o{o}.bench.test/p/{i}.html\n"
                                for i in range(per_origin) for o in range(origins)))
        plain, ours = {"wall": [], "cpu": [], "rss": []}, {"wall": [], "cpu": [], "rss": []}
        try:
            for _ in range(runs):
                out, wall, cpu = run_json([sys.executable, str(HERE / "plain_loop.py"),
                                           str(urls)], env)
                plain["wall"].append(wall)
                plain["cpu"].append(cpu)
                plain["rss"].append(out["maxrss_mb"])
                out, wall, cpu = run_json(
                    [sys.executable, str(HERE / "measure_cli.py"), "check",
                     "--no-fetch", "--no-cache", "--workers", str(WORKERS), "--input",
                     str(urls), "--json"], env)
                ours["wall"].append(wall)
                ours["cpu"].append(cpu)
                ours["rss"].append(out.get("maxrss_mb", 0))
        finally:
            server.terminate()
    fetches = origins * 2  # robots.txt and tdmrep.json
    summary = {"plain": {k: med(v) for k, v in plain.items()},
               "tdm-guard": {k: med(v) for k, v in ours.items()},
               "urls": origins * per_origin, "origins": origins, "latency": latency,
               "latency_bound": fetches * latency / WORKERS}
    summary["ratio_wall"] = paired(ours["wall"], plain["wall"])
    return summary


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("tdm-guard", "scrapy", "protego", "requests", "twisted"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "-"
    return out


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), " \
           f"{mem:.0f} GiB"


def verdict(value: float, target: float, pairs: list[float] | None = None) -> str:
    if pairs and min(pairs) <= target <= max(pairs):
        return (f"within this machine's noise (pairs {min(pairs):.2f}–{max(pairs):.2f}); "
                + ("met" if value <= target else
                   f"paired median {(value / target - 1) * 100:+.0f}% over"))
    return "met" if value <= target else f"missed by {(value / target - 1) * 100:.0f}%"


def write_report(data: dict, path: Path) -> None:
    c, d, b = data["crawl"], data["decisions"], data["bulk"]
    v = data["versions"]
    text = f"""# Benchmarks

Reproduce with `python bench/run.py` (about 3 minutes; `--quick` for a smoke run). Local
servers only; each comparison alternates its contenders {data['runs']} times. Times are
medians; ratios are the median of the paired ratios (each run against the baseline run just
before it), which holds steadier than a ratio of medians while a shared machine's speed
drifts. Raw numbers, including every pair: `bench/results/latest.json` (not committed).

- Machine: {data['machine']}
- Versions: Python {v['python']}, tdm-guard {v['tdm-guard']}, Scrapy {v['scrapy']},
  Protego {v['protego']}, requests {v['requests']}, Twisted {v['twisted']}
- Date: {data['date']}

| benchmark | baseline | tdm-guard | ratio | target | |
|---|---|---|---|---|---|
| 1. Scrapy crawl, {c['pages']} pages, wall | stock + ROBOTSTXT_OBEY: {c['stock']['wall']:.2f} s | add-on, block mode: {c['tdm-guard']['wall']:.2f} s | {c['ratio_wall']:.3f} (ratio of medians {c['ratio_of_medians_wall']:.3f}) | ≤ 1.03 | {verdict(c['ratio_wall'], 1.03, c['pair_ratios_wall'])} |
| 1. Scrapy crawl, CPU | {c['stock']['cpu']:.2f} s | {c['tdm-guard']['cpu']:.2f} s | {c['ratio_cpu']:.3f} (ratio of medians {c['ratio_of_medians_cpu']:.3f}) | ≤ 1.03 | {verdict(c['ratio_cpu'], 1.03, c['pair_ratios_cpu'])} |
| 2. warm decisions, {d['decisions']:,} URLs on 6 real robots.txt | Protego can_fetch: {d['protego_per_s']:,.0f}/s | full evaluation: {d['tdm_guard_per_s']:,.0f}/s | {d['ratio_time']:.2f}x the time | ≤ 2x | {verdict(d['ratio_time'], 2.0)} |
| 3. bulk `check --no-fetch`, {b['urls']:,} URLs, {b['origins']} origins, {b['latency'] * 1000:.0f} ms latency | plain requests + Protego loop: {b['plain']['wall']:.2f} s | {b['tdm-guard']['wall']:.2f} s ({WORKERS} workers) | {b['ratio_wall']:.3f} | ≤ 0.2 | {verdict(b['ratio_wall'], 0.2)} |
| 3. latency bound | {b['origins'] * 2} fetches × {b['latency'] * 1000:.0f} ms / {WORKERS} = {b['latency_bound']:.2f} s | {b['tdm-guard']['wall']:.2f} s | {b['tdm-guard']['wall'] / b['latency_bound']:.2f}x the bound | | |

Peak memory (max RSS): crawl stock {c['stock']['rss']:.0f} MB, tdm-guard {c['tdm-guard']['rss']:.0f} MB;
decisions process {d['maxrss_mb']:.0f} MB; bulk plain loop {b['plain']['rss']:.0f} MB,
tdm-guard check {b['tdm-guard']['rss']:.0f} MB.

## Reading the numbers

- **Crawl (1).** tdm-guard fetches robots.txt *and* tdmrep.json per origin, decides every
  request twice (before download, and after, from headers and the HTML head), where stock
  Scrapy does one robots.txt lookup. Both crawls include Scrapy's start-up; the site is
  served by a separate process on 127.0.0.1.
- **Decisions (2).** Protego's `can_fetch` is the floor: one robots.txt verdict, no evidence.
  A tdm-guard decision also evaluates the AI-agent groups (strict profile), aipref and
  Content-Signal rules, TDMRep and the declarations for the host, and returns a `Decision`
  with its reasons. What made it fast (profiled with cProfile): a per-file compiled plan
  (group selection, AI-agent groups, parsed usage rules and the reasons themselves are built
  once per robots.txt and agent), Protego's prefix index for rule matching, reasons cached
  per rule, declaration reasons cached per host, URL paths split without `urlsplit` and
  normalised only when they contain characters that need it. Before that work a decision
  on theatlantic.com's robots.txt took about 330 µs; now it takes a few µs more than Protego.
  Where the target is missed, the remaining cost is Python object construction for the
  reasons and the decision, which the answer needs.
- **Bulk (3).** The plain loop fetches robots.txt one origin after another. tdm-guard
  prefetches origins up to 1,024 input lines ahead on a pool of 16 (each origin fetching
  robots.txt and tdmrep.json at once), decides each URL in the main thread as soon as its
  origin is loaded, and streams results in input order. The bound is what perfect overlap of
  the 400 fetches would give; the rest is interpreter start-up (about 0.3 s) and deciding and
  printing 20,000 JSON lines under one GIL. Profiling led to: origin prefetch instead of a
  thread per URL (4.0 s → 2.3 s), and one cached parse per host instead of `urlsplit` per URL
  for validation and origins (→ 2.1 s).
- **Spread.** This 2-core machine is shared, and its speed drifts: the stock crawl alone took
  between 3.6 s and 5.2 s in runs on the same day, and full runs of the crawl ratio (before
  pairing) gave 0.91 to 1.13. This run's pairs: {", ".join(f"{r:.3f}" for r in c['pair_ratios_wall'])}.
  A single ratio near 1.03 is within that noise.
- **Crawl (1), history.** The first measurement was 1.19 (wall); the profile showed start-up
  imports (requests, jsonschema, tldextract: now not imported on the crawl path, validated
  policies cached by content hash) and `html.parser` on every page (now a small tokenizer,
  9 µs instead of 50 µs per head).
"""
    kept = ""  # other benchmarks' sections (bench/cluster.py) stay as they are
    if path.exists() and "<!-- begin bench/" in path.read_text():
        kept = "\n" + path.read_text()[path.read_text().index("<!-- begin bench/"):]
    path.write_text(text + kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1 run, smaller inputs")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite docs/benchmarks.md from bench/results/latest.json")
    args = parser.parse_args()
    if args.report_only:
        write_report(json.loads((HERE / "results" / "latest.json").read_text()),
                     ROOT / "docs" / "benchmarks.md")
        return
    runs = 1 if args.quick else args.runs
    if not CORPUS.is_dir():
        raise SystemExit(f"the shared corpus is needed beside the checkout: {CORPUS}")
    print("1/3 Scrapy crawl ...", file=sys.stderr, flush=True)
    crawl = bench_crawl(runs, 200 if args.quick else 1000)
    print("2/3 warm decisions ...", file=sys.stderr, flush=True)
    decisions = bench_decisions()
    print("3/3 bulk check ...", file=sys.stderr, flush=True)
    bulk = bench_bulk(runs, 200, 10 if args.quick else 100, 0.03)
    data = {"runs": runs, "machine": machine(), "versions": versions(),
            "date": time.strftime("%Y-%m-%d"), "crawl": crawl, "decisions": decisions,
            "bulk": bulk}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "latest.json").write_text(json.dumps(data, indent=2))
    if not args.quick:
        write_report(data, ROOT / "docs" / "benchmarks.md")
    print(json.dumps({"crawl_ratio_wall": crawl["ratio_wall"],
                      "decision_ratio": decisions["ratio_time"],
                      "bulk_ratio": bulk["ratio_wall"]}, indent=2))


if __name__ == "__main__":
    main()
