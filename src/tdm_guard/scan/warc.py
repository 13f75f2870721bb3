"""WARC files with FastWARC: every record with its byte range, a `RecordView` for each response,
resource and revisit record with an http(s) target, and `scan_warc_file`.

- Byte ranges, cc-pyspark style: a record's `offset` is where its gzip member starts (for an
  uncompressed file, where the record starts) and `length` runs to the next record's start;
  records that share one gzip member (a whole file compressed as one stream) share its range.
- Headers: HTTP headers come from `HeaderMap.astuples()`, so a header sent twice is two pairs
  (`WarcHeaderMap.get` would return only the last one).
- Payload (`payload.read_payload`): chunked transfer coding undone leniently; Content-Encoding
  (gzip, x-gzip, deflate, br, zstd, identity, in the order listed) decoded incrementally, reading
  at most `MAX_RAW_READ` bytes, keeping at most what the readers need (an HTML head's 512 KiB,
  a file's `max_file_bytes`, as `check` downloads). An encoding that cannot be decoded is
  reported in `unchecked` (the headers are still read), never guessed.
- Kept file (`scan_warc_file(kept_path=...)`): the allowed records' byte ranges copied from
  the input unchanged (gzip members, not a re-serialisation), with the request and metadata
  records that belong to them (WARC-Concurrent-To either way, else the same target URI next
  to them) and every warcinfo record. A record reserved, or one that could not be decided,
  is never copied, and nor is a range it shares with allowed records.

A file that cannot be read past some point (a truncated gzip member, a broken WARC header)
yields one error row for the rest of the file; every record before it is decided.
"""

from __future__ import annotations

import contextlib
import os
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from fastwarc.warc import ArchiveIterator, WarcRecordType

from ..signals import files
from ..stores.atomic import writing
from .payload import MAX_HTTP_HEADER, read_payload, short_error
from .records import RecordView

DECIDED = frozenset({"response", "resource", "revisit"})
LINK_WINDOW = 32  # records looked at around a request/metadata record for its response
_TYPES = frozenset({"response", "resource", "revisit", "request", "metadata", "warcinfo",
                    "conversion", "continuation"})


@dataclass
class WarcItem:
    """One record of a WARC file: its type, ids, range, and (decided types) its view."""

    kind: str
    record_id: str | None
    target: str | None
    offset: int
    length: int = 0
    concurrent: tuple[str, ...] = ()  # WARC-Concurrent-To and WARC-Refers-To
    view: RecordView | None = None  # response, resource and revisit records with a URL


class WarcReadError(Exception):
    """The file could not be read past `offset`; the records before it were yielded."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def is_gzip(path: str | os.PathLike[str]) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def iter_warc(path: str | os.PathLike[str], max_file_bytes: int = files.MAX_FILE_BYTES,
              name: str | None = None) -> Iterator[WarcItem]:
    """Every record of the WARC at `path`, with its range; raises WarcReadError (after the
    records before it) when the file cannot be read further."""
    size = os.path.getsize(path)
    gz = is_gzip(path)
    label = name or str(path)
    previous: WarcItem | None = None
    with open(path, "rb") as stream:
        records = iter(ArchiveIterator(stream, parse_http=False, max_header_len=MAX_HTTP_HEADER))
        while True:
            try:
                record = next(records)
            except StopIteration:
                break
            except Exception as exc:  # noqa: BLE001 - FastWARC raises OSError, ValueError...
                if previous is not None:  # where it ends is unknown: never copied to kept/
                    at = previous.offset
                    previous.length = 0
                    yield previous
                    raise WarcReadError(short_error(exc), at) from None
                raise WarcReadError(short_error(exc), previous.offset + previous.length
                                    if previous is not None else 0) from None
            item = _item(record, label, max_file_bytes)
            if previous is not None:
                if gz and (item.offset <= previous.offset or item.offset >= size):
                    item.offset = previous.offset  # the same gzip member
                previous.length = (item.offset - previous.offset) or previous.length
                yield previous
            previous = item
        if previous is not None:
            previous.length = size - previous.offset
            yield previous


def _item(record: Any, label: str, max_file_bytes: int) -> WarcItem:
    headers = record.headers
    kind = str(record.record_type)
    kind = kind if kind in _TYPES else "unknown"
    target = headers.get("WARC-Target-URI")
    if target is not None:
        target = target.strip()
        if target.startswith("<") and target.endswith(">"):
            target = target[1:-1].strip()  # WARC 1.1 example syntax (wget writes it)
    concurrent = tuple(v.strip() for k, v in headers.astuples()
                       if k.lower() in ("warc-concurrent-to", "warc-refers-to"))
    item = WarcItem(kind, headers.get("WARC-Record-ID"), target, record.stream_pos,
                    concurrent=concurrent)
    if kind in DECIDED and (target is None or _http(target)):
        item.view = _view(record, kind, target, headers, label, max_file_bytes)
    return item


def _http(target: str) -> bool:
    """A page's target: http(s) (dns:, metadata://, file:// records are not pages)."""
    return target[:8].lower().startswith(("http://", "https://"))


def _view(record: Any, kind: str, target: str | None, headers: Any, label: str,
          max_file_bytes: int) -> RecordView:
    base: dict[str, Any] = {"warc_date": headers.get("WARC-Date"), "input": label,
                            "offset": record.stream_pos,
                            "record_id": headers.get("WARC-Record-ID")}
    if target is None:
        return RecordView("", error=f"{kind} record without WARC-Target-URI", **base)
    content_type = (headers.get("Content-Type") or "").lower()
    if "application/http" in content_type:
        try:
            record.parse_http(auto_decode="none", max_header_len=MAX_HTTP_HEADER)
        except Exception as exc:  # noqa: BLE001 - a broken header block is this record's
            return RecordView(target, error=f"HTTP header block unreadable: {short_error(exc)}",
                              **base)
        http = record.http_headers
        if http is None:
            return RecordView(target, error="HTTP header block unreadable", **base)
        status = http.status_code
        pairs = [(str(k), str(v)) for k, v in http.astuples()]
    else:  # a resource record: the block is the content itself
        status, pairs = None, [("Content-Type", headers.get("Content-Type") or "")]
    if kind == "revisit":
        return RecordView(target, status=status, headers=pairs, page_note=(
            "revisit record: its payload (HTML head, file metadata) is in the record it "
            "refers to"), **base)
    body, partial, note = read_payload(record.reader, pairs, max_file_bytes)
    return RecordView(target, status=status, headers=pairs, body=body, partial=partial,
                      page_note=note, **base)


# -- the kept file ------------------------------------------------------------------------
@dataclass
class _Unit:
    """One byte range of the input (a gzip member, or one record of an uncompressed file)
    and the records in it."""

    offset: int
    length: int
    items: list[tuple[WarcItem, bool | None]] = field(default_factory=list)  # (item, keep)


class KeptWriter:
    """Copies the kept records' byte ranges from the input to `out`, in input order."""

    def __init__(self, source: BinaryIO, out: BinaryIO) -> None:
        self.source = source
        self.out = out
        self.pending: deque[_Unit] = deque()
        self.fates: OrderedDict[str, bool] = OrderedDict()  # record id -> allowed (recent)
        self.window: deque[WarcItem] = deque(maxlen=2 * LINK_WINDOW)
        self.allowed_by_id: dict[str, bool] = {}

    def add(self, item: WarcItem, allowed: bool | None) -> None:
        """`allowed`: the decision of a decided record (None: undecided, an error row); for
        other records it is worked out from the records they belong to."""
        keep: bool | None = allowed if item.view is not None else None
        if item.view is not None and item.record_id:
            self.fates[item.record_id] = bool(allowed)
            if len(self.fates) > 4 * LINK_WINDOW:
                self.fates.popitem(last=False)
        unit = self.pending[-1] if self.pending else None
        if unit is None or unit.offset != item.offset:
            unit = _Unit(item.offset, item.length)
            self.pending.append(unit)
        else:
            unit.length = max(unit.length, item.length)
        unit.items.append((item, keep if item.view is not None else None))
        self.window.append(item)
        while len(self.pending) > LINK_WINDOW:
            self._finish(self.pending.popleft())

    def close(self) -> None:
        while self.pending:
            self._finish(self.pending.popleft())

    def _fate(self, item: WarcItem) -> bool:
        if item.kind == "warcinfo":
            return True
        linked: list[bool] = []
        for ref in item.concurrent:
            if ref in self.fates:
                linked.append(self.fates[ref])
        for other in self.window:  # decided records that name this one
            if other.view is not None and item.record_id and item.record_id in other.concurrent \
                    and other.record_id in self.fates:
                linked.append(self.fates[other.record_id])
        if not linked and item.target:
            same = [o for o in self.window if o.view is not None and o.target == item.target
                    and o.record_id in self.fates]
            if same:
                nearest = min(same, key=lambda o: abs(o.offset - item.offset))
                linked.append(self.fates[nearest.record_id])  # type: ignore[index]
        return bool(linked) and all(linked)

    def _finish(self, unit: _Unit) -> None:
        keep = all(bool(k) if item.view is not None else self._fate(item)
                   for item, k in unit.items)
        if keep and unit.length > 0:
            self.source.seek(unit.offset)
            left = unit.length
            while left > 0:
                data = self.source.read(min(left, 1024 * 1024))
                if not data:
                    break
                with writing():
                    self.out.write(data)
                left -= len(data)


def scan_warc_file(path: str | os.PathLike[str], options: Any, kept_path: str | None = None,
                   policies: dict | None = None, name: str | None = None,
                   on_record: Callable[[], None] | None = None) -> Iterator[dict[str, Any]]:
    """Decide every response, resource and revisit record of the WARC at `path`; yield one
    decision row each (and one error row for a part of the file that cannot be read). With
    `kept_path`, write the kept records there (see the module docstring), atomically: the
    file appears, whole, once the input has been read to its end."""
    label = name or str(path)
    source = out = None
    tmp = None
    if kept_path is not None:
        tmp = Path(kept_path).with_name(f".{Path(kept_path).name}.{os.getpid()}.tmp")
        source = open(path, "rb")  # noqa: SIM115 - closed below
        out = open(tmp, "wb")  # noqa: SIM115
    writer = KeptWriter(source, out) if source is not None and out is not None else None
    batch: list[WarcItem] = []
    try:
        if policies is None and getattr(options, "mode", "") == "live":
            _prefetch(path, options)  # every origin of the file, fetched concurrently
        items = iter_warc(path, options.max_file_bytes, name=label)
        while True:
            failure: WarcReadError | None = None
            try:
                for item in items:
                    batch.append(item)
                    if len(batch) >= 256:
                        break
            except WarcReadError as exc:
                failure = exc
            yield from _decide(batch, options, policies, writer)
            if on_record is not None:
                for _ in batch:
                    on_record()
            done = not batch or failure is not None
            batch = []
            if failure is not None:
                yield {"input": label, "offset": failure.offset, "length": None, "row": None,
                       "record_id": None, "url": None, "warc_date": None, "allowed": None,
                       "fetch_allowed": None, "reserved_by": [], "reserved_for": [],
                       "reasons": None, "policy_sha256": None,
                       "error": f"WARC unreadable from byte {failure.offset}: {failure}"}
            if done:
                break
        if writer is not None:
            writer.close()
            assert out is not None and tmp is not None and kept_path is not None
            with writing():
                out.close()
                os.replace(tmp, kept_path)
    finally:
        try:
            if out is not None:
                with contextlib.suppress(OSError):  # a full disk fails the flush too
                    out.close()
            if source is not None:
                source.close()
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)


def warc_origins(path: str | os.PathLike[str]) -> Iterator[str]:
    """The origins of a WARC's decided records, read from the WARC headers only (no HTTP
    parsing, no payload); stops quietly where the file cannot be read."""
    from ..urls import try_parse

    wanted = WarcRecordType.response | WarcRecordType.resource | WarcRecordType.revisit
    seen: set[str] = set()
    try:
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream, record_types=wanted, parse_http=False,
                                          max_header_len=MAX_HTTP_HEADER):
                target = (record.headers.get("WARC-Target-URI") or "").strip().strip("<>")
                url = try_parse(target) if target else None
                if url is not None and url.origin not in seen:
                    seen.add(url.origin)
                    yield url.origin
    except Exception:  # noqa: BLE001, S110 - the second pass reports where the file breaks
        return


def _prefetch(path: str | os.PathLike[str], options: Any, chunk: int = 4096) -> None:
    """Resolve every origin of the file before deciding (pass 1 of 2): concurrently, in
    chunks, so a file's fetches are not serialised batch by batch."""
    from .options import resolver_for

    resolver = resolver_for(options)
    pending = []
    origins: list[str] = []
    for origin in warc_origins(path):
        origins.append(origin)
        if len(origins) >= chunk:
            pending.append(resolver.submit(origins))
            origins = []
            if len(pending) > 4:
                pending.pop(0).result()
    if origins:
        pending.append(resolver.submit(origins))
    for future in pending:
        future.result()


def _decide(batch: list[WarcItem], options: Any, policies: dict | None,
            writer: KeptWriter | None) -> Iterator[dict[str, Any]]:
    from .batch import decide_views

    views = [i.view for i in batch if i.view is not None]
    rows = iter(decide_views([_ranged(i) for i in batch if i.view is not None], options,
                             policies)) if views else iter(())
    for item in batch:
        if item.view is None:
            if writer is not None:
                writer.add(item, None)
            continue
        row = next(rows)
        if writer is not None:
            writer.add(item, row["allowed"] is True)
        yield row


def _ranged(item: WarcItem) -> RecordView:
    from dataclasses import replace

    assert item.view is not None  # a range shared by several records: its end is unknown here
    return replace(item.view, offset=item.offset, length=item.length or None)


__all__ = ["DECIDED", "KeptWriter", "WarcItem", "WarcReadError", "is_gzip", "iter_warc",
           "scan_warc_file", "warc_origins"]
