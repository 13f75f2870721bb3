"""TdmGuardMiddleware with a mocked engine: the waiting-requests case and failure paths."""

from __future__ import annotations

import asyncio
from unittest.mock import AsyncMock, MagicMock

import pytest

scrapy = pytest.importorskip("scrapy")

from scrapy import Request  # noqa: E402
from scrapy.exceptions import IgnoreRequest, NotConfigured  # noqa: E402
from scrapy.http import HtmlResponse, TextResponse  # noqa: E402
from scrapy.utils.misc import build_from_crawler  # noqa: E402
from scrapy.utils.test import get_crawler  # noqa: E402

from scrapy_tdm_guard import TdmGuardAddon, TdmGuardMiddleware  # noqa: E402
from tdm_guard.scrapy_settings import SettingError  # noqa: E402

ROBOTS = b"User-agent: *\nDisallow: /private/\n"


def make(settings=None, files=None, delay=0.05, fail=False, headers=(), cache=True):
    """A middleware whose engine answers policy-file requests from `files` after `delay`
    (with `headers`); `cache=True` keeps policy files in memory unless `settings` say."""
    crawler = get_crawler(settings_dict={**({"TDM_GUARD_CACHE": None} if cache else {}),
                                         **(settings or {})})
    files = files if files is not None else {"/robots.txt": (200, ROBOTS)}
    calls = []

    async def download_async(request):
        calls.append(request.url)
        await asyncio.sleep(delay)
        if fail:
            raise ConnectionRefusedError("refused")
        path = "/" + request.url.split("/", 3)[3]
        status, body = files.get(path, (404, b"not found"))
        return TextResponse(request.url, status=status, body=body, request=request,
                            encoding="utf-8", headers=dict(headers))

    crawler.engine = MagicMock()
    crawler.engine.download_async = AsyncMock(side_effect=download_async)
    crawler.stats.open_spider()
    mw = build_from_crawler(TdmGuardMiddleware, crawler)
    return mw, crawler, calls


async def outcomes(mw, urls):
    async def one(url):
        request = Request(url)
        try:
            await mw.process_request(request)
        except IgnoreRequest:
            return "blocked", request
        return "passed", request

    return await asyncio.gather(*(one(u) for u in urls))


def test_every_waiting_request_gets_the_real_answer():
    mw, crawler, calls = make()
    urls = [f"http://example.org/private/{i}" for i in range(8)] + ["http://example.org/ok"]
    results = asyncio.run(outcomes(mw, urls))
    assert [r[0] for r in results] == ["blocked"] * 8 + ["passed"]
    assert calls == ["http://example.org/robots.txt", "http://example.org/.well-known/tdmrep.json"]
    assert crawler.stats.get_value("tdm_guard/blocked/robots") == 8
    assert results[-1][1].meta["tdm_guard"].allowed is True


def test_engine_failure_fails_closed_for_every_waiter():
    mw, crawler, _ = make(fail=True)
    results = asyncio.run(outcomes(mw, [f"http://down.example/{i}" for i in range(5)]))
    assert [r[0] for r in results] == ["blocked"] * 5
    assert crawler.stats.get_value("tdm_guard/policy_file/robots/errors") == 1
    decision = results[0][1].meta["tdm_guard"]
    assert "unreachable (ConnectionRefusedError: refused)" in decision.reasons[0].evidence


def test_origins_are_scheme_host_and_port():
    mw, _, calls = make()
    asyncio.run(outcomes(mw, ["http://example.org/a", "https://example.org/a",
                              "http://example.org:8080/a", "http://example.org/b"]))
    robots = [c for c in calls if c.endswith("robots.txt")]
    assert robots == ["http://example.org/robots.txt", "https://example.org/robots.txt",
                      "http://example.org:8080/robots.txt"]


def test_tag_mode_passes_reserved_requests_with_their_decision():
    files = {"/robots.txt": (200, b"User-agent: GPTBot\nDisallow: /\n")}
    mw, crawler, _ = make({"TDM_GUARD_MODE": "tag"}, files)
    (result,) = asyncio.run(outcomes(mw, ["http://example.org/a"]))
    assert result[0] == "passed"
    decision = result[1].meta["tdm_guard"]
    assert decision.allowed is False and decision.reasons[1].agent == "GPTBot"


def test_response_signals_and_opt_out():
    mw, crawler, _ = make()
    request = Request("http://example.org/page")
    asyncio.run(mw.process_request(request))
    response = HtmlResponse(request.url, body=b'<head><meta name="robots" content="noai"></head>',
                            request=request)
    with pytest.raises(IgnoreRequest):
        asyncio.run(mw.process_response(request, response))
    assert crawler.stats.get_value("tdm_guard/blocked/noai-meta") == 1
    skipped = Request("http://example.org/private/x", meta={"dont_tdm_guard": True})
    assert asyncio.run(mw.process_request(skipped)) is None
    assert crawler.stats.get_value("tdm_guard/skipped") == 1


def test_decision_counts_reach_the_stats_in_batches_and_all_by_close():
    from scrapy_tdm_guard._middleware import STATS_BATCH

    mw, crawler, _ = make()
    pages = STATS_BATCH + 10

    async def crawl():
        for i in range(pages):
            request = Request(f"http://example.org/p/{i}")
            await mw.process_request(request)
            response = HtmlResponse(request.url, body=b"<head></head>", request=request)
            await mw.process_response(request, response)
        with pytest.raises(IgnoreRequest):
            await mw.process_request(Request("http://example.org/private/1"))

    asyncio.run(crawl())
    # while the crawl runs, the stats lag by less than one batch
    assert STATS_BATCH <= crawler.stats.get_value("tdm_guard/allowed") <= pages
    asyncio.run(mw._spider_closed(reason="finished"))
    assert crawler.stats.get_value("tdm_guard/allowed") == pages
    assert crawler.stats.get_value("tdm_guard/blocked") == 1
    assert crawler.stats.get_value("tdm_guard/tagged") is None


def test_settings_are_read_once_and_checked():
    with pytest.raises(NotConfigured):
        make({"TDM_GUARD_ENABLED": False})
    with pytest.raises(ValueError, match="TDM_GUARD_MODE must be 'block' or 'tag'"):
        make({"TDM_GUARD_MODE": "maybe"})
    mw, _, _ = make({"USER_AGENT": "AcmeBot/2.1 (+https://acme.example)"})
    assert mw.agent == "AcmeBot"
    mw, _, _ = make({"ROBOTSTXT_USER_AGENT": "acme", "TDM_GUARD_AGENT": "acme-tdm/2"})
    assert mw.agent == "acme-tdm"
    with pytest.raises(SettingError, match="^ROBOTSTXT_USER_AGENT = '2.0': "):
        make({"ROBOTSTXT_USER_AGENT": "2.0"})


@pytest.mark.parametrize("off", [False, "false", "0", 0])
def test_disabled_addon_changes_nothing(off):
    from scrapy.settings import Settings

    settings = Settings({"ROBOTSTXT_OBEY": True, "TDM_GUARD_ENABLED": off})
    before = settings.getdict("DOWNLOADER_MIDDLEWARES")
    TdmGuardAddon().update_settings(settings)
    assert settings.getdict("DOWNLOADER_MIDDLEWARES") == before  # RobotsTxtMiddleware kept


def test_addon_replaces_scrapys_robots_middleware():
    from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
    from scrapy.settings import Settings

    settings = Settings({"ROBOTSTXT_OBEY": True})
    TdmGuardAddon().update_settings(settings)
    mws = settings.getdict("DOWNLOADER_MIDDLEWARES")
    assert mws[RobotsTxtMiddleware] is None
    assert mws[TdmGuardMiddleware] == 100


def test_origins_are_reloaded_after_24_hours_and_bounded(monkeypatch):
    import scrapy_tdm_guard._middleware as module

    mw, crawler, calls = make({"TDM_GUARD_MAX_ORIGINS": 2})
    clock = [1000.0]
    monkeypatch.setattr(module, "_clock", lambda: clock[0])
    asyncio.run(outcomes(mw, ["http://a.example/x"]))
    asyncio.run(outcomes(mw, ["http://a.example/y"]))
    assert calls.count("http://a.example/robots.txt") == 1
    clock[0] += 24 * 3600 + 1
    asyncio.run(outcomes(mw, ["http://a.example/z"]))
    # older than 24 h: read again (here from the policy cache, which has its own 24 h clock)
    assert crawler.stats.get_value("tdm_guard/policy_file/robots/cached") == 1
    asyncio.run(outcomes(mw, ["http://b.example/", "http://c.example/"]))
    assert list(mw._origins) == ["http://b.example", "http://c.example"]  # LRU bound
