"""The scan on the engines a team already runs: Dask, Spark and datatrove (docs/scan-engines.md).

Each engine is a thin adapter over the scan's library API (`tdm_guard.scan`): the decisions
come from `scan.batch.decide_batch` / `decide_views` and `scan.warc.scan_warc_file`, so the
CLI and every engine decide alike. Import the engine you use by name
(`tdm_guard.engines.dask`, `.spark`, `.datatrove`); this package imports none of them, and
nothing in tdm-guard imports this package (tests/test_architecture.py). The engines are
optional extras: `pip install "tdm-guard[dask]"`, `[spark]`, `[datatrove]`.
"""

from __future__ import annotations

from typing import Any

from ..urls import try_parse

ORIGIN_COLUMN = "_tdm_origin"  # the repartitioning key (dropped before deciding)
# The columns `scan.batch.decide_batch` reads besides the URL: engines pass these, no others.
READ_COLUMNS = ("warc_date", "status", "headers", "body", "input", "offset", "length",
                "record_id", "row")


def origin_key(url: Any) -> str:
    """The origin of `url` by the one URL model, "" for a URL that does not parse (those rows
    are grouped together, and decided as error rows)."""
    parsed = try_parse(url) if isinstance(url, str) else None
    return parsed.origin if parsed is not None else ""


__all__ = ["ORIGIN_COLUMN", "READ_COLUMNS", "origin_key"]
