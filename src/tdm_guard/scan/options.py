"""What a scan decides with, and where its origin policies come from.

`ScanOptions` is a frozen, picklable value (strings, numbers and tuples only): engines ship it
to their workers, and each worker process builds what it needs from it lazily, once per
process (`evaluator_for`, `resolver_for`): the `Evaluator` (declarations loaded once), and a
`PolicyResolver` that turns origins into `OriginPolicy`s:

- `live` (the default): each origin's robots.txt and tdmrep.json through the policy store
  (`OriginLoader`: once per process on a background event loop; once between every process
  and node sharing a SQLite file or Redis store), `concurrency` origins at once, 4 per host;
- `offline`: fresh stored copies only (`OriginLoader` with no fetcher);
- `captures`: robots.txt and tdmrep.json captured in WARC files (`captures.CaptureIndex`),
  the capture nearest before the record's WARC-Date, else nearest after.

`as_of`: `now` (default: a training run today must respect today's reservations, whenever the
page was captured) or `capture` (declarations and licences as of the capture's day, with
captured policy files: what applied when the page was fetched; live and offline policy
files are today's, so `capture` needs `captures`).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Coroutine, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..decide import Evaluator, OriginPolicy
from ..fetched import Fetched
from ..freshness import MAX_STALE, Freshness
from ..signals.files import MAX_FILE_BYTES
from ..stores.select import default_store, open_store
from ..stores.validated import load_declarations

_T = TypeVar("_T")
POLICY_SOURCES = ("live", "offline", "captures")
AS_OF = ("now", "capture")
# Origins a process keeps decided policies of (least recently used first out); one evicted is
# read again from the policy store (fresh: no fetch). docs/limits.md.
MAX_ORIGINS_HELD = 200_000


@dataclass(frozen=True)
class ScanOptions:
    """Everything a scan decides with. Picklable: ship it to workers as is."""

    agent: str = "tdm-guard"
    purpose: str = "train"
    profile: str = "strict"
    policies: tuple[str, ...] = ()  # extra declaration folders (--policies)
    licences: tuple[str, ...] = ()  # licence files or folders held (--licences)
    store: str | None = field(default_factory=default_store)  # None: this process's memory
    mode: str = "live"  # "live", "offline" or "captures"
    captures: tuple[str, ...] = ()  # WARC files (or listings of them) with policy captures
    as_of: str = "now"  # "now" or "capture"
    fail_closed: bool = False
    concurrency: int = 64  # origins loading at once (live)
    timeout: float = 10.0  # seconds per network operation (live)
    max_stale: float = MAX_STALE
    trust_anchors: str | None = None  # PEM text (C2PA Trusted)
    max_file_bytes: int = MAX_FILE_BYTES  # a payload's bytes read for embedded metadata

    def __post_init__(self) -> None:
        if self.mode not in POLICY_SOURCES:
            raise ValueError(f"mode: {self.mode!r} is not one of {', '.join(POLICY_SOURCES)}")
        if self.as_of not in AS_OF:
            raise ValueError(f"as_of: {self.as_of!r} is not 'now' or 'capture'")
        if self.mode == "captures" and not self.captures:
            raise ValueError("mode 'captures' needs at least one WARC in `captures`")
        if self.as_of == "capture" and self.mode != "captures":
            raise ValueError("as_of 'capture' needs captured policy files (--policies-from "
                             "WARC...): live and offline policy files are today's")
        if self.concurrency < 1 or self.timeout <= 0:
            raise ValueError("concurrency must be >= 1 and timeout > 0")

    @property
    def as_of_capture(self) -> bool:
        return self.as_of == "capture"

    def evaluator(self) -> Evaluator:
        """A new Evaluator for these options (prefer `evaluator_for`: once per process)."""
        declarations = load_declarations(self.policies, self.licences)
        return Evaluator(self.agent, self.purpose, self.profile, declarations,
                         fail_closed=self.fail_closed, trust_anchors=self.trust_anchors)


_PER_PROCESS: dict[tuple[int, str, ScanOptions], Any] = {}
_LOCK = threading.Lock()


def _per_process(kind: str, options: ScanOptions, make: Any) -> Any:
    key = (os.getpid(), kind, options)  # a forked child builds its own
    with _LOCK:
        found = _PER_PROCESS.get(key)
        if found is None:
            found = _PER_PROCESS[key] = make()
        return found


def evaluator_for(options: ScanOptions) -> Evaluator:
    """This process's Evaluator for `options` (built on first use)."""
    return _per_process("evaluator", options, options.evaluator)


def resolver_for(options: ScanOptions) -> PolicyResolver:
    """This process's PolicyResolver for `options` (built on first use; one store, one
    fetcher, one loader per process; closed when the process exits)."""
    return _per_process("resolver", options, lambda: PolicyResolver(options))


@atexit.register
def _close_resolvers() -> None:
    """Close this process's sessions and stores before the interpreter goes away."""
    for (pid, kind, _), found in list(_PER_PROCESS.items()):
        if pid == os.getpid() and kind == "resolver":
            with contextlib.suppress(Exception):
                found.close()


class PolicyResolver:
    """Origins in, `OriginPolicy`s out, from the options' policy source. Thread-safe: every
    network call runs on one background event loop of its own."""

    def __init__(self, options: ScanOptions) -> None:
        self.options = options
        self.captures = None
        self._loop: _Loop | None = None
        self._loader: Any = None
        self._held: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        if options.mode == "captures":
            from .captures import CaptureIndex

            self.captures = CaptureIndex.build(options.captures)

    # -- live and offline ---------------------------------------------------------------
    def _start(self) -> Any:
        with self._lock:
            if self._loader is None:
                from ..fetching.http import AsyncFetcher
                from ..fetching.origins import OriginLoader

                self._loop = _Loop()
                opts = self.options
                fetcher = None if opts.mode == "offline" else AsyncFetcher(
                    timeout=opts.timeout, connections=opts.concurrency * 2)
                self._loader = OriginLoader(fetcher, open_store(opts.store),
                                            Freshness(max_stale=opts.max_stale))
            return self._loader

    def submit(self, origins: Iterable[str]) -> Future[dict[str, OriginPolicy]]:
        """Start resolving `origins` (each loaded once per process, through the store)."""
        wanted = list(dict.fromkeys(origins))
        if self.captures is not None:
            done: Future[dict[str, OriginPolicy]] = Future()
            done.set_result({})  # captures are chosen per record (`policy`)
            return done
        loader = self._start()
        assert self._loop is not None
        future = self._loop.submit(loader.resolve(wanted, self.options.concurrency))
        future.add_done_callback(lambda _: self._hold(wanted))
        return future

    def resolve(self, origins: Iterable[str]) -> dict[str, OriginPolicy]:
        """Every origin's policy (blocking)."""
        return self.submit(origins).result()

    @property
    def origins_resolved(self) -> int:
        """Distinct origins resolved by this process (and still held)."""
        return len(self._held)

    def _hold(self, origins: list[str]) -> None:
        """Bound what the loader keeps: the least recently used origins are let go (their
        files stay in the store: read again, not fetched, while fresh)."""
        with self._lock:
            for origin in origins:
                self._held[origin] = None
                self._held.move_to_end(origin)
            excess = len(self._held) - MAX_ORIGINS_HELD
            if excess > 0:
                gone = [self._held.popitem(last=False)[0] for _ in range(excess)]
                self._loader.forget(gone)

    def licences(self, urls: list[str]) -> dict[str, Fetched]:
        """The RSL documents a page links to, fetched once per process (live only)."""
        if not urls or self.captures is not None or self.options.mode == "offline":
            return {}
        loader = self._start()
        assert self._loop is not None
        found = self._loop.submit(loader.licence_files(urls)).result()
        return {f.url: f for f in found}

    # -- every mode ---------------------------------------------------------------------
    def policy(self, origin: str, warc_date: str | None,
               resolved: dict[str, OriginPolicy]) -> OriginPolicy:
        """The policy a record of `origin` captured at `warc_date` is decided on."""
        if self.captures is not None:
            return self.captures.policy(origin, warc_date, self.options.fail_closed)
        found = resolved.get(origin)
        if found is None:  # not resolved beforehand (an engine's own mapping): load it now
            found = self.resolve([origin])[origin]
        return found

    def close(self) -> None:
        """Cancel fetches, close the session and the store (the process is done)."""
        loader, loop = self._loader, self._loop
        if loader is None or loop is None:
            return

        async def cleanup() -> None:
            if loader.fetcher is not None:
                await loader.fetcher.close()
            await loader.store.aclose()

        loop.stop(cleanup())
        loader.store.close()
        self._loader = self._loop = None


class _Loop:
    """An asyncio event loop on a daemon thread: coroutines in, concurrent Futures out."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="tdm-guard-scan-io")
        self.thread.start()

    def submit(self, coro: Coroutine[Any, Any, _T]) -> Future[_T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self, cleanup: Coroutine[Any, Any, None]) -> None:
        async def shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await cleanup

        with contextlib.suppress(Exception):  # stopping: nothing left to report to
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


__all__ = ["AS_OF", "MAX_ORIGINS_HELD", "POLICY_SOURCES", "PolicyResolver", "ScanOptions",
           "evaluator_for", "resolver_for"]
