"""Properties: a page's evidence decides as the page does; hostile audit logs and snapshot
folders never crash `report` or `verify`, and every value from a log is escaped."""

from __future__ import annotations

import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tdm_guard import Evaluator, OriginPolicy, PageResponse
from tdm_guard.decide import SIGNAL_HEADERS
from tdm_guard.declarations import DeclarationSet
from tdm_guard.fetched import Fetched
from tdm_guard.report import html
from tdm_guard.report.summary import Summary
from tdm_guard.report.verify import Verifier
from tdm_guard.stores.auditlog import line_hash
from tdm_guard.stores.snapshots import SnapshotStore

EVALUATOR = Evaluator("tdm-guard", declarations=DeclarationSet.load())
ORIGIN = OriginPolicy.from_fetches(
    "https://a.example", Fetched("https://a.example/robots.txt", 200, [], b"User-agent: *\n",
                                 fetched_at=1.0e9),
    Fetched("https://a.example/.well-known/tdmrep.json", 404, fetched_at=1.0e9))
HEADS = st.sampled_from([
    b"", b"<html><head>", b'<meta name="robots" content="noai">',
    b'<meta name="tdm-reservation" content="1">', b"<!-- x", b"</head>", b"<body>",
    b'<script type="application/ld+json">{"@type": "MusicRecording", "recordLabel": '
    b'{"name": "Columbia Records"}}</script>', b'<link rel="license" '
    b'type="application/rsl+xml" href="/l.xml">', b"<script>", b"</script>", b"ID3",
    b"\x89PNG\r\n\x1a\n", b"%PDF-1.7\n", b"x" * 3000])
NAMES = st.sampled_from(sorted(SIGNAL_HEADERS) + ["X-Other", " x-robots-tag", "Set-Cookie"])
VALUES = st.sampled_from(["noai", "1", "0", "train-ai=n", "ai-train=no", "text/html",
                          "image/png", "application/pdf", "text/plain",
                          '</l.xml>; rel="license"; type="application/rsl+xml"', "", "é"])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(HEADS, max_size=12), st.lists(st.tuples(NAMES, VALUES), max_size=6),
       st.binary(max_size=64), st.booleans())
def test_a_pages_evidence_decides_exactly_as_the_page(parts, headers, tail, partial):
    body = b"".join(parts) + tail
    page = PageResponse(200, headers, body, partial=partial, fetched_at="2026-01-01T00:00:00")
    evidence = page.evidence()
    url = "https://a.example/p"
    full = EVALUATOR.evaluate(url, ORIGIN, page).to_dict()
    kept = EVALUATOR.evaluate(url, ORIGIN, evidence).to_dict()
    full.pop("checked_at"), kept.pop("checked_at")
    assert kept == full
    assert evidence.evidence().body == evidence.body  # evidence of evidence: the same


LINE = st.one_of(
    st.binary(max_size=200),
    st.builds(lambda d: json.dumps(d).encode(), st.dictionaries(
        st.sampled_from(["prev", "record", "run", "url", "action", "reasons", "allowed",
                         "checked_at", "evidence", "purpose", "agent", "declarations",
                         "content_type", "error", "input"]),
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30),
                  st.lists(st.one_of(st.text(max_size=10), st.dictionaries(
                      st.sampled_from(["signal", "reserved", "contacts", "sha256",
                                       "evidence", "source"]),
                      st.one_of(st.text(max_size=20), st.booleans(),
                                st.lists(st.text(max_size=10), max_size=3)))), max_size=3),
                  st.dictionaries(st.sampled_from(["origin", "page", "page_licences"]),
                                  st.one_of(st.text(max_size=70), st.lists(
                                      st.text(max_size=70), max_size=2)))),
        max_size=8)),
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.function_scoped_fixture],
          deadline=None)
@given(st.lists(LINE, max_size=12))
def test_hostile_logs_never_crash_report_or_verify(tmp_path, lines):
    data = b"\n".join(line.replace(b"\n", b" ") for line in lines)
    summary = Summary(SnapshotStore(tmp_path))
    summary.add_log("hostile.jsonl", io.BytesIO(data))
    figures = summary.summary()
    json.dumps(figures)
    page = html.render_html(figures)
    assert "<script>" not in page.split("<main>", 1)[1].rsplit("<script>", 1)[0]
    verifier = Verifier(SnapshotStore(tmp_path))
    findings = list(verifier.verify(io.BytesIO(data)))
    assert verifier.tally.lines == data.count(b"\n") + (bool(data) and not data.endswith(b"\n"))
    assert all(f.kind for f in findings)


def test_values_from_a_log_are_text_in_the_page():
    evil = '<img src="https://evil.example/x"><script>alert(1)</script>'
    record = {"prev": None, "url": f"https://a.example/{evil}", "action": "blocked",
              "allowed": False, "agent": evil, "purpose": "train", "checked_at": "2026-01-01",
              "reasons": [{"signal": "declaration", "reserved": True, "source": evil,
                           "evidence": evil, "contacts": ["javascript:alert(1)", evil]}]}
    line = json.dumps(record).encode()
    summary = Summary()
    summary.add_log(evil, io.BytesIO(line + b"\n" + json.dumps(
        {"prev": line_hash(line), **record}).encode()))
    page = html.render_html(summary.summary())
    assert "<img src=\"https://evil" not in page and "<script>alert" not in page
    assert 'href="javascript:' not in page


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture],
          deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=8), st.one_of(
    st.text(), st.integers(), st.floats(allow_nan=False), st.none(),
    st.lists(st.text(max_size=5), max_size=3)), max_size=5), min_size=1, max_size=10))
def test_any_records_written_read_back_as_one_intact_chain(tmp_path, records):
    from tdm_guard.report.logs import Chain, read_lines
    from tdm_guard.stores.auditlog import AuditLog

    path = tmp_path / "chain.jsonl"
    path.unlink(missing_ok=True)
    log = AuditLog(path)
    for record in records:  # U+2028, U+0085, NUL...: JSON keeps them on one line
        log.write_record({k: v for k, v in record.items() if k != "prev"})
    log.close()
    chain = Chain()
    with open(path, "rb") as stream:
        read = list(read_lines(stream))
    for line in read:
        assert chain.feed(line) is None and line.record is not None
    assert len(read) == len(records) and chain.intact


ROBOTS_BODIES = st.sampled_from([
    b"User-agent: *\nDisallow: /p\n", b"User-agent: *\nAllow: /\n",
    b"User-agent: GPTBot\nDisallow: /\n", b"User-agent: *\nContent-Usage: train-ai=n\n",
    b"User-agent: *\nContent-Usage: /p train-ai=y\nContent-Signal: ai-train=no\n", b""])


def _origin(robots: bytes | None, tdmrep: str) -> OriginPolicy:
    base = "https://a.example"
    robots_fetch = None if robots is None else Fetched(
        base + "/robots.txt", 200, [], robots, fetched_at=1.0e9)
    tdm = {"404": Fetched(base + "/.well-known/tdmrep.json", 404, fetched_at=1.0e9),
           "down": Fetched(base + "/.well-known/tdmrep.json", error="timed out",
                           fetched_at=1.0e9),
           "reserve": Fetched(base + "/.well-known/tdmrep.json", 200, [],
                              b'[{"location": "/*", "tdm-reservation": 1}]', fetched_at=1.0e9),
           "none": None}[tdmrep]
    return OriginPolicy.from_fetches(base, robots_fetch, tdm, not_consulted="offline")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.one_of(st.none(), ROBOTS_BODIES), st.sampled_from(["404", "down", "reserve", "none"]),
       st.lists(HEADS, max_size=8), st.lists(st.tuples(NAMES, VALUES), max_size=5),
       st.sampled_from(["/p", "/q?x=1", "/robots.txt"]), st.booleans(), st.booleans())
def test_a_decision_after_download_is_the_same_with_or_without_the_one_before(
        robots, tdmrep, parts, headers, path, fail_closed, other_url):
    """The crawl's response stage passes the request stage's decision (`before=`) so the
    origin's part is not computed twice: the answer must be exactly the one computed from
    scratch, and a `before` for another URL or origin must be ignored."""
    evaluator = Evaluator("tdm-guard", fail_closed=fail_closed,
                          declarations=DeclarationSet.load())
    origin = _origin(robots, tdmrep)
    url = "https://a.example" + path
    page = PageResponse(200, headers, b"".join(parts), fetched_at="2026-01-01T00:00:00")
    before = evaluator.evaluate("https://a.example/other" if other_url else url,
                                origin if not other_url else _origin(b"", "404"))
    fresh = evaluator.evaluate(url, origin, page).to_dict()
    reused = evaluator.evaluate(url, origin, page, before=before).to_dict()
    fresh.pop("checked_at"), reused.pop("checked_at")
    assert reused == fresh
