"""RSL 1.0: the corpus's deployed documents, discovery (robots.txt License:, Link header, HTML
link and inline script), content matching, payment and server terms, hostile XML, and the
licence files a team holds."""

from __future__ import annotations

import pytest

from tdm_guard import Evaluator, OriginPolicy, PageResponse, RobotsResult
from tdm_guard.declarations import DeclarationSet
from tdm_guard.declarations.loading import load_any
from tdm_guard.declarations.model import PolicyError
from tdm_guard.fetched import Fetched
from tdm_guard.signals import rsl
from tdm_guard.signals.robots import RobotsTxt

from conftest import json_lines
from servers import Resp

DOC = "https://site.example/license.xml"
PURPOSES = ("train", "input", "search", "tdm")


def decide(doc: rsl.RslDocument, url: str = "https://site.example/a/page", purpose="train",
           declarations: DeclarationSet | None = None):
    evaluator = Evaluator("mybot", purpose, declarations=declarations or DeclarationSet())
    return evaluator.evaluate(url, OriginPolicy("https://site.example", licences=(doc,)))


def allowed(doc, url="https://site.example/a/page"):
    return tuple(decide(doc, url, p).allowed for p in PURPOSES)


CORPUS = {  # file -> allowed for train, input, search, tdm
    "9takes.license.xml": (False, True, True, False),
    "adrianofoschi.license.xml": (True, True, True, True),
    "arbourtrary.com.license.xml": (False, False, False, False),  # server=, royalty
    "dylmye.me.license.xml": (False, False, False, False),  # server=: licence required
    "mezzode.com.license.xml": (False, False, False, False),
    "msoucy.me.license.xml": (False, True, True, False),
    "recommandations-medicales.license.xml": (False, False, True, False),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_deployed_documents(media, name):
    doc = rsl.RslDocument.parse(DOC, (media / "rsl" / name).read_bytes())
    assert doc.problem is None
    assert allowed(doc) == CORPUS[name]


def test_full_url_content_matches_its_host_only(media):
    doc = rsl.RslDocument.parse(DOC, (media / "rsl" / "jaredeberle.org.license.xml").read_bytes())
    assert allowed(doc, "https://jaredeberle.org/posts/1") == (False, False, True, False)
    assert allowed(doc, "http://jaredeberle.org/") == (False, False, True, False)
    assert allowed(doc, "https://other.example/posts/1") == (True, True, True, True)
    reserved = [r for r in decide(doc, "https://jaredeberle.org/x").reasons if r.reserved]
    assert "mailto:jared@jaredeberle.org" in reserved[0].contacts


def test_evidence_terms_and_contacts(media):
    doc = rsl.RslDocument.parse(DOC, (media / "rsl" / "arbourtrary.com.license.xml").read_bytes())
    d = decide(doc)
    (r,) = [r for r in d.reasons if r.signal == "rsl"]
    assert r.evidence == ('<content url="/" server="https://rslcollective.org/api">: '
                          '<permits type="usage">train-ai</permits> <payment type="royalty">')
    assert "server https://rslcollective.org/api: clients must obtain a licence" in r.note
    assert "payment: royalty (https://rslcollective.org/license)" in r.note
    assert d.contacts == ["https://rslcollective.org/api", "https://rslcollective.org/license"]
    free = rsl.RslDocument.parse(DOC, (media / "rsl" / "adrianofoschi.license.xml").read_bytes())
    (open_reason,) = [r for r in decide(free).reasons if r.signal == "rsl"]
    assert not open_reason.reserved and "payment: attribution" in open_reason.note
    odd = rsl.RslDocument.parse(DOC, (media / "rsl" / "msoucy.me.license.xml").read_bytes())
    assert "unknown usage tokens ignored: ai-summarize" in decide(odd).reasons[0].note


def doc(xml: str) -> rsl.RslDocument:
    return rsl.RslDocument.parse(DOC, f'<rsl xmlns="https://rslstandard.org/rsl">{xml}</rsl>')


def test_hierarchy_permits_lists_and_prohibits_win():
    assert allowed(doc('<content url="/"><license><permits type="usage">search</permits>'
                       "</license></content>")) == (False, False, True, False)
    assert allowed(doc('<content url="/"><license><permits type="usage">all</permits>'
                       '<prohibits type="usage">ai-train</prohibits></license></content>')) == \
        (False, True, True, False)
    assert allowed(doc('<content url="/"><license><permits type="usage">ai-all</permits>'
                       "</license></content>")) == (True, True, False, False)
    assert allowed(doc('<content url="/"><license><prohibits type="usage">ai-index</prohibits>'
                       "</license></content>")) == (True, False, True, False)
    paid = doc('<content url="/"><license><permits type="usage">ai-train</permits>'
               '<payment type="training"><amount currency="USD">10</amount></payment>'
               "</license></content>")
    assert allowed(paid) == (False, False, False, False)
    assert "payment: training 10 USD" in decide(paid).reasons[0].note
    free = doc('<content url="/"><license><permits type="usage">all</permits>'
               '<payment type="free"/></license></content>')
    assert allowed(free) == (True, True, True, True)


def test_most_specific_content_applies():
    d = doc('<content url="/"><license><prohibits type="usage">all</prohibits></license></content>'
            '<content url="/open/*.html$"><license><permits type="usage">all</permits>'
            "</license></content>")
    assert allowed(d, "https://site.example/open/a.html") == (True, True, True, True)
    assert allowed(d, "https://site.example/open/a.html?x") == (False, False, False, False)
    assert allowed(d, "https://site.example/b") == (False, False, False, False)
    none = doc('<content url="/only/"><license><prohibits type="usage">all</prohibits>'
               "</license></content>")
    assert allowed(none, "https://site.example/b") == (True, True, True, True)
    assert [r for r in decide(none, "https://site.example/b").reasons if r.signal == "rsl"] == []


@pytest.mark.parametrize("body,word", [
    (b'<?xml version="1.0"?><!DOCTYPE rsl [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
     b'<rsl xmlns="https://rslstandard.org/rsl"><content url="/">&b;</content></rsl>', "refused"),
    (b'<?xml version="1.0"?><!DOCTYPE rsl [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
     b"<rsl>&x;</rsl>", "refused"),
    (b"<rsl><content url='/'>", "not well-formed"),
    (b"<html><body>not rsl</body></html>", "is not <rsl>"),
    (b'<rsl xmlns="https://rslstandard.org/rsl"/>', "no <content"),
    (b"<rsl>" + b" " * (rsl.MAX_RSL_BYTES + 1) + b"</rsl>", "larger than"),
])
def test_hostile_documents_are_named_never_read(body, word):
    d = rsl.RslDocument.parse(DOC, body)
    assert d.problem is not None and word in d.problem
    decision = decide(d)
    assert decision.allowed is True and any(word in u for u in decision.unchecked)
    closed = Evaluator("mybot", declarations=DeclarationSet(), fail_closed=True).evaluate(
        "https://site.example/x", OriginPolicy("https://site.example", licences=(d,)))
    assert closed.allowed is False


def test_robots_license_lines_are_global_and_never_split_groups(media):
    for name, url in [("arbourtrary.com.robots.txt", "https://arbourtrary.com/license.xml"),
                      ("mezzode.com.robots.txt", "https://mezzode.com/license.xml"),
                      ("msoucy.me.robots.txt", "https://msoucy.me/license.xml")]:
        body = (media / "rsl" / name).read_bytes()
        result = RobotsResult.from_response("https://x.example/robots.txt", 200, body)
        policy = OriginPolicy("https://x.example", robots=result)
        assert policy.licence_urls() == [url]
    parsed = RobotsTxt.parse(b"User-agent: a\nLicense: https://l.example/x.xml\nUser-agent: b\n"
                             b"Disallow: /\n")
    groups, _ = parsed.select("a")
    assert [r.line.text for g in groups for r in g.rules] == ["Disallow: /"]
    assert [line.value for line in parsed.licences] == ["https://l.example/x.xml"]


def test_link_header_and_html_discovery():
    headers = [("Link", '<https://cdn.example/style.css>; rel="stylesheet", '
                        '</license.xml>; rel="license"; type="application/rsl+xml"'),
               ("Link", '<https://creativecommons.org/licenses/by/4.0/>; rel="license"')]
    assert rsl.link_header_urls("https://site.example/a", headers) == [
        "https://site.example/license.xml"]
    page = PageResponse(200, [("Content-Type", "text/html")],
                        b'<html><head><link rel="license" type="application/rsl+xml" '
                        b'href="/l.xml"><link rel="license" href="/cc"></head></html>')
    assert page.licence_urls("https://site.example/a") == ["https://site.example/l.xml"]


def test_inline_rsl_in_html():
    page = PageResponse(200, [("Content-Type", "text/html")], (
        b'<html><head><script type="application/rsl+xml"><rsl xmlns="https://rslstandard.org/rsl">'
        b'<content url="/"><license><prohibits type="usage">ai-train</prohibits></license>'
        b"</content></rsl></script></head><body></body></html>"))
    d = Evaluator("mybot", declarations=DeclarationSet()).evaluate(
        "https://site.example/a", OriginPolicy("https://site.example"), page)
    (r,) = [r for r in d.reasons if r.signal == "rsl" and r.reserved]
    assert d.allowed is False and r.source == "https://site.example/a (inline RSL)"


def licence_file(tmp_path, **fields):
    lines = ["schema: tdm-guard/licence/v1", "id: acme-rsl", "licensee: Acme AI",
             "granted_by: Site Example", "reference: RSL token 42", "purposes: [train]"]
    lines += [f"{k}: {v}" for k, v in fields.items()]
    path = tmp_path / "licence.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_held_licence_exempts_the_content_of_its_rsl_document(tmp_path):
    terms = doc('<content url="/" server="https://olp.example"><license>'
                '<permits type="usage">ai-train</permits></license></content>')
    held = DeclarationSet.load(bundled=False, licences=[licence_file(tmp_path, rsl=DOC)])
    assert held.errors == []
    d = decide(terms, declarations=held)
    assert d.allowed is True
    (r,) = [r for r in d.reasons if r.signal == "rsl"]
    assert r.note.startswith("exempt: licence acme-rsl (RSL token 42)")
    assert decide(terms, purpose="input", declarations=held).allowed is False  # not licensed
    other = DeclarationSet.load(bundled=False, licences=[
        licence_file(tmp_path, rsl="https://elsewhere.example/license.xml")])
    assert decide(terms, declarations=other).allowed is False


def test_licence_schema_needs_a_declaration_or_an_rsl_document(tmp_path):
    with pytest.raises(PolicyError) as exc:
        load_any(licence_file(tmp_path))
    assert "field (top level)" in str(exc.value)
    with pytest.raises(PolicyError):
        load_any(licence_file(tmp_path, rsl="not-a-url"))
    assert load_any(licence_file(tmp_path, rsl=DOC)).rsl == DOC


def test_from_response_failures():
    assert "unreachable" in rsl.RslDocument.from_response(DOC, None, None, "timeout").problem
    assert rsl.RslDocument.from_response(DOC, 404, b"").problem == "HTTP 404"
    policy = OriginPolicy("https://site.example").with_licences([Fetched(DOC, status=500)])
    assert policy.licences[0].problem == "HTTP 500"


# -- end to end: the CLI fetches each document once, names whom to ask -----------------
def test_check_reads_robots_license_once_and_names_the_server(site, cli, tmp_path):
    site.add("/robots.txt", Resp(200, f"License: {site.base}/license.xml\n\nUser-agent: *\n"
                                      "Allow: /\n"))
    site.add("/license.xml", Resp(200, '<rsl xmlns="https://rslstandard.org/rsl"><content '
                                       'url="/" server="https://olp.example/api"><license>'
                                       '<permits type="usage">search</permits></license>'
                                       "</content></rsl>", [("Content-Type", RSL_TYPE)]))
    urls = [f"{site.base}/p{i}" for i in range(6)]
    code, out, _ = cli("check", "--json", "--no-fetch", "--no-cache", *urls)
    results = json_lines(out)
    assert code == 1 and [r["allowed"] for r in results] == [False] * 6
    assert site.count("/license.xml") == 1
    assert results[0]["contacts"] == ["https://olp.example/api"]
    code, out, _ = cli("check", "--no-fetch", "--no-cache", urls[0])
    assert "Ask for a licence: https://olp.example/api" in out
    assert "x rsl: <content url=\"/\" server=\"https://olp.example/api\">" in out
    code, out, _ = cli("check", "--json", "--no-fetch", "--no-cache", "--purpose", "search",
                       urls[0])
    assert code == 1  # a server= needs a licence even for what is permitted


RSL_TYPE = rsl.RSL_TYPE


def test_check_reads_link_header_and_html_link(site, cli, tmp_path):
    site.add("/license.xml", Resp(200, '<rsl xmlns="https://rslstandard.org/rsl"><content '
                                       'url="/"><license><prohibits type="usage">ai-train'
                                       "</prohibits></license></content></rsl>"))
    site.add("/a", Resp(200, "<html><head></head></html>", [
        ("Content-Type", "text/html"),
        ("Link", '</license.xml>; rel="license"; type="application/rsl+xml"')]))
    site.add("/b", Resp(200, '<html><head><link rel="license" type="application/rsl+xml" '
                             'href="/license.xml"></head></html>', [("Content-Type", "text/html")]))
    site.add("/c", Resp(200, "<html><head></head></html>", [("Content-Type", "text/html")]))
    code, out, _ = cli("check", "--json", "--no-cache", site.base + "/a", site.base + "/b",
                       site.base + "/c")
    assert [r["allowed"] for r in json_lines(out)] == [False, False, True]
    assert site.count("/license.xml") == 1


def test_check_unreachable_licence_is_unchecked_or_fail_closed(site, cli, tmp_path):
    site.add("/robots.txt", Resp(200, f"License: {site.base}/license.xml\n"))
    site.add("/license.xml", Resp(503, "busy"))
    code, out, _ = cli("check", "--json", "--no-fetch", "--no-cache", site.base + "/x")
    (result,) = json_lines(out)
    assert code == 0 and any("rsl: licence document" in u and "HTTP 503" in u
                             for u in result["unchecked"])
    code, out, _ = cli("check", "--json", "--no-fetch", "--no-cache", "--fail-closed",
                       site.base + "/x")
    assert code == 1


def test_scrapy_reads_robots_license_and_link_headers_once(site, tmp_path):
    pytest.importorskip("scrapy")
    from test_scrapy_e2e import crawl

    site.add("/robots.txt", Resp(200, f"License: {site.base}/license.xml\n\nUser-agent: *\n"
                                      "Allow: /\n"))
    site.add("/license.xml", Resp(200, '<rsl xmlns="https://rslstandard.org/rsl"><content '
                                       'url="/train/"><license><prohibits type="usage">ai-train'
                                       "</prohibits></license></content></rsl>"))
    site.add("/page.xml", Resp(200, '<rsl xmlns="https://rslstandard.org/rsl"><content '
                                    'url="/"><license><permits type="usage">search</permits>'
                                    "</license></content></rsl>"))
    html = "<html><head></head><body>x</body></html>"
    for path in ("/train/a", "/train/b", "/open/a"):
        site.add(path, Resp(200, html, [("Content-Type", "text/html")]))
    site.add("/linked", Resp(200, html, [("Content-Type", "text/html"), (
        "Link", '</page.xml>; rel="license"; type="application/rsl+xml"')]))
    site.add("/linked2", Resp(200, html, [("Content-Type", "text/html"), (
        "Link", '</page.xml>; rel="license"; type="application/rsl+xml"')]))
    urls = [site.base + p for p in ("/train/a", "/train/b", "/open/a", "/linked", "/linked2")]
    items, stats, audit, _ = crawl(tmp_path, urls, TDM_GUARD_AGENT="mybot")
    assert sorted(i["url"] for i in items) == [site.base + "/open/a"]
    assert site.count("/train/a") == 0 and site.count("/train/b") == 0  # before download
    assert site.count("/license.xml") == 1 and site.count("/page.xml") == 1
    assert stats["tdm_guard/policy_file/rsl/requests"] == 2
    assert stats["tdm_guard/blocked/rsl"] == 4
