"""The library API the engines compose: `decide_batch` over a pyarrow RecordBatch, options
shipped to workers by pickling, and scan deciding as `check` does on the same response."""

from __future__ import annotations

import json
import pickle

import pytest

pytest.importorskip("fastwarc", reason="FastWARC not installed (pip install -e '.[dev]')")
pytest.importorskip("pyarrow", reason="pyarrow not installed (pip install -e '.[dev]')")

import pyarrow as pa  # noqa: E402

from tdm_guard.scan.batch import DECISION_SCHEMA, decide_batch  # noqa: E402
from tdm_guard.scan.options import ScanOptions  # noqa: E402
from tdm_guard.scan.records import RecordView, decide_record  # noqa: E402
from tdm_guard.scan.warc import scan_warc_file  # noqa: E402

from servers import Resp  # noqa: E402
from warcs import Page, write_warc  # noqa: E402


def test_decide_batch_reads_urls_headers_and_provenance():
    batch = _batch()
    out = decide_batch(batch, ScanOptions(mode="offline", store=None))
    assert out.schema == DECISION_SCHEMA
    rows = out.to_pylist()
    assert [r["reserved_by"] for r in rows] == [["noai-header"], ["tdmrep-meta"], [], []]
    assert [r["allowed"] for r in rows] == [False, False, None, None]
    assert rows[0]["record_id"] == "<urn:1>" and rows[0]["warc_date"] == "2024-01-01T00:00:00Z"
    assert rows[2]["error"] == "no URL (null)" and "not a URL" in rows[3]["error"]


def _batch() -> pa.RecordBatch:
    headers = pa.list_(pa.struct([("name", pa.string()), ("value", pa.string())]))
    return pa.RecordBatch.from_arrays([
        pa.array(["http://a.example/1", "http://a.example/2", None, "ftp://x"]),
        pa.array(["2024-01-01T00:00:00Z", None, None, None]),
        pa.array([200, 200, None, None], pa.int32()),
        pa.array([[{"name": "X-Robots-Tag", "value": "noai"},
                   {"name": "X-Robots-Tag", "value": "all"}],
                  [{"name": "Content-Type", "value": "text/html"}], None, None], headers),
        pa.array([b"", b'<html><head><meta name="tdm-reservation" content="1">', None, None],
                 pa.binary()),
        pa.array(["<urn:1>", "<urn:2>", None, None]),
    ], names=["url", "warc_date", "status", "headers", "body", "record_id"])


def test_options_pickle_and_policies_can_be_given(tmp_path):
    options = ScanOptions(mode="offline", store=str(tmp_path / "c.sqlite3"))
    assert pickle.loads(pickle.dumps(options)) == options
    from tdm_guard.decide import OriginPolicy
    from tdm_guard.fetched import Fetched

    policy = OriginPolicy.from_fetches(
        "http://a.example", Fetched("http://a.example/robots.txt", 200,
                                    body=b"User-agent: *\nDisallow: /\n"), None)
    batch = pa.RecordBatch.from_pydict({"URL": ["http://a.example/x"]})
    rows = decide_batch(batch, options, url_column="URL",
                        policies={"http://a.example": policy}).to_pylist()
    assert rows[0]["fetch_allowed"] is False


def test_decide_record_is_pure_and_as_check_decides():
    from tdm_guard.decide import Evaluator, OriginPolicy, PageResponse

    evaluator = Evaluator()
    policy = OriginPolicy("http://a.example")
    headers = [("Content-Usage", "train-ai=n"), ("Content-Type", "text/html")]
    row = decide_record(RecordView("http://a.example/p", "2024-01-01T00:00:00Z", 200, headers,
                                   b"<html>"), policy, evaluator)
    direct = evaluator.evaluate("http://a.example/p", policy,
                                PageResponse(200, headers, b"<html>",
                                             fetched_at="2024-01-01T00:00:00Z"))
    got = json.loads(row["reasons"])
    want = direct.to_dict()
    got.pop("checked_at"), want.pop("checked_at")
    assert got == want


def test_scan_of_a_capture_agrees_with_check_of_the_live_page(cli, site, tmp_path):
    page_headers = [("Content-Type", "text/html"), ("X-Robots-Tag", "noimageai"),
                    ("Content-Signal", "search=yes, ai-train=no")]
    body = (b'<html><head><meta name="robots" content="noai"><script type="application/ld+json">'
            b'{"@type": "WebPage", "license": "https://example.com/l"}</script></head></html>')
    site.add("/robots.txt", Resp(200, "User-agent: GPTBot\nDisallow: /\n"))
    site.add("/page", Resp(200, body, page_headers))
    url = f"http://127.0.0.1:{site.port}/page"
    code, out, _ = cli("check", "--json", url, "--no-cache")
    checked = json.loads(out)
    write_warc(tmp_path / "p.warc.gz", [Page(url, page_headers, body)])
    rows = list(scan_warc_file(tmp_path / "p.warc.gz", ScanOptions(store=None)))
    scanned = json.loads(rows[0]["reasons"])

    def essence(d: dict) -> list:
        return [(r["signal"], r["reserved"], r["source"], r["evidence"]) for r in d["reasons"]]

    assert essence(scanned) == essence(checked)
    assert scanned["allowed"] == checked["allowed"] is False
    assert code == 1


def test_a_text_body_column_is_read_as_utf8():
    batch = pa.RecordBatch.from_pydict({
        "url": ["http://a.example/"], "status": [200],
        "headers": [[["Content-Type", "text/html"]]],
        "body": ['<html><head><meta name="robots" content="noai"></head></html>']})
    rows = decide_batch(batch, ScanOptions(mode="offline", store=None)).to_pylist()
    assert rows[0]["reserved_by"] == ["noai-meta"]
