"""Run one real Scrapy crawl (used by the tests in a subprocess: a reactor runs once).

usage: python crawl_script.py CONFIG.json   -> writes CONFIG's "output" file:
{"items": [...], "stats": {...}}
"""

import json
import resource
import sys
import warnings

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.exceptions import ScrapyDeprecationWarning

# tdm-guard must run on Scrapy without a single deprecation warning
warnings.filterwarnings("error", category=ScrapyDeprecationWarning)


class SiteSpider(scrapy.Spider):
    name = "site"

    def parse(self, response):
        decision = response.meta.get("tdm_guard")
        yield {
            "url": response.url,
            "status": response.status,
            "decision": decision.to_dict() if decision is not None else None,
        }


def main(config_path: str) -> None:
    with open(config_path) as f:
        config = json.load(f)
    process = CrawlerProcess(settings=config["settings"])
    crawler = process.create_crawler(SiteSpider)
    items = []

    def collect(item, **kwargs):  # a named function: signal receivers are weak references
        items.append(item)

    crawler.signals.connect(collect, signal=scrapy.signals.item_scraped)
    process.crawl(crawler, start_urls=config["start_urls"])
    process.start()
    stats = {k: (v if isinstance(v, (int, float, str)) else str(v))
             for k, v in crawler.stats.get_stats().items()}
    stats["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(config["output"], "w") as out:
        json.dump({"items": items, "stats": stats}, out)


if __name__ == "__main__":
    main(sys.argv[1])
