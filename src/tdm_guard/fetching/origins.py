"""Each origin's policy files, once per run: the one loader of the commands (check, audit,
scan).

An origin's robots.txt and /.well-known/tdmrep.json are fetched concurrently, through the
policy store (`stores.files.PolicyFiles`: once for every process sharing the store, fresh
as `freshness.py` says), and turned into the core's `OriginPolicy`; the RSL licence
documents robots.txt names (`License:`) are fetched once per URL, however many origins and
pages name them. Everything runs on one event loop: `policy`
and `licence_files` are coroutines; `resolve_origins` is the blocking wrapper for batch
callers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from ..decide import OriginPolicy
from ..fetched import POLICY_MAX_DECODED, Fetched
from ..freshness import Freshness
from ..signals.robots import MAX_ROBOTS_BYTES
from ..signals.rsl import MAX_RSL_BYTES
from ..signals.tdmrep import MAX_TDMREP_BYTES
from ..stored import PolicyStore
from ..stores.files import PolicyFiles
from ..urls import policy_file_urls
from .http import AsyncFetcher

OFFLINE = "offline and no fresh stored copy (at most 24 h old)"


class OriginLoader:
    """Loads each origin (and each licence document) once; every caller of the same origin
    awaits the same load. `fetcher=None` is offline: fresh stored copies only."""

    def __init__(self, fetcher: AsyncFetcher | None, store: PolicyStore,
                 freshness: Freshness | None = None) -> None:
        self.fetcher = fetcher
        self.store = store
        self.files = PolicyFiles(store, freshness,
                                 fetch_deadline=fetcher.deadline if fetcher else 0.0)
        self._origins: dict[str, asyncio.Task[OriginPolicy]] = {}
        self._files: dict[str, asyncio.Task[Fetched | None]] = {}

    async def policy(self, origin: str) -> OriginPolicy:
        """The policy files of `origin` (scheme://host[:port]), loaded once per run."""
        task = self._origins.get(origin)
        if task is None:
            task = self._origins[origin] = asyncio.ensure_future(self._load(origin))
        return await asyncio.shield(task)

    def forget(self, origins: Iterable[str]) -> None:
        """Let go of loaded origins (bounded memory for long scans): their files stay in the
        store, so loading one again reads the fresh stored copy, without a fetch."""
        for origin in origins:
            task = self._origins.get(origin)
            if task is not None and task.done():
                del self._origins[origin]

    async def file(self, url: str, max_bytes: int) -> Fetched | None:
        """One policy file: a fresh stored copy, else fetched once for every process sharing
        the store (None offline with no fresh copy)."""
        fetcher = self.fetcher
        if fetcher is None:
            record = await self.files.cached(url)
            return None if record is None else record.fetched
        record, _ = await self.files.get(
            url, lambda: fetcher.get(url, max_bytes, decoded_limit=POLICY_MAX_DECODED))
        return record.fetched

    async def _load(self, origin: str) -> OriginPolicy:
        robots_url, tdmrep_url = policy_file_urls(origin)
        robots, tdmrep = await asyncio.gather(self.file(robots_url, MAX_ROBOTS_BYTES),
                                              self.file(tdmrep_url, MAX_TDMREP_BYTES))
        policy = OriginPolicy.from_fetches(origin, robots, tdmrep, OFFLINE)
        urls = policy.licence_urls()  # robots.txt License: (RSL), for every agent
        return policy.with_licences(await self.licence_files(urls)) if urls else policy

    async def licence_files(self, urls: list[str]) -> list[Fetched]:
        """RSL licence documents: each URL fetched once per run (1 MiB, cached like the other
        policy files), however many origins and pages name it."""
        tasks = []
        for url in urls:
            task = self._files.get(url)
            if task is None:
                task = self._files[url] = asyncio.ensure_future(self.file(url, MAX_RSL_BYTES))
            tasks.append(asyncio.shield(task))
        found = await asyncio.gather(*tasks)
        return [f or Fetched(url, error=OFFLINE) for url, f in zip(urls, found, strict=True)]

    async def resolve(self, origins: Iterable[str], concurrency: int = 64,
                      ) -> dict[str, OriginPolicy]:
        """Every origin's policy, at most `concurrency` origins loading at once."""
        slots = asyncio.Semaphore(concurrency)

        async def one(origin: str) -> tuple[str, OriginPolicy]:
            async with slots:
                try:
                    return origin, await self.policy(origin)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - one origin never ends the run
                    return origin, OriginPolicy.unreachable(
                        origin, f"error: {type(exc).__name__}: {exc}")

        return dict(await asyncio.gather(*(one(o) for o in dict.fromkeys(origins))))


def resolve_origins(origins: Iterable[str], store: PolicyStore, fetcher: AsyncFetcher | None,
                    concurrency: int = 64) -> dict[str, OriginPolicy]:
    """The blocking form of `OriginLoader.resolve`, on an event loop of its own (for batch
    engines: call it once per partition with the partition's distinct origins; workers that
    share a SQLite file or a Redis store fetch each origin once between them)."""
    async def run() -> dict[str, OriginPolicy]:
        loader = OriginLoader(fetcher, store)
        try:
            return await loader.resolve(origins, concurrency)
        finally:
            if fetcher is not None:
                await fetcher.close()
            await store.aclose()  # this loop's connections; the store stays usable

    return asyncio.run(run())
