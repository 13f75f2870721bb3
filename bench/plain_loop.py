"""The baseline of bench 3: a plain requests + Protego loop (robots.txt only, one fetch per
origin, one URL after another), as a careful script would do it.

usage: python bench/plain_loop.py URL_FILE   (prints JSON; proxies from the environment)
"""

from __future__ import annotations

import json
import resource
import sys
import time
from urllib.parse import urlsplit

import requests
from protego import Protego


def main() -> None:
    with open(sys.argv[1]) as f:
        urls = f.read().split()
    session = requests.Session()
    parsers: dict[str, Protego] = {}
    allowed = 0
    t = time.perf_counter()
    for url in urls:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        parser = parsers.get(origin)
        if parser is None:
            resp = session.get(origin + "/robots.txt", timeout=10)
            parser = parsers[origin] = Protego.parse(resp.text if resp.ok else "")
        allowed += parser.can_fetch(url, "tdm-guard")
    print(json.dumps({"wall": time.perf_counter() - t, "allowed": allowed,
                      "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
