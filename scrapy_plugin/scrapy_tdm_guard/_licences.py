"""RSL licence documents in a crawl: each URL fetched once per run (again once it is no
longer fresh, `freshness.py`), through the engine and the policy store like the other
policy files, however many origins and pages name it."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred

from tdm_guard import PolicyRecord
from tdm_guard.fetched import Fetched
from tdm_guard.freshness import MAX_FRESH

MAX_KEPT = 10_000  # licence documents remembered per run (the oldest are dropped)


class LicenceDocuments:
    def __init__(self, fetch: Callable[[str], Awaitable[PolicyRecord]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._clock = clock
        self._done: dict[str, tuple[Fetched, float]] = {}
        self._waiting: dict[str, list[Deferred[Fetched]]] = {}

    async def get_all(self, urls: list[str]) -> list[Fetched]:
        return [await self.get(url) for url in urls]

    async def get(self, url: str) -> Fetched:
        done = self._done.get(url)
        if done is not None and self._clock() < done[1]:
            return done[0]
        waiters = self._waiting.get(url)
        if waiters is not None:  # one Deferred per waiter, fired with the document itself
            gate: Deferred[Fetched] = Deferred()
            waiters.append(gate)
            return await maybe_deferred_to_future(gate)
        self._waiting[url] = []
        fetched: Fetched | None = None
        fresh_for = 0.0
        try:
            record = await self._fetch(url)
            fetched = record.fetched
            fresh_for = min(MAX_FRESH, max(0.0, record.fresh_until - time.time()))
        finally:
            if fetched is None:  # cancelled, or a failure _fetch did not catch
                fetched = Fetched(url, error="not fetched")
            if len(self._done) >= MAX_KEPT:
                self._done.pop(next(iter(self._done)))
            self._done[url] = (fetched, self._clock() + fresh_for)
            for gate in self._waiting.pop(url, []):
                gate.callback(fetched)
        return fetched
