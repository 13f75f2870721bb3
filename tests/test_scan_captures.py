"""`--policies-from WARC...`: robots.txt and tdmrep.json captures by origin and date."""

from __future__ import annotations

import gzip
import json

import pytest

pytest.importorskip("fastwarc", reason="FastWARC not installed (pip install -e '.[dev]')")
pytest.importorskip("pyarrow", reason="pyarrow not installed (pip install -e '.[dev]')")

import pyarrow.parquet as pq  # noqa: E402

from tdm_guard.scan.captures import CaptureIndex, expand_sources  # noqa: E402
from tdm_guard.scan.options import ScanOptions  # noqa: E402
from tdm_guard.scan.warc import scan_warc_file  # noqa: E402

from warcs import Page, write_warc  # noqa: E402

BLOCK = b"User-agent: *\nDisallow: /\n"
OPEN = b"User-agent: *\nAllow: /\n"


def _robots(origin: str, date: str, body: bytes = b"", status: int = 200,
            headers: list | None = None) -> Page:
    return Page(f"{origin}/robots.txt", [("Content-Type", "text/plain"), *(headers or [])],
                body, status=status, date=date, request=False)


@pytest.fixture
def captures(tmp_path):
    path = tmp_path / "robotstxt.warc.gz"
    write_warc(path, [
        _robots("http://a.example", "2024-01-10T00:00:00Z", BLOCK),
        _robots("http://a.example", "2024-03-10T00:00:00Z", OPEN),
        _robots("http://b.example", "2024-02-01T00:00:00Z", status=503),
        _robots("http://c.example", "2024-02-01T00:00:00Z", status=404),
        _robots("http://d.example", "2024-02-01T00:00:00Z", status=301,
                headers=[("Location", "https://d.example/robots.txt")]),
        _robots("https://d.example", "2024-02-01T00:00:01Z", BLOCK),
        _robots("http://e.example", "2024-02-01T00:00:00Z", status=302,
                headers=[("Location", "http://elsewhere.example/robots.txt")]),
        Page("http://a.example/.well-known/tdmrep.json", [("Content-Type", "application/json")],
             b'[{"location": "/tdm/*", "tdm-reservation": 1}]', date="2024-01-01T00:00:00Z",
             request=False),
    ])
    return path


def _decide(tmp_path, captures, pages, **kw):
    write_warc(tmp_path / "pages.warc.gz", pages)
    options = ScanOptions(mode="captures", captures=(str(captures),), store=None, **kw)
    return list(scan_warc_file(tmp_path / "pages.warc.gz", options))


def test_the_capture_nearest_before_the_page_else_after(tmp_path, captures):
    rows = _decide(tmp_path, captures, [
        Page("http://a.example/x", date="2024-02-01T00:00:00Z"),  # after the block
        Page("http://a.example/y", date="2024-04-01T00:00:00Z"),  # after the reopening
        Page("http://a.example/z", date="2023-06-01T00:00:00Z"),  # before any: nearest after
        Page("http://a.example/tdm/w", date="2024-04-01T00:00:00Z"),
    ])
    assert [r["fetch_allowed"] for r in rows] == [False, True, False, True]
    assert rows[3]["reserved_by"] == ["tdmrep-file"]
    used = json.loads(rows[0]["policy_sha256"])
    import hashlib
    assert used["http://a.example/robots.txt"] == hashlib.sha256(BLOCK).hexdigest()


def test_statuses_redirects_and_not_captured(tmp_path, captures):
    rows = _decide(tmp_path, captures, [
        Page("http://b.example/", date="2024-02-02T00:00:00Z"),  # 503: RFC 9309 unreachable
        Page("http://c.example/", date="2024-02-02T00:00:00Z"),  # 404: unavailable, allow
        Page("http://d.example/", date="2024-02-02T00:00:00Z"),  # 301 to a captured block
        Page("http://e.example/", date="2024-02-02T00:00:00Z"),  # 302 to a file not captured
        Page("http://z.example/", date="2024-02-02T00:00:00Z"),  # no capture at all
    ])
    assert [r["fetch_allowed"] for r in rows] == [False, True, False, True, True]
    for row in rows[3:]:
        unchecked = " ".join(json.loads(row["reasons"])["unchecked"])
        assert "not captured" in unchecked
        assert row["allowed"] is True


def test_fail_closed_reads_not_captured_as_unreachable(tmp_path, captures):
    rows = _decide(tmp_path, captures, [Page("http://z.example/", date="2024-02-02T00:00:00Z")],
                   fail_closed=True)
    assert rows[0]["fetch_allowed"] is False and rows[0]["allowed"] is False


def test_as_of_capture_dates_declarations(tmp_path, captures):
    page = Page("https://www.sonymusic.com/a", date="2020-01-01T00:00:00Z")
    now = _decide(tmp_path, captures, [page])
    then = _decide(tmp_path, captures, [page], as_of="capture")
    assert now[0]["reserved_by"] == ["declaration"]  # the 2024 statement binds today
    assert then[0]["allowed"] is True  # ... and did not exist in 2020


def test_listing_files_name_warcs(tmp_path, captures):
    listing = tmp_path / "robotstxt.paths.gz"
    listing.write_bytes(gzip.compress(f"{captures.name}\n".encode()))
    assert expand_sources([str(listing)]) == [str(tmp_path / captures.name)]
    index = CaptureIndex.build([str(listing)])
    assert "http://a.example" in index.origins
    with pytest.raises(ValueError, match="no such WARC file"):
        (tmp_path / "bad.paths").write_text("missing.warc.gz\n")
        expand_sources([str(tmp_path / "bad.paths")])


def test_cli_policies_from(cli, tmp_path, captures):
    write_warc(tmp_path / "pages.warc.gz", [Page("http://a.example/x",
                                                 date="2024-02-01T00:00:00Z")])
    out = tmp_path / "out"
    code, _, err = cli("scan", str(tmp_path / "pages.warc.gz"), "--output", str(out),
                       "--policies-from", str(captures), "--as-of", "capture")
    assert code == 1, err
    rows = pq.read_table(out / "decisions" / "pages.warc.gz.parquet").to_pylist()
    assert rows[0]["reserved_by"] == ["robots"]
    code, _, err = cli("scan", str(tmp_path / "pages.warc.gz"), "--output", str(out / "x"),
                       "--policies-from", "live", "--policies-from", str(captures))
    assert code == 2 and "not a mix" in err
