"""Run one real Scrapy crawl (used by the tests in a subprocess: a reactor runs once).

usage: python crawl_script.py CONFIG.json   -> writes CONFIG's "output" file:
{"items": [...], "stats": {...}}

CONFIG: "settings" (project priority), optional "custom_settings" (the spider's, at Scrapy's
"spider" priority), "start_urls", optional "start_meta" (the meta of every start request),
"follow_links" (follow every link of every page) and "fsize" (a full disk: no file may grow
past it).
"""

import json
import resource
import signal
import sys
import warnings

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.exceptions import ScrapyDeprecationWarning

# tdm-guard must run on Scrapy without a single deprecation warning
warnings.filterwarnings("error", category=ScrapyDeprecationWarning)


class SiteSpider(scrapy.Spider):
    name = "site"
    start_meta: dict = {}
    follow_links = False

    async def start(self):
        for url in self.start_urls:
            yield scrapy.Request(url, meta=dict(self.start_meta), dont_filter=True)

    def parse(self, response):
        decision = response.meta.get("tdm_guard")
        yield {
            "url": response.url,
            "status": response.status,
            "decision": decision.to_dict() if decision is not None else None,
        }
        if self.follow_links:
            for href in response.css("a::attr(href)").getall():
                yield response.follow(href, callback=self.parse)


class StubbornCacheMiddleware:
    """A cache middleware that ignores `dont_cache`: it answers every robots.txt with an old
    "allow all" copy, flagged "cached" as Scrapy's HttpCacheMiddleware flags its answers."""

    def process_request(self, request):
        if request.url.endswith("/robots.txt"):
            return scrapy.http.TextResponse(request.url, body=b"User-agent: *\nAllow: /\n",
                                            encoding="utf-8", flags=["cached"], request=request)
        return None


def main(config_path: str) -> None:
    with open(config_path) as f:
        config = json.load(f)
    if config.get("fsize"):  # a "full disk": files stop growing past this many bytes
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (config["fsize"], config["fsize"]))
    process = CrawlerProcess(settings=config["settings"])
    SiteSpider.custom_settings = config.get("custom_settings")  # Scrapy's "spider" priority
    crawler = process.create_crawler(SiteSpider)
    items = []

    def collect(item, **kwargs):  # a named function: signal receivers are weak references
        items.append(item)

    crawler.signals.connect(collect, signal=scrapy.signals.item_scraped)
    process.crawl(crawler, start_urls=config["start_urls"],
                  start_meta=config.get("start_meta", {}),
                  follow_links=config.get("follow_links", False))
    process.start()
    if process.bootstrap_failed:  # as `scrapy crawl` does: the crawl never started
        sys.exit(1)
    stats = {k: (v if isinstance(v, (int, float, str)) else str(v))
             for k, v in crawler.stats.get_stats().items()}
    # the process's own peak (ru_maxrss would carry over the parent's peak across exec)
    with open("/proc/self/status") as status:
        hwm = next((line.split()[1] for line in status if line.startswith("VmHWM:")), "0")
    stats["max_rss_mb"] = int(hwm) / 1024
    with open(config["output"], "w") as out:
        json.dump({"items": items, "stats": stats}, out)


if __name__ == "__main__":
    main(sys.argv[1])
