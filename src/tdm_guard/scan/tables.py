"""URL tables: Parquet (pyarrow), CSV and JSON Lines (each also gzip-compressed), streamed in
batches of `BATCH_ROWS` rows, and their kept (or annotated) copies.

- The URL column: `--url-column NAME`, else `url`, else `URL`, else a one-line error naming
  the columns found (`ValueError`).
- Parquet: `ParquetFile.iter_batches`; the kept file has the input's schema (annotated: plus
  `tdm_allowed` bool and `tdm_reserved_for` list<string>).
- CSV: the first line names the columns; read with the standard `csv` module (undecodable
  bytes become U+FFFD; a field over 128 KiB, or any other malformed line, ends the file with
  an error row after every row before it was decided); written back with `csv.writer`.
- JSON Lines: one object per line; a line that is not a JSON object is an error row and the
  others are decided; kept lines are the input's bytes unchanged (annotated lines are the
  object re-serialised with the two keys added).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from .batch import url_column_of
from .payload import short_error

BATCH_ROWS = 8192
MAX_JSON_LINE = 8 * 1024 * 1024  # a JSON Lines line longer than this is an error row
TABLE_FORMATS = ("parquet", "csv", "jsonl")
ANNOTATIONS = ("tdm_allowed", "tdm_reserved_for")


def table_format(path: str) -> str | None:
    """The table format a file name says (None: not a table name)."""
    name = path.lower().removesuffix(".gz")
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return None


@dataclass
class TableChunk:
    """Up to BATCH_ROWS consecutive rows: their URLs, read errors, and what the writer
    copies (a RecordBatch, CSV rows, or JSON Lines lines with their objects)."""

    start: int  # the first row's number (0-based, header line not counted)
    urls: list[Any]
    errors: list[str | None]
    payload: Any
    objects: list[Any] = field(default_factory=list)  # JSON Lines: the parsed objects


class TableReader:
    """Opens a table, finds its URL column (ValueError naming the columns found), then
    yields TableChunks (`chunks`); a file that breaks down part way raises ValueError from
    `chunks` after the rows before it."""

    def __init__(self, path: str | os.PathLike[str], fmt: str, url_column: str | None = None,
                 batch_rows: int = BATCH_ROWS) -> None:
        self.path = str(path)
        self.fmt = fmt
        self.batch_rows = batch_rows
        self.columns: list[str] = []
        self._stream: Any = None
        self.schema: Any = None
        self._open()
        self.url_column = url_column_of(self.columns, url_column, self.path)

    def _open(self) -> None:
        if self.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            try:
                self._stream = pq.ParquetFile(self.path)
                self.schema = self._stream.schema_arrow
            except (pa.ArrowException, OSError) as exc:
                raise ValueError(f"{self.path}: not a readable Parquet file ({short_error(exc)})") \
                    from None
            self.columns = list(self.schema.names)
        elif self.fmt == "csv":
            self._stream = _text(self.path)
            self._csv = csv.reader(self._stream)
            try:
                self.columns = next(self._csv)
            except StopIteration:
                self.columns = []
            except (csv.Error, OSError, EOFError, ValueError) as exc:
                raise ValueError(f"{self.path}: not a readable CSV file ({short_error(exc)})") \
                    from None
        else:
            self._stream = _binary(self.path)
            self._first: list[bytes] = []
            try:  # the columns: the keys of the first object line
                for line in self._stream:
                    self._first.append(line)
                    obj = _json(line)
                    if isinstance(obj, dict):
                        self.columns = list(obj)[:1000]
                        break
                    if len(self._first) > 1000:
                        break
            except (OSError, EOFError, ValueError) as exc:
                raise ValueError(f"{self.path}: not a readable JSON Lines file "
                                 f"({short_error(exc)})") from None

    def close(self) -> None:
        if self._stream is not None and hasattr(self._stream, "close"):
            self._stream.close()

    def chunks(self) -> Iterator[TableChunk]:
        try:
            if self.fmt == "parquet":
                yield from self._parquet()
            elif self.fmt == "csv":
                yield from self._csv_chunks()
            else:
                yield from self._jsonl()
        except ValueError:
            raise
        except Exception as exc:  # noqa: BLE001 - any decoder's error: a one-line error
            raise ValueError(f"{self.path}: unreadable ({short_error(exc)})") from None

    def _parquet(self) -> Iterator[TableChunk]:
        start = 0
        for batch in self._stream.iter_batches(batch_size=self.batch_rows):
            urls = batch.column(self.url_column).to_pylist()
            yield TableChunk(start, urls, [None] * len(urls), batch)
            start += len(urls)

    def _csv_chunks(self) -> Iterator[TableChunk]:
        index = self.columns.index(self.url_column)
        start = 0
        rows: list[list[str]] = []
        try:
            for row in self._csv:
                rows.append(row)
                if len(rows) >= self.batch_rows:
                    yield _csv_chunk(start, rows, index)
                    start += len(rows)
                    rows = []
        except (csv.Error, OSError, EOFError) as exc:
            if rows:
                yield _csv_chunk(start, rows, index)
                start += len(rows)
            raise ValueError(f"{self.path}: unreadable after row {start} ({short_error(exc)})") \
                from None
        if rows:
            yield _csv_chunk(start, rows, index)

    def _jsonl(self) -> Iterator[TableChunk]:
        start = 0
        lines: list[bytes] = []

        def all_lines() -> Iterator[bytes]:
            yield from self._first
            yield from self._stream

        try:
            for line in all_lines():
                if not line.strip():
                    continue
                lines.append(line)
                if len(lines) >= self.batch_rows:
                    yield self._json_chunk(start, lines)
                    start += len(lines)
                    lines = []
        except (OSError, EOFError, ValueError) as exc:
            if lines:
                yield self._json_chunk(start, lines)
                start += len(lines)
            raise ValueError(f"{self.path}: unreadable after row {start} ({short_error(exc)})") \
                from None
        if lines:
            yield self._json_chunk(start, lines)

    def _json_chunk(self, start: int, lines: list[bytes]) -> TableChunk:
        urls: list[Any] = []
        errors: list[str | None] = []
        objects: list[Any] = []
        for line in lines:
            obj = _json(line) if len(line) <= MAX_JSON_LINE else None
            objects.append(obj)
            if not isinstance(obj, dict):
                urls.append(None)
                errors.append("not a JSON object" if len(line) <= MAX_JSON_LINE
                              else f"line longer than {MAX_JSON_LINE} bytes")
            elif self.url_column not in obj:
                urls.append(None)
                errors.append(f"no {self.url_column!r} key")
            else:
                urls.append(obj[self.url_column])
                errors.append(None)
        return TableChunk(start, urls, errors, lines, objects)


def _csv_chunk(start: int, rows: list[list[str]], index: int) -> TableChunk:
    urls: list[Any] = []
    errors: list[str | None] = []
    for row in rows:
        if index < len(row):
            urls.append(row[index])
            errors.append(None)
        else:
            urls.append(None)
            errors.append(f"row has {len(row)} fields: no URL field")
    return TableChunk(start, urls, errors, rows)


def _json(line: bytes) -> Any:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return None


def _gz(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _binary(path: str) -> BinaryIO:
    return gzip.open(path, "rb") if _gz(path) else open(path, "rb")  # noqa: SIM115


def _text(path: str) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if _gz(path) else open(path, "rb")  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")


class TableWriter:
    """The kept (or, with `annotate`, annotated) copy of a table, written to a temporary file
    and renamed into place by `commit`."""

    def __init__(self, path: str | os.PathLike[str], reader: TableReader,
                 annotate: bool = False) -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self.reader = reader
        self.annotate = annotate
        self.gz = reader.fmt != "parquet" and str(path).lower().endswith(".gz")
        self._out: Any = None
        self._csv: Any = None
        if reader.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            schema = reader.schema
            if annotate:
                schema = schema.append(pa.field("tdm_allowed", pa.bool_())).append(
                    pa.field("tdm_reserved_for", pa.list_(pa.string())))
            self._schema = schema
            self._out = pq.ParquetWriter(self.tmp, schema)
        else:
            raw = gzip.open(self.tmp, "wb") if self.gz else open(self.tmp, "wb")  # noqa: SIM115
            self._out = raw
            if reader.fmt == "csv":
                self._text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                self._csv = csv.writer(self._text)
                header = list(reader.columns)
                self._csv.writerow(header + list(ANNOTATIONS) if annotate else header)

    def write(self, chunk: TableChunk, rows: list[dict[str, Any]]) -> None:
        """Write `chunk`'s kept rows (or every row, annotated); `rows`: its decision rows."""
        allowed = [r["allowed"] for r in rows]
        reserved_for = [r["reserved_for"] for r in rows]
        fmt = self.reader.fmt
        if fmt == "parquet":
            import pyarrow as pa

            batch = chunk.payload
            if self.annotate:
                batch = pa.RecordBatch.from_arrays(
                    [*batch.columns, pa.array(allowed, pa.bool_()),
                     pa.array(reserved_for, pa.list_(pa.string()))], schema=self._schema)
            else:
                batch = batch.filter(pa.array([a is True for a in allowed], pa.bool_()))
            if batch.num_rows:
                self._out.write_batch(batch)
        elif fmt == "csv":
            for row, ok, purposes in zip(chunk.payload, allowed, reserved_for, strict=True):
                if self.annotate:
                    self._csv.writerow([*row, "" if ok is None else str(ok).lower(),
                                        " ".join(purposes)])
                elif ok is True:
                    self._csv.writerow(row)
        else:
            for line, obj, ok, purposes in zip(chunk.payload, chunk.objects, allowed,
                                               reserved_for, strict=True):
                if self.annotate and isinstance(obj, dict):
                    obj = {**obj, "tdm_allowed": ok, "tdm_reserved_for": purposes}
                    self._out.write(json.dumps(obj, ensure_ascii=False).encode() + b"\n")
                elif self.annotate or ok is True:
                    self._out.write(line if line.endswith(b"\n") else line + b"\n")

    def commit(self) -> None:
        self._close()
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        try:
            self._close()
        finally:
            self.tmp.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._out is None:
            return
        if self._csv is not None:
            self._text.flush()
            self._text.detach()
        self._out.close()
        self._out = None


__all__ = ["ANNOTATIONS", "BATCH_ROWS", "TABLE_FORMATS", "TableChunk", "TableReader", "TableWriter",
           "table_format"]
