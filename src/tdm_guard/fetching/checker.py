"""The standalone checker: fetch each origin's policy files once, then decide per URL.

All network work runs on one event loop in a background thread (`AsyncFetcher`); decisions
are made by the core (`decide.Evaluator`). A bulk check answers every line, in input order,
whatever a server sends or a parser meets: a line that cannot be decided gets an error
outcome, never a traceback that loses the other answers. `close()` cancels every fetch at
once (Ctrl-C stops network work immediately).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from ..decide import Evaluator, OriginPolicy, PageResponse
from ..freshness import Freshness
from ..model import Decision
from ..signals import files
from ..signals.html import MAX_HEAD_BYTES
from ..stored import PolicyStore
from ..stores.auditlog import AuditLogError
from ..stores.snapshots import SnapshotStore
from ..urls import URL, InvalidURL, parse_url
from .http import AsyncFetcher
from .origins import OriginLoader

T = TypeVar("T")


@dataclass
class Outcome:
    """One input line's answer: a decision, or an error for a line that could not be checked."""

    line: str
    decision: Decision | None = None
    error: str | None = None
    evidence: dict[str, Any] | None = None  # the snapshots the decision rests on (kept)
    fault: AuditLogError | None = None  # its snapshots could not be written: stop here


class _Loop:
    """An asyncio event loop on a daemon thread: coroutines in, concurrent Futures out."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="tdm-guard-io")
        self.thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self, cleanup: Coroutine[Any, Any, None] | None = None) -> None:
        """Cancel every task, run `cleanup`, stop the loop (waits a few seconds at most)."""
        async def shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if cleanup is not None:
                await cleanup

        if not self.loop.is_running():
            return
        with contextlib.suppress(Exception):  # stopping: nothing left to report to
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


class Checker:
    def __init__(
        self,
        evaluator: Evaluator,
        fetcher: AsyncFetcher | None,
        store: PolicyStore,
        fetch_pages: bool = True,
        workers: int = 16,
        max_file_bytes: int = files.MAX_FILE_BYTES,
        freshness: Freshness | None = None,
        snapshots: SnapshotStore | None = None,
    ) -> None:
        """`snapshots`: keep each decision's evidence as soon as it is made (the page is not
        held while earlier answers are still on their way), for `Outcome.evidence`."""
        self.evaluator = evaluator
        self.snapshots = snapshots
        self.max_file_bytes = max_file_bytes  # a file's download cap (its readers' input)
        self.fetcher = fetcher  # None: offline
        self.store = store
        self.fetch_pages = fetch_pages and fetcher is not None
        self.workers = workers
        self._io = _Loop()
        self._lock = threading.Lock()
        self.origins = OriginLoader(fetcher, store, freshness)  # used on the loop only
        self._origin_futures: dict[str, Future[OriginPolicy]] = {}
        self._pages = asyncio.Semaphore(workers)  # used on the loop only

    # -- policy files, once per origin per run ---------------------------------------
    def origin_future(self, origin: str) -> Future[OriginPolicy]:
        """The (possibly still loading) policy files of `origin`; loaded once per run."""
        with self._lock:
            future = self._origin_futures.get(origin)
            if future is None:
                future = self._origin_futures[origin] = self._io.submit(self._origin(origin))
            return future

    def origin_policy(self, origin: str) -> OriginPolicy:
        return self.origin_future(origin).result()

    async def _origin(self, origin: str) -> OriginPolicy:
        return await self.origins.policy(origin)

    def _enough(self, body: bytearray, content_type: str) -> bool:
        """A page download stops after the HTML head's bytes, or a file's metadata or cap."""
        return files.enough(body, content_type, MAX_HEAD_BYTES, self.max_file_bytes)

    # -- one URL ----------------------------------------------------------------------
    def check(self, line: str) -> Outcome:
        """Check one line (blocking)."""
        return next(self.check_many([line]))

    def _decide(self, url: URL, policy: OriginPolicy) -> Decision:
        note = "offline" if self.fetcher is None else "not fetched (--no-fetch)"
        return self.evaluator.evaluate(url, policy, page_note=note)

    async def _check_page(self, url: URL) -> Decision:
        policy = await self._origin(url.origin)
        decision = self.evaluator.evaluate(url, policy)
        if not decision.fetch_allowed:
            return decision  # never fetched, whatever else is said
        assert self.fetcher is not None
        async with self._pages:
            page = await self.fetcher.get(url.href, max(MAX_HEAD_BYTES, self.max_file_bytes),
                                          follow_redirects=False, enough=self._enough)
        if page.error is not None:
            return self.evaluator.evaluate(url, policy, page_note=f"page not read: {page.error}")
        note = None
        if page.location:
            note = f"HTTP {page.status} redirect to {page.location} not followed; check that URL"
        response = PageResponse(page.status, page.headers, page.body,
                                partial=page.truncated, fetched_at=page.fetched_at_iso)
        cap = files.body_cap(page.body, response.content_type, self.max_file_bytes,
                             MAX_HEAD_BYTES)
        if len(page.body) > cap:  # what the readers take; what was cut makes it partial
            response = replace(response, body=page.body[:cap], partial=True)
        licence_urls = response.licence_urls(url.href)
        if licence_urls:
            response = response.with_licences(await self.origins.licence_files(licence_urls))
        return self.evaluator.evaluate(url, policy, response, page_note=note)

    # -- many URLs --------------------------------------------------------------------
    def check_many(self, lines: Iterable[str],
                   on_done: Callable[[], None] | None = None) -> Iterator[Outcome]:
        """Check every line; yield exactly one outcome per line, in input order.

        Lines are read on their own thread as they come, so a stream (stdin, a pipe) is
        answered while it is still open: an answer is yielded as soon as it and every answer
        before it are ready. Origins are prefetched up to `window` lines ahead. Without page
        fetches a decision is pure computation once its origin is loaded, so it is made here,
        in the caller's thread; with page fetches each URL is a task on the event loop.
        """
        window = max(256, self.workers * 64)
        incoming = _read_ahead(lines, window)
        pending: deque[tuple[str, URL | None, Future]] = deque()
        ended = False
        while True:
            while pending and (pending[0][2].done() or len(pending) >= window or ended):
                yield self._finish(pending.popleft(), on_done)
            if ended:
                return
            try:  # wait for a line, but never while an answer is ready to go out
                item = incoming.get(timeout=0.05 if pending else None)
            except queue.Empty:
                continue
            if item is _END:
                ended = True
            elif isinstance(item, BaseException):
                raise item
            else:
                pending.append(self._start(item))

    def _start(self, line: str) -> tuple[str, URL | None, Future]:
        try:
            url = parse_url(line)
        except InvalidURL as exc:
            failed: Future[Outcome] = Future()
            failed.set_result(Outcome(line, error=str(exc)))
            return line, None, failed
        if self.fetch_pages:
            return line, None, self._io.submit(self._page_outcome(line, url))
        return line, url, self.origin_future(url.origin)

    def _keep(self, outcome: Outcome) -> Outcome:
        """Keep the outcome's evidence as snapshots, then let go of what the decision read."""
        decision = outcome.decision
        if self.snapshots is None or decision is None or decision.inputs is None:
            return outcome
        try:
            outcome.evidence = self.snapshots.keep(decision.inputs)
        except AuditLogError as exc:  # SnapshotError: reported when this answer is due
            outcome.fault = exc
        finally:
            decision.inputs = None
        return outcome

    async def _page_outcome(self, line: str, url: URL) -> Outcome:
        try:
            outcome = Outcome(line, await self._check_page(url))
            if self.snapshots is not None:  # file writes: off the event loop
                return await asyncio.to_thread(self._keep, outcome)
            return outcome
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - one line's failure never ends the run
            return Outcome(line, error=_internal(exc))

    def _finish(self, item: tuple[str, URL | None, Future],
                on_done: Callable[[], None] | None) -> Outcome:
        line, url, future = item
        try:
            if url is None:
                outcome = future.result()
            else:
                outcome = self._keep(Outcome(line, self._decide(url, future.result())))
        except Exception as exc:  # noqa: BLE001 - one line's failure never ends the run
            outcome = Outcome(line, error=_internal(exc))
        if on_done is not None:
            on_done()
        return outcome

    def close(self) -> None:
        """Cancel every fetch still running, then release the session and the store."""
        async def cleanup() -> None:
            try:
                if self.fetcher is not None:
                    await self.fetcher.close()
            finally:
                await self.store.aclose()

        self._io.stop(cleanup())
        self.store.close()


_END = object()


def _read_ahead(lines: Iterable[str], limit: int) -> queue.Queue:
    """Iterate `lines` on a daemon thread into a bounded queue, then `_END` (or the error
    that ended the input). A daemon thread: a read blocked on stdin never holds up exit."""
    out: queue.Queue = queue.Queue(maxsize=limit)

    def read() -> None:
        try:
            for line in lines:
                out.put(line)
        except BaseException as exc:  # noqa: BLE001 - handed to the consuming thread
            out.put(exc)
            return
        out.put(_END)

    threading.Thread(target=read, daemon=True, name="tdm-guard-input").start()
    return out


def _internal(exc: Exception) -> str:
    return (f"could not be checked: {type(exc).__name__}: {str(exc)[:300]} "
            "(an internal error of tdm-guard; please report it)")
