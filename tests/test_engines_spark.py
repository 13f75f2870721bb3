"""The engine corpus on Spark in local[2] mode: `mapInArrow` over the URL table and the
cc-pyspark-style per-WARC job give the scan's decisions, each origin's policy files fetched
once per run (a SQLite store shared by the Python workers), the kept WARCs byte for byte the
same. One session for the module (starting one takes seconds)."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

pytest.importorskip("pyspark", reason="pyspark not installed (pip install -e '.[spark]')")
if shutil.which("java") is None:
    pytest.skip("no java on PATH (Spark needs a JRE: apt-get install default-jre-headless)",
                allow_module_level=True)

from engine_corpus import (  # noqa: E402
    assert_fetched_once,
    engine_corpus,
    kept_files,
    reference_outcome,
    table_by_row,
    warc_by_id,
)

from tdm_guard.scan.options import ScanOptions  # noqa: E402

# pyspark's own notice about pandas 3 (mapInArrow does not use pandas)
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    with engine_corpus(tmp_path_factory.mktemp("corpus")) as found:
        yield found


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory):
    return reference_outcome(corpus, tmp_path_factory.mktemp("reference"))


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    saved = {k: os.environ.get(k) for k in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")}
    os.environ["PYSPARK_PYTHON"] = os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (SparkSession.builder.master("local[2]").appName("tdm-guard-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "3")
               .config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.driver.host", "127.0.0.1")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_spark_table_matches_the_scan(corpus, reference, spark, tmp_path):
    from tdm_guard.engines.spark import decide_table

    corpus.reset_counts()
    options = ScanOptions(store=str(tmp_path / "store.sqlite"))
    frame = spark.read.parquet(str(corpus.table))
    decisions = decide_table(frame, options, number_rows=True)
    rows = [r.asDict() for r in decisions.collect()]
    assert table_by_row(rows) == reference.table
    assert_fetched_once(corpus.policy_fetches())


def test_spark_warc_job_matches_the_scan(corpus, reference, spark, tmp_path):
    from tdm_guard.engines.spark import decide_warc_paths, read_paths

    corpus.reset_counts()
    listing = tmp_path / "warc.paths"
    listing.write_text("".join(f"{p.name}\n" for p in corpus.warcs))
    paths = read_paths(listing, prefix=f"{corpus.warcs[0].parent}/")
    options = ScanOptions(store=str(tmp_path / "store.sqlite"))
    kept = tmp_path / "kept"
    kept.mkdir()
    decisions = decide_warc_paths(spark, paths, options, kept_dir=kept)
    decisions.write.parquet(str(tmp_path / "decisions"))
    import pyarrow.parquet as pq

    rows = pq.read_table(str(tmp_path / "decisions")).to_pylist()
    assert warc_by_id(rows) == reference.warc
    assert_fetched_once(corpus.policy_fetches())
    assert kept_files(kept) == reference.kept


def test_a_dataframe_without_the_url_column_is_a_one_line_error(spark):
    from tdm_guard.engines.spark import decide_table

    frame = spark.createDataFrame([("http://a.example/",)], "link string")
    with pytest.raises(ValueError, match="no column 'url'; columns found: link"):
        decide_table(frame, ScanOptions(store=None))
