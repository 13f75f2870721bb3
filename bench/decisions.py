"""Warm decisions per second for a cached origin: tdm-guard's full evaluation against
Protego's bare `can_fetch` (the floor), on real robots.txt files; and a second run in which
every URL reads every signal (robots.txt with AI groups and Content-Usage, a tdmrep.json with
rules, the declarations, and the page: headers and an HTML head with meta tags and JSON-LD).

usage: python bench/decisions.py CORPUS_ROBOTS_DIR   (prints JSON)
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from pathlib import Path

from protego import Protego

from tdm_guard import Evaluator, OriginPolicy
from tdm_guard.decide import PageResponse
from tdm_guard.signals.robots import RobotsResult
from tdm_guard.signals.tdmrep import TdmRepFile

FILES = ["www.theatlantic.com.txt", "nytimes.com.txt", "en.wikipedia.org.txt", "github.com.txt",
         "www.bbc.co.uk.txt", "stackoverflow.com.txt"]
PATHS = ["/politics/archive/2024/{i}/story", "/wiki/Article_{i}", "/search?q={i}",
         "/user/{i}/repos?tab=stars", "/news/world-{i}", "/questions/{i}/how-to"]


ALL_ROBOTS = b"""User-agent: *
Disallow: /private/
Allow: /
Content-Usage: train-ai=n
Content-Signal: search=yes, ai-train=no

User-agent: GPTBot
User-agent: CCBot
Disallow: /
"""
ALL_TDMREP = json.dumps([
    {"location": "/news/*", "tdm-reservation": 1, "tdm-policy": "https://example.org/policy.json"},
    {"location": "/open/*", "tdm-reservation": 0},
]).encode()
ALL_HEAD = (b"<!DOCTYPE html><html><head><meta charset='utf-8'><title>A story</title>"
            b"<meta name='tdm-reservation' content='1'>"
            b"<meta name='robots' content='index, follow, noai, noimageai'>"
            b"<link rel='canonical' href='/news/1'>"
            b"<script type='application/ld+json'>{\"@type\": \"NewsArticle\", "
            b"\"copyrightHolder\": \"Example\"}</script></head><body>" + b"<p>text</p>" * 50)
ALL_HEADERS = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "2000"),
               ("X-Robots-Tag", "noai"), ("Content-Usage", "train-ai=n"),
               ("tdm-reservation", "1"), ("Cache-Control", "max-age=60"),
               ("Set-Cookie", "a=b"), ("Server", "bench")]
# half the hosts are named by a bundled declaration (Sony Music's), half are not
ALL_HOSTS = ["www.sonymusic.com", "news.example.org", "sonymusic.nl", "blog.example.net"]
ALL_PATHS = ["/news/{i}/story", "/open/{i}", "/music/{i}", "/private/{i}"]


def bench_all_signals(evaluator: Evaluator) -> dict:
    """Every URL decided before download (robots, tdmrep, declarations) and after it (its
    headers and head, a new PageResponse each time, as a crawl makes one per page)."""
    cases = []
    for host in ALL_HOSTS:
        origin = f"https://{host}"
        policy = OriginPolicy(origin,
                              robots=RobotsResult.from_response("u", 200, ALL_ROBOTS),
                              tdmrep=TdmRepFile.from_response("u", 200, ALL_TDMREP))
        urls = [origin + p.format(i=i) for i in range(750) for p in ALL_PATHS]
        for u in urls[:50]:
            evaluator.evaluate(u, policy)
            evaluator.evaluate(u, policy, PageResponse(200, ALL_HEADERS, ALL_HEAD))
        cases.append((urls, policy))
    n = sum(len(c[0]) for c in cases)
    rates = []
    reserved, signals = 0, set()
    for _ in range(5):
        t = time.perf_counter()
        for urls, policy in cases:
            for u in urls:
                evaluator.evaluate(u, policy)
                evaluator.evaluate(u, policy, PageResponse(200, ALL_HEADERS, ALL_HEAD))
        rates.append(n / (time.perf_counter() - t))
    for urls, policy in cases:  # what was decided: every signal present in the reasons
        d = evaluator.evaluate(urls[0], policy, PageResponse(200, ALL_HEADERS, ALL_HEAD))
        reserved += not d.allowed
        signals.update(r.signal for r in d.reasons)
    rate = statistics.median(rates)
    return {"urls": n, "per_s": rate, "us_per_url": 1e6 / rate, "signals": sorted(signals),
            "reserved_of_first_urls": f"{reserved}/{len(cases)}"}


def main() -> None:
    folder = Path(sys.argv[1])
    evaluator = Evaluator("tdm-guard")
    cases = []
    for name in FILES:
        body = (folder / name).read_bytes()
        host = name.removesuffix(".txt")
        urls = [f"https://{host}" + p.format(i=i) for i in range(500) for p in PATHS]
        policy = OriginPolicy(f"https://{host}",
                              robots=RobotsResult.from_response("u", 200, body),
                              tdmrep=TdmRepFile.from_response("u", 404, b""))
        protego = Protego.parse(body.decode("utf-8", "replace"))
        for u in urls[:50]:  # warm: compiled plans, caches
            evaluator.evaluate(u, policy)
            protego.can_fetch(u, "tdm-guard")
        cases.append((urls, policy, protego))
    n = sum(len(c[0]) for c in cases)
    floor, ours = [], []
    for _ in range(5):  # alternating runs
        t = time.perf_counter()
        for urls, _, protego in cases:
            for u in urls:
                protego.can_fetch(u, "tdm-guard")
        floor.append(n / (time.perf_counter() - t))
        t = time.perf_counter()
        for urls, policy, _ in cases:
            for u in urls:
                evaluator.evaluate(u, policy)
        ours.append(n / (time.perf_counter() - t))
    all_signals = bench_all_signals(evaluator)
    print(json.dumps({
        "decisions": n, "protego_per_s": statistics.median(floor),
        "tdm_guard_per_s": statistics.median(ours), "all_signals": all_signals,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
