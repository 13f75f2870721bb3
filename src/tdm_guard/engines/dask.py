"""Dask: decisions for a dataframe of URLs, partitioned by origin, and for WARC files.

`decide_frame(frame, options)` keys every row by its origin (the one URL model), shuffles
the rows by that key so that each partition holds few origins (each then resolved by one
worker, once: `decide_batch` resolves a partition's distinct origins in one call through the
policy store), and maps `scan.batch.decide_batch` over the partitions. The result is a lazy
Dask dataframe of decision rows (`scan.batch.DECISION_SCHEMA`, pyarrow-backed dtypes): write
it with `write_decisions`, and join it back to the table on `record_id` (`id_column=`) or
`row` (`number_rows=True`).

Give every worker the same policy store (`ScanOptions.store`: a SQLite file on a disk they
share, or a `redis://` URL for several machines) and each origin's policy files are fetched
once between them. Never decide per row (`frame[url].map(...)` calling the network): that
is a store round trip per row, and a fetch per row and worker when nothing is shared.

`decide_warc_files(paths, options, kept_dir)` runs `scan.warc.scan_warc_file` once per file, as
a Dask task per file (the kept WARC of each input written beside the others).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import dask
import dask.dataframe as dd
import pandas as pd
import pyarrow as pa

from ..scan.batch import DECISION_SCHEMA, decide_batch
from ..scan.options import ScanOptions
from . import ORIGIN_COLUMN, READ_COLUMNS, origin_key


def decision_meta() -> pd.DataFrame:
    """An empty frame of decision rows, with the dtypes every partition has (Dask `meta`)."""
    return DECISION_SCHEMA.empty_table().to_pandas(types_mapper=pd.ArrowDtype)


def decide_frame(frame: dd.DataFrame, options: ScanOptions, url_column: str = "url",
                 by_origin: bool = True, npartitions: int | None = None,
                 id_column: str | None = None, input_name: str | None = None,
                 number_rows: bool = False) -> dd.DataFrame:
    """Decision rows for every row of `frame` (lazy). `by_origin`: shuffle by origin first
    (the default; off only for frames already partitioned so). `id_column`: a column copied
    to `record_id` (LAION's `key`, say), to join decisions back. `input_name`: the `input`
    column's value (the table's name). `number_rows`: add `row`, each row's position in
    `frame`, when it has none (an extra pass over the data)."""
    if url_column not in frame.columns:
        raise ValueError(f"dataframe: no column {url_column!r}; columns found: "
                         f"{', '.join(map(str, frame.columns)) or 'none'}")
    if number_rows and "row" not in frame.columns:
        frame = frame_with_rows(frame)
    if id_column is not None:
        frame = frame.assign(record_id=frame[id_column].astype(str))
    if input_name is not None:
        frame = frame.assign(input=input_name)
    wanted = [url_column, *(c for c in READ_COLUMNS if c in frame.columns and c != url_column)]
    frame = frame[wanted]
    if by_origin:
        meta = frame._meta.assign(**{ORIGIN_COLUMN: pd.Series([], dtype=object)})
        frame = frame.map_partitions(_with_origin, url_column, meta=meta)
        frame = frame.shuffle(on=ORIGIN_COLUMN, npartitions=npartitions)
    return frame.map_partitions(decide_partition, options, url_column, meta=decision_meta())


def frame_with_rows(frame: dd.DataFrame) -> dd.DataFrame:
    """`frame` with a `row` column: each row's 0-based position in the frame. One extra pass
    (each partition's length), on the frame's partitions as they are (`to_delayed`)."""
    parts = frame.to_delayed()
    lengths = dask.compute(*[dask.delayed(len)(p) for p in parts])
    starts = [0]
    for n in lengths[:-1]:
        starts.append(starts[-1] + int(n))
    meta = frame._meta.assign(row=pd.Series([], dtype="int64"))
    numbered = [dask.delayed(_number)(p, s) for p, s in zip(parts, starts, strict=True)]
    return dd.from_delayed(numbered, meta=meta, verify_meta=False)


def _number(part: pd.DataFrame, start: int) -> pd.DataFrame:
    return part.assign(row=range(start, start + len(part)))


def _with_origin(part: pd.DataFrame, url_column: str) -> pd.DataFrame:
    return part.assign(**{ORIGIN_COLUMN: [origin_key(u) for u in part[url_column]]})


def decide_partition(part: pd.DataFrame, options: ScanOptions, url_column: str = "url",
                     ) -> pd.DataFrame:
    """One partition's decision rows (the function `decide_frame` maps)."""
    columns = [c for c in part.columns if c != ORIGIN_COLUMN]
    batch = pa.RecordBatch.from_pandas(part[columns], preserve_index=False)
    return decide_batch(batch, options, url_column).to_pandas(types_mapper=pd.ArrowDtype)


def write_decisions(decisions: dd.DataFrame, folder: str | os.PathLike[str]) -> list[str]:
    """Write decision rows as `folder/part.NNNNN.parquet` (DECISION_SCHEMA exactly, each part
    atomically; computes `decisions`); the paths written. Use it rather than `to_parquet`:
    pandas cannot read back the list columns' pandas metadata `to_parquet` writes."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    paths = [str(Path(folder) / f"part.{i:05d}.parquet")
             for i in range(decisions.npartitions)]
    dask.compute(*[dask.delayed(_write_part)(part, path)
                   for part, path in zip(decisions.to_delayed(), paths, strict=True)])
    return paths


def _write_part(part: pd.DataFrame, path: str) -> None:
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(part, schema=DECISION_SCHEMA, preserve_index=False)
    tmp = f"{path}.{os.getpid()}.tmp"
    pq.write_table(table.replace_schema_metadata(None), tmp)
    os.replace(tmp, path)


def decide_warc_files(paths: Iterable[str | os.PathLike[str]], options: ScanOptions,
                    kept_dir: str | os.PathLike[str] | None = None) -> dd.DataFrame:
    """Decision rows of WARC files, one Dask task per file (lazy). `kept_dir`: each file's
    allowed records, byte for byte, as `kept_dir/NAME` (NAME: the input's file name)."""
    kept = None if kept_dir is None else Path(kept_dir)
    tasks = [dask.delayed(_scan_one)(str(p), options,
                                     None if kept is None else str(kept / Path(p).name))
             for p in paths]
    if not tasks:
        return dd.from_pandas(decision_meta(), npartitions=1)
    return dd.from_delayed(tasks, meta=decision_meta(), verify_meta=False)


def _scan_one(path: str, options: ScanOptions, kept: str | None) -> pd.DataFrame:
    from ..scan.batch import rows_to_batch
    from ..scan.warc import scan_warc_file

    rows = list(scan_warc_file(path, options, kept_path=kept))
    return rows_to_batch(rows).to_pandas(types_mapper=pd.ArrowDtype)


__all__ = ["decide_frame", "decide_partition", "decide_warc_files", "decision_meta",
           "frame_with_rows", "write_decisions"]
