"""Each policy file through a store, fetched once for every process that shares it: the
single-flight and freshness every loader uses (the commands' `OriginLoader`, the Scrapy
middleware, batch workers).

One round trip asks the store for the file or its lease (`PolicyStore.claim`):
- fresh: use it;
- ours: fetch it, apply the freshness rules (`Freshness.after_fetch`: a failure keeps a good
  copy for a bounded time, else it is recorded as the failure it is, never as "allow all"),
  publish the record and release the lease in one more round trip;
- busy (another process or node is fetching it): wait, backing off from 20 ms to 0.5 s, and
  ask again; when the fetcher's lease expires (it died), the next ask takes it over.

Callers keep their own one-load-per-file gate inside the process, so one coroutine per file
and process gets here, and only it polls. A store that cannot be used answers "fetch it
yourself" (`Claim.local`): the answer is the same, only the number of fetches grows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from ..fetched import Fetched
from ..freshness import Freshness, describe_failure
from ..stored import Claim, ClaimState, PolicyRecord, PolicyStore
from .base import Counted

LEASE = 35.0  # seconds a fetch may hold its lease (a 10 s timeout, 3x, and some slack)
FIRST_WAIT = 0.02
LONGEST_WAIT = 0.5
logger = logging.getLogger("tdm_guard.stores")

Sleep = Callable[[float], Awaitable[object]]


class PolicyFiles(Counted):
    """Events counted (`events`, `on_event`): `hit` (fresh from the store), `fetched` (this
    process fetched it and published it), `stale` (the refresh failed and a good copy is
    still used), `wait` (another process was fetching it), `takeover` (its lease expired),
    `local` (the store could not be used), `refused` (a stale copy older than this reader's
    limit)."""

    def __init__(self, store: PolicyStore, freshness: Freshness | None = None,
                 fetch_deadline: float = 0.0, sleep: Sleep = asyncio.sleep) -> None:
        """`fetch_deadline`: the longest a fetch may take; a lease lasts a little longer
        (at least LEASE), so a node that died while fetching is taken over soon after."""
        super().__init__()
        self.store = store
        self.freshness = freshness or Freshness()
        self.lease = max(LEASE, fetch_deadline + 5)
        self.max_wait = 2 * self.lease  # then fetch anyway (a lease renewed forever is a bug)
        self._sleep = sleep
        self._warned = False

    async def cached(self, url: str) -> PolicyRecord | None:
        """A fresh record, without fetching or claiming (offline)."""
        try:
            record = await self.store.get(url)
        except Exception as exc:  # noqa: BLE001 - a store fault never changes an answer
            self._fault(exc)
            return None
        if record is not None and self.freshness.usable(record, time.time()):
            return record
        return None

    async def get(self, url: str, fetch: Callable[[], Awaitable[Fetched]],
                  ) -> tuple[PolicyRecord, str]:
        """The record to use for `url`, and how it came: "store", "fetched" or "stale"."""
        waited, step, was_busy = 0.0, FIRST_WAIT, False
        while True:
            claim = await self._claim(url)
            if claim.state is ClaimState.FRESH and claim.record is not None:
                if self.freshness.trusted(claim.record, time.time()):
                    self.count("hit")
                    return claim.record, "store"
                self.count("refused")
                return await self._fetch(url, fetch, claim.record, None)
            if claim.state is ClaimState.BUSY and waited < self.max_wait:
                if not was_busy:
                    was_busy = True
                    self.count("wait")
                await self._sleep(step)
                waited += step
                step = min(step * 2, LONGEST_WAIT)
                continue
            if claim.local:
                self.count("local")
            elif was_busy:
                self.count("takeover")
            lease = claim.lease if claim.state is ClaimState.OWNER else None
            return await self._fetch(url, fetch, claim.record, lease)

    async def _claim(self, url: str) -> Claim:
        try:
            return await self.store.claim(url, self.lease)
        except Exception as exc:  # noqa: BLE001 - a store fault never changes an answer
            self._fault(exc)
            return Claim(ClaimState.OWNER, local=True)

    def _fault(self, exc: Exception) -> None:
        self.count("errors")
        if not self._warned:
            self._warned = True
            logger.warning("policy store %s failed (%s: %s); going on without it: answers "
                           "are unchanged, policy files are fetched instead",
                           getattr(self.store, "name", "?"), type(exc).__name__, exc)

    async def _fetch(self, url: str, fetch: Callable[[], Awaitable[Fetched]],
                     previous: PolicyRecord | None, lease: str | None,
                     ) -> tuple[PolicyRecord, str]:
        try:
            fetched = await fetch()
        except BaseException:
            if lease is not None:  # let the next process fetch it at once
                with contextlib.suppress(BaseException):  # best effort: the lease expires
                    await self.store.release(url, lease)
            raise
        record = self.freshness.after_fetch(fetched, previous, time.time())
        try:
            await self.store.publish(url, record, self.freshness.keep_until(record), lease)
        except Exception as exc:  # noqa: BLE001 - not kept: only the next fetch count grows
            self._fault(exc)
        if record.stale_copy and record.fetched is not fetched:
            self.count("stale")
            logger.info("%s is unreachable (%s); the copy fetched at %s is used "
                        "until it is asked for again (RFC 9309 §2.4)", url,
                        describe_failure(fetched), record.fetched.fetched_at_iso)
            return record, "stale"
        self.count("fetched")
        return record, "fetched"
