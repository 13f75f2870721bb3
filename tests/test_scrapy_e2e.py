"""Real Scrapy crawls (CrawlerProcess in a subprocess) against a local site that mixes every
reservation kind, in block and tag mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import decision_records
from servers import Resp, Site, serving

pytest.importorskip("scrapy")

HERE = Path(__file__).parent
HTML = "<html><head><title>t</title>{}</head><body>hi</body></html>"
ROBOTS = """User-agent: *
Disallow: /private/
Content-Usage: /cu/ train-ai=n
Content-Signal: search=yes

User-agent: GPTBot
Disallow: /no-gpt/
"""
PRIVATE = [f"/private/{i}" for i in range(8)]
PRE = ["/cu/page", "/no-gpt/page", "/tdm/page"]  # reserved before download
POST = ["/hdr", "/meta", "/xrt", "/lyrics"]  # reserved by the response
OPEN = ["/open/1", "/open/2"]


def html(extra="", headers=()):
    return Resp(200, HTML.format(extra), [("Content-Type", "text/html"), *headers])


def mixed_site(site: Site) -> None:
    site.add("/robots.txt", Resp(200, ROBOTS, delay=0.3))  # requests pile up while it loads
    site.add("/.well-known/tdmrep.json", Resp(200, json.dumps(
        [{"location": "/tdm/", "tdm-reservation": 1, "tdm-policy": "https://example.org/p"}])))
    for path in PRIVATE + PRE + OPEN:
        site.add(path, html())
    site.add("/hdr", html(headers=[("tdm-reservation", "1")]))
    site.add("/meta", html('<meta name="robots" content="noai">'))
    site.add("/xrt", html(headers=[("X-Robots-Tag", "noai")]))
    site.add("/lyrics", html('<script type="application/ld+json">{"@type": "MusicRecording", '
                             '"recordLabel": {"name": "Columbia Records"}}</script>'))


def run_crawl(tmp_path, start_urls, env=None, custom_settings=None, start_meta=None,
              follow_links=False, fsize=None, **settings):
    """Run crawl_script.py on these settings; return the finished process."""
    config = {
        "fsize": fsize,
        "start_urls": start_urls,
        "follow_links": follow_links,
        "output": str(tmp_path / "out.json"),
        "custom_settings": custom_settings,
        "start_meta": start_meta or {},
        "settings": {
            "ADDONS": {"scrapy_tdm_guard.TdmGuardAddon": 0},
            "ROBOTSTXT_OBEY": True,
            "TDM_GUARD_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
            "TDM_GUARD_CACHE": None,
            "LOG_LEVEL": "INFO",
            "TELNETCONSOLE_ENABLED": False,
            "CONCURRENT_REQUESTS": 32,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 32,
            "RETRY_ENABLED": False,
            **settings,
        },
    }
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "config.json").write_text(json.dumps(config))
    return subprocess.run([sys.executable, "-W", "error::DeprecationWarning",
                           str(HERE / "crawl_script.py"), str(tmp_path / "config.json")],
                          capture_output=True, text=True, timeout=120, env=env)


def crawl(tmp_path, start_urls, env=None, follow_links=False, **settings):
    """A crawl that must finish; returns (items, stats, audit records, log)."""
    proc = run_crawl(tmp_path, start_urls, env=env, follow_links=follow_links, **settings)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "out.json").read_text())
    audit_path = tmp_path / "audit.jsonl"
    audit = decision_records(audit_path.read_text()) if audit_path.exists() else []
    return result["items"], result["stats"], audit, proc.stderr


@pytest.fixture
def mixed():
    site = Site()
    mixed_site(site)
    with serving(site):
        yield site


def urls(site, paths):
    return [site.base + p for p in paths]


def test_block_mode(mixed, tmp_path):
    site = mixed
    items, stats, audit, log = crawl(tmp_path, urls(site, PRIVATE + PRE + POST + OPEN))
    assert sorted(i["url"] for i in items) == sorted(urls(site, OPEN))
    assert all(i["decision"]["allowed"] for i in items)
    # every concurrent request behind the one robots.txt got the real answer
    assert [site.count(p) for p in PRIVATE] == [0] * 8
    assert [site.count(p) for p in PRE] == [0, 0, 0]  # blocked before download
    assert [site.count(p) for p in POST] == [1, 1, 1, 1]  # downloaded, dropped after
    assert site.count("/robots.txt") == 1 and site.count("/.well-known/tdmrep.json") == 1
    assert stats["tdm_guard/blocked"] == 8 + 3 + 4
    assert stats["tdm_guard/allowed"] == 2
    assert stats["tdm_guard/blocked/robots"] == 9  # 8 private + the GPTBot group (strict)
    assert stats["tdm_guard/blocked/content-usage"] == 1
    assert stats["tdm_guard/blocked/tdmrep-file"] == 1
    assert stats["tdm_guard/blocked/tdmrep-header"] == 1
    assert stats["tdm_guard/blocked/noai-meta"] == 1
    assert stats["tdm_guard/blocked/noai-header"] == 1
    assert stats["tdm_guard/blocked/declaration"] == 1  # JSON-LD recordLabel on a third-party site
    assert stats["tdm_guard/policy_file/robots/requests"] == 1
    assert "robotstxt/request_count" not in stats  # Scrapy's own robots middleware is off
    assert len(audit) == 17 and {a["action"] for a in audit} == {"blocked", "allowed"}
    private = next(a for a in audit if a["url"].endswith("/private/0"))
    assert private["stage"] == "request"
    assert private["reasons"][0]["evidence"] == "line 2: Disallow: /private/"
    assert "tdm-guard (block mode, agent Scrapy, purpose train): 2 allowed, 15 blocked" in log
    assert "Warning" not in log and "Traceback" not in log


def test_tag_mode(mixed, tmp_path):
    site = mixed
    items, stats, audit, _ = crawl(tmp_path, urls(site, PRIVATE + PRE + POST + OPEN),
                                   TDM_GUARD_MODE="tag")
    by_path = {i["url"].removeprefix(site.base): i for i in items}
    assert set(by_path) == set(PRE + POST + OPEN)  # robots.txt Disallow: never fetched
    assert [site.count(p) for p in PRIVATE] == [0] * 8
    for path in PRE + POST:
        assert by_path[path]["decision"]["allowed"] is False
    tdm = by_path["/tdm/page"]["decision"]
    assert tdm["policy"] == "https://example.org/p"
    assert [r["signal"] for r in tdm["reasons"] if r["reserved"]] == ["tdmrep-file"]
    assert stats["tdm_guard/tagged"] == 7 and stats["tdm_guard/allowed"] == 2
    assert stats["tdm_guard/blocked"] == 8


def test_an_audit_log_that_fills_mid_crawl_counts_only_what_was_delivered(tmp_path):
    """The disk fills under the audit log: the spider closes, every item delivered has its
    line in the log, and `tdm_guard/allowed` counts those items, not the decisions that were
    made but could not be logged (those are `tdm_guard/dropped/no_audit_log`)."""
    site = Site()
    site.add("/robots.txt", Resp(200, "User-agent: *\nDisallow: /private/\n"))
    pages = [f"/open/{i}" for i in range(60)]
    for path in pages:
        site.add(path, html())
    with serving(site):
        proc = run_crawl(tmp_path, urls(site, pages), fsize=12000, CONCURRENT_REQUESTS=4)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "out.json").read_text())
    stats, items = result["stats"], result["items"]
    assert stats["finish_reason"] == "tdm_guard_audit_log_failed"
    records = decision_records((tmp_path / "audit.jsonl").read_text())
    logged = {r["url"] for r in records if r["action"] == "allowed"}
    assert {i["url"] for i in items} <= logged
    assert stats["tdm_guard/allowed"] == len(items) == len(logged)
    assert stats["tdm_guard/dropped/no_audit_log"] >= 1
    assert f"{stats['tdm_guard/dropped/no_audit_log']} dropped (no audit log)" in proc.stderr


def test_a_robots_txt_or_page_left_encoded_is_never_read_as_plain(tmp_path):
    """Scrapy undoes gzip and x-gzip; a coding it keeps (here `compress`) leaves bytes no
    reader can take: robots.txt is then unreachable (disallow all), a page is not read."""
    import gzip

    sites = {}
    for coding in ("x-gzip", "compress"):
        site = Site()
        site.add("/robots.txt", Resp(200, gzip.compress(b"User-agent: *\nDisallow: /p/\n"),
                                     [("Content-Type", "text/plain"),
                                      ("Content-Encoding", coding)]))
        site.add("/open", html())
        site.add("/p/1", html())
        sites[coding] = site
    page_site = Site()
    page_site.add("/robots.txt", Resp(200, "User-agent: *\nAllow: /\n"))
    page_site.add("/odd", Resp(200, gzip.compress(HTML.format(
        '<meta name="robots" content="noai">').encode()),
        [("Content-Type", "text/html"), ("Content-Encoding", "x-odd")]))
    with serving(sites["x-gzip"]) as a, serving(sites["compress"]) as b, serving(page_site) as c:
        items, stats, audit, _ = crawl(tmp_path, [a.base + "/open", a.base + "/p/1",
                                                  b.base + "/open", c.base + "/odd"],
                                       TDM_GUARD_MODE="tag")
    by_url = {r["url"]: r for r in audit}
    assert by_url[a.base + "/open"]["allowed"] is True  # x-gzip decoded, rules obeyed
    assert by_url[a.base + "/p/1"]["reasons"][0]["evidence"] == "line 2: Disallow: /p/"
    refused = by_url[b.base + "/open"]
    assert refused["allowed"] is False and refused["stage"] == "request"
    assert "Content-Encoding compress: not decoded" in refused["reasons"][0]["evidence"]
    odd = by_url[c.base + "/odd"]
    assert "page not read: Content-Encoding x-odd: not decoded" in " ".join(odd["unchecked"])
    assert stats["tdm_guard/policy_file/robots/errors"] == 1


def test_robots_5xx_blocks_the_whole_origin(tmp_path):
    site = Site()
    site.add("/robots.txt", Resp(503, "<html>Service Unavailable</html>"))
    site.add("/a", html())
    with serving(site):
        items, stats, audit, _ = crawl(tmp_path, urls(site, ["/a", "/b", "/c"]))
    assert items == [] and site.count("/a") == 0
    assert stats["tdm_guard/blocked/robots"] == 3
    assert "unreachable (HTTP 503)" in audit[0]["reasons"][0]["evidence"]


def test_declaration_blocks_a_real_host_through_a_proxy(tmp_path):
    site = Site()
    site.add("/", html(), host="www.sonymusic.com")
    site.add("/", html(), host="indie.example")
    with serving(site):
        env = {**os.environ, "http_proxy": site.base, "no_proxy": ""}
        items, stats, audit, _ = crawl(tmp_path, ["http://www.sonymusic.com/",
                                                  "http://indie.example/"], env=env)
    assert [i["url"] for i in items] == ["http://indie.example/"]
    assert site.count("/robots.txt", host="www.sonymusic.com") == 1  # through the proxy
    assert site.count("/", host="www.sonymusic.com") == 0
    assert stats["tdm_guard/blocked/declaration"] == 1
    sony = next(a for a in audit if "sonymusic" in a["url"])
    assert "mailto:aitrainingpermission@sonymusic.com" in sony["contacts"]


def test_opt_out_meta_and_manual_middleware(tmp_path):
    """Listed by hand in DOWNLOADER_MIDDLEWARES (no add-on), with ROBOTSTXT_OBEY off."""
    site = Site()
    site.add("/robots.txt", Resp(200, "User-agent: *\nDisallow: /\n"))
    with serving(site):
        items, stats, _, _ = crawl(tmp_path, urls(site, ["/x"]), ADDONS={},
                                   ROBOTSTXT_OBEY=False,
                                   DOWNLOADER_MIDDLEWARES={
                                       "scrapy_tdm_guard.TdmGuardMiddleware": 100})
    assert items == [] and stats["tdm_guard/blocked/robots"] == 1
