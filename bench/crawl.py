"""One Scrapy crawl of the generated site: stock, or with tdm-guard; prints JSON measurements.

usage: python bench/crawl.py stock|floor|block|tag BASE_URL PAGES [ORIGINS]

`stock` is Scrapy with ROBOTSTXT_OBEY; `block` and `tag` add the tdm-guard add-on in that
mode (ROBOTSTXT_OBEY stays on: the add-on replaces Scrapy's robots.txt middleware).
`floor` is stock Scrapy plus the one more download per origin that reading TDMRep takes
(`/.well-known/tdmrep.json`, fetched beside robots.txt through the engine, as robots.txt
is; every request of the origin waits for both, as with tdm-guard; the file is dropped
unread): the least any add-on that reads tdmrep.json through Scrapy's downloader can cost,
whatever it does with the file. With ORIGINS > 1 the pages are spread over that many host
names (o0.bench.test, ...), reached through the benchmark server acting as an HTTP forward
proxy (`http_proxy`, set by run.py).
The parent measures the whole process's CPU time (getrusage of the child); the figures
printed here are the crawl's own, from start to close, for comparison.

`peak_queued` is the most requests the scheduler held at once: it tells which of Scrapy's
two regimes the crawl ran in. With the downloader full (any real latency), the start
requests wait in the scheduler (a peak near PAGES); when responses come back faster than
Scrapy starts requests (a local server, no latency), each start request is scheduled and
taken at once (a peak of 1 or 2), and Scrapy's own work per request differs (a priority
queue made and dropped per request, fewer objects for the garbage collector to walk).
Crawls compared must run in the same regime; run.py names it in each table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import time

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred


class SiteSpider(scrapy.Spider):
    name = "bench"

    def parse(self, response):
        yield {"url": response.url}


class TdmrepFloorMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, plus a download of each origin's tdmrep.json beside
    its robots.txt. Every request of an origin waits for both files, as tdm-guard's do (one
    Deferred per waiter); once both are in, a request takes stock Scrapy's path plus one set
    lookup. The file is dropped unread."""

    def __init__(self, crawler):  # noqa: ANN001 - Scrapy's type
        super().__init__(crawler)
        self._tdmrep_done: set[str] = set()
        self._tdmrep_waiting: dict[str, list[Deferred]] = {}

    def robot_parser(self, request: scrapy.Request):  # noqa: ANN201 - Scrapy's type
        # A plain function on the warm path: stock Scrapy's coroutine, no second one around
        # it (about 6 k instructions a request more than stock, 0.04% of a crawl).
        url = urlparse_cached(request)
        if url.netloc in self._tdmrep_done:
            return super().robot_parser(request)
        return self._after_tdmrep(request, url.scheme, url.netloc)

    async def _after_tdmrep(self, request: scrapy.Request, scheme: str, netloc: str):  # noqa: ANN202
        waiters = self._tdmrep_waiting.get(netloc)
        if waiters is not None:
            gate: Deferred = Deferred()
            waiters.append(gate)
            await maybe_deferred_to_future(gate)
            return await super().robot_parser(request)
        self._tdmrep_waiting[netloc] = []
        tdmrep = scrapy.Request(f"{scheme}://{netloc}/.well-known/tdmrep.json",
                                priority=self.DOWNLOAD_PRIORITY, callback=NO_CALLBACK,
                                meta={"dont_obey_robotstxt": True})
        fetch = deferred_from_coro(self.crawler.engine.download_async(tdmrep))
        try:
            parser = await super().robot_parser(request)
            with contextlib.suppress(Exception):  # its answer is not read
                await maybe_deferred_to_future(fetch)
        finally:
            if not fetch.called:  # cancelled first: its later failure is nobody's error
                fetch.addErrback(lambda _: None)
            self._tdmrep_done.add(netloc)
            for gate in self._tdmrep_waiting.pop(netloc):
                gate.callback(None)
        return parser


def start_urls(base: str, pages: int, origins: int) -> list[str]:
    if origins <= 1:
        return [f"{base}/p/{n}.html" for n in range(pages)]
    return [f"http://o{n % origins}.bench.test/p/{n}.html" for n in range(pages)]


MODES = ("stock", "floor", "block", "tag")


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("base", help="the benchmark server, e.g. http://127.0.0.1:8000")
    parser.add_argument("pages", type=positive)
    parser.add_argument("origins", type=positive, nargs="?", default=1)
    return parser.parse_args()


def main() -> None:
    args = arguments()
    mode, base, pages, origins = args.mode, args.base, args.pages, args.origins
    settings = {
        "ROBOTSTXT_OBEY": True,
        "LOG_LEVEL": "ERROR",
        "TELNETCONSOLE_ENABLED": False,
        "CONCURRENT_REQUESTS": 32,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 32,
        "COOKIES_ENABLED": False,
    }
    if mode in ("block", "tag"):
        settings.update({"ADDONS": {"scrapy_tdm_guard.TdmGuardAddon": 0},
                         "TDM_GUARD_CACHE": None, "TDM_GUARD_MODE": mode})
    elif mode == "floor":
        settings["DOWNLOADER_MIDDLEWARES"] = {
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            TdmrepFloorMiddleware: 100}
    process = CrawlerProcess(settings=settings)
    crawler = process.create_crawler(SiteSpider)
    peak = [0]

    def scheduled(request: scrapy.Request, spider: object = None) -> None:
        peak[0] = max(peak[0], len(crawler.engine._slot.scheduler) + 1)  # sent before enqueue

    crawler.signals.connect(scheduled, signal=scrapy.signals.request_scheduled)
    t0, c0 = time.perf_counter(), os.times()
    process.crawl(crawler, start_urls=start_urls(base, pages, origins))
    process.start()
    t1, c1 = time.perf_counter(), os.times()
    stats = crawler.stats.get_stats()
    print(json.dumps({
        "wall": t1 - t0,
        "cpu": (c1.user - c0.user) + (c1.system - c0.system),
        "items": stats.get("item_scraped_count", 0),
        "downloads": stats.get("downloader/response_count", 0),
        "peak_queued": peak[0],
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
