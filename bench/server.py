"""Benchmark server: a generated site, optionally behind injected latency, on 127.0.0.1.

usage: python bench/server.py [--latency S]   (prints the port, then serves)

- `/robots.txt`: a realistic file (a `*` group with a few Disallows, AI-crawler groups);
- `/p/<n>.html`: small HTML pages;
- `/.well-known/tdmrep.json`: 404;
It also answers proxy-form requests (`GET http://host/path`), so one server stands in for
many origins (bench 3 uses 200 host names through `http_proxy`).
"""

from __future__ import annotations

import argparse
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

ROBOTS = b"""User-agent: *
Disallow: /private/
Disallow: /search
Allow: /search/about

User-agent: GPTBot
User-agent: CCBot
Disallow: /members/

Sitemap: https://example.org/sitemap.xml
"""
PAGE = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Page {n}</title>"
        "<meta name='description' content='A generated page for benchmarks.'>"
        "<link rel='stylesheet' href='/s.css'></head><body><h1>Page {n}</h1>"
        + "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit. </p>" * 20
        + "</body></html>")


def make_handler(latency: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            path = urlsplit(self.path).path if self.path.startswith("http") else self.path
            if latency:
                time.sleep(latency)
            if path == "/robots.txt":
                status, body, ctype = 200, ROBOTS, "text/plain"
            elif path.startswith("/p/"):
                n = path[3:].split(".")[0]
                status, body, ctype = 200, PAGE.format(n=n).encode(), "text/html; charset=utf-8"
            else:
                status, body, ctype = 404, b"not found", "text/plain"
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


class QuietServer(ThreadingHTTPServer):
    """A crawl that ends closes its kept-alive connections: not an error worth a traceback.
    The listen backlog is set before the socket listens (a class attribute: set on the
    instance after construction it would change nothing, and the default of 5 refuses a
    burst of new connections)."""

    request_queue_size = 256

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    server = QuietServer(("127.0.0.1", 0), make_handler(args.latency))
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
