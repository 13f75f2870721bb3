"""Property-based tests: no parser raises on arbitrary input, and robots matching invariants."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tdm_guard.signals import aipref, html, noai, tdmrep
from tdm_guard.signals import metadata as content
from tdm_guard.signals.patterns import PathPattern, normalize
from tdm_guard.signals.robots import RobotsTxt
from tdm_guard.urls import url_path

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# robots-ish text: real keys, wildcards, comments, odd bytes
ROBOTS_ALPHABET = st.sampled_from([
    "User-agent: ", "Disallow: ", "Allow: ", "Content-Usage: ", "Content-Signal: ", "*", "$",
    "/", "#", "\n", "\r\n", " ", ":", "a", "b", "GPTBot", "train-ai=n", "search=yes", "%41",
    "%", "é", "\x00", "\ufeff"])
PATH_CHARS = st.lists(st.sampled_from(list("abc/._-~%?=&*$") + ["é", "%2F", "%41"]),
                      max_size=12).map("".join)
SEGMENT = st.text(alphabet="abcdefgh", min_size=1, max_size=6)


@FAST
@given(st.binary(max_size=4096))
def test_robots_parser_takes_any_bytes(body):
    robots = RobotsTxt.parse(body)
    for agent in ("*", "GPTBot", "tdm-guard"):
        robots.access("/", agent)
        robots.statements("content-usage", agent, include_star=True)


@FAST
@given(st.lists(ROBOTS_ALPHABET, max_size=80).map("".join), PATH_CHARS)
def test_robots_parser_takes_robots_like_text(text, path):
    robots = RobotsTxt.parse(text)
    robots.access(url_path("http://h/" + path), "GPTBot")


@FAST
@given(st.binary(max_size=2048))
def test_tdmrep_parser_takes_any_bytes(body):
    parsed = tdmrep.TdmRepFile.parse("u", body)
    parsed.match("/x")
    tdmrep.layered_reasons("https://h/x", parsed, "/x", None, None)


@FAST
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda kids: st.lists(kids, max_size=4)
                    | st.dictionaries(st.sampled_from(["location", "tdm-reservation",
                                                       "tdm-policy", "x"]), kids, max_size=4),
                    max_leaves=20))
def test_tdmrep_parser_takes_any_json_shape(data):
    import json

    body = json.dumps(data, allow_nan=True).encode()
    tdmrep.TdmRepFile.parse("u", body).match("/a/b")


@FAST
@given(st.lists(st.tuples(st.text(max_size=20), st.text(max_size=40)), max_size=8))
def test_header_and_meta_readers_take_anything(pairs):
    tdmrep.header_layer(pairs)
    tdmrep.meta_layer(pairs)
    noai.x_robots_tag_reasons("https://h/", pairs, "bot")
    noai.robots_meta_reasons("https://h/", pairs, "bot")


@FAST
@given(st.text(max_size=200))
def test_value_parsers_take_any_text(value):
    aipref.parse_content_usage(value)
    aipref.parse_content_signal(value)
    aipref.split_robots_usage(value)
    noai.parse_x_robots_tag(value)
    normalize(value)
    PathPattern(value).match("/a")
    content.from_jsonld([value])


@FAST
@given(st.binary(max_size=4096))
def test_html_and_id3_readers_take_any_bytes(body):
    head = html.scan_head(body)
    content.from_jsonld(head.jsonld)
    content.from_id3(b"ID3" + body)


@FAST
@given(st.lists(SEGMENT, min_size=1, max_size=4), st.lists(SEGMENT, min_size=1, max_size=3),
       st.booleans())
def test_a_longer_matching_rule_wins(base, extra, allow_first):
    short = "/" + "/".join(base)
    long = short + "/" + "/".join(extra)
    lines = [f"Allow: {short}", f"Disallow: {long}"]
    if not allow_first:
        lines.reverse()
    robots = RobotsTxt.parse("User-agent: *\n" + "\n".join(lines) + "\n")
    assert robots.access(long + "/x", "bot").allowed is False
    assert robots.access(short + "-other", "bot").allowed is True
    flipped = RobotsTxt.parse(f"User-agent: *\nDisallow: {short}\nAllow: {long}\n")
    assert flipped.access(long + "/x", "bot").allowed is True


@FAST
@given(st.lists(st.tuples(st.booleans(), PATH_CHARS), min_size=1, max_size=6), PATH_CHARS,
       st.sampled_from(["otherbot", "SomeCrawler", "x-y_z"]))
def test_adding_an_unrelated_group_changes_nothing(rules, path, other):
    # (min_size=1: a user-agent line with no rules joins the next user-agent lines into one
    # group, by RFC 9309's grammar, so that group would not be unrelated)
    assume(other.lower() != "mybot")
    body = "User-agent: mybot\n" + "".join(
        f"{'Allow' if a else 'Disallow'}: /{p}\n" for a, p in rules)
    before = RobotsTxt.parse(body)
    after = RobotsTxt.parse(body + f"\nUser-agent: {other}\nDisallow: /\nAllow: /{path}\n")
    probe = url_path("http://h/" + path)
    assert before.access(probe, "mybot").allowed == after.access(probe, "mybot").allowed


# -- what the hot path relies on ------------------------------------------------------------
TAGGY = st.lists(st.sampled_from([b"<", b">", b'"', b"'", b"a", b" ", b"=", b"-", b"\n"]),
                 max_size=40).map(b"".join)


@settings(max_examples=2000, deadline=None)
@given(st.one_of(TAGGY, st.binary(max_size=60)))
def test_the_possessive_tag_end_is_where_the_html_tokenizer_ends_a_tag(text):
    """html._REST takes runs at once and never backtracks; it must end a tag where the
    step-by-step reading of the HTML tokenizer (tests/html_reference.py) does, on any bytes."""
    from html_reference import tag_end

    ours = __import__("re").compile(b"(" + html._REST + b")>").match(text)
    assert (ours.end(1) if ours else None) == tag_end(text, 0)


SIGNAL_NAMES = ["tdm-reservation", "tdm-policy", "x-robots-tag", "content-usage",
                "content-signal", "link"]
HEADER_NAME = st.one_of(
    st.sampled_from(SIGNAL_NAMES + ["Content-Type", "Server", "Date", "X-Other"]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=16)).flatmap(
    lambda name: st.sampled_from([name, name.upper(), f" {name} ", name.title()]))
HEADER_VALUE = st.one_of(
    st.sampled_from(["1", "0", "noai", "googlebot: noai", "train-ai=n", "ai-train=no",
                     '<https://x.test/l.xml>; rel="license"; type="application/rsl+xml"',
                     "https://x.test/policy.json"]),
    st.text(max_size=30))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(HEADER_NAME, HEADER_VALUE), max_size=6))
def test_a_header_reader_finds_nothing_without_its_header(headers):
    """decide.Evaluator calls a header reader only when PageResponse.header_names holds its
    header: each reader must find nothing in headers that lack it, however spelled."""
    from tdm_guard.decide import _AIPREF_HEADERS, _TDMREP_HEADERS, PageResponse
    from tdm_guard.signals import rsl

    names = PageResponse(200, headers).header_names
    url = "https://x.test/a"
    if not names & _TDMREP_HEADERS:
        assert tdmrep.header_layer(headers) is None
    if "x-robots-tag" not in names:
        assert noai.x_robots_tag_reasons(url, headers, "mybot") == []
    if not names & _AIPREF_HEADERS:
        assert aipref.header_reasons(url, headers, True) == []
        assert aipref.header_reasons(url, headers, False) == []
    if "link" not in names:
        assert rsl.link_header_urls(url, headers) == []


HTMLISH = st.lists(st.sampled_from([
    b"<", b">", b"/", b"<!--", b"-->", b"<script", b"</script>", b"</SCRIPT >", b"<meta",
    b"<META", b"<link", b"<LiNk", b"<head>", b"</head>", b"</head >", b"</HEAD>", b"<body",
    b"<BODY", b"<bodyx", b"<Script", b" name=", b"<title>", b"</TITLE>", b"<style", b"</style",
    b"<!-->", b"<!--->", b"--!>", b"<!DOCTYPE", b"<?", b"<base href=", b"</div>", b"<div",
    b" NAME=", b"robots", b" content=", b"noai", b'"', b"'", b" type=application/ld+json",
    b' type="application/rsl+xml"', b" rel=license", b" href=/l", b"&amp;", b"x", b" ",
    b"\n", b"=", b"{}", b"\xff"]), max_size=40).map(b"".join)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(HTMLISH, st.binary(max_size=200)), st.sampled_from([html.MAX_HEAD_BYTES, 7, 40]))
def test_the_token_scan_reads_every_head_as_the_step_by_step_scan_does(body, limit):
    """html.scan_head reads a head as one token pattern; the reference reads it step by
    step (tests/html_reference.py): the same metas, JSON-LD, links, inline RSL, truncation
    and end, on any bytes and any limit."""
    from dataclasses import asdict

    from html_reference import scan_head as reference

    assume(html.wide_encoding(body) is None)  # UTF-16/32 are transcoded first: tested apart
    assert asdict(html.scan_head(body, limit)) == asdict(reference(body, limit))


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["", "utf-16", "utf-32be", "UTF-16LE"]))
def test_a_wide_document_scan_takes_any_bytes(body, charset):
    for lead in (b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00", b"<\x00", b""):
        head = html.scan_head(lead + body, 64, charset=charset.lower())
        assert head.end <= len(lead + body) and len(head.metas) <= len(lead + body)


def test_json_nested_deeper_than_the_parser_goes_is_an_answer_not_a_crash():
    from tdm_guard import Evaluator, OriginPolicy, PageResponse

    deep = b"[" * 100_000 + b"]" * 100_000
    hidden = b'[{"location": "/", "tdm-reservation": 1, "x": ' + deep + b"}]"
    for body in (deep, hidden):
        file = tdmrep.TdmRepFile.parse("https://example.org/.well-known/tdmrep.json", body)
        assert file.present and file.unreachable and "nested too deeply" in file.problems[0]
        policy = OriginPolicy("https://example.org", tdmrep=file)
        d = Evaluator("mybot").evaluate("https://example.org/a", policy)
        # never "no file": the rule beside the nesting may reserve it
        assert any("tdmrep.json: unreachable (nested too deeply" in u for u in d.unchecked)
        assert Evaluator("mybot", fail_closed=True).evaluate(
            "https://example.org/a", policy).allowed is False
    page = PageResponse(200, [("Content-Type", "text/html")],
                        b'<head><script type="application/ld+json">' + deep + b"</script>"
                        b'<meta name="robots" content="noai"></head>')
    d = Evaluator("mybot").evaluate("https://example.org/a", OriginPolicy("https://example.org"),
                                    page)
    assert d.allowed is False  # the other signals of the page are still read
    assert content.from_jsonld([deep.decode()]) == []


def test_a_tdm_reservation_written_as_1_0_is_the_number_1():
    for text in (b"1.0", b"1e0", b"1"):
        body = b'[{"location": "/", "tdm-reservation": ' + text + b"}]"
        file = tdmrep.TdmRepFile.parse("https://example.org/.well-known/tdmrep.json", body)
        assert file.rules[0].reservation == 1
    body = b'[{"location": "/", "tdm-reservation": 1.5}]'
    assert tdmrep.TdmRepFile.parse("u", body).rules[0].reservation is None
