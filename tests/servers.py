"""Real local HTTP servers for tests: a scriptable site that is also an HTTP forward proxy.

`Site` maps (host, path) to responses. Requests that arrive with an absolute URI (as a client
sends them to a proxy named in `http_proxy`) are routed by that URI's host, so tests can use
real host names such as www.sonymusic.com without any network.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Resp:
    status: int = 200
    body: bytes | str = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0  # seconds to wait before answering (a hang: far past any timeout)
    drop: bool = False  # close the connection without an answer
    drip: float = 0.0  # send the body one byte every `drip` seconds, until the client leaves

    def payload(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


Handler = Callable[[str], Resp]


def held(body: str, gate: threading.Event | None, limit: float = 90) -> Handler:
    """Answer 200 `body` only once `gate` is set (at most `limit` seconds later; no gate:
    at once): requests pile up behind it, so processes that share a store contend."""
    def answer(path: str) -> Resp:
        if gate is not None:
            gate.wait(limit)
        return Resp(200, body)
    return answer


class Site:
    """Routes and request log. Hosts default to "*" (any host)."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Resp | Handler] = {}
        self.hits: Counter[tuple[str, str]] = Counter()
        self.targets: list[str] = []  # every request target as received (absolute via a proxy)
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def add(self, path: str, resp: Resp | Handler, host: str = "*") -> None:
        self.routes[(host, path)] = resp

    def count(self, path: str, host: str | None = None) -> int:
        with self.lock:
            return sum(n for (h, p), n in self.hits.items()
                       if p == path and (host is None or h == host))

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.server_address[1]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def resolve(self, host: str, path_qs: str) -> Resp:
        path = path_qs
        with self.lock:
            self.hits[(host, path)] += 1
        route = self.routes.get((host, path)) or self.routes.get(("*", path))
        if route is None:
            return Resp(404, "not found")
        return route(path) if callable(route) else route


def _handler_for(site: Site) -> type[BaseHTTPRequestHandler]:
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:  # noqa: N802
            target = self.path
            with site.lock:
                site.targets.append(target if target.startswith(("http://", "https://"))
                                    else f"//{self.headers.get('Host', '')}{target}")
            if target.startswith(("http://", "https://")):  # proxy form
                parts = urlsplit(target)
                host = parts.hostname or ""
                path = parts.path or "/"
                if parts.query:
                    path += "?" + parts.query
            else:
                host = (self.headers.get("Host") or "").split(":")[0]
                path = target
            resp = site.resolve(host, path)
            if resp.delay:
                time.sleep(resp.delay)
            if resp.drop:
                self.close_connection = True
                return
            body = resp.payload()
            if resp.drip:
                self._drip(resp)
                return
            try:
                self.send_response(resp.status)
                names = {k.lower() for k, _ in resp.headers}
                for k, v in resp.headers:
                    self.send_header(k, v)
                if "content-length" not in names:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeouts, size caps): expected in tests

        def _drip(self, resp: Resp) -> None:
            """A never-ending body, one byte at a time: only a whole-fetch deadline ends it."""
            try:
                self.send_response(resp.status)
                for k, v in resp.headers:
                    self.send_header(k, v)
                self.send_header("Connection", "close")  # no length: the body runs to EOF
                self.end_headers()
                payload = resp.payload() or b"#"
                for i in range(10**9):
                    self.wfile.write(payload[i % len(payload):][:1])
                    self.wfile.flush()
                    time.sleep(resp.drip)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True

        do_HEAD = do_GET

    return H


@contextmanager
def serving(site: Site) -> Iterator[Site]:
    """Serve `site` on 127.0.0.1 for the duration of the block."""
    server = start(site)
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


class _Server(ThreadingHTTPServer):
    # A deep accept queue: with the default of 5, a burst of concurrent connections (a bulk
    # check opens dozens at once) overflows it and the kernel delays the overflow for
    # seconds, which a client reads as a silent server.
    request_queue_size = 1024


def start(site: Site) -> ThreadingHTTPServer:
    server = _Server(("127.0.0.1", 0), _handler_for(site))
    server.daemon_threads = True
    site.server = server
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
