"""The network code of the standalone commands: bounded HTTP GETs with aiohttp.

Every fetch is bounded:
- time: `timeout` seconds per network operation (connect, each read) and a hard deadline of
  `3 × timeout` for the whole fetch, redirects and body included, so a server that drips one
  byte at a time cannot hold a run (asyncio cancels the fetch at the deadline);
- size: at most `max_bytes` of the decoded body are kept; with `decoded_limit` (policy files)
  a body declared larger, or compressed and decoding to more, is an error, not a file
  (aiohttp decodes incrementally, so a decompression bomb stops at the limit);
- early end: `enough(body so far, content type)` stops a download (marked `truncated`) once
  the readers have what they need (an HTML head, a file's metadata: `signals/files.enough`);
- redirects: at most five (RFC 9309 §2.3.1.2 asks for "at least five"), followed by hand;
- header blocks: lines and fields up to 64 KiB and 256 fields (http.client's own limits).
Proxies come from the environment (`http_proxy`, `https_proxy`, `no_proxy`). The URL sent is
exactly the canonical URL decided on (`urls.parse_url`): it is not re-encoded.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Callable

import aiohttp
from yarl import URL as YarlURL

from .. import __version__
from ..codings import content_codings, decoder
from ..fetched import MAX_REDIRECTS, Fetched

__all__ = ["AsyncFetcher", "DEADLINE_FACTOR"]

DEADLINE_FACTOR = 3  # a whole fetch gets at most this many times the per-operation timeout
MAX_HEADER_LINE = 64 * 1024
MAX_HEADERS = 256
# RFC 9110 §15.4: every 3xx with a Location is a redirect to follow (300 too: RFC 9309
# §2.3.1.2 says to follow robots.txt's redirects, and a client may take the one offered).
_REDIRECTS = frozenset({300, 301, 302, 303, 307, 308})
# What aiohttp itself decodes: a Content-Encoding header that is exactly one of these.
_AIOHTTP_DECODES = frozenset({"gzip", "deflate", "br", "zstd"})


class AsyncFetcher:
    """One aiohttp session for a run; every method runs on one event loop."""

    def __init__(self, timeout: float = 10.0, user_agent: str | None = None,
                 connections: int = 64, per_host: int = 4) -> None:
        self.timeout = timeout
        self.deadline = timeout * DEADLINE_FACTOR
        self.user_agent = user_agent or f"tdm-guard/{__version__}"
        self.connections = connections
        self.per_host = per_host
        self._session: aiohttp.ClientSession | None = None
        # Concurrency is bounded here, not by the connector (whose per-host limit would
        # count a proxy as the host): at most `connections` fetches, `per_host` per host.
        # The deadline starts once a fetch has its slots: waiting in our own queue is not
        # the server's slowness.
        self._slots = asyncio.Semaphore(connections)
        self._hosts: dict[str, asyncio.Semaphore] = {}

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, limit_per_host=0),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeout,
                                              sock_read=self.timeout),
                headers={"User-Agent": self.user_agent},
                cookie_jar=aiohttp.DummyCookieJar(), trust_env=True,
                max_line_size=MAX_HEADER_LINE, max_field_size=MAX_HEADER_LINE,
                max_headers=MAX_HEADERS)
        return self._session

    async def get(self, url: str, max_bytes: int, follow_redirects: bool = True,
                  decoded_limit: int | None = None,
                  enough: Callable[[bytearray, str], bool] | None = None) -> Fetched:
        """GET `url`, keeping at most `max_bytes` of the decoded body; never raises for what
        the network or the server does (the outcome is in `Fetched.error`)."""
        host = YarlURL(url, encoded=True).host or ""
        slot = self._hosts.get(host)
        if slot is None:
            slot = self._hosts[host] = asyncio.Semaphore(self.per_host)
        async with self._slots, slot:
            return await self._get(url, max_bytes, follow_redirects, decoded_limit, enough)

    async def _get(self, url: str, max_bytes: int, follow_redirects: bool,
                   decoded_limit: int | None,
                   enough: Callable[[bytearray, str], bool] | None = None) -> Fetched:
        started = time.time()
        current = url
        try:
            async with asyncio.timeout(self.deadline):
                for _ in range(MAX_REDIRECTS + 1):
                    fetched, location = await self._once(url, current, max_bytes,
                                                         follow_redirects, decoded_limit,
                                                         enough)
                    if location is None:
                        fetched.fetched_at = started
                        return fetched
                    current = location
                return Fetched(url, redirects_exhausted=True, final_url=current,
                               fetched_at=started)
        except aiohttp.ServerTimeoutError:
            return Fetched(url, error=f"timeout: no data for {self.timeout:g} s",
                           final_url=current, fetched_at=started)
        except TimeoutError:
            return Fetched(url, error=f"timeout: no complete answer within {self.deadline:g} s",
                           final_url=current, fetched_at=started)
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return Fetched(url, error=f"connection failed ({_short(exc)})", final_url=current,
                           fetched_at=started)

    async def _once(self, url: str, current: str, max_bytes: int, follow_redirects: bool,
                    decoded_limit: int | None,
                    enough: Callable[[bytearray, str], bool] | None = None,
                    ) -> tuple[Fetched, str | None]:
        session = self._open()
        async with session.get(YarlURL(current, encoded=True), allow_redirects=False) as resp:
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in resp.raw_headers]
            location = resp.headers.get("Location")
            target = None
            if location:
                try:
                    target = str(resp.url.join(YarlURL(location)))
                except ValueError:
                    target = None
            if resp.status in _REDIRECTS and target and follow_redirects:
                resp.close()  # the body of a redirect is not read: never reuse the connection
                return Fetched(url, resp.status, headers, final_url=current), target
            length = resp.headers.get("Content-Length", "")
            if decoded_limit is not None and length.isdigit() and int(length) > decoded_limit:
                resp.close()
                return Fetched(url, resp.status, headers, final_url=current, error=(
                    f"declared size {int(length)} bytes is over the {decoded_limit}-byte limit"
                )), None
            encoded = resp.headers.get("Content-Encoding", "identity").strip().lower() not in (
                "", "identity")
            keep_counting = decoded_limit is not None and encoded
            chunks = bytearray()
            size = 0
            truncated = False
            content_type = resp.headers.get("Content-Type", "")
            async for chunk in resp.content.iter_any():
                size += len(chunk)
                if len(chunks) < max_bytes:
                    chunks += chunk[: max_bytes - len(chunks)]
                    if enough is not None and enough(chunks, content_type):
                        truncated = True
                        break
                if size > max_bytes:
                    truncated = True
                    if not keep_counting:
                        break
                    if size > decoded_limit:  # type: ignore[operator]
                        resp.close()
                        return Fetched(url, resp.status, headers, final_url=current, error=(
                            f"decompressed size over the {decoded_limit}-byte limit")), None
            if truncated:
                resp.close()  # the rest is not read: close, never hand the connection on
            body, problem = _undo_encoding(headers, bytes(chunks), max_bytes)
            if problem:  # still encoded: not a successfully downloaded file (RFC 9309 §2.3.1.1)
                return Fetched(url, resp.status, headers, final_url=current,
                               error=problem), None
            return Fetched(url, resp.status, headers, body, truncated=truncated,
                           final_url=current,
                           location=target if resp.status in _REDIRECTS else None), None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _undo_encoding(headers: list[tuple[str, str]], body: bytes,
                   max_bytes: int) -> tuple[bytes, str]:
    """The body with what aiohttp left encoded undone, or why it cannot be: aiohttp decodes a
    Content-Encoding of exactly gzip, deflate, br or zstd, and passes any other body on as
    it came. `x-gzip` is gzip (RFC 9110 §8.4.1.3); any other coding, or several, is a body
    no reader can take, never parsed as if it were plain (a robots.txt in an unknown
    coding is not an empty file)."""
    values = [v for k, v in headers if k.lower() == "content-encoding"]
    codings = content_codings(values)
    if not codings:
        return body, ""
    first = values[0].lower() if values[0].isascii() else ""
    if len(values) == 1 and first in _AIOHTTP_DECODES:
        return body, ""  # decoded by aiohttp
    if codings == ["x-gzip"]:
        try:
            return decoder(codings)(body, max_bytes), ""
        except zlib.error as exc:
            return b"", f"Content-Encoding x-gzip: not decodable ({exc})"
    return b"", f"Content-Encoding {', '.join(codings)}: not decoded (unsupported coding)"


def _short(exc: BaseException) -> str:
    text = str(exc).split("\n")[0]
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
