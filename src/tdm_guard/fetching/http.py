"""The only network code of the standalone checker: bounded HTTP GETs with requests.

Every fetch is bounded: a connect/read timeout and an overall deadline, a byte cap on the
decoded body (so a gzip bomb stops at the cap: urllib3 decodes incrementally), and at most
five redirects (RFC 9309 §2.3.1.2 asks for "at least five"). Proxies come from the
environment (`http_proxy`, `https_proxy`, `no_proxy`), as requests does by default.
"""

from __future__ import annotations

import time
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter

from .. import __version__
from ..fetched import MAX_REDIRECTS, Fetched

__all__ = ["Fetcher"]

CHUNK = 16 * 1024


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

    def get(self, url: str, max_bytes: int, follow_redirects: bool = True,
            decoded_limit: int | None = None) -> Fetched:
        """GET `url`, keeping at most `max_bytes` of the decoded body.

        With `decoded_limit` (policy files), a body declared larger, or compressed and
        decoding to more, is an error rather than a truncated file.
        """
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
                too_big = _too_big(resp, decoded_limit)
                if too_big:
                    return Fetched(url, resp.status_code, headers, error=too_big,
                                   final_url=current)
                try:
                    body, truncated = _read_bounded(resp, max_bytes, deadline, decoded_limit)
                except _TooBig as exc:
                    return Fetched(url, resp.status_code, headers, error=str(exc),
                                   final_url=current)
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


class _TooBig(Exception):
    pass


def _too_big(resp: requests.Response, limit: int | None) -> str | None:
    length = resp.headers.get("content-length", "")
    if limit is not None and length.isdigit() and int(length) > limit:
        return f"declared size {int(length)} bytes is over the {limit}-byte limit"
    return None


def _read_bounded(resp: requests.Response, max_bytes: int, deadline: float,
                  decoded_limit: int | None = None) -> tuple[bytes, bool]:
    """Keep the first `max_bytes` decoded bytes. A compressed body is decoded on (and
    discarded) up to `decoded_limit` so that a decompression bomb is recognised as one."""
    encoded = resp.headers.get("content-encoding", "identity").strip().lower() not in (
        "", "identity")
    keep_counting = decoded_limit is not None and encoded
    chunks: list[bytes] = []
    kept = size = 0
    truncated = False
    for chunk in resp.iter_content(CHUNK):
        size += len(chunk)
        if kept < max_bytes:
            chunks.append(chunk[: max_bytes - kept])
            kept += len(chunks[-1])
        if size > max_bytes:
            truncated = True
            if not keep_counting:
                break
            if size > decoded_limit:  # type: ignore[operator]
                raise _TooBig(f"decompressed size over the {decoded_limit}-byte limit")
        if time.monotonic() > deadline:
            raise TimeoutError
    return b"".join(chunks), truncated


def _short(exc: Exception) -> str:
    text = str(exc).split("\n")[0]
    return f"{type(exc).__name__}: {text[:200]}"
