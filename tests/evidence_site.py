"""A local site whose pages rest on every kind of evidence: robots.txt rules, tdmrep.json,
response headers, HTML meta tags, JSON-LD, and RSL licence documents."""

from __future__ import annotations

import json

from servers import Resp, Site

HTML = "<html><head><title>t</title>{}</head><body>{}</body></html>"
ROBOTS = """User-agent: *
Disallow: /private/
Content-Usage: /cu/ train-ai=n
License: /licence.xml

User-agent: GPTBot
Disallow: /no-gpt/
"""
RSL = """<rsl xmlns="https://rslstandard.org/rsl"><content url="/rsl/">
<license><prohibits type="usage">ai-train</prohibits></license></content></rsl>"""
PATHS = ["/private/1", "/cu/page", "/no-gpt/page", "/tdm/page", "/hdr", "/meta", "/xrt",
         "/lyrics", "/rsl/doc", "/linked", "/open/1", "/open/2"]


def html(extra: str = "", headers=(), body: str = "hi") -> Resp:
    return Resp(200, HTML.format(extra, body), [("Content-Type", "text/html"), *headers])


def evidence_site(site: Site) -> Site:
    site.add("/robots.txt", Resp(200, ROBOTS))
    site.add("/.well-known/tdmrep.json", Resp(200, json.dumps(
        [{"location": "/tdm/", "tdm-reservation": 1, "tdm-policy": "https://example.org/p"}])))
    site.add("/licence.xml", Resp(200, RSL, [("Content-Type", "application/rsl+xml")]))
    site.add("/page-licence.xml", Resp(200, RSL.replace('url="/rsl/"', 'url="/linked"'),
                                       [("Content-Type", "application/rsl+xml")]))
    for path in ("/private/1", "/cu/page", "/no-gpt/page", "/tdm/page", "/rsl/doc",
                 "/open/1", "/open/2"):
        site.add(path, html(body="x" * 20000))  # a long body: the evidence keeps the head
    site.add("/hdr", html(headers=[("tdm-reservation", "1"), ("X-Unrelated", "y")]))
    site.add("/meta", html('<meta name="robots" content="noai">'))
    site.add("/xrt", html(headers=[("X-Robots-Tag", "noai")]))
    site.add("/lyrics", html('<script type="application/ld+json">{"@type": "MusicRecording", '
                             '"recordLabel": {"name": "Columbia Records"}}</script>'))
    site.add("/linked", html('<link rel="license" type="application/rsl+xml" '
                             'href="/page-licence.xml">'))
    return site


def urls(site: Site) -> list[str]:
    return [site.base + p for p in PATHS]
