"""WARC files written by the tests with FastWARC's writer: one gzip member per record (as
Common Crawl writes them), or uncompressed."""

from __future__ import annotations

import gzip
import io
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from fastwarc.warc import WarcRecord, WarcRecordType


@dataclass
class Page:
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b"<html><head><title>t</title></head><body>hello</body></html>"
    status: int = 200
    date: str = "2024-05-17T23:31:22Z"
    kind: str = "response"  # response, revisit, resource
    request: bool = True  # write a request record before it (WARC-Concurrent-To)
    raw_http: bytes | None = None  # the HTTP block as is (a broken header block)
    record_id: str = field(default_factory=lambda: f"uuid:{uuid.uuid4()}")


def record_bytes(kind: str, headers: list[tuple[str, str]], block: bytes,
                 record_id: str | None = None) -> bytes:
    record = WarcRecord()
    types = {"response": WarcRecordType.response, "request": WarcRecordType.request,
             "revisit": WarcRecordType.revisit, "resource": WarcRecordType.resource,
             "warcinfo": WarcRecordType.warcinfo, "metadata": WarcRecordType.metadata}
    record.init_headers(record_type=types[kind],
                        record_urn=(record_id or f"uuid:{uuid.uuid4()}").encode())
    for name, value in headers:
        if name == "WARC-Date":
            record.headers.set(name, value)
        else:
            record.headers.append(name, value)
    record.set_bytes_content(block)
    out = io.BytesIO()
    record.write(out)
    return out.getvalue()


def http_block(page: Page) -> bytes:
    if page.raw_http is not None:
        return page.raw_http
    lines = [f"HTTP/1.1 {page.status} OK"] + [f"{k}: {v}" for k, v in page.headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + page.body


def page_records(page: Page) -> list[bytes]:
    """The page's records: its request (if any), then its response/revisit/resource."""
    out = []
    if page.request:
        req = f"GET / HTTP/1.1\r\nHost: {page.url.split('/')[2]}\r\n\r\n".encode()
        out.append(record_bytes("request", [
            ("WARC-Target-URI", page.url), ("WARC-Date", page.date),
            ("WARC-Concurrent-To", f"<urn:{page.record_id}>"),
            ("Content-Type", "application/http; msgtype=request")], req))
    if page.kind == "resource":
        ctype = next((v for k, v in page.headers if k.lower() == "content-type"), "text/html")
        out.append(record_bytes("resource", [
            ("WARC-Target-URI", page.url), ("WARC-Date", page.date),
            ("Content-Type", ctype)], page.body, page.record_id))
    else:
        extra = [("WARC-Profile", "http://netpreserve.org/warc/1.1/revisit/identical-payload-"
                  "digest")] if page.kind == "revisit" else []
        block = http_block(page) if page.kind == "response" else http_block(
            Page(page.url, page.headers, b"", page.status))
        out.append(record_bytes(page.kind, [
            ("WARC-Target-URI", page.url), ("WARC-Date", page.date), *extra,
            ("Content-Type", "application/http; msgtype=response")], block, page.record_id))
    return out


def warcinfo() -> bytes:
    return record_bytes("warcinfo", [("WARC-Date", "2024-05-17T23:31:00Z"),
                                     ("Content-Type", "application/warc-fields")],
                        b"software: tdm-guard tests\r\n")


def write_warc(path: Path, pages: list[Page], gz: bool = True, info: bool = True,
               ) -> dict[str, bytes]:
    """Write the pages; returns record id -> the bytes of its gzip member (or record)."""
    members: dict[str, bytes] = {}
    chunks = []
    records = ([("warcinfo", warcinfo())] if info else [])
    for page in pages:
        recs = page_records(page)
        if page.request:
            records.append((f"request-of-{page.record_id}", recs[0]))
        records.append((page.record_id, recs[-1]))
    for key, data in records:
        blob = gzip.compress(data) if gz else data
        members[key] = blob
        chunks.append(blob)
    path.write_bytes(b"".join(chunks))
    return members
