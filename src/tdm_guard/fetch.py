"""The only network code of the standalone checker: bounded HTTP GETs with requests.

Every fetch is bounded: a connect/read timeout and an overall deadline, a byte cap on the
decoded body (so a gzip bomb stops at the cap: urllib3 decodes incrementally), and at most
five redirects (RFC 9309 §2.3.1.2 asks for "at least five"). Proxies come from the
environment (`http_proxy`, `https_proxy`, `no_proxy`), as requests does by default.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter

from . import __version__

MAX_REDIRECTS = 5
CHUNK = 16 * 1024


@dataclass
class Fetched:
    """Outcome of one bounded GET. `error` is set when no HTTP response was had."""

    url: str
    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    error: str | None = None
    redirects_exhausted: bool = False
    truncated: bool = False
    final_url: str = ""
    location: str | None = None  # a redirect that was not followed

    @property
    def definitive(self) -> bool:
        """Worth caching: an HTTP answer that is not a server error."""
        return self.error is None and self.status is not None and self.status < 500 \
            and self.status != 429


class Fetcher:
    """One requests Session for a whole run, shared by worker threads."""

    def __init__(self, timeout: float = 10.0, user_agent: str | None = None,
                 pool_size: int = 16, session: requests.Session | None = None) -> None:
        self.timeout = timeout
        self.session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = user_agent or f"tdm-guard/{__version__}"

    def get(self, url: str, max_bytes: int, follow_redirects: bool = True) -> Fetched:
        deadline = time.monotonic() + self.timeout * 3
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            try:
                resp = self.session.get(current, timeout=self.timeout, stream=True,
                                        allow_redirects=False)
            except requests.Timeout:
                return Fetched(url, error=f"timeout after {self.timeout:g} s", final_url=current)
            except requests.RequestException as exc:
                return Fetched(url, error=f"connection failed ({_short(exc)})", final_url=current)
            with resp:
                location = resp.headers.get("location")
                if resp.is_redirect and location and follow_redirects:
                    current = urljoin(current, location)
                    continue
                headers = list(resp.raw.headers.items())
                try:
                    body, truncated = _read_bounded(resp, max_bytes, deadline)
                except TimeoutError:
                    return Fetched(url, resp.status_code, headers,
                                   error=f"timeout after {self.timeout:g} s reading the body",
                                   final_url=current)
                except requests.RequestException as exc:
                    return Fetched(url, resp.status_code, headers,
                                   error=f"connection failed while reading ({_short(exc)})",
                                   final_url=current)
                return Fetched(url, resp.status_code, headers, body, truncated=truncated,
                               final_url=current,
                               location=urljoin(current, location) if resp.is_redirect else None)
        return Fetched(url, redirects_exhausted=True, final_url=current)

    def close(self) -> None:
        self.session.close()


def _read_bounded(resp: requests.Response, max_bytes: int, deadline: float) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    for chunk in resp.iter_content(CHUNK):
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            return b"".join(chunks)[:max_bytes], True
        if time.monotonic() > deadline:
            raise TimeoutError
    return b"".join(chunks), False


def _short(exc: Exception) -> str:
    text = str(exc).split("\n")[0]
    return f"{type(exc).__name__}: {text[:200]}"
