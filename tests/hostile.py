"""A hostile site: one host name per misbehaviour, served by the local proxy-capable server.

Used by the CLI and the Scrapy hostile suites. Each case: the host, its routes, the URL to
check and what a correct tool answers (allowed or not, and a word the evidence must hold).
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field
from functools import lru_cache

from servers import Resp, Site

MB = 1024 * 1024
HTML = "<html><head><title>t</title>{}</head><body>x</body></html>"


@lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """~100 MiB of zeros, gzip-compressed to about 100 KB (built without holding 100 MiB)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * MB
    return b"".join([comp.compress(zeros) for _ in range(100)] + [comp.flush()])


@dataclass
class Case:
    host: str
    routes: dict[str, Resp]
    path: str
    allowed: bool
    evidence: str = ""  # a substring of some reason's evidence or note, or of `unchecked`
    scrapy_allowed: bool | None = None  # where a crawl legitimately differs (documented)
    extra: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.host}{self.path}"


def cases() -> list[Case]:
    filler = ("# " + "x" * 1022 + "\n") * (3 * 1024)  # 3 MiB of comments
    rnd = random.Random(7)
    random_bytes = bytes(rnd.randrange(256) for _ in range(64 * 1024))
    big_head = HTML.format("<meta name='x' content='" + "y" * (5 * MB) + "'>"
                           "<meta name='robots' content='noai'>")
    return [
        Case("big-robots.test", {"/robots.txt": Resp(200, "User-agent: *\nDisallow: /early\n"
                                                     + filler + "Disallow: /late\n")},
             "/late", True, "no rule in the group"),
        Case("big-robots-early.test", {"/robots.txt": Resp(200, "User-agent: *\nDisallow: /early\n"
                                                           + filler)},
             "/early", False, "line 2: Disallow: /early"),
        Case("bomb-robots.test", {"/robots.txt": Resp(200, gzip_bomb(),
                                                      [("Content-Encoding", "gzip"),
                                                       ("Content-Type", "text/plain")])},
             "/a", False, "unreachable"),
        Case("loop-robots.test", {"/robots.txt": Resp(302, "", [("Location", "/loop")]),
                                  "/loop": Resp(302, "", [("Location", "/robots.txt")])},
             "/a", True, "more than 5 redirects"),
        Case("slow-robots.test", {"/robots.txt": Resp(200, "User-agent: *\nAllow: /\n",
                                                      delay=120)},  # a hang, past any timeout
             "/a", False, "unreachable"),
        Case("drip-robots.test", {"/robots.txt": Resp(200, "User-agent: *\nAllow: /\n",
                                                      drip=0.2)},  # only a deadline ends it
             "/a", False, "unreachable"),
        Case("drop-robots.test", {"/robots.txt": Resp(drop=True)}, "/a", False, "unreachable"),
        Case("random-robots.test", {"/robots.txt": Resp(200, random_bytes)}, "/a", True,
             "no group for"),
        Case("html-robots.test", {"/robots.txt": Resp(200, HTML.format("<p>Disallow: /</p>"),
                                                      [("Content-Type", "text/html")])},
             "/a", True, "no group for"),
        Case("badenc-robots.test", {"/robots.txt": Resp(
            200, b"\xff\xfe\x00\nUser-agent: *\n# \xc3(\xe9\nDisallow: /x/\n")},
             "/x/1", False, "line 4: Disallow: /x/"),
        Case("typed-robots.test", {"/robots.txt": Resp(200, "User-agent: *\nDisallow: /\n",
                                                       [("Content-Type", "image/png")])},
             "/a", False, "line 2: Disallow: /"),
        Case("huge-tdmrep.test", {"/.well-known/tdmrep.json": Resp(
            200, '[{"location":"/","tdm-reservation":1,"x":"' + "z" * (3 * MB) + '"}]')},
             "/a", True, "invalid"),
        Case("shape-tdmrep.test", {"/.well-known/tdmrep.json": Resp(
            200, '{"tdm-reservation": 1}', [("Content-Type", "text/html")])},
             "/a", True, "not an array"),
        Case("bighead.test", {"/page": Resp(200, big_head, [("Content-Type", "text/html")])},
             "/page", True, ""),
        Case("odd-values.test", {"/page": Resp(200, HTML.format(""), [
            ("Content-Type", "text/html"), ("tdm-reservation", "2, yes"),
            ("tdm-reservation", "true")])}, "/page", True, "protocol error"),
        Case("repeated-headers.test", {"/page": Resp(200, HTML.format(""), [
            ("Content-Type", "text/html")] + [("X-Robots-Tag", "noindex")] * 50
            + [("X-Robots-Tag", "NOAI")])}, "/page", False, "X-Robots-Tag: NOAI"),
        Case("oversized-header.test", {"/page": Resp(200, HTML.format(""), [
            ("Content-Type", "text/html"), ("X-Filler", "v" * (70 * 1024)),
            ("tdm-reservation", "1")])}, "/page", True, "page"),
        Case("broken-html.test", {"/page": Resp(200, b"<html><head><meta name=robots content="
                                                b"'noai'<<<\xff\xfe<script>{{{</head>",
                                                [("Content-Type", "text/html; charset=utf-8")])},
             "/page", False, "noai"),
    ]


def hostile_site() -> Site:
    site = Site()
    for case in cases():
        for path, resp in case.routes.items():
            site.add(path, resp, host=case.host)
        if "/robots.txt" not in case.routes:
            site.add("/robots.txt", Resp(404, "none"), host=case.host)
        if case.path not in case.routes:
            site.add(case.path, Resp(200, HTML.format(""), [("Content-Type", "text/html")]),
                     host=case.host)
    return site
