"""One Scrapy crawl of the generated site, stock or with tdm-guard; prints JSON measurements.

usage: python bench/crawl.py stock|tdm-guard BASE_URL PAGES
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

import scrapy
from scrapy.crawler import CrawlerProcess


class SiteSpider(scrapy.Spider):
    name = "bench"

    def parse(self, response):
        yield {"url": response.url}


def main() -> None:
    mode, base, pages = sys.argv[1], sys.argv[2], int(sys.argv[3])
    settings = {
        "ROBOTSTXT_OBEY": True,
        "LOG_LEVEL": "ERROR",
        "TELNETCONSOLE_ENABLED": False,
        "CONCURRENT_REQUESTS": 32,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 32,
        "COOKIES_ENABLED": False,
    }
    if mode == "tdm-guard":
        settings.update({"ADDONS": {"scrapy_tdm_guard.TdmGuardAddon": 0},
                         "TDM_GUARD_CACHE": None, "TDM_GUARD_MODE": "block"})
    start_urls = [f"{base}/p/{n}.html" for n in range(pages)]
    process = CrawlerProcess(settings=settings)
    crawler = process.create_crawler(SiteSpider)
    t0, c0 = time.perf_counter(), os.times()
    process.crawl(crawler, start_urls=start_urls)
    process.start()
    t1, c1 = time.perf_counter(), os.times()
    stats = crawler.stats.get_stats()
    print(json.dumps({
        "wall": t1 - t0,
        "cpu": (c1.user - c0.user) + (c1.system - c0.system),
        "items": stats.get("item_scraped_count", 0),
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
