"""The engine corpus through datatrove's LocalPipelineExecutor (2 tasks, 2 worker processes):
the WARC reader keeps the HTTP headers, the filter keeps exactly what the scan allows and
writes the rest to its exclusion writer with the reason; the table through datatrove's
ParquetReader is decided on origin policies, as the scan decides table rows. Each origin's
policy files are fetched once per run (a SQLite store shared by the tasks)."""

from __future__ import annotations

import gzip
import json

import pytest

pytest.importorskip("datatrove", reason="datatrove not installed (pip install -e '.[datatrove]')")
pytest.importorskip("orjson", reason="orjson not installed (datatrove's JsonlWriter needs it)")

from engine_corpus import (  # noqa: E402
    assert_fetched_once,
    comparable,
    engine_corpus,
    reference_outcome,
)

from tdm_guard.scan.options import ScanOptions  # noqa: E402


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    with engine_corpus(tmp_path_factory.mktemp("corpus")) as found:
        yield found


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory):
    return reference_outcome(corpus, tmp_path_factory.mktemp("reference"))


def _documents(folder) -> list[dict]:
    docs = []
    for path in sorted(folder.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            docs += [json.loads(line) for line in handle if line.strip()]
    return docs


def _run(reader, options, tmp_path) -> tuple[list[dict], list[dict]]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.writers import JsonlWriter

    from tdm_guard.engines.datatrove import TdmGuardFilter

    kept, excluded = tmp_path / "kept", tmp_path / "excluded"
    LocalPipelineExecutor(
        pipeline=[reader,
                  TdmGuardFilter(options, exclusion_writer=JsonlWriter(str(excluded)),
                                 batch_size=4),
                  JsonlWriter(str(kept))],
        tasks=2, workers=2, logging_dir=str(tmp_path / "logs")).run()
    return _documents(kept), _documents(excluded)


def _as_row(doc: dict) -> dict:
    """A written document's decision, in the decision row's terms."""
    meta = doc["metadata"]
    return {"url": meta.get("url"), "allowed": meta["tdm_allowed"],
            "fetch_allowed": meta["tdm_fetch_allowed"], "reserved_by": meta["tdm_reserved_by"],
            "reserved_for": meta["tdm_reserved_for"]}


def _expected(reference_rows: dict) -> dict:
    return {k: {f: v[f] for f in ("url", "allowed", "fetch_allowed", "reserved_by",
                                   "reserved_for")} for k, v in reference_rows.items()}


def test_datatrove_warc_pipeline_matches_the_scan(corpus, reference, tmp_path):
    from tdm_guard.engines.datatrove import TdmGuardWarcReader

    corpus.reset_counts()
    options = ScanOptions(store=str(tmp_path / "store.sqlite"))
    reader = TdmGuardWarcReader(str(corpus.warcs[0].parent), glob_pattern="*.warc.gz")
    kept, excluded = _run(reader, options, tmp_path)
    assert_fetched_once(corpus.policy_fetches())
    got = {d["id"]: _as_row(d) for d in kept + excluded}
    assert got == _expected(reference.warc)
    assert {d["id"] for d in kept} == {k for k, v in reference.warc.items() if v["allowed"]}
    for doc in excluded:  # the reason, and the evidence behind it
        meta = doc["metadata"]
        ref = reference.warc[doc["id"]]
        assert meta["filter_reason"] == "tdm-guard: " + ",".join(ref["reserved_by"])
        assert comparable({**ref, "reasons": meta["tdm_reasons"],
                           "policy_sha256": meta["tdm_policy_sha256"]}) == ref
    # the headers datatrove's own WarcReader drops, repeated ones repeated
    repeated = next(d for d in excluded if d["metadata"]["url"].endswith("/repeated.html"))
    pairs = repeated["metadata"]["http_headers"]
    assert [v for k, v in pairs if k == "X-Robots-Tag"] == ["index", "noai"]
    assert repeated["metadata"]["http_status"] == 200


def test_datatrove_table_pipeline_matches_the_scan(corpus, reference, tmp_path):
    from datatrove.pipeline.readers import ParquetReader

    corpus.reset_counts()
    options = ScanOptions(store=str(tmp_path / "store.sqlite"))
    reader = ParquetReader(str(corpus.table.parent), glob_pattern="*.parquet", id_key="key")
    kept, excluded = _run(reader, options, tmp_path)
    assert_fetched_once(corpus.policy_fetches())
    got = {int(d["id"]): _as_row(d) for d in kept + excluded}
    expected = _expected(reference.table)
    for row, doc in got.items():  # rows without a URL: the reference names them ""/None
        if doc["url"] is None:
            doc["url"] = expected[row]["url"]
    assert got == expected
    undecided = [d for d in excluded if d["metadata"].get("tdm_error")]
    assert {int(d["id"]) for d in undecided} == {
        k for k, v in reference.table.items() if v["error"] is not None}
    assert all(d["metadata"]["filter_reason"] == "tdm-guard: undecided" for d in undecided)
