"""datatrove: a filter step that drops reserved documents, and a WARC reader that keeps what the
filter reads.

- `TdmGuardFilter(options)`: a `BaseFilter`. Each batch of documents is decided through
  `scan.batch.decide_views` (the batch's distinct origins resolved once, through the policy
  store every task shares); a document allowed is kept, any other is dropped with
  `(False, reason)` (`reason`: `tdm-guard: ` and the reserving signals, or `undecided`), and
  written by the `exclusion_writer` when one is given, with the decision's evidence in
  `metadata["tdm_reasons"]`. A document whose URL does not parse, or that cannot be
  decided, is dropped: a wrong "allowed" is the worst outcome.
- `TdmGuardWarcReader(data_folder)`: reads WARC files with the scan's reader
  (`scan.warc.iter_warc`: FastWARC, repeated headers as repeated pairs, Content-Encoding
  decoded within bounds) and keeps, in each document's metadata, what datatrove's
  `WarcReader` discards: `http_status`, `http_headers` (a list of [name, value] pairs), and
  the record's `warc_offset` / `warc_length`. HTML, XHTML and plain-text responses become
  documents (as `WarcReader` does); the text is the payload as the scan reads it, at most
  512 KiB decoded (`metadata["tdm_text_truncated"]` is true when the page was longer).

Documents from another reader (JSON Lines, Parquet: a URL table) carry no response: they are
decided on their origin's policy files and the declarations, as `tdm-guard scan` decides a
table row. Put the filter right after the reader: the filter reads the HTML head from
`Document.text`, which extraction steps (Trafilatura) replace.
"""

from __future__ import annotations

import os
from typing import Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.readers.base import BaseDiskReader

from ..scan.batch import decide_views, int_or_none, text_or_none
from ..scan.options import ScanOptions, resolver_for
from ..scan.records import RecordView
from ..signals.html import MAX_HEAD_BYTES

TEXT_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
UNDECIDED = "tdm-guard: undecided"


def document_view(doc: Document, url_key: str = "url", date_key: str = "date") -> RecordView:
    """What the filter decides a document on: its URL and date from the metadata, its captured
    response (`http_status`, `http_headers`, the text's head) when the reader kept one."""
    meta = doc.metadata
    url = meta.get(url_key)
    date = meta.get(date_key)
    base: dict[str, Any] = {
        "warc_date": None if date is None else str(date), "record_id": doc.id,
        "input": text_or_none(meta.get("file_path")),
        "offset": int_or_none(meta.get("warc_offset")),
        "length": int_or_none(meta.get("warc_length"))}
    if not isinstance(url, str):
        return RecordView("" if url is None else str(url),
                          error=f"no URL in metadata[{url_key!r}]", **base)
    status = int_or_none(meta.get("http_status"))
    headers = _pairs(meta.get("http_headers"))
    if status is None and not headers:
        return RecordView(url, **base)  # a table row: origin policies and declarations
    body = (doc.text or "").encode("utf-8")[:MAX_HEAD_BYTES]
    return RecordView(url, status=status, headers=headers, body=body,
                      partial=bool(meta.get("tdm_text_truncated")), **base)


class TdmGuardFilter(BaseFilter):
    """Keeps the documents tdm-guard allows for `options` (agent, purpose, profile, policy
    source); drops every other, with its reason (and its evidence to `exclusion_writer`).
    `annotate`: add `tdm_allowed`, `tdm_reserved_by`, `tdm_reserved_for` (the preferences
    to pass downstream) to every document's metadata."""

    name = "🛡 tdm-guard"

    def __init__(self, options: ScanOptions, exclusion_writer: Any = None,
                 batch_size: int = 512, annotate: bool = True, url_key: str = "url",
                 date_key: str = "date") -> None:
        super().__init__(exclusion_writer, batch_size)
        self.options = options
        self.annotate = annotate
        self.url_key = url_key
        self.date_key = date_key

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1,
            ) -> DocumentsPipeline:
        try:
            yield from super().run(data, rank, world_size)
        finally:  # this task's connections (the policy store keeps what was fetched)
            resolver_for(self.options).close()

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return self.filter_batch([doc])[0]

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        views = [document_view(d, self.url_key, self.date_key) for d in batch]
        rows = decide_views(views, self.options)
        return [self._verdict(doc, row) for doc, row in zip(batch, rows, strict=True)]

    def _verdict(self, doc: Document, row: dict[str, Any]) -> bool | tuple[bool, str]:
        allowed = row["allowed"] is True
        if self.annotate:
            doc.metadata.update(tdm_allowed=row["allowed"], tdm_fetch_allowed=row["fetch_allowed"],
                                tdm_reserved_by=row["reserved_by"],
                                tdm_reserved_for=row["reserved_for"])
        if allowed:
            return True
        doc.metadata["tdm_reasons"] = row["reasons"]
        doc.metadata["tdm_policy_sha256"] = row["policy_sha256"]
        if row["error"] is not None:
            doc.metadata["tdm_error"] = row["error"]
            return False, UNDECIDED
        self.stat_update("tdm_reserved")
        signals = ",".join(row["reserved_by"]) or "reserved"
        return False, f"tdm-guard: {signals}"


class TdmGuardWarcReader(BaseDiskReader):
    """Reads WARC files (gzip per record, or not compressed) into documents that keep their
    HTTP status and headers (see the module docstring). Arguments as `WarcReader`'s."""

    name = "🕷 tdm-guard WARC"

    def read_file(self, filepath: str) -> DocumentsPipeline:
        from ..scan.warc import WarcReadError, iter_warc

        path = self._local_path(filepath)
        try:
            for index, item in enumerate(iter_warc(path, name=filepath)):
                view = item.view
                if view is None or view.error is not None or not _istext_or_none(view.headers):
                    continue
                with self.track_time():
                    document = self.get_document_from_dict(
                        _document_data(view, item.offset, item.length), filepath, index)
                if document is not None:
                    yield document
        except WarcReadError as exc:
            self.stat_update("tdm_unreadable_files")
            from datatrove.utils.logging import logger

            logger.warning(f"{filepath}: unreadable from byte {exc.offset}: {exc}")

    def _local_path(self, filepath: str) -> str:
        """The file as a local path (FastWARC reads files; remote ones are not copied)."""
        resolved = self.data_folder.resolve_paths(filepath)
        local = resolved.removeprefix("file://")
        if not os.path.exists(local):
            raise FileNotFoundError(f"{resolved}: TdmGuardWarcReader reads local (or mounted) "
                                    "files only")
        return local


def _document_data(view: RecordView, offset: int, length: int) -> dict[str, Any]:
    charset = _charset(view.headers)
    try:
        text = view.body.decode(charset, errors="replace")
    except LookupError:
        text = view.body.decode("utf-8", errors="replace")
    return {"text": text, "id": view.record_id, "url": view.url, "date": view.warc_date,
            "http_status": view.status, "http_headers": [list(p) for p in view.headers],
            "warc_offset": offset, "warc_length": length,
            "tdm_text_truncated": view.partial}


def _content_type(headers: list[tuple[str, str]]) -> str:
    return next((v for k, v in headers if k.lower() == "content-type"), "")


def _istext_or_none(headers: list[tuple[str, str]]) -> bool:
    kind = _content_type(headers).split(";")[0].strip().lower()
    return kind in TEXT_TYPES


def _charset(headers: list[tuple[str, str]]) -> str:
    for part in _content_type(headers).split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')[:40]
    return "utf-8"


def _pairs(value: Any) -> list[tuple[str, str]]:
    """[name, value] pairs from metadata as a writer may have left them (lists, tuples, or
    {name, value} objects); anything else is not a header, and is left out."""
    if not isinstance(value, list | tuple):
        return []
    out = []
    for item in value:
        if isinstance(item, dict):
            item = (item.get("name"), item.get("value"))
        if isinstance(item, list | tuple) and len(item) == 2 \
                and isinstance(item[0], str) and isinstance(item[1], str):
            out.append((item[0], item[1]))
    return out


__all__ = ["TdmGuardFilter", "TdmGuardWarcReader", "document_view"]
