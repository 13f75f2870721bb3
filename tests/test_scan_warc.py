"""tdm-guard scan on WARC files: every page signal read from the captured response, kept/
byte for byte, and the real sample WARCs read in place."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

pytest.importorskip("fastwarc", reason="FastWARC not installed (pip install -e '.[dev]')")
pytest.importorskip("pyarrow", reason="pyarrow not installed (pip install -e '.[dev]')")

import pyarrow.parquet as pq  # noqa: E402
from fastwarc.warc import ArchiveIterator  # noqa: E402

from tdm_guard.scan.options import ScanOptions  # noqa: E402
from tdm_guard.scan.warc import iter_warc, scan_warc_file  # noqa: E402

from conftest import corpus_params  # noqa: E402
from warcs import Page, write_warc  # noqa: E402

OFFLINE = ScanOptions(mode="offline", store=None)
HTML = "text/html; charset=utf-8"


def _pages() -> list[Page]:
    head = b"<html><head>%s<title>t</title></head><body>x</body></html>"
    return [
        Page("http://a.example/free", [("Content-Type", HTML)]),
        Page("http://a.example/tdmrep", [("Content-Type", HTML), ("tdm-reservation", "1")]),
        Page("http://a.example/noai", [("Content-Type", HTML), ("X-Robots-Tag", "noai")]),
        Page("http://a.example/usage", [("Content-Type", HTML),
                                         ("Content-Usage", "train-ai=n")]),
        Page("http://a.example/signal", [("Content-Type", HTML),
                                          ("Content-Signal", "ai-train=no")]),
        Page("http://a.example/meta", [("Content-Type", HTML)],
             head % b'<meta name="tdm-reservation" content="1">'),
        # the first of two X-Robots-Tag headers reserves: FastWARC's get() sees only "all"
        Page("http://a.example/repeated", [("Content-Type", HTML), ("X-Robots-Tag", "noai"),
                                            ("X-Robots-Tag", "all")]),
        Page("http://a.example/gzipped", [("Content-Type", HTML), ("Content-Encoding", "gzip")],
             gzip.compress(head % b'<meta name="robots" content="noai">')),
        Page("http://a.example/also-free", [("Content-Type", HTML)]),
    ]


EXPECTED = {"free": [], "tdmrep": ["tdmrep-header"], "noai": ["noai-header"],
            "usage": ["content-usage"], "signal": ["content-signal"], "meta": ["tdmrep-meta"],
            "repeated": ["noai-header"], "gzipped": ["noai-meta"], "also-free": []}


@pytest.mark.parametrize("gz", [True, False], ids=["gzip-members", "uncompressed"])
def test_every_page_signal_is_read_and_kept_is_the_input_bytes(tmp_path, gz):
    pages = _pages()
    name = "pages.warc.gz" if gz else "pages.warc"
    members = write_warc(tmp_path / name, pages, gz=gz)
    kept = tmp_path / f"kept-{name}"
    rows = list(scan_warc_file(tmp_path / name, OFFLINE, kept_path=str(kept)))
    got = {r["url"].rsplit("/", 1)[1]: r["reserved_by"] for r in rows}
    assert got == EXPECTED
    for r in rows:
        assert r["allowed"] is (not r["reserved_by"])
        assert r["error"] is None
        assert json.loads(r["reasons"])["url"] == r["url"]
    # kept: the warcinfo, then each allowed response with its request, bytes unchanged
    allowed = [p for p in pages if not EXPECTED[p.url.rsplit("/", 1)[1]]]
    expected = members["warcinfo"] + b"".join(
        members[f"request-of-{p.record_id}"] + members[p.record_id] for p in allowed)
    assert kept.read_bytes() == expected
    kept_ids = {r.headers.get("WARC-Record-ID")
                for r in ArchiveIterator(io.BytesIO(kept.read_bytes()))}
    for r in rows:
        if not r["allowed"]:
            assert r["record_id"] not in kept_ids  # a reserved record is never kept


def test_offsets_and_lengths_are_the_gzip_members(tmp_path):
    pages = _pages()[:3]
    members = write_warc(tmp_path / "x.warc.gz", pages)
    data = (tmp_path / "x.warc.gz").read_bytes()
    rows = list(scan_warc_file(tmp_path / "x.warc.gz", OFFLINE))
    for page, row in zip(pages, rows, strict=True):
        member = data[row["offset"]:row["offset"] + row["length"]]
        assert member == members[page.record_id]
        assert row["record_id"] == f"<urn:{page.record_id}>"
        assert row["warc_date"] == page.date


def test_revisit_and_resource_records_are_decided(tmp_path):
    pages = [Page("http://b.example/r", [("tdm-reservation", "1")], kind="revisit"),
             Page("http://b.example/file.txt", [("Content-Type", "text/plain")],
                  b"plain text", kind="resource", request=False)]
    write_warc(tmp_path / "r.warc.gz", pages)
    rows = list(scan_warc_file(tmp_path / "r.warc.gz", OFFLINE))
    assert [r["reserved_by"] for r in rows] == [["tdmrep-header"], []]
    unchecked = json.loads(rows[0]["reasons"])["unchecked"]
    assert any("revisit record" in u for u in unchecked)


def test_undecodable_content_encoding_is_reported_not_guessed(tmp_path):
    pages = [Page("http://c.example/", [("Content-Type", HTML), ("Content-Encoding", "gzip")],
                  b"this is not gzip data at all"),
             Page("http://c.example/odd", [("Content-Type", HTML),
                                           ("Content-Encoding", "x-weird")], b"<html>")]
    write_warc(tmp_path / "e.warc.gz", pages)
    rows = list(scan_warc_file(tmp_path / "e.warc.gz", OFFLINE))
    assert all(r["error"] is None for r in rows)
    notes = [" ".join(json.loads(r["reasons"])["unchecked"]) for r in rows]
    assert "payload not fully readable" in notes[0]
    assert "x-weird" in notes[1]


def test_a_decompression_bomb_is_read_within_the_bound(tmp_path):
    bomb = gzip.compress(b"<html><head>" + b" " * (64 * 1024 * 1024))
    write_warc(tmp_path / "b.warc.gz", [Page("http://d.example/", [
        ("Content-Type", HTML), ("Content-Encoding", "gzip")], bomb)])
    items = [i for i in iter_warc(tmp_path / "b.warc.gz") if i.view is not None]
    assert len(items[0].view.body) <= 512 * 1024 + 64 * 1024
    assert items[0].view.partial


# -- the real samples, read in place ----------------------------------------------------
def _corpus_warcs():
    from conftest import CORPUS

    return sorted(p for p in (CORPUS / "warc").rglob("*") if p.is_file()
                  and p.name.endswith((".warc", ".warc.gz")))


@pytest.mark.parametrize("path", corpus_params(_corpus_warcs), ids=lambda p: p and p.name)
def test_sample_warcs_are_decided_and_kept_reads_back(tmp_path, path):
    kept = tmp_path / path.name
    rows = list(scan_warc_file(path, OFFLINE, kept_path=str(kept)))
    decided = [r for r in rows if r["url"]]
    for r in decided:
        assert r["error"] is not None or r["allowed"] is True  # no signal in these samples
    broken = [r for r in rows if r["error"] and r["url"] is None]
    assert len(broken) <= 1  # at most one "unreadable from" row, at the end
    if broken:
        assert rows[-1] is broken[0]
    pages = _fastwarc_pages(path)
    if pages is not None:  # FastWARC reads the whole file: so does the scan, every page
        assert not broken
        assert [r["record_id"] for r in decided] == pages
    # every kept range is a whole record of the input, in order
    data = path.read_bytes()
    out = kept.read_bytes()
    if out:
        assert out in data or _in_order(out, data, rows)
        n = sum(1 for _ in ArchiveIterator(io.BytesIO(kept.read_bytes())))
        assert n >= 1


def _fastwarc_pages(path: Path) -> list[str] | None:
    """The record ids of the http(s) response, resource and revisit records, as FastWARC
    iterates them (None when FastWARC itself stops with an error)."""
    ids = []
    try:
        for r in ArchiveIterator(io.BytesIO(path.read_bytes()), parse_http=False):
            target = (r.headers.get("WARC-Target-URI") or "").strip("<> ").lower()
            if str(r.record_type) in ("response", "resource", "revisit") \
                    and target.startswith(("http://", "https://")):
                ids.append(r.headers.get("WARC-Record-ID"))
    except Exception:  # noqa: BLE001 - FastWARC's own error: the file is broken
        return None
    return ids


def _in_order(out: bytes, data: bytes, rows: list[dict]) -> bool:
    """kept/ is a concatenation of byte ranges of the input, in input order."""
    at = 0
    pos = 0
    while pos < len(out):
        found = data.find(out[pos:pos + 64], at)
        if found < 0:
            return False
        length = 0
        while pos + length < len(out) and found + length < len(data) \
                and out[pos + length] == data[found + length]:
            length += 1
        pos += length
        at = found + length
    return True


@pytest.mark.parametrize("path", corpus_params(
    lambda: [p for p in _corpus_warcs() if p.name in (
        "whirlwind.warc.gz", "warcfile.warc.gz", "example.warc.gz",
        "transfer_compression_brotli.warc.gz", "transfer_compression_gzip.warc.gz")]),
    ids=lambda p: p and p.name)
def test_sample_responses_with_their_requests_are_kept_whole(tmp_path, path):
    kept = tmp_path / path.name
    rows = list(scan_warc_file(path, OFFLINE, kept_path=str(kept)))
    assert rows and all(r["allowed"] for r in rows)
    data = path.read_bytes()
    members = {(r["offset"], r["length"]) for r in rows}
    out = kept.read_bytes()
    for offset, length in members:  # each decided record's member is copied unchanged
        assert data[offset:offset + length] in out
    types = [str(r.record_type) for r in ArchiveIterator(io.BytesIO(kept.read_bytes()))]
    assert "response" in types or "revisit" in types
    assert "request" in types or path.name == "example.warc.gz" or "metadata" in types \
        or types.count("response") == len(types)
    assert pq  # imported for the other tests of the module


def test_whirlwind_head_is_read_after_content_decoding():
    from conftest import CORPUS

    path = CORPUS / "warc" / "webarchive-discovery" / "transfer_compression_brotli.warc.gz"
    if not path.is_file():
        pytest.skip("corpus not found")
    views = [i.view for i in iter_warc(path) if i.view is not None and i.kind == "response"]
    assert views[0].body.startswith(b"<html>")


def test_kept_file_is_written_atomically(tmp_path):
    write_warc(tmp_path / "a.warc.gz", _pages()[:2])
    kept = tmp_path / "out.warc.gz"
    rows = scan_warc_file(tmp_path / "a.warc.gz", OFFLINE, kept_path=str(kept))
    next(rows)
    assert not kept.exists()  # not there while the input is still being read
    list(rows)
    assert kept.exists()
    assert not list(Path(tmp_path).glob(".*.tmp"))


def test_chunked_payloads_framed_or_not(tmp_path):
    head = b'<html><head><meta name="robots" content="noai"></head><body>x</body></html>'
    framed = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (head[:20], head[20:]))
    pages = [Page("http://f.example/framed", [("Content-Type", HTML),
                                               ("Transfer-Encoding", "chunked")],
                  framed + b"0\r\n\r\n"),
             Page("http://f.example/plain", [("Content-Type", HTML),
                                              ("Transfer-Encoding", "chunked")], head)]
    write_warc(tmp_path / "c.warc.gz", pages)
    rows = list(scan_warc_file(tmp_path / "c.warc.gz", OFFLINE))
    assert [r["reserved_by"] for r in rows] == [["noai-meta"], ["noai-meta"]]
