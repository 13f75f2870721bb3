"""Spark: `mapInArrow` over a DataFrame of URLs, and a cc-pyspark-style job over WARC files.

- `decide_table(df, options)`: keys every row by its origin (the one URL model, in Python),
  repartitions by that key so each partition holds few origins, and maps
  `scan.batch.decide_batch` over the Arrow batches (`mapInArrow`): each batch's distinct
  origins are resolved once, through the policy store every executor shares.
- `decide_warc_paths(spark, paths, options, kept_dir)`: one task per WARC file (as
  cc-pyspark's jobs), each running `scan.warc.scan_warc_file`: decision rows out, and with
  `kept_dir` the allowed records written byte for byte to `kept_dir/NAME`.

Both return DataFrames of `scan.batch.DECISION_SCHEMA` (`decision_schema()` in Spark's
types). The executors' Python must have tdm-guard installed (`spark.pyspark.python` /
`PYSPARK_PYTHON`), and see the store (`ScanOptions.store`: a SQLite file on a disk they share,
or `redis://` for a cluster).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import from_arrow_schema
from pyspark.sql.types import StringType, StructField, StructType

from ..scan.batch import DECISION_SCHEMA, decide_batch, rows_to_batch
from ..scan.options import ScanOptions
from . import ORIGIN_COLUMN, READ_COLUMNS, origin_key

ROWS_PER_BATCH = 1024  # decision rows per Arrow batch a WARC task yields


def decision_schema() -> StructType:
    """DECISION_SCHEMA as a Spark schema (the `mapInArrow` result type)."""
    return from_arrow_schema(DECISION_SCHEMA)


def decide_table(df: DataFrame, options: ScanOptions, url_column: str = "url",
                 by_origin: bool = True, partitions: int | None = None,
                 id_column: str | None = None, number_rows: bool = False) -> DataFrame:
    """Decision rows for every row of `df` (lazy). `by_origin`: repartition by origin first
    (`partitions` of them; default `spark.sql.shuffle.partitions`). `id_column`: copied to
    `record_id` to join decisions back. `number_rows`: add `row`, each row's position in
    `df` (an extra job: `zipWithIndex`), when `df` has no `row` column."""
    from pyspark.sql import functions as F

    if url_column not in df.columns:
        raise ValueError(f"DataFrame: no column {url_column!r}; columns found: "
                         f"{', '.join(df.columns) or 'none'}")
    if number_rows and "row" not in df.columns:
        df = df_with_rows(df)
    if id_column is not None:
        df = df.withColumn("record_id", F.col(id_column).cast("string"))
    wanted = [url_column, *(c for c in READ_COLUMNS if c in df.columns and c != url_column)]
    df = df.select(*wanted)
    if by_origin:
        keyed = StructType([*df.schema.fields, StructField(ORIGIN_COLUMN, StringType())])
        df = df.mapInArrow(partial(_with_origin, url_column=url_column), keyed)
        df = (df.repartition(partitions, ORIGIN_COLUMN) if partitions
              else df.repartition(ORIGIN_COLUMN))
    return df.mapInArrow(partial(decide_batches, options=options, url_column=url_column),
                         decision_schema())


def df_with_rows(df: DataFrame) -> DataFrame:
    """`df` with a `row` column: each row's 0-based position (`RDD.zipWithIndex`)."""
    from pyspark.sql.types import LongType

    schema = StructType([*df.schema.fields, StructField("row", LongType(), False)])
    rdd = df.rdd.zipWithIndex().map(lambda pair: (*pair[0], pair[1]))
    return df.sparkSession.createDataFrame(rdd, schema)


def _with_origin(batches: Iterable[pa.RecordBatch], url_column: str,
                 ) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        keys = pa.array([origin_key(u) for u in batch.column(url_column).to_pylist()],
                        pa.string())
        yield pa.RecordBatch.from_arrays([*batch.columns, keys],
                                         names=[*batch.schema.names, ORIGIN_COLUMN])


def decide_batches(batches: Iterable[pa.RecordBatch], options: ScanOptions,
                   url_column: str = "url") -> Iterator[pa.RecordBatch]:
    """The `mapInArrow` function of `decide_table`: `decide_batch` on each Arrow batch."""
    for batch in batches:
        if ORIGIN_COLUMN in batch.schema.names:
            batch = batch.drop_columns([ORIGIN_COLUMN])
        yield decide_batch(batch, options, url_column)


def decide_warc_paths(spark: SparkSession, paths: Iterable[str | os.PathLike[str]],
                      options: ScanOptions, kept_dir: str | os.PathLike[str] | None = None,
                      partitions: int | None = None) -> DataFrame:
    """Decision rows of WARC files, one task per file by default (lazy). `paths`: local or
    shared-filesystem paths (read `warc.paths.gz` with `read_paths`). `kept_dir`: each
    file's allowed records as `kept_dir/NAME`."""
    listed = [str(p) for p in paths]
    slices = max(1, partitions or len(listed))
    rdd = spark.sparkContext.parallelize([(p,) for p in listed], slices)
    frame = spark.createDataFrame(rdd, StructType([StructField("path", StringType(), False)]))
    kept = None if kept_dir is None else str(kept_dir)
    return frame.mapInArrow(partial(_scan_paths, options=options, kept_dir=kept),
                            decision_schema())


def _scan_paths(batches: Iterable[pa.RecordBatch], options: ScanOptions,
                kept_dir: str | None) -> Iterator[pa.RecordBatch]:
    from ..scan.warc import scan_warc_file

    for batch in batches:
        for path in batch.column("path").to_pylist():
            kept = None if kept_dir is None else str(Path(kept_dir) / Path(path).name)
            rows = []
            for row in scan_warc_file(path, options, kept_path=kept):
                rows.append(row)
                if len(rows) >= ROWS_PER_BATCH:
                    yield rows_to_batch(rows)
                    rows = []
            if rows:
                yield rows_to_batch(rows)


def read_paths(listing: str | os.PathLike[str], prefix: str = "") -> list[str]:
    """The paths of a listing such as Common Crawl's `warc.paths.gz` (one a line; gzip read
    when the name ends in .gz), each joined to `prefix` (where the files are mounted)."""
    import gzip

    name = str(listing)
    opener = gzip.open if name.endswith(".gz") else open
    with opener(name, "rt", encoding="utf-8") as handle:
        return [prefix + line.strip() for line in handle if line.strip()]


__all__ = ["decide_batches", "decide_table", "decide_warc_paths", "decision_schema",
           "read_paths", "df_with_rows"]
