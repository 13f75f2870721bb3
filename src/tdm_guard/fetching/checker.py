"""The standalone checker: fetch each origin's policy files once, then decide per URL.

Fetching (requests) lives here and in `http.py` only; every rule lives in the core.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from ..decide import Evaluator, OriginPolicy, PageResponse
from ..fetched import POLICY_MAX_DECODED, Fetched
from ..model import Decision
from ..signals.html import MAX_HEAD_BYTES
from ..signals.robots import MAX_ROBOTS_BYTES
from ..signals.tdmrep import MAX_TDMREP_BYTES
from ..stores.sqlite import PolicyCache
from ..urls import URL, InvalidURL, parse_url, policy_file_urls
from .http import Fetcher


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
        # Origins load on their own pool, each fetching robots.txt and tdmrep.json at once on
        # the files pool; pages go to the check pool. Separate pools: no task ever waits on
        # a task queued behind it.
        self._origin_pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="origin")
        self._files = ThreadPoolExecutor(max_workers=2 * workers, thread_name_prefix="files")

    # -- policy files, once per origin per run ---------------------------------------
    def origin_future(self, origin: str) -> Future[OriginPolicy]:
        """The (possibly still loading) policy files of `origin`; loaded once per run."""
        with self._lock:
            future = self._origins.get(origin)
            if future is None:
                future = self._origins[origin] = self._origin_pool.submit(
                    self._load_origin, origin)
            return future

    def origin_policy(self, origin: str) -> OriginPolicy:
        return self.origin_future(origin).result()

    def _file(self, url: str, max_bytes: int) -> Fetched | None:
        cached = self.cache.get(url)
        if cached is not None or self.fetcher is None:
            return cached
        fetched = self.fetcher.get(url, max_bytes, decoded_limit=POLICY_MAX_DECODED)
        self.cache.put(url, fetched)
        return fetched

    def _load_origin(self, origin: str) -> OriginPolicy:
        robots_url, tdmrep_url = policy_file_urls(origin)
        robots_f = self._files.submit(self._file, robots_url, MAX_ROBOTS_BYTES)
        tdmrep_f = self._files.submit(self._file, tdmrep_url, MAX_TDMREP_BYTES)
        return OriginPolicy.from_fetches(origin, robots_f.result(), tdmrep_f.result(),
                                         "offline and no cached copy younger than 24 h")

    # -- one URL ----------------------------------------------------------------------
    def check(self, line: str) -> Outcome:
        try:
            url = parse_url(line)
        except InvalidURL as exc:
            return Outcome(line, error=str(exc))
        return Outcome(line, self._decide(url, self.origin_policy(url.origin)))

    def _decide(self, url: URL, policy: OriginPolicy) -> Decision:
        decision = self.evaluator.evaluate(url, policy)
        if not decision.fetch_allowed:
            return decision  # never fetched, whatever else is said
        if not self.fetch_pages:
            note = "offline" if self.fetcher is None else "not fetched (--no-fetch)"
            decision.unchecked.append(f"page headers and HTML meta: {note}")
            return decision
        assert self.fetcher is not None
        page = self.fetcher.get(url.href, MAX_HEAD_BYTES, follow_redirects=False)
        if page.error is not None:
            return self.evaluator.evaluate(url, policy, page_note=f"page not read: {page.error}")
        note = None
        if page.location:
            note = f"HTTP {page.status} redirect to {page.location} not followed; check that URL"
        response = PageResponse(page.status, page.headers, page.body)
        return self.evaluator.evaluate(url, policy, response, page_note=note)

    def check_many(self, lines: Iterable[str],
                   on_done: Callable[[], None] | None = None) -> Iterator[Outcome]:
        """Check every line; yield outcomes in input order.

        Origins are prefetched up to `window` lines ahead. Without page fetches a decision is
        pure computation once its origin is loaded, so it is made here, in the caller's
        thread; with page fetches each URL is a task on a bounded pool.
        """
        window = max(256, self.workers * 64)
        pending: deque[tuple[str, URL | None, Future]] = deque()
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="check") as pool:
            for line in lines:
                pending.append(self._start(line, pool))
                while pending and (len(pending) > window or pending[0][2].done()):
                    yield self._finish(pending.popleft(), on_done)
            while pending:
                yield self._finish(pending.popleft(), on_done)

    def _start(self, line: str, pool: ThreadPoolExecutor) -> tuple[str, URL | None, Future]:
        try:
            url = parse_url(line)
        except InvalidURL as exc:
            failed: Future[Outcome] = Future()
            failed.set_result(Outcome(line, error=str(exc)))
            return line, None, failed
        origin = self.origin_future(url.origin)
        if self.fetch_pages:
            return line, None, pool.submit(self.check, line)
        return line, url, origin

    def _finish(self, item: tuple[str, URL | None, Future],
                on_done: Callable[[], None] | None) -> Outcome:
        line, url, future = item
        if url is None:
            outcome = future.result()
        else:
            outcome = Outcome(line, self._decide(url, future.result()))
        if on_done is not None:
            on_done()
        return outcome

    def close(self) -> None:
        self._origin_pool.shutdown(wait=False, cancel_futures=True)
        self._files.shutdown(wait=False, cancel_futures=True)
        if self.fetcher is not None:
            self.fetcher.close()
        self.cache.close()
