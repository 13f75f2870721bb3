"""RSL licence documents in a crawl: each URL fetched once per run (and again after 24 h),
through the engine like the other policy files, however many origins and pages name it."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred

from tdm_guard import TTL_SECONDS
from tdm_guard.fetched import Fetched

MAX_KEPT = 10_000  # licence documents remembered per run (the oldest are dropped)


class LicenceDocuments:
    def __init__(self, fetch: Callable[[str], Awaitable[Fetched]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._clock = clock
        self._done: dict[str, tuple[Fetched, float]] = {}
        self._waiting: dict[str, list[Deferred[Fetched]]] = {}

    async def get_all(self, urls: list[str]) -> list[Fetched]:
        return [await self.get(url) for url in urls]

    async def get(self, url: str) -> Fetched:
        done = self._done.get(url)
        if done is not None and self._clock() - done[1] < TTL_SECONDS:
            return done[0]
        waiters = self._waiting.get(url)
        if waiters is not None:  # one Deferred per waiter, fired with the document itself
            gate: Deferred[Fetched] = Deferred()
            waiters.append(gate)
            return await maybe_deferred_to_future(gate)
        self._waiting[url] = []
        fetched: Fetched | None = None
        try:
            fetched = await self._fetch(url)
        finally:
            if fetched is None:  # cancelled, or a failure _fetch did not catch
                fetched = Fetched(url, error="not fetched")
            if len(self._done) >= MAX_KEPT:
                self._done.pop(next(iter(self._done)))
            self._done[url] = (fetched, self._clock())
            for gate in self._waiting.pop(url, []):
                gate.callback(fetched)
        return fetched
