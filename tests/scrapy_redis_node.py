"""One node of a scrapy-redis cluster (the released scrapy-redis: shared queue and
dupefilter in Redis), with tdm-guard's add-on; used by the tests and bench/cluster.py.

usage: python scrapy_redis_node.py CONFIG.json   -> writes CONFIG's "output" file:
{"items": [...], "stats": {...}}

CONFIG: "settings" (project priority; REDIS_URL among them), "output" and optional
"batch_size" (start URLs a node takes each time it is idle, default 1). The spider `cluster`
reads its start URLs from the Redis list `cluster:start_urls` and follows every link of
every page it is given.
"""

import json
import resource
import sys
import time
import warnings

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy_redis.spiders import RedisSpider

# scrapy-redis 0.9.1 uses APIs Scrapy deprecates (not ours to fix); tdm-guard must not
warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("error", category=DeprecationWarning, module=r"(scrapy_)?tdm_guard")


class ClusterSpider(RedisSpider):
    name = "cluster"
    redis_batch_size = 1  # start URLs per idle node (1: they spread over the nodes)

    def parse(self, response):
        decision = response.meta.get("tdm_guard")
        yield {"url": response.url, "status": response.status,
               "allowed": decision.allowed if decision is not None else None,
               "at": time.time()}
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href, callback=self.parse)


def main(config_path: str) -> None:
    with open(config_path) as f:
        config = json.load(f)
    settings = {
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_PERSIST": True,  # a node that closes first must not flush the others' queue
        "MAX_IDLE_TIME_BEFORE_CLOSE": 3,
        "ADDONS": {"scrapy_tdm_guard.TdmGuardAddon": 0},
        "ROBOTSTXT_OBEY": True,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "INFO",
        "RETRY_ENABLED": False,
        **config["settings"],
    }
    ClusterSpider.redis_batch_size = int(config.get("batch_size", 1))
    process = CrawlerProcess(settings=settings)
    crawler = process.create_crawler(ClusterSpider)
    items = []

    def collect(item, **kwargs):  # a named function: signal receivers are weak references
        items.append(item)

    crawler.signals.connect(collect, signal=scrapy.signals.item_scraped)
    process.crawl(crawler)
    process.start()
    stats = {k: (v if isinstance(v, (int, float, str)) else str(v))
             for k, v in crawler.stats.get_stats().items()}
    stats["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(config["output"], "w") as out:
        json.dump({"items": items, "stats": stats}, out)


if __name__ == "__main__":
    main(sys.argv[1])
