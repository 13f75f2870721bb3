"""The engine corpus on a Dask LocalCluster of 2 worker processes: the same decisions as the
scan itself, each origin's policy files fetched once per run (a SQLite store shared by the
workers), and the kept WARC files byte for byte the same."""

from __future__ import annotations

import pytest

pytest.importorskip("dask.dataframe", reason="dask not installed (pip install -e '.[dask]')")
pytest.importorskip("distributed", reason="distributed not installed (pip install -e '.[dask]')")

from engine_corpus import (  # noqa: E402
    assert_fetched_once,
    engine_corpus,
    kept_files,
    reference_outcome,
    table_by_row,
    warc_by_id,
)

from tdm_guard.scan.options import ScanOptions  # noqa: E402


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    with engine_corpus(tmp_path_factory.mktemp("corpus")) as found:
        yield found


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory):
    return reference_outcome(corpus, tmp_path_factory.mktemp("reference"))


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      worker_dashboard_address=None) as cluster, Client(cluster) as dask_client:
        yield dask_client


def test_dask_table_matches_the_scan(corpus, reference, client, tmp_path):
    import dask.dataframe as dd
    import pyarrow.parquet as pq

    from tdm_guard.engines.dask import decide_frame, write_decisions
    from tdm_guard.scan.batch import DECISION_SCHEMA

    corpus.reset_counts()
    options = ScanOptions(store=str(tmp_path / "store.sqlite"))
    frame = dd.read_parquet(str(corpus.table), split_row_groups=True)
    assert frame.npartitions > 1
    decisions = decide_frame(frame, options, npartitions=3, number_rows=True)
    rows = decisions.compute().to_dict("records")
    assert table_by_row(rows) == reference.table
    assert_fetched_once(corpus.policy_fetches())
    # written as parquet, read back: the decision schema survives
    written = write_decisions(decisions, tmp_path / "decisions")
    assert len(written) == decisions.npartitions
    assert pq.read_schema(written[0]) == DECISION_SCHEMA
    back = dd.read_parquet(str(tmp_path / "decisions")).compute().to_dict("records")
    assert table_by_row(back) == reference.table


def test_dask_warc_files_match_the_scan(corpus, reference, client, tmp_path):
    from tdm_guard.engines.dask import decide_warc_files

    corpus.reset_counts()
    options = ScanOptions(store=str(tmp_path / "store.sqlite"))
    kept = tmp_path / "kept"
    kept.mkdir()
    rows = decide_warc_files(corpus.warcs, options, kept_dir=kept).compute().to_dict("records")
    assert warc_by_id(rows) == reference.warc
    assert_fetched_once(corpus.policy_fetches())
    assert kept_files(kept) == reference.kept


def test_a_frame_without_the_url_column_is_a_one_line_error(client):
    import dask.dataframe as dd
    import pandas as pd

    from tdm_guard.engines.dask import decide_frame

    frame = dd.from_pandas(pd.DataFrame({"link": ["http://a.example/"]}), npartitions=1)
    with pytest.raises(ValueError, match="no column 'url'; columns found: link"):
        decide_frame(frame, ScanOptions(store=None))
