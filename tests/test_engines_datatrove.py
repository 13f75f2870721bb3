"""The engine corpus through datatrove's LocalPipelineExecutor (2 tasks, 2 worker processes):
the WARC reader keeps the HTTP headers, the filter keeps exactly what the scan allows and
writes the rest to its exclusion writer with the reason; the table through datatrove's
ParquetReader is decided on origin policies, as the scan decides table rows. Each origin's
policy files are fetched once per run (a SQLite store shared by the tasks)."""

from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


_junk = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30)
                     | st.binary(max_size=10),
                     lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(url=_junk | st.sampled_from(["http://a.example/x", "https://b.example:8443/", "//x",
                                    "http://[::1", "not a url"]),
       date=_junk, status=_junk, headers=_junk, text=st.text(max_size=200))
def test_document_view_takes_any_metadata(url, date, status, headers, text):
    """Whatever a reader or a writer left in the metadata, the view is built (an error view
    for a URL that is not text), and a document without a URL never passes the filter."""
    from datatrove.data import Document

    from tdm_guard.engines.datatrove import document_view

    doc = Document(text=text, id="d", metadata={"url": url, "date": date,
                                                "http_status": status, "http_headers": headers})
    view = document_view(doc)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in view.headers)
    if not isinstance(url, str):
        assert view.error is not None


def test_the_filter_drops_what_it_cannot_decide(tmp_path):
    """Offline, with no policy files stored: documents without a usable URL are dropped as
    undecided; the others are decided (no network) and never crash the batch."""
    from datatrove.data import Document

    from tdm_guard.engines.datatrove import UNDECIDED, TdmGuardFilter

    options = ScanOptions(store=str(tmp_path / "store.sqlite"), mode="offline")
    docs = [Document(text="t", id=str(i), metadata=meta) for i, meta in enumerate([
        {}, {"url": None}, {"url": 7}, {"url": "not a url"}, {"url": "ftp://x.example/"},
        {"url": "http://a.example/p", "http_status": "x", "http_headers": [["a"], 3, None]},
        {"url": "http://a.example/q", "http_headers": [["X-Robots-Tag", "noai"]]}])]
    verdicts = TdmGuardFilter(options).filter_batch(docs)
    assert verdicts[:5] == [(False, UNDECIDED)] * 5
    assert verdicts[6] == (False, "tdm-guard: noai-header")
