"""`tdm-guard scan` and its library API: the data a team already holds (WARC archives, URL
tables) audited against every opt-out signal, from a laptop to Spark.

The parts every engine composes (docs/scan.md):

- `records`: `RecordView` (one record as a reader sees it) and `decide_record` (its decision
  row; pure CPU, through the one `Evaluator`);
- `options`: `ScanOptions` (picklable), `evaluator_for` and `resolver_for` (built lazily, once
  per process), `PolicyResolver` (live, offline or captured policy files);
- `batch`: `DECISION_SCHEMA` and `decide_batch` (a `pyarrow.RecordBatch` in, decisions out:
  Spark `mapInArrow`, Dask `map_partitions`, Ray `map_batches`);
- `warc`: FastWARC reading (records with their gzip member offset and length, repeated
  headers, bounded Content-Encoding decoding) and `scan_warc_file` (kept file, decision rows);
- `tables`: Parquet, CSV and JSON Lines in bounded batches, kept or annotated rows;
- `captures`: robots.txt and tdmrep.json captured in WARC files, by origin and date;
- `run`: the command's work (per input, atomic and resumable outputs, summary.json).

pyarrow and FastWARC (the `scan` extra) are imported by the modules that need them, never by
`import tdm_guard` or `tdm_guard.scan`.
"""
