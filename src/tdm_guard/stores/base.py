"""What every policy store shares: its event counts (for stats and logs) and lease tokens."""

from __future__ import annotations

import os
import socket
import uuid
from collections import Counter
from collections.abc import Callable

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


def node_name() -> str:
    """`host:pid`, naming this process in leases and Redis client names."""
    return f"{socket.gethostname()}:{os.getpid()}"


def new_lease() -> str:
    """A lease token: which process holds it, and a part no other holder has."""
    return f"{node_name()}:{uuid.uuid4().hex[:16]}"
