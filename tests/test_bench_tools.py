"""The benchmark's own tools: `bench/run.py --report-only` refuses any results file it cannot
publish in one line naming it, leaving the report as it was; a crawl that did not do the
work it is compared on is refused; the floor crawl holds every request of an origin until
its tdmrep.json is in, as docs/benchmarks.md says it does. No timings are asserted."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _load(name: str):  # noqa: ANN202 - a module
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run = _load("run")
DOCS = ("# Benchmarks\n<!-- begin bench/run.py -->\nthe published numbers\n"
        "<!-- end bench/run.py -->\n\n<!-- begin bench/scan.py -->\nscan\n"
        "<!-- end bench/scan.py -->\n")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                               max_size=4),
    max_leaves=20)
# Results-shaped documents: the real top-level keys, values of any shape.
results_like = st.fixed_dictionaries(
    {"runs": st.integers(0, 9) | json_values,
     "crawl_one": st.fixed_dictionaries({"pages": st.sampled_from([200, 1200])}) | json_values},
    optional={key: json_values for key in ("crawl_many", "instructions", "decisions", "bulk",
                                           "versions", "machine", "noise", "date")})


def _refused_in_one_line(tmp_path: Path, payload: bytes) -> None:
    latest, docs = tmp_path / "latest.json", tmp_path / "benchmarks.md"
    latest.write_bytes(payload)
    docs.write_text(DOCS)
    with pytest.raises(SystemExit) as refused:
        run.report_only(latest, docs)
    message = str(refused.value)
    assert str(latest) in message and "\n" not in message
    assert docs.read_text() == DOCS


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(max_size=600))
def test_report_only_refuses_any_bytes_in_one_line(tmp_path: Path, payload: bytes) -> None:
    _refused_in_one_line(tmp_path, payload)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=results_like)
def test_report_only_refuses_incomplete_results_in_one_line(tmp_path: Path,
                                                            document: dict) -> None:
    _refused_in_one_line(tmp_path, json.dumps(document).encode())


def test_report_only_refuses_a_smoke_run_and_a_missing_file(tmp_path: Path) -> None:
    smoke = {"runs": 1, "crawl_one": {"pages": 200}}
    _refused_in_one_line(tmp_path, json.dumps(smoke).encode())
    with pytest.raises(SystemExit, match="none yet"):
        run.report_only(tmp_path / "absent.json", tmp_path / "benchmarks.md")


@settings(max_examples=200, deadline=None)
@given(mode=st.sampled_from(["stock", "floor", "block", "tag"]), pages=st.integers(1, 3000),
       origins=st.integers(1, 400), off=st.integers(-5, 5))
def test_a_crawl_is_measured_only_with_exactly_its_downloads(mode: str, pages: int,
                                                             origins: int, off: int) -> None:
    files = (1 if mode == "stock" else 2) * min(origins, pages)
    printed = {"items": pages, "downloads": pages + files + off}
    if off == 0:
        run.check_crawl(mode, printed, pages, origins)
        return
    with pytest.raises(SystemExit, match=f"^{mode}: {pages + files + off} downloads"):
        run.check_crawl(mode, printed, pages, origins)


def test_a_crawl_missing_pages_is_refused() -> None:
    with pytest.raises(SystemExit, match="callgrind floor: 0 items, expected 5"):
        run.check_crawl("floor", {"items": 0, "downloads": 0}, 5, 1, "callgrind ")


HARNESS = """
import collections, json, sys
sys.path.insert(0, {bench!r})
import crawl
from scrapy.utils.httpobj import urlparse_cached

Floor = crawl.TdmrepFloorMiddleware
seen, held = collections.Counter(), collections.Counter()
checked, after = Floor.process_request_2, Floor._after_tdmrep

def process_request_2(self, rp, request):
    seen[urlparse_cached(request).netloc in self._tdmrep_done] += 1
    return checked(self, rp, request)

def _after_tdmrep(self, request, *where):  # the origin's netloc last
    held[where[-1] in self._tdmrep_waiting] += 1
    return after(self, request, *where)

Floor.process_request_2, Floor._after_tdmrep = process_request_2, _after_tdmrep
crawl.main()
print(json.dumps({{"before_tdmrep": seen[False], "after_tdmrep": seen[True],
                  "held": held[True]}}))
"""


@pytest.fixture(scope="module")
def bench_server():
    server = subprocess.Popen([sys.executable, str(BENCH / "server.py"), "--latency", "0.05"],
                              stdout=subprocess.PIPE, text=True)
    try:
        yield f"http://127.0.0.1:{int(server.stdout.readline())}"
    finally:
        server.terminate()
        server.wait()


@pytest.mark.parametrize("origins", [1, 10])
def test_the_floor_crawl_holds_every_request_until_its_tdmrep_json_is_in(
        tmp_path: Path, bench_server: str, origins: int) -> None:
    harness = tmp_path / "harness.py"
    harness.write_text(HARNESS.format(bench=str(BENCH)))
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    if origins > 1:
        env["http_proxy"] = bench_server
    pages = 60
    done = subprocess.run([sys.executable, str(harness), "floor", bench_server, str(pages),
                           str(origins)], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    crawl, checks = (json.loads(line) for line in done.stdout.split("\n")[:2])
    assert crawl["items"] == pages
    assert crawl["downloads"] == pages + 2 * origins  # pages, robots.txt and tdmrep.json
    assert checks["before_tdmrep"] == 0 and checks["after_tdmrep"] == pages
    assert checks["held"] > 0  # requests did come while the files loaded, and waited


def test_the_crawl_script_refuses_bad_arguments_in_one_line() -> None:
    for argv in ([], ["nosuch", "http://127.0.0.1:9", "3"], ["floor", "http://x", "0"],
                 ["floor", "http://x", "many"]):
        done = subprocess.run([sys.executable, str(BENCH / "crawl.py"), *argv],
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 2, argv
        assert "Traceback" not in done.stderr and "error:" in done.stderr.splitlines()[-1]
