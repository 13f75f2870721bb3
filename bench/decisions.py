"""Warm decisions per second for a cached origin: tdm-guard's full evaluation against
Protego's bare `can_fetch` (the floor), on real robots.txt files.

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
from tdm_guard.signals.robots import RobotsResult
from tdm_guard.signals.tdmrep import TdmRepFile

FILES = ["www.theatlantic.com.txt", "nytimes.com.txt", "en.wikipedia.org.txt", "github.com.txt",
         "www.bbc.co.uk.txt", "stackoverflow.com.txt"]
PATHS = ["/politics/archive/2024/{i}/story", "/wiki/Article_{i}", "/search?q={i}",
         "/user/{i}/repos?tab=stars", "/news/world-{i}", "/questions/{i}/how-to"]


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
    print(json.dumps({
        "decisions": n, "protego_per_s": statistics.median(floor),
        "tdm_guard_per_s": statistics.median(ours),
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
