"""The middleware on a shared policy store (a real redis-server): nodes share policy files,
scrapy-redis's REDIS_URL is used when TDM_GUARD_CACHE is not set, the warm path never
touches Redis, and a store value that names no store stops the crawl at start."""

from __future__ import annotations

import asyncio
import logging

import pytest

scrapy = pytest.importorskip("scrapy")

from test_scrapy_middleware import make, outcomes  # noqa: E402

from tdm_guard.scrapy_settings import SettingError  # noqa: E402

ROBOTS = b"User-agent: *\nDisallow: /private/\n"
URLS = ["http://example.org/private/1", "http://example.org/ok"]


def test_nodes_share_policy_files_through_redis(redis_server):
    first, _, calls = make({"TDM_GUARD_CACHE": redis_server.url})
    second, crawler, second_calls = make({"TDM_GUARD_CACHE": redis_server.url})
    results = [asyncio.run(outcomes(mw, URLS)) for mw in (first, second)]
    assert [[r[0] for r in rs] for rs in results] == [["blocked", "passed"]] * 2
    assert sorted(calls) == ["http://example.org/.well-known/tdmrep.json",
                             "http://example.org/robots.txt"]
    assert second_calls == []  # the second node asked the site nothing
    stats = crawler.stats
    assert stats.get_value("tdm_guard/store/hit") == 2
    assert stats.get_value("tdm_guard/policy_file/robots/cached") == 1
    # the same evidence on both nodes: the file one node fetched, read by the other
    reasons = [rs[0][1].meta["tdm_guard"].reasons[0] for rs in results]
    assert reasons[0].sha256 == reasons[1].sha256 and reasons[0].fetched_at == \
        reasons[1].fetched_at


def test_scrapy_redis_url_is_used_when_tdm_guard_cache_is_not_set(redis_server, caplog):
    with caplog.at_level(logging.INFO):
        mw, _, _ = make({"REDIS_URL": redis_server.url}, cache=False)
    assert mw.store.name == f"{redis_server.url} (prefix tdmg:)"
    said = [r.getMessage() for r in caplog.records if "shared through Redis" in r.getMessage()]
    assert len(said) == 1 and "REDIS_URL" in said[0]
    asyncio.run(outcomes(mw, URLS))
    assert redis_server.client().exists(
        "tdmg:v1:{http://example.org/robots.txt}:rec") == 1


def test_tdm_guard_cache_wins_over_redis_url(redis_server, tmp_path):
    mw, _, _ = make({"REDIS_URL": redis_server.url,
                     "TDM_GUARD_CACHE": str(tmp_path / "own.sqlite3")}, cache=False)
    assert mw.store.name.endswith("own.sqlite3")
    mw, _, _ = make({"REDIS_URL": redis_server.url, "TDM_GUARD_CACHE": None}, cache=False)
    assert mw.store.name == "memory"


def test_the_warm_path_never_touches_redis(redis_server):
    mw, crawler, calls = make({"TDM_GUARD_CACHE": redis_server.url})

    async def crawl():
        await outcomes(mw, URLS)  # loads the origin (through Redis)
        redis_server.pause()  # from here on any Redis call would time out and be counted
        try:
            return await outcomes(mw, [f"http://example.org/private/{i}" for i in range(50)]
                                  + [f"http://example.org/page/{i}" for i in range(50)])
        finally:
            redis_server.resume()

    results = asyncio.run(crawl())
    assert [r[0] for r in results] == ["blocked"] * 50 + ["passed"] * 50
    assert crawler.stats.get_value("tdm_guard/store/errors") is None
    assert crawler.stats.get_value("tdm_guard/store/down") is None
    assert len(calls) == 2


def test_a_dead_redis_changes_no_answer_and_is_counted(redis_server):
    redis_server.kill()
    mw, crawler, calls = make({"TDM_GUARD_CACHE": redis_server.url})
    results = asyncio.run(outcomes(mw, URLS + ["http://other.example/private/2"]))
    assert [r[0] for r in results] == ["blocked", "passed", "blocked"]
    assert crawler.stats.get_value("tdm_guard/store/down") == 1
    assert crawler.stats.get_value("tdm_guard/store/local") == 4  # two origins, two files
    assert len(calls) == 4


def test_an_origin_is_kept_in_memory_only_while_its_files_are_fresh(monkeypatch):
    import scrapy_tdm_guard._middleware as module

    files = {"/robots.txt": (200, ROBOTS)}
    mw, crawler, calls = make(files=files, headers=[("Cache-Control", "max-age=120")])
    clock = [1000.0]
    monkeypatch.setattr(module, "_clock", lambda: clock[0])
    asyncio.run(outcomes(mw, URLS))
    clock[0] += 100
    asyncio.run(outcomes(mw, URLS))
    assert crawler.stats.get_value("tdm_guard/policy_file/robots/cached") is None
    clock[0] += 21  # robots.txt said max-age=120: the origin is read again (from the store)
    asyncio.run(outcomes(mw, URLS))
    assert crawler.stats.get_value("tdm_guard/policy_file/robots/cached") == 1


@pytest.mark.parametrize("settings, words", [
    ({"TDM_GUARD_CACHE": "postgres://db/x"}, "^TDM_GUARD_CACHE: 'postgres://db/x': unknown"),
    ({"TDM_GUARD_CACHE": "redis://h/0?prefix=a b"}, "^TDM_GUARD_CACHE: .*prefix="),
    ({"REDIS_URL": "redis://h:port"}, r"^REDIS_URL \(scrapy-redis\): .*port"),
    ({"TDM_GUARD_MAX_STALE": "forever"}, "^TDM_GUARD_MAX_STALE: not a duration"),
])
def test_a_store_setting_that_cannot_be_used_stops_the_crawl(settings, words):
    with pytest.raises(SettingError, match=words):
        make(settings, cache="TDM_GUARD_CACHE" not in settings and "REDIS_URL" not in settings)


def test_the_environment_names_the_store_of_a_crawl(monkeypatch, tmp_path):
    monkeypatch.setenv("TDM_GUARD_CACHE", str(tmp_path / "env.sqlite3"))
    mw, _, _ = make(cache=False)
    assert mw.store.name.endswith("env.sqlite3")


EPOLL = "twisted.internet.epollreactor.EPollReactor"


def test_a_non_asyncio_reactor_still_crawls_on_the_sqlite_store(tmp_path):
    from test_scrapy_e2e import crawl, html

    from servers import Resp, Site, serving

    site = Site()
    site.add("/robots.txt", Resp(200, ROBOTS.decode()))
    for path in ("/private/1", "/ok"):
        site.add(path, html())
    with serving(site):
        for run in ("1", "2"):  # fetched, then from the store
            items, stats, _, _ = crawl(tmp_path / run, [site.base + "/private/1",
                                                        site.base + "/ok"],
                                       TWISTED_REACTOR=EPOLL,
                                       TDM_GUARD_CACHE=str(tmp_path / "store.sqlite3"))
            assert [i["url"] for i in items] == [site.base + "/ok"]
        assert site.count("/robots.txt") == 1 and site.count("/private/1") == 0
    assert stats["tdm_guard/policy_file/robots/cached"] == 1


def test_a_redis_store_on_a_non_asyncio_reactor_stops_the_crawl_at_start(tmp_path):
    pytest.importorskip("redis")
    from test_scrapy_e2e import run_crawl

    proc = run_crawl(tmp_path, ["http://127.0.0.1:9/"], TWISTED_REACTOR=EPOLL,
                     TDM_GUARD_CACHE="redis://127.0.0.1:9/0")
    assert proc.returncode != 0
    assert "a Redis policy store needs Scrapy's asyncio reactor" in proc.stderr
