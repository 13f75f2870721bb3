"""What every policy store shares: its event counts (for stats and logs), lease tokens, and
the protocol's coroutines for the stores whose work is local and short (memory, SQLite)."""

from __future__ import annotations

import os
import socket
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..stored import Claim, PolicyRecord

EventHook = Callable[[str], None]


class Counted:
    """Counts named events (`events`) and tells `on_event`, if set (the Scrapy middleware
    turns them into `tdm_guard/store/<name>` stats)."""

    on_event: EventHook | None = None

    def __init__(self) -> None:
        self.events: Counter[str] = Counter()

    def count(self, name: str) -> None:
        self.events[name] += 1
        if self.on_event is not None:
            self.on_event(name)


def default_cache_path() -> Path:
    """`$XDG_CACHE_HOME/tdm-guard/policy-cache.sqlite3` on Linux (platformdirs elsewhere): the
    default SQLite store (here, so that naming it does not load sqlite3)."""
    import platformdirs
    return Path(platformdirs.user_cache_dir("tdm-guard", appauthor=False)) / "policy-cache.sqlite3"


def node_name() -> str:
    """`host:pid`, naming this process in leases and Redis client names."""
    return f"{socket.gethostname()}:{os.getpid()}"


def new_lease() -> str:
    """A lease token: which process holds it, and a part no other holder has."""
    return f"{node_name()}:{uuid.uuid4().hex[:16]}"


class LocalStore(Counted):
    """A store whose calls are short and local (no network): the `PolicyStore` coroutines
    call its blocking methods directly, without leaving the event loop."""

    def peek(self, url: str) -> PolicyRecord | None:
        raise NotImplementedError

    def claim_now(self, url: str, lease_seconds: float) -> Claim:
        raise NotImplementedError

    def put(self, url: str, record: PolicyRecord, keep_until: float, lease: str | None) -> None:
        raise NotImplementedError

    def drop_lease(self, url: str, lease: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        return None

    async def get(self, url: str) -> PolicyRecord | None:
        return self.peek(url)

    async def claim(self, url: str, lease_seconds: float) -> Claim:
        return self.claim_now(url, lease_seconds)

    async def publish(self, url: str, record: PolicyRecord, keep_until: float,
                      lease: str | None) -> None:
        self.put(url, record, keep_until, lease)

    async def release(self, url: str, lease: str) -> None:
        self.drop_lease(url, lease)

    async def aclose(self) -> None:
        return None  # nothing belongs to an event loop: close() closes for good
