"""Benchmarks of `tdm-guard scan` (issue 11).

usage: python bench/scan.py [--urls N] [--origins N] [--latency S] [--workers N]
                            [--warc-mb N] [--skip-table] [--skip-warc] [--write-doc]

(a) a Parquet table of `--urls` URLs over `--origins` origins (host names served by one local
    server through `http_proxy`, `bench/server.py`, answering after `--latency` seconds),
    live policies, `--workers` checks (2 fetches each: `--workers 32` is 64 concurrent
    fetches): wall time against the latency bound (2 x origins x latency / fetches) and the
    peak RSS of the scan process. The issue's size: --urls 1000000 --origins 100000.
(b) a gzip WARC of about `--warc-mb` MB (one member per record, HTML pages of ~8 KB, a
    request record before each response, as Common Crawl writes them), scanned offline
    with and without kept/, against FastWARC's bare iteration of the same file. The issue's
    size: --warc-mb 1024.

`--write-doc` replaces this script's section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sections import replace_section

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- begin bench/scan.py -->", "<!-- end bench/scan.py -->"


_PEAK = ("\nwith open('/proc/self/status') as f:\n"
         "    print('VMHWM_KB=' + next(l.split()[1] for l in f if l.startswith('VmHWM:')),"
         " file=sys.stderr)\n")
MEASURED_CLI = str(ROOT / "tests" / "run_measured.py")  # prints VMHWM_KB= on stderr


def _run(cmd: list[str], env: dict | None = None) -> dict:
    """Run `cmd` (a `python -c` snippet gets a peak-memory line appended); wall time, CPU
    and the peak RSS of that process itself (its VmHWM, not an earlier child's)."""
    if cmd[1] == "-c":
        cmd = [cmd[0], "-c", cmd[2] + _PEAK, *cmd[3:]]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    peak = next((int(line.split("=")[1]) for line in proc.stderr.splitlines()
                 if line.startswith("VMHWM_KB=")), 0)
    return {"wall": wall, "cpu": (after.ru_utime - before.ru_utime)
            + (after.ru_stime - before.ru_stime), "max_rss_mb": peak / 1024,
            "stderr": [x for x in proc.stderr.strip().splitlines() if "scan:" in x][-1:]}


def bench_table(args: argparse.Namespace, work: Path) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(11)
    hosts = [f"h{i}.bench.example" for i in range(args.origins)]
    per = max(args.urls // args.origins, 1)
    urls = [f"http://{h}/p/{j}.html" for h in hosts for j in range(per)][:args.urls]
    rng.shuffle(urls)
    path = work / "urls.parquet"
    writer = pq.ParquetWriter(path, pa.schema([("url", pa.string()), ("id", pa.int64())]))
    for i in range(0, len(urls), 100_000):
        part = urls[i:i + 100_000]
        writer.write_table(pa.table({"url": part, "id": list(range(i, i + len(part)))}))
    writer.close()
    del urls
    server = subprocess.Popen([sys.executable, str(ROOT / "bench" / "server.py"),
                               "--latency", str(args.latency)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        env = {**os.environ, "http_proxy": f"http://127.0.0.1:{port}",
               "HTTP_PROXY": f"http://127.0.0.1:{port}", "TDM_GUARD_CACHE": "",
               "XDG_CACHE_HOME": str(work / "xdg")}
        env.pop("no_proxy", None)
        env.pop("NO_PROXY", None)
        out = work / "table-out"
        result = _run([sys.executable, MEASURED_CLI, "scan", str(path), "--output",
                       str(out), "--cache", str(work / "cache.sqlite3"), "--workers",
                       str(args.workers), "--timeout", "60"], env)
        summary = json.loads((out / "summary.json").read_text())
    finally:
        server.terminate()
        server.wait()
    fetches = args.workers * 2
    bound = 2 * args.origins * args.latency / fetches
    return {**result, "urls": args.urls, "origins": args.origins, "latency": args.latency,
            "fetches": fetches, "bound": bound, "records": summary["records"],
            "errors": summary["errors"]}


def make_warc(path: Path, megabytes: int) -> int:
    sys.path.insert(0, str(ROOT / "tests"))
    from warcs import Page, page_records, warcinfo

    rng = random.Random(7)
    words = [f"w{i}" for i in range(5000)]
    written = 0
    records = 0
    with open(path, "wb") as out:
        out.write(gzip.compress(warcinfo(), 1))
        while written < megabytes * 1024 * 1024:
            n = records
            text = " ".join(rng.choice(words) for _ in range(1400))
            body = (f"<!DOCTYPE html><html><head><title>Page {n}</title><meta charset='utf-8'>"
                    f"<meta name='description' content='page {n}'></head><body><p>{text}</p>"
                    "</body></html>").encode()
            headers = [("Content-Type", "text/html; charset=utf-8"), ("Server", "bench")]
            if n % 10 == 0:
                headers.append(("X-Robots-Tag", "noai"))
            page = Page(f"http://h{n % 5000}.bench.example/p/{n}.html", headers, body)
            for blob in page_records(page):
                data = gzip.compress(blob, 6)
                out.write(data)
                written += len(data)
            records += 1
    return records


def bench_warc(args: argparse.Namespace, work: Path) -> dict:
    path = work / "bench.warc.gz"
    records = make_warc(path, args.warc_mb)
    size = path.stat().st_size
    bare = _run([sys.executable, "-c", (
        "import sys\nfrom fastwarc.warc import ArchiveIterator\n"
        "n = 0\nfor r in ArchiveIterator(open(sys.argv[1], 'rb'), parse_http=False):\n"
        "    n += 1\n"), str(path)])
    payload = _run([sys.executable, "-c", (
        "import sys\nfrom fastwarc.warc import ArchiveIterator, WarcRecordType\n"
        "for r in ArchiveIterator(open(sys.argv[1], 'rb'), "
        "record_types=WarcRecordType.response):\n"
        "    r.reader.read()\n"), str(path)])
    env = {**os.environ, "TDM_GUARD_CACHE": "", "XDG_CACHE_HOME": str(work / "xdg")}
    out = work / "warc-out"
    cli = _run([sys.executable, MEASURED_CLI, "scan", str(path), "--output", str(out),
                "--offline", "--no-cache"], env)
    shutil.rmtree(out)
    # kept/ is always written by the command; "without kept/" is measured with the library
    no_kept = _run([sys.executable, "-c", (
        "import sys\nfrom tdm_guard.scan.options import ScanOptions\n"
        "from tdm_guard.scan.warc import scan_warc_file\n"
        "o = ScanOptions(mode='offline', store=None)\n"
        "for row in scan_warc_file(sys.argv[1], o):\n    pass\n"), str(path)], env)
    return {"records": records, "bytes": size, "bare": bare, "payload": payload,
            "no_kept": no_kept, "cli_kept": cli}


def write_doc(table: dict | None, warc: dict | None) -> str:
    lines = [BEGIN, "", "## Scan: URL tables with live policies, WARC files", "",
             "Reproduce with `python bench/scan.py --write-doc` (sizes below; the issue's sizes "
             "are `--urls 1000000 --origins 100000 --warc-mb 1024`). The machine above "
             f"(2 cores, shared), {time.strftime('%Y-%m-%d')}.", ""]
    if table:
        ratio = table["wall"] / table["bound"]
        lines += [
            f"**(a) A Parquet table, live policies.** {table['urls']:,} URLs over "
            f"{table['origins']:,} origins (host names through `http_proxy` to one local "
            f"server, `bench/server.py`, answering after {table['latency'] * 1000:.0f} ms), "
            f"`--workers {table['fetches'] // 2}` ({table['fetches']} concurrent fetches), a "
            "new SQLite store.", "",
            "| URLs | origins | latency bound | wall | ratio | CPU | peak RSS | target |",
            "|---|---|---|---|---|---|---|---|",
            f"| {table['urls']:,} | {table['origins']:,} | {table['bound']:.1f} s | "
            f"{table['wall']:.1f} s | {ratio:.2f}x | {table['cpu']:.1f} s | "
            f"{table['max_rss_mb']:.0f} MB | ≤ 1.5x, ≤ 500 MB: "
            f"{'met' if ratio <= 1.5 and table['max_rss_mb'] <= 500 else 'missed'} |", ""]
    if warc:
        base = warc["bare"]["wall"]
        payload = warc["payload"]["wall"]
        r1 = warc["no_kept"]["wall"] / base
        r2 = warc["cli_kept"]["wall"] / base
        lines += [
            f"**(b) A gzip WARC** of {warc['bytes'] / 1e6:.0f} MB ({warc['records']:,} "
            "responses of ~8 KB HTML, each after its request record, one gzip member per "
            "record; every tenth with `X-Robots-Tag: noai`), offline.", "",
            "| run | wall | vs bare iteration | CPU | peak RSS | target |",
            "|---|---|---|---|---|---|",
            f"| FastWARC bare iteration (WARC headers only) | {base:.1f} s | 1.00x | "
            f"{warc['bare']['cpu']:.1f} s | {warc['bare']['max_rss_mb']:.0f} MB | |",
            f"| FastWARC iteration reading every response payload | {payload:.1f} s | "
            f"{payload / base:.2f}x | {warc['payload']['cpu']:.1f} s | "
            f"{warc['payload']['max_rss_mb']:.0f} MB | |",
            f"| `scan_warc_file`, no kept file | {warc['no_kept']['wall']:.1f} s | {r1:.2f}x | "
            f"{warc['no_kept']['cpu']:.1f} s | {warc['no_kept']['max_rss_mb']:.0f} MB | "
            f"≤ 2x: {'met' if r1 <= 2 else 'missed'} |",
            f"| `tdm-guard scan` (decisions, kept/, summary) | {warc['cli_kept']['wall']:.1f} s | "
            f"{r2:.2f}x | {warc['cli_kept']['cpu']:.1f} s | "
            f"{warc['cli_kept']['max_rss_mb']:.0f} MB | ≤ 3x: {'met' if r2 <= 3 else 'missed'} |",
            ""]
    load = os.getloadavg()[0]
    lines += [
        f"- **This run's machine** had a load average of about {load:.0f} on its 2 cores "
        "(other sessions' test suites ran at the same time), and the local server is a "
        "Python process on the same cores: the table run is CPU-bound, not latency-bound. "
        "The same resolve of 500 origins took between 3.8 s and 56 s wall in a quarter of "
        "an hour; its CPU cost is steady at about 1.9 ms per fetch (aiohttp through a proxy, "
        "a new connection per origin, and the policy store), which is the floor of (a) "
        "here: 2 fetches x 100,000 origins x 1.9 ms = 380 s of CPU for the issue's size.",
        "- **Where the time goes in (b).** FastWARC iterates a record in about 30 µs; a "
        "decided record costs about 250 µs more in Python: reading and decoding the payload "
        "head, the HTML head scan, `Evaluator.evaluate` (the same call as `check`), "
        "`Decision.to_dict()` serialised to JSON for the `reasons` column, the Parquet "
        "write, and for kept/ the copy of the byte ranges. The 2x and 3x targets are missed "
        "by about 4x; meeting them needs the decision rows built without the JSON of every "
        "reason for allowed records, or several processes per file (the engines).",
        "- **Memory in (a)** grows with the distinct origins held: a parsed policy "
        "(robots.txt plan, tdmrep.json, provenance) is about 11 KB for a small robots.txt "
        "(tracemalloc), so the issue's 100,000 origins need about 1.1 GB and miss the "
        "500 MB target; the loader holds at most 200,000 origins (a bound, not a small "
        "one). Parsing again instead of holding costs about 430 µs a row on a shuffled "
        "table. What would meet it: grouping the table by origin first (the engines' "
        "repartition by origin), or holding the raw files and a small parsed cache.",
        "- **What holds:** every URL decided (no error rows), each origin resolved once "
        "through the store (the tests count the fetches), and memory bounded by the batches "
        "in flight, the origins held and the counts by origin and domain.",
        END]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=200_000)
    parser.add_argument("--origins", type=int, default=20_000)
    parser.add_argument("--latency", type=float, default=0.03)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--warc-mb", type=int, default=200)
    parser.add_argument("--skip-table", action="store_true")
    parser.add_argument("--skip-warc", action="store_true")
    parser.add_argument("--write-doc", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tdm-guard-bench-scan-"))
    try:
        table = None if args.skip_table else bench_table(args, work)
        if table:
            print(json.dumps(table), flush=True)
        warc = None if args.skip_warc else bench_warc(args, work)
        if warc:
            print(json.dumps(warc), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = write_doc(table, warc)
    print(text)
    if args.write_doc:
        path = ROOT / "docs" / "benchmarks.md"
        replace_section(path, BEGIN, END, text)


if __name__ == "__main__":
    main()
