"""Hostile input to `tdm-guard scan`: truncated gzip members, broken HTTP header blocks, WARCs
with no responses, unparsable URLs, random bytes. A per-record error row or a one-line error
naming the file; never a crash, never a lost decision for the other records."""

from __future__ import annotations

import gzip
import json

import pytest

pytest.importorskip("fastwarc", reason="FastWARC not installed (pip install -e '.[dev]')")
pytest.importorskip("pyarrow", reason="pyarrow not installed (pip install -e '.[dev]')")

import pyarrow.parquet as pq  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tdm_guard.scan.options import ScanOptions  # noqa: E402
from tdm_guard.scan.run import Scan  # noqa: E402
from tdm_guard.scan.tables import TableReader  # noqa: E402
from tdm_guard.scan.warc import scan_warc_file  # noqa: E402

from warcs import Page, write_warc  # noqa: E402

OFFLINE = ScanOptions(mode="offline", store=None)
FIXTURES = [HealthCheck.function_scoped_fixture]


def test_truncated_gzip_member_keeps_the_decisions_before_it(tmp_path):
    pages = [Page(f"http://a.example/{i}") for i in range(4)]
    members = write_warc(tmp_path / "t.warc.gz", pages)
    data = (tmp_path / "t.warc.gz").read_bytes()
    last = members[pages[-1].record_id]
    (tmp_path / "t.warc.gz").write_bytes(data[:len(data) - len(last) // 2])
    rows = list(scan_warc_file(tmp_path / "t.warc.gz", OFFLINE, kept_path=str(tmp_path / "k")))
    decided = [r for r in rows if r["allowed"] is True]
    assert [r["url"] for r in decided][:3] == [p.url for p in pages[:3]]
    kept = (tmp_path / "k").read_bytes()
    for page in pages[:3]:
        assert members[page.record_id] in kept


def test_broken_http_header_block_is_an_error_row(tmp_path):
    pages = [Page("http://a.example/1"),
             Page("http://a.example/broken", raw_http=b"HTTP/1.1 200 OK\r\n" + b"X" * 2_000_000),
             Page("http://a.example/3")]
    write_warc(tmp_path / "b.warc.gz", pages)
    rows = list(scan_warc_file(tmp_path / "b.warc.gz", OFFLINE, kept_path=str(tmp_path / "k")))
    assert [r["url"] for r in rows] == [p.url for p in pages]
    assert rows[1]["allowed"] is None and "HTTP header block" in rows[1]["error"]
    assert rows[0]["allowed"] is True and rows[2]["allowed"] is True


def test_unparsable_url_is_an_error_row(tmp_path):
    pages = [Page("http://a.example/1"), Page("http://exa mple.com:99999/x"),
             Page("http://a.example/3")]
    write_warc(tmp_path / "u.warc.gz", pages)
    rows = list(scan_warc_file(tmp_path / "u.warc.gz", OFFLINE))
    assert [r["allowed"] for r in rows] == [True, None, True]
    assert "not a URL" in rows[1]["error"]


def test_warc_with_no_responses(cli, tmp_path):
    write_warc(tmp_path / "none.warc.gz", [])
    code, _, err = cli("scan", str(tmp_path / "none.warc.gz"), "--output", str(tmp_path / "o"),
                       "--offline")
    assert code == 0, err
    assert pq.read_table(tmp_path / "o" / "decisions" / "none.warc.gz.parquet").num_rows == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["records"] == 0 and summary["inputs_done"] == 1


def test_unreadable_input_is_one_line_and_the_others_are_decided(cli, tmp_path):
    (tmp_path / "junk.warc.gz").write_bytes(b"\x1f\x8b" + b"\x00" * 50)
    (tmp_path / "junk.parquet").write_bytes(b"PAR1 not really")
    (tmp_path / "x.arc.gz").write_bytes(b"")
    write_warc(tmp_path / "ok.warc.gz", [Page("http://a.example/")])
    code, _, err = cli("scan", *(str(tmp_path / n) for n in (
        "junk.warc.gz", "junk.parquet", "x.arc.gz", "ok.warc.gz")),
        "--output", str(tmp_path / "o"), "--offline")
    assert code == 2
    lines = [x for x in err.splitlines() if x.startswith("tdm-guard scan: /")]
    assert any("junk.parquet" in x and "Parquet" in x for x in lines)
    assert any("x.arc.gz" in x and "ARC" in x for x in lines)
    assert "Traceback" not in err
    rows = pq.read_table(tmp_path / "o" / "decisions" / "ok.warc.gz.parquet").to_pylist()
    assert rows[0]["allowed"] is True


def test_jsonl_bad_lines_are_error_rows(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"url": "http://a.example/1"}\nnot json\n[1, 2]\n{"url": 5}\n'
                     b'{"other": 1}\n{"url": "http://a.example/2"}\n')
    result = Scan([str(path)], tmp_path / "o", OFFLINE).run()
    rows = pq.read_table(tmp_path / "o" / "decisions" / "t.jsonl.parquet").to_pylist()
    assert [r["allowed"] for r in rows] == [True, None, None, None, None, True]
    assert result.exit_code == 2
    kept = (tmp_path / "o" / "kept" / "t.jsonl").read_bytes()
    assert kept == b'{"url": "http://a.example/1"}\n{"url": "http://a.example/2"}\n'


# -- random bytes -------------------------------------------------------------------------
_HEADER = (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: http://a.example/\r\n"
           b"Content-Type: application/http; msgtype=response\r\nContent-Length: ")


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES)
@given(data=st.binary(max_size=2000), compress=st.booleans(), prefix=st.booleans())
def test_random_bytes_as_a_warc_never_crash(tmp_path, data, compress, prefix):
    blob = (_HEADER + str(len(data)).encode() + b"\r\n\r\n" + data) if prefix else data
    if compress:
        blob = gzip.compress(blob)
    path = tmp_path / "r.warc.gz"
    path.write_bytes(blob)
    rows = list(scan_warc_file(path, OFFLINE, kept_path=str(tmp_path / "k.warc.gz")))
    for r in rows:
        assert r["allowed"] in (True, False, None)
        assert (r["allowed"] is None) == (r["error"] is not None)


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES)
@given(data=st.binary(max_size=1500), fmt=st.sampled_from(["csv", "jsonl", "parquet"]),
       compress=st.booleans())
def test_random_bytes_as_a_table_never_crash(tmp_path, data, fmt, compress):
    blob = b"url,x\n" + data if fmt == "csv" and data[:1] != b"u" else data
    if compress and fmt != "parquet":
        blob = gzip.compress(blob)
    path = tmp_path / f"r.{fmt}"
    path.write_bytes(blob)
    try:
        reader = TableReader(path, fmt)
    except ValueError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return
    try:
        for chunk in reader.chunks():
            assert len(chunk.urls) == len(chunk.errors)
    except ValueError as exc:
        assert "\n" not in str(exc)
    finally:
        reader.close()


@settings(max_examples=25, deadline=None, suppress_health_check=FIXTURES)
@given(data=st.binary(max_size=800), fmt=st.sampled_from(["warc.gz", "csv", "jsonl.gz",
                                                           "parquet"]))
def test_random_bytes_through_the_whole_run(tmp_path, data, fmt):
    path = tmp_path / f"in.{fmt}"
    path.write_bytes(data)
    out = tmp_path / "out"
    import shutil
    shutil.rmtree(out, ignore_errors=True)
    result = Scan([str(path)], out, OFFLINE).run()
    assert result.exit_code in (0, 1, 2)
    assert (out / "decisions" / f"in.{fmt}.parquet").exists()
    assert (out / "kept" / f"in.{fmt}").exists()


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURES)
@given(cut=st.integers(min_value=0, max_value=4000), flip=st.integers(min_value=0, max_value=4000))
def test_damaged_parquet_and_warc_files_never_crash(tmp_path, cut, flip):
    import pyarrow as pa

    pq.write_table(pa.table({"url": [f"http://a.example/{i}" for i in range(300)]}),
                   tmp_path / "t.parquet")
    write_warc(tmp_path / "w.warc.gz", [Page(f"http://a.example/{i}") for i in range(8)])
    for name in ("t.parquet", "w.warc.gz"):
        data = bytearray((tmp_path / name).read_bytes())
        if flip < len(data):
            data[flip] ^= 0xFF
        (tmp_path / f"bad-{name}").write_bytes(bytes(data[:max(len(data) - cut, 0)]))
    import shutil
    shutil.rmtree(tmp_path / "o", ignore_errors=True)
    result = Scan([str(tmp_path / "bad-t.parquet"), str(tmp_path / "bad-w.warc.gz")],
                  tmp_path / "o", OFFLINE).run()
    assert result.exit_code in (0, 2)
    assert result.summary["inputs_done"] == 2


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=600))
def test_dechunk_never_raises_and_never_grows(data):
    from tdm_guard.scan.payload import dechunk

    out = dechunk(data)
    assert len(out) <= len(data)


def test_a_full_disk_stops_the_scan_with_one_line_and_leaves_no_temporary_files(tmp_path):
    # RLIMIT_FSIZE makes every write past 40 KB fail as a full disk would (EFBIG instead of
    # ENOSPC, SIGXFSZ ignored): the kept WARC of a large input cannot be finished.
    import resource
    import signal
    import subprocess
    import sys

    body = b"<html><head><title>t</title></head><body>" + b"x" * 4000 + b"</body></html>"
    write_warc(tmp_path / "big.warc.gz",
               [Page(f"http://a.example/{i}", body=bytes(range(256)) * 16 + body)
                for i in range(60)])
    out = tmp_path / "out"

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))

    proc = subprocess.run([sys.executable, "-m", "tdm_guard.cli", "scan",
                           str(tmp_path / "big.warc.gz"), "--output", str(out), "--offline"],
                          capture_output=True, text=True, timeout=120, preexec_fn=limited)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(out) in lines[0], proc.stderr
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert not (out / "decisions" / "big.warc.gz.parquet").exists()  # not done: resumable
