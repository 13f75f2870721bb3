"""Real Scrapy crawls: the settings switches do what they say (TDM_GUARD_ENABLED, the HTTP
cache, TDM_GUARD_CACHE, dont_tdm_guard across redirects, the agent's product token)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest
from test_scrapy_e2e import crawl, html, run_crawl

from tdm_guard.stores.sqlite import RECORDS

from servers import Resp, Site, serving

pytest.importorskip("scrapy")

ROBOTS = "User-agent: *\nDisallow: /private/\n"
ALLOW_ALL = "User-agent: *\nAllow: /\n"


@pytest.fixture
def private_site():
    site = Site()
    site.add("/robots.txt", Resp(200, ROBOTS))
    for path in ("/private/1", "/open"):
        site.add(path, html())
    with serving(site):
        yield site


def runspider(folder, start_urls, custom_settings, *args):
    """`scrapy runspider spider.py ARGS...` in `folder`: settings as a user's command line."""
    settings = {"TELNETCONSOLE_ENABLED": False, "RETRY_ENABLED": False, "LOG_LEVEL": "INFO",
                **custom_settings}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spider.py").write_text(
        "import scrapy\n\n\n"
        "class S(scrapy.Spider):\n"
        "    name = 's'\n"
        f"    start_urls = {start_urls!r}\n"
        f"    custom_settings = {settings!r}\n\n"
        "    def parse(self, response):\n"
        "        yield {'url': response.url}\n")
    return subprocess.run([sys.executable, "-m", "scrapy", "runspider", "spider.py", *args],
                          cwd=folder, capture_output=True, text=True, timeout=120)


# -- TDM_GUARD_ENABLED = False: Scrapy's own behaviour ----------------------------------------

@pytest.mark.parametrize("off", [False, "False", "false", "0", 0])
def test_disabled_in_project_settings_leaves_scrapys_robots_middleware(private_site, tmp_path,
                                                                       off):
    site = private_site
    items, stats, audit, _ = crawl(tmp_path, [site.base + "/private/1", site.base + "/open"],
                                   TDM_GUARD_ENABLED=off)
    assert site.count("/private/1") == 0  # robots.txt Disallow obeyed, by Scrapy
    assert [i["url"] for i in items] == [site.base + "/open"]
    assert stats["robotstxt/forbidden"] == 1
    assert not any(k.startswith("tdm_guard/") for k in stats) and audit == []


def test_disabled_in_spider_custom_settings_leaves_scrapys_robots_middleware(private_site,
                                                                             tmp_path):
    site = private_site
    items, stats, _, _ = crawl(tmp_path, [site.base + "/private/1", site.base + "/open"],
                               custom_settings={"TDM_GUARD_ENABLED": "false"})
    assert site.count("/private/1") == 0
    assert stats["robotstxt/forbidden"] == 1
    assert not any(k.startswith("tdm_guard/") for k in stats)


@pytest.mark.parametrize("off", ["False", "false", "0"])
def test_disabled_on_the_command_line_leaves_scrapys_robots_middleware(private_site, tmp_path,
                                                                       off):
    site = private_site
    proc = runspider(tmp_path / "project", [site.base + "/private/1", site.base + "/open"],
                     {"ADDONS": {"scrapy_tdm_guard.TdmGuardAddon": 0}, "ROBOTSTXT_OBEY": True,
                      "TDM_GUARD_CACHE": None}, "-s", f"TDM_GUARD_ENABLED={off}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert site.count("/private/1") == 0 and site.count("/open") == 1
    assert "'robotstxt/forbidden': 1" in proc.stderr
    assert "tdm_guard/" not in proc.stderr


def test_enabled_on_the_command_line_overrides_a_disabled_spider(private_site, tmp_path):
    site = private_site
    proc = runspider(tmp_path / "project", [site.base + "/private/1"],
                     {"ADDONS": {"scrapy_tdm_guard.TdmGuardAddon": 0}, "ROBOTSTXT_OBEY": False,
                      "TDM_GUARD_ENABLED": False, "TDM_GUARD_CACHE": None},
                     "-s", "TDM_GUARD_ENABLED=true")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert site.count("/private/1") == 0
    assert "'tdm_guard/blocked/robots': 1" in proc.stderr


def test_an_unreadable_switch_stops_the_crawl_naming_the_setting(private_site, tmp_path):
    proc = run_crawl(tmp_path, [private_site.base + "/open"], TDM_GUARD_ENABLED="off")
    assert proc.returncode == 1
    assert private_site.count("/open") == 0 and private_site.count("/robots.txt") == 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("tdm_guard.scrapy_settings.SettingError: TDM_GUARD_ENABLED = 'off' "
                           "is not a boolean"), last


# -- the HTTP cache never decides how fresh a policy file is --------------------------------

def test_http_cache_never_keeps_a_503_robots_txt(tmp_path):
    site = Site()
    site.add("/robots.txt", Resp(503, "busy"))
    site.add("/page", html())
    http_cache = {"HTTPCACHE_ENABLED": True, "HTTPCACHE_DIR": str(tmp_path / "httpcache")}
    with serving(site):
        items, stats, _, _ = crawl(tmp_path / "1", [site.base + "/page"], **http_cache)
        assert items == [] and stats["tdm_guard/blocked/robots"] == 1
        assert "httpcache/store" not in stats  # policy files never enter Scrapy's HTTP cache
        site.add("/robots.txt", Resp(200, ALLOW_ALL))  # the site recovered
        items, stats, _, _ = crawl(tmp_path / "2", [site.base + "/page"], **http_cache)
    assert site.count("/robots.txt") == 2  # asked again, not served from the HTTP cache
    assert [i["url"] for i in items] == [site.base + "/page"]
    assert site.count("/page") == 1


def test_robots_txt_older_than_24_hours_is_read_again_with_the_http_cache_on(tmp_path):
    site = Site()
    site.add("/robots.txt", Resp(200, "User-agent: *\nDisallow: /page\n"))
    site.add("/page", html())
    cache = tmp_path / "policy-cache.sqlite3"
    settings = {"HTTPCACHE_ENABLED": True, "HTTPCACHE_DIR": str(tmp_path / "httpcache"),
                "TDM_GUARD_CACHE": str(cache)}
    with serving(site):
        items, _, _, _ = crawl(tmp_path / "1", [site.base + "/page"], **settings)
        assert items == [] and site.count("/robots.txt") == 1
        items, stats, _, _ = crawl(tmp_path / "2", [site.base + "/page"], **settings)
        assert items == [] and site.count("/robots.txt") == 1  # within 24 h: tdm-guard's cache
        assert stats["tdm_guard/policy_file/robots/cached"] == 1
        with sqlite3.connect(cache) as db:  # three days pass
            db.execute(f"UPDATE {RECORDS} SET fresh_until = fresh_until - 3 * 86400")
        site.add("/robots.txt", Resp(200, ALLOW_ALL))
        items, stats, _, _ = crawl(tmp_path / "3", [site.base + "/page"], **settings)
    assert site.count("/robots.txt") == 2  # re-read (RFC 9309 §2.4), not the HTTP cache's copy
    assert [i["url"] for i in items] == [site.base + "/page"]


def test_a_cache_middleware_that_ignores_dont_cache_is_not_trusted(private_site, tmp_path):
    site = private_site
    items, stats, audit, log = crawl(
        tmp_path, [site.base + "/private/1", site.base + "/open"],
        DOWNLOADER_MIDDLEWARES={"crawl_script.StubbornCacheMiddleware": 900})
    assert site.count("/private/1") == 0 and items == []  # its age is unknown: unreachable
    assert stats["tdm_guard/policy_file/robots/http_cache_refused"] == 1
    assert "came from an HTTP cache that ignores the dont_cache meta key" in log
    assert "served from an HTTP cache" in audit[0]["reasons"][0]["evidence"]


# -- TDM_GUARD_CACHE=None from the command line ----------------------------------------------

@pytest.mark.parametrize("spelling", ["None", "none", "", "memory"])
def test_cache_none_on_the_command_line_keeps_policy_files_in_memory(private_site, tmp_path,
                                                                     spelling):
    site = private_site
    project = tmp_path / "project"
    proc = runspider(project, [site.base + "/private/1", site.base + "/open"],
                     {"ADDONS": {"scrapy_tdm_guard.TdmGuardAddon": 0}},
                     "-s", f"TDM_GUARD_CACHE={spelling}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    # no file named None (Python's own __pycache__ aside: written where bytecode is allowed)
    assert sorted(p.name for p in project.iterdir() if p.name != "__pycache__") == ["spider.py"]
    assert not (tmp_path / "xdg-cache" / "tdm-guard" / "policy-cache.sqlite3").exists()
    assert site.count("/private/1") == 0 and site.count("/open") == 1


# -- dont_tdm_guard stays on its own origin --------------------------------------------------

def test_opt_out_does_not_follow_a_cross_origin_redirect(tmp_path):
    first, other = Site(), Site()
    with serving(first), serving(other):
        first.add("/robots.txt", Resp(200, ROBOTS))
        first.add("/away", Resp(302, headers=[("Location", other.base + "/private/x")]))
        first.add("/here", Resp(302, headers=[("Location", "/private/y")]))
        first.add("/private/y", html())
        other.add("/robots.txt", Resp(200, ROBOTS))
        other.add("/private/x", html())
        items, stats, audit, _ = crawl(tmp_path, [first.base + "/away", first.base + "/here"],
                                       start_meta={"dont_tdm_guard": True})
        assert other.count("/private/x") == 0  # another origin: its robots.txt decides
        assert other.count("/robots.txt") == 1
        assert first.count("/private/y") == 1  # same origin: the opt-out is kept
    assert [i["url"] for i in items] == [first.base + "/private/y"]
    assert stats["tdm_guard/blocked/robots"] == 1
    assert stats["tdm_guard/opt_out_dropped"] == 1
    (blocked,) = audit
    assert blocked["url"] == other.base + "/private/x" and blocked["action"] == "blocked"


# -- the agent is a product token ------------------------------------------------------------

AGENT_ROBOTS = "User-agent: *\nAllow: /\n\nUser-agent: MyBot\nDisallow: /mine/\n"


@pytest.mark.parametrize("setting", ["ROBOTSTXT_USER_AGENT", "TDM_GUARD_AGENT"])
def test_a_versioned_agent_blocks_what_stock_scrapy_blocks(tmp_path, setting):
    site = Site()
    site.add("/robots.txt", Resp(200, AGENT_ROBOTS))
    for path in ("/mine/1", "/open"):
        site.add(path, html())
    with serving(site):
        start = [site.base + "/mine/1", site.base + "/open"]
        stock, stock_stats, _, _ = crawl(tmp_path / "stock", start, ADDONS={},
                                         ROBOTSTXT_USER_AGENT="MyBot/1.0")
        ours, stats, audit, log = crawl(tmp_path / "ours", start, **{setting: "MyBot/1.0"})
    assert stock_stats["robotstxt/forbidden"] == 1
    assert [i["url"] for i in ours] == [i["url"] for i in stock] == [site.base + "/open"]
    assert site.count("/mine/1") == 0
    assert stats["tdm_guard/blocked/robots"] == 1
    blocked = next(a for a in audit if a["action"] == "blocked")
    assert blocked["agent"] == "MyBot" and blocked["reasons"][0]["agent"] == "MyBot"
    assert "tdm-guard (block mode, agent MyBot, purpose train)" in log


@pytest.mark.parametrize(("setting", "value"), [("TDM_GUARD_AGENT", "/1.0"),
                                                ("ROBOTSTXT_USER_AGENT", "1.0"),
                                                ("USER_AGENT", "(compatible)")])
def test_an_agent_without_a_product_token_stops_the_crawl_naming_the_setting(
        private_site, tmp_path, setting, value):
    proc = run_crawl(tmp_path, [private_site.base + "/open"], **{setting: value})
    assert proc.returncode == 1
    assert private_site.count("/open") == 0 and private_site.count("/robots.txt") == 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"tdm_guard.scrapy_settings.SettingError: {setting} = {value!r}: "), \
        last
    assert "has no RFC 9309 product token" in last
    assert not (tmp_path / "out.json").exists()
