"""The one URL model (`tdm_guard.urls`): every entry point decides on the origin that the
request it sends really goes to, and spellings of one host are one origin."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tdm_guard import Evaluator
from tdm_guard.fetching.checker import Checker
from tdm_guard.fetching.http import AsyncFetcher
from tdm_guard.stores.memory import MemoryStore
from tdm_guard.urls import InvalidURL, parse_url, sent_origin

from conftest import json_lines
from servers import Resp, Site, serving


@pytest.mark.parametrize("text, origin, path", [
    ("http://a.test\\@b.test/private/1", "http://a.test", "/@b.test/private/1"),
    ("https://www.sonymusic。com/", "https://www.sonymusic.com", "/"),
    ("https://WWW.ＳＯＮＹＭＵＳＩＣ.COM/", "https://www.sonymusic.com", "/"),
    ("http://bücher.test/a", "http://xn--bcher-kva.test", "/a"),
    ("http://xn--bcher-kva.test/a", "http://xn--bcher-kva.test", "/a"),
    ("HTTP://Example.ORG:80/a/../b/./c?q=1#frag", "http://example.org", "/b/c?q=1"),
    ("https://example.org:443", "https://example.org", "/"),
    ("http://example.org:8080/x", "http://example.org:8080", "/x"),
    ("  http://example.org\t/a\n", "http://example.org", "/a"),
    ("http:/\\example.org/x", "http://example.org", "/x"),
    ("http://user:pw@example.org/p", "http://example.org", "/p"),
    ("http://[::1]:8080/a", "http://[::1]:8080", "/a"),
    ("http://example.org/ä?ü=1", "http://example.org", "/%C3%A4?%C3%BC=1"),
])
def test_spellings_of_one_url_are_one_origin_and_path(text, origin, path):
    url = parse_url(text)
    assert (url.origin, url.path) == (origin, path)
    assert parse_url(url.href) == url  # canonical: parsing it again changes nothing


@pytest.mark.parametrize("text, why", [
    ("http://[::1/a", "Invalid IPv6"),
    ("https://exa mple.com/", "space"),
    ("http://a.test:99999/", "Port out of range"),
    ("ftp://example.org/", "unsupported scheme"),
    ("not a url", "expected http"),
    ("", "empty"),
    ("https://bad\ufffd.example/", "invalid host name"),
    ("http://:80/", "no host"),
])
def test_strings_that_are_not_urls_say_why(text, why):
    with pytest.raises(InvalidURL, match=why):
        parse_url(text)


def test_declarations_match_every_spelling_of_a_declared_host(cli):
    for text in ["https://www.sonymusic。com/", "https://WWW.ＳＯＮＹＭＵＳＩＣ.COM/",
                 "https://www.sonymusic.com./", "https://WWW.SONYMUSIC.COM:443/x"]:
        code, out, _ = cli("check", "--offline", "--json", text)
        (result,) = json_lines(out)
        assert code == 1 and result["allowed"] is False, text
        assert any(r["signal"] == "declaration" and r["reserved"] for r in result["reasons"])
        assert result["url"].startswith("https://www.sonymusic.com")
        assert result.get("input", result["url"]) == text.strip()


def test_backslash_authority_decides_on_the_host_that_is_fetched(cli, monkeypatch):
    """`http://a.test\\@b.test/private/1`: the decision and the fetch both use a.test."""
    site = Site()
    site.add("/robots.txt", Resp(200, "User-agent: *\nDisallow: /private/\n"), host="b.test")
    site.add("/robots.txt", Resp(200, "User-agent: *\nDisallow: /@b.test/private/\n"),
             host="a.test")
    with serving(site):
        monkeypatch.setenv("http_proxy", site.base)
        code, out, _ = cli("check", "--json", "--no-cache", "http://a.test\\@b.test/private/1")
    (result,) = json_lines(out)
    assert result["allowed"] is False and result["reasons"][0]["source"] == \
        "http://a.test/robots.txt"
    assert all(t.startswith("http://a.test/") for t in site.targets), site.targets


def test_idna_spellings_share_one_origin_fetched_once(cli, monkeypatch):
    site = Site()
    with serving(site):
        monkeypatch.setenv("http_proxy", site.base)
        code, out, _ = cli("check", "--json", "--no-cache", "--no-fetch",
                           "http://bücher.test/a", "http://xn--bcher-kva.test/b",
                           "http://BÜCHER.test/c")
    assert code == 0 and len(json_lines(out)) == 3
    assert site.targets.count("http://xn--bcher-kva.test/robots.txt") == 1
    assert {t.split("/")[2] for t in site.targets} == {"xn--bcher-kva.test"}


# -- property: the origin consulted is the origin of the request really sent ----------------
LABEL = st.sampled_from(["a", "Ex", "bücher", "ＳＯＮＹ", "xn--bcher-kva", "x_y", "-x", "0",
                         "faß", "ǅ", "例え", "a%2Fb", "a%41", "e\u0301"])
SEP = st.sampled_from([".", "。", "．", "｡"])
HOST = st.builds(lambda labels, seps, tail: "".join(
    lab + (seps[i % len(seps)] if i < len(labels) - 1 else "") for i, lab in enumerate(labels))
    + tail, st.lists(LABEL, min_size=1, max_size=3), st.lists(SEP, min_size=1, max_size=2),
    st.sampled_from(["", ".", ".test", ".TEST"]))
USERINFO = st.sampled_from(["", "u@", "u:p@", "a.test\\@", "a.test%2F@", "@", "x@y@"])
PORT = st.sampled_from(["", ":80", ":8080", ":0", ":65535", ":", ":99999", ":x"])
PATH = st.text(alphabet="/\\?#.%a-Z2 \t\u00e4@:;=&", max_size=12)
SCHEME = st.sampled_from(["http://", "HTTP://", "http:/\\", "http:\\\\", " http://"])
HOSTILE_URLS = st.builds(lambda s, u, h, p, path: f"{s}{u}{h}{p}/{path}",
                         SCHEME, USERINFO, HOST, PORT, PATH)


@pytest.fixture(scope="module")
def recorder():
    site = Site()
    with serving(site):
        yield site


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(HOSTILE_URLS)
def test_property_the_consulted_origin_is_the_origin_fetched(recorder, text):
    try:
        url = parse_url(text)
    except InvalidURL:
        return  # refused as that line's input error: nothing is fetched
    with recorder.lock:
        recorder.targets.clear()
    os.environ["http_proxy"] = recorder.base  # every request goes through the recorder
    checker = Checker(Evaluator(), AsyncFetcher(timeout=5), MemoryStore(),
                      fetch_pages=True, workers=1)
    try:
        outcome = checker.check(text)
    finally:
        checker.close()
        del os.environ["http_proxy"]
    decision = outcome.decision
    assert decision is not None and decision.url == url.href
    consulted = [r.source for r in decision.reasons if r.signal == "robots"]
    assert consulted == [url.origin + "/robots.txt"]
    with recorder.lock:
        targets = list(recorder.targets)
    assert targets, "nothing was fetched"
    for target in targets:
        assert sent_origin(target) == url.origin, (text, url.href, target)


@settings(max_examples=300, deadline=None)
@given(HOSTILE_URLS)
def test_property_the_cli_and_scrapy_read_a_seed_as_the_same_origin(text):
    """What `check`/`audit` decide on is what a crawl of the same seed decides on and fetches."""
    scrapy = pytest.importorskip("scrapy")
    try:
        cli_url = parse_url(text)
    except InvalidURL:
        cli_url = None
    try:
        request_url = scrapy.Request(text).url
    except (ValueError, TypeError):
        assert cli_url is None or "%" in text  # Scrapy refuses: so does the CLI (or encodes)
        return
    try:
        crawl_url = parse_url(request_url)
    except InvalidURL:
        crawl_url = None
    assert (cli_url and cli_url.origin) == (crawl_url and crawl_url.origin), (text, request_url)
    if crawl_url is not None and sent_origin(request_url) != crawl_url.origin:
        pass  # the middleware refuses such a request as ambiguous (tested in the crawl suite)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_property_any_string_parses_or_is_refused_with_a_message(text):
    try:
        url = parse_url(text)
    except InvalidURL as exc:
        assert str(exc)
        return
    assert url.scheme in ("http", "https") and url.host and url.path.startswith("/")
    assert parse_url(url.href) == url


# -- the fast path (strings that are canonical already) agrees with the full parse ----------
FAST_HOST = st.lists(st.text(alphabet="abcxyz019-", min_size=1, max_size=8), min_size=1,
                     max_size=4).map(".".join)
# IPv4-like hosts: numbers in and out of range, leading zeros, too few and too many parts
IPV4_HOST = st.lists(st.one_of(st.integers(0, 300).map(str),
                               st.sampled_from(["00", "01", "0x7f", "256", ""])),
                     min_size=1, max_size=5).map(".".join)
FAST_URLS = st.builds(
    lambda scheme, host, port, path, query: f"{scheme}://{host}{port}{path}{query}",
    st.sampled_from(["http", "https", "HTTP"]), st.one_of(FAST_HOST, IPV4_HOST),
    st.sampled_from(["", ":80", ":443", ":8080", ":0", ":065", ":65535", ":65536", ":"]),
    st.text(alphabet="/abc019-._~!$&()*+,;=:@%'\\ ", max_size=16).map(lambda p: "/" + p),
    st.one_of(st.just(""), st.text(alphabet="?abc019-._~!$&()*+,;=:@/'", max_size=10)
              .map(lambda q: "?" + q)))


@settings(max_examples=2000, deadline=None)
@given(st.one_of(FAST_URLS, st.text(max_size=40)))
def test_property_the_fast_path_agrees_with_the_full_parse(text):
    from tdm_guard.urls import _fast, _parse

    fast = _fast(text)
    if fast is None:
        return
    assert _parse(text) == fast, text


@pytest.mark.parametrize("text", ["http://127.0.0.1:8000/p/1.html", "https://10.0.0.255/",
                                  "http://192.168.1.1/a?b=c"])
def test_canonical_ipv4_urls_take_the_fast_path(text):
    from tdm_guard.urls import _fast, _parse

    assert _fast(text) == _parse(text)


@pytest.mark.parametrize("text", ["http://127.1/", "http://0x7f.0.0.1/", "http://010.0.0.1/",
                                  "http://256.0.0.1/", "http://1.2.3.4.5/"])
def test_ipv4_forms_the_url_standard_rewrites_take_the_full_parse(text):
    from tdm_guard.urls import _fast

    assert _fast(text) is None
