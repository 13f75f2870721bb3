"""Make the README's report screenshot from a real local crawl (no network).

usage: python bench/demo_report.py OUTPUT_DIR [--screenshot docs/report.png]

Serves a handful of sites on 127.0.0.1 (through a local forward proxy, so they have real-looking
host names), each with its own robots.txt, tdmrep.json, headers and meta tags; runs a real
Scrapy crawl with the tdm-guard add-on, `TDM_GUARD_AUDIT_LOG` and `TDM_GUARD_SNAPSHOTS`; then
`tdm-guard report` and `tdm-guard verify`, and a headless Chromium screenshot of report.html.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from servers import Resp, Site, serving  # noqa: E402

PAGE = "<html><head><title>{t}</title>{extra}</head><body>{t}</body></html>"
SITES = {
    "news.example": ("User-agent: *\nDisallow: /admin/\n\nUser-agent: GPTBot\nDisallow: /\n",
                     60, {}),
    "blog.example": ("User-agent: *\nAllow: /\n", 80, {}),
    "science.example": ("User-agent: *\nContent-Usage: train-ai=n\n", 30, {}),
    "photos.example": ("User-agent: *\nDisallow: /private/\n", 40,
                       {"xrt": [("X-Robots-Tag", "noai")]}),
    "books.example": ("User-agent: *\nAllow: /\n", 35, {"tdm": True}),
    "forum.example": ("User-agent: *\nContent-Signal: search=yes, ai-train=no\n", 25, {}),
    "recipes.example": ("User-agent: *\nAllow: /\n", 45, {"meta": True}),
    "www.sonymusic.com": ("User-agent: *\nAllow: /\n", 10, {}),
}


def build(site: Site) -> list[str]:
    rng = random.Random(3)
    urls = []
    for host, (robots, pages, extra) in SITES.items():
        site.add("/robots.txt", Resp(200, robots), host=host)
        if extra.get("tdm"):
            site.add("/.well-known/tdmrep.json", Resp(200, json.dumps(
                [{"location": "/novels/", "tdm-reservation": 1,
                  "tdm-policy": f"https://{host}/tdm-policy.json"}])), host=host)
        for i in range(pages):
            section = rng.choice(["a", "b", "novels", "private", "admin"]
                                 if host != "blog.example" else ["a"])
            path = f"/{section}/{i}"
            headers = [("Content-Type", "text/html")]
            meta = ""
            if extra.get("xrt") and i % 3 == 0:
                headers += extra["xrt"]
            if extra.get("meta") and i % 4 == 0:
                meta = '<meta name="robots" content="noai, noimageai">'
            site.add(path, Resp(200, PAGE.format(t=f"{host} {i}", extra=meta), headers),
                     host=host)
            urls.append(f"http://{host}{path}")
    rng.shuffle(urls)
    return urls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output")
    parser.add_argument("--screenshot")
    args = parser.parse_args()
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    site = Site()
    urls = build(site)
    with serving(site):
        config = {
            "start_urls": urls, "output": str(out / "items.json"), "custom_settings": None,
            "start_meta": {},
            "settings": {"ADDONS": {"scrapy_tdm_guard.TdmGuardAddon": 0},
                         "TDM_GUARD_AUDIT_LOG": str(out / "audit.jsonl"),
                         "TDM_GUARD_SNAPSHOTS": str(out / "snapshots"),
                         "TDM_GUARD_CACHE": None, "TDM_GUARD_AGENT": "ExampleBot",
                         "LOG_LEVEL": "WARNING", "TELNETCONSOLE_ENABLED": False,
                         "CONCURRENT_REQUESTS": 16, "RETRY_ENABLED": False},
        }
        (out / "config.json").write_text(json.dumps(config))
        env = {**os.environ, "http_proxy": site.base, "no_proxy": ""}
        subprocess.run([sys.executable, str(ROOT / "tests" / "crawl_script.py"),
                        str(out / "config.json")], check=True, env=env)
    cli = [sys.executable, "-m", "tdm_guard.cli"]
    subprocess.run(cli + ["report", str(out / "audit.jsonl"), "--snapshots",
                          str(out / "snapshots"), "--output", str(out / "report"),
                          "--format", "md"], check=True)
    subprocess.run(cli + ["verify", str(out / "audit.jsonl"), "--snapshots",
                          str(out / "snapshots")], check=False)
    if args.screenshot:
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run([shutil.which("chromium") or "chromium", "--headless", "--no-sandbox",
                            "--disable-gpu", "--disable-quic", "--no-first-run",
                            "--disable-background-networking", "--disable-component-update",
                            "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
                            "--window-size=1280,1900", f"--screenshot={args.screenshot}",
                            (out / "report" / "report.html").resolve().as_uri()],
                           check=True, capture_output=True)


if __name__ == "__main__":
    main()
