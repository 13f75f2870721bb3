"""The standalone checker: fetch each origin's policy files once, then decide per URL.

Fetching (requests) lives here and in `fetch.py` only; every rule lives in `decide.py`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from .cache import PolicyCache
from .decide import Evaluator, OriginPolicy, PageResponse, origin_of
from .fetch import POLICY_MAX_DECODED, Fetched, Fetcher
from .html import MAX_HEAD_BYTES
from .model import Decision
from .robots import MAX_ROBOTS_BYTES, RobotsResult
from .tdmrep import MAX_TDMREP_BYTES, WELL_KNOWN_PATH, TdmRepFile


class InvalidURL(ValueError):
    pass


def validate_url(text: str) -> str:
    """Return the URL, or raise InvalidURL saying what is wrong with it."""
    url = text.strip()
    if not url:
        raise InvalidURL("empty line")
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise InvalidURL(f"not a url: {url!r} (expected http:// or https://)")
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidURL(f"unsupported scheme {parts.scheme!r} in {url!r} (only http and https)")
    try:
        if not parts.hostname:
            raise InvalidURL(f"not a url: {url!r} (no host)")
        _ = parts.port
    except ValueError as exc:
        raise InvalidURL(f"not a url: {url!r} ({exc})") from exc
    return url


@dataclass
class Outcome:
    """One input line's answer: a decision, or an error for a line that could not be checked."""

    line: str
    decision: Decision | None = None
    error: str | None = None


class Checker:
    def __init__(
        self,
        evaluator: Evaluator,
        fetcher: Fetcher | None,
        cache: PolicyCache,
        fetch_pages: bool = True,
        workers: int = 16,
    ) -> None:
        self.evaluator = evaluator
        self.fetcher = fetcher  # None: offline
        self.cache = cache
        self.fetch_pages = fetch_pages and fetcher is not None
        self.workers = workers
        self._lock = threading.Lock()
        self._origins: dict[str, Future[OriginPolicy]] = {}
        self._files = ThreadPoolExecutor(max_workers=max(2, workers), thread_name_prefix="files")

    # -- policy files, once per origin per run ---------------------------------------
    def origin_policy(self, origin: str) -> OriginPolicy:
        with self._lock:
            future = self._origins.get(origin)
            if future is None:
                future = Future()
                self._origins[origin] = future
                owner = True
            else:
                owner = False
        if owner:
            try:
                future.set_result(self._load_origin(origin))
            except BaseException as exc:  # pragma: no cover - defensive: never leave waiters
                future.set_exception(exc)
                raise
        return future.result()

    def _file(self, url: str, max_bytes: int) -> Fetched | None:
        cached = self.cache.get(url)
        if cached is not None or self.fetcher is None:
            return cached
        fetched = self.fetcher.get(url, max_bytes, decoded_limit=POLICY_MAX_DECODED)
        self.cache.put(url, fetched)
        return fetched

    def _load_origin(self, origin: str) -> OriginPolicy:
        robots_url, tdmrep_url = origin + "/robots.txt", origin + WELL_KNOWN_PATH
        robots_f = self._files.submit(self._file, robots_url, MAX_ROBOTS_BYTES)
        tdmrep_f = self._files.submit(self._file, tdmrep_url, MAX_TDMREP_BYTES)
        robots, tdm = robots_f.result(), tdmrep_f.result()
        return OriginPolicy(
            origin,
            robots=None if robots is None else RobotsResult.from_response(
                robots_url, robots.status, robots.body, robots.error, robots.redirects_exhausted),
            tdmrep=None if tdm is None else TdmRepFile.from_response(
                tdmrep_url, tdm.status, tdm.body,
                tdm.error or ("more than 5 redirects" if tdm.redirects_exhausted else None)),
            not_consulted="offline and no cached copy younger than 24 h",
        )

    # -- one URL ----------------------------------------------------------------------
    def check(self, line: str) -> Outcome:
        try:
            url = validate_url(line)
        except InvalidURL as exc:
            return Outcome(line, error=str(exc))
        policy = self.origin_policy(origin_of(url))
        decision = self.evaluator.evaluate(url, policy)
        if not decision.fetch_allowed:
            return Outcome(line, decision)
        if self.fetcher is None:
            return Outcome(line, self.evaluator.evaluate(url, policy, page_note="offline"))
        if not self.fetch_pages:
            return Outcome(line, self.evaluator.evaluate(url, policy, page_note="not fetched "
                                                         "(--no-fetch)"))
        page = self.fetcher.get(url, MAX_HEAD_BYTES, follow_redirects=False)
        if page.error is not None:
            note = f"page not read: {page.error}"
            return Outcome(line, self.evaluator.evaluate(url, policy, page_note=note))
        note = None
        if page.location:
            note = f"HTTP {page.status} redirect to {page.location} not followed; check that URL"
        response = PageResponse(page.status, page.headers, page.body)
        return Outcome(line, self.evaluator.evaluate(url, policy, response, page_note=note))

    def check_many(self, lines: Iterable[str],
                   on_done: Callable[[], None] | None = None) -> Iterator[Outcome]:
        """Check every line on a bounded pool; yield outcomes in input order."""
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="check") as pool:
            window: list[Future[Outcome]] = []
            for line in lines:
                window.append(pool.submit(self._check_counted, line, on_done))
                if len(window) >= self.workers * 4:
                    yield window.pop(0).result()
            for future in window:
                yield future.result()

    def _check_counted(self, line: str, on_done: Callable[[], None] | None) -> Outcome:
        try:
            return self.check(line)
        finally:
            if on_done is not None:
                on_done()

    def close(self) -> None:
        self._files.shutdown(wait=False, cancel_futures=True)
        if self.fetcher is not None:
            self.fetcher.close()
        self.cache.close()
