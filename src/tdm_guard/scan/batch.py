"""A batch of records in, a batch of decisions out: the per-partition function of the engines
(Spark `mapInArrow`, Dask `map_partitions`, Ray `map_batches`) and of `tdm-guard scan` on
URL tables.

`decide_batch(batch, options)` reads the URL column and, when present, these optional
columns: `warc_date` (string), `status` (int), `headers` (list of [name, value] pairs or of
{name, value} structs: repeated headers repeated), `body` (binary: the payload's head,
decoded), and the provenance columns `input`, `offset`, `length`, `record_id`, `row` (copied to
the output). It resolves the batch's distinct origins ONCE (through this process's
`PolicyResolver`: the `OriginLoader`, as `fetching.origins.resolve_origins` does, but on one
event loop per process so a process fetches an origin once and workers that share a SQLite or
Redis store fetch it once between them), unless `policies` gives them, then decides every
row with `records.decide_record`.

Repartition by origin before calling it (Spark: `repartition("origin")`; Dask: `shuffle` on
the origin): a partition then holds few origins and each is resolved by one worker. The
anti-pattern is resolving per row (a store round trip per row, and with no shared store a
fetch per row and worker).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from ..decide import OriginPolicy
from ..urls import try_parse
from .options import ScanOptions, evaluator_for, resolver_for
from .records import RecordView, decide_record

DECISION_SCHEMA = pa.schema([
    ("input", pa.string()),
    ("offset", pa.int64()),
    ("length", pa.int64()),
    ("row", pa.int64()),
    ("record_id", pa.string()),
    ("url", pa.string()),
    ("warc_date", pa.string()),
    ("allowed", pa.bool_()),
    ("fetch_allowed", pa.bool_()),
    ("reserved_by", pa.list_(pa.string())),
    ("reserved_for", pa.list_(pa.string())),
    ("reasons", pa.string()),  # JSON: Decision.to_dict(), as `check --json` prints it
    ("policy_sha256", pa.string()),  # JSON: {policy-file URL: sha256 of the body read}
    ("error", pa.string()),
])
_PROVENANCE = ("input", "offset", "length", "record_id", "row")


def rows_to_batch(rows: list[dict[str, Any]]) -> pa.RecordBatch:
    """Decision rows (dicts with the schema's columns) as a RecordBatch of DECISION_SCHEMA."""
    return pa.RecordBatch.from_pylist(rows, schema=DECISION_SCHEMA)


def url_column_of(names: Iterable[str], wanted: str | None, where: str) -> str:
    """The URL column: `wanted` if given, else `url`, else `URL`; ValueError naming the
    columns found."""
    names = list(names)
    if wanted is not None:
        if wanted in names:
            return wanted
        raise ValueError(f"{where}: no column {wanted!r} (--url-column); columns found: "
                         f"{_list(names)}")
    for name in ("url", "URL"):
        if name in names:
            return name
    raise ValueError(f"{where}: no URL column (url or URL; name it with --url-column); "
                     f"columns found: {_list(names)}")


def _list(names: list[str]) -> str:
    shown = ", ".join(repr(n)[:80] for n in names[:20])
    return (shown + f", ... ({len(names)} in all)" if len(names) > 20 else shown) or "none"


def views_of(batch: pa.RecordBatch, url_column: str = "url") -> list[RecordView]:
    """The batch's rows as RecordViews (see the module docstring for the columns read)."""
    names = batch.schema.names
    urls = batch.column(url_column).to_pylist()
    cols = {n: batch.column(n).to_pylist() for n in
            ("warc_date", "status", "headers", "body", *_PROVENANCE) if n in names}
    views = []
    for i, url in enumerate(urls):
        got = {n: values[i] for n, values in cols.items()}
        error = None
        if not isinstance(url, str):
            error = "no URL (null)" if url is None else f"URL is not text ({type(url).__name__})"
            url = "" if url is None else str(url)
        views.append(RecordView(
            url, warc_date=text_or_none(got.get("warc_date")),
            status=int_or_none(got.get("status")),
            headers=_headers(got.get("headers")), body=_bytes(got.get("body")),
            input=text_or_none(got.get("input")), offset=int_or_none(got.get("offset")),
            length=int_or_none(got.get("length")), record_id=text_or_none(got.get("record_id")),
            row=int_or_none(got.get("row")), error=error))
    return views


def decide_batch(batch: pa.RecordBatch, options: ScanOptions, url_column: str = "url",
                 policies: Mapping[str, OriginPolicy] | None = None) -> pa.RecordBatch:
    """One decision row per row of `batch` (DECISION_SCHEMA), in order."""
    views = views_of(batch, url_column)
    return rows_to_batch(decide_views(views, options, policies))


def decide_views(views: list[RecordView], options: ScanOptions,
                 policies: Mapping[str, OriginPolicy] | None = None) -> list[dict[str, Any]]:
    """Decide RecordViews: their distinct origins resolved once, then each view."""
    evaluator = evaluator_for(options)
    resolver = resolver_for(options)
    parsed = [try_parse(v.url) if v.error is None else None for v in views]
    if policies is None:
        resolved = resolver.resolve(u.origin for u in parsed if u is not None)
    else:
        resolved = dict(policies)
    rows = []
    for view, url in zip(views, parsed, strict=True):
        policy = None if url is None else resolver.policy(url.origin, view.warc_date, resolved)
        rows.append(decide_record(view, policy, evaluator, resolver.licences,
                                  options.as_of_capture, parsed=url))
    return rows


def text_or_none(value: Any) -> str | None:
    """A cell as text (None stays None): the provenance columns of any engine's rows."""
    return None if value is None else str(value)


def int_or_none(value: Any) -> int | None:
    """A cell as an int, or None for a missing or unreadable one."""
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return value.encode("utf-8", "replace") if isinstance(value, str) else b""


def _headers(value: Any) -> list[tuple[str, str]]:
    if not value:
        return []
    out = []
    for item in value:
        if isinstance(item, dict):
            name, val = item.get("name"), item.get("value")
        elif isinstance(item, list | tuple) and len(item) == 2:
            name, val = item
        else:
            continue
        if name is not None and val is not None:
            out.append((str(name), str(val)))
    return out


__all__ = ["DECISION_SCHEMA", "decide_batch", "decide_views", "rows_to_batch",
           "url_column_of", "views_of"]
