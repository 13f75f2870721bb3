"""The policy store of one process (`--no-cache`, `TDM_GUARD_CACHE = None`), and the memory
the other stores fall back on when their file or server cannot be used."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from ..freshness import fresh_at
from ..stored import Claim, ClaimState, PolicyRecord
from .base import LocalStore, new_lease

MAX_RECORDS = 100_000  # records kept in memory at most (the oldest are dropped first)


class MemoryStore(LocalStore):
    """Records and leases in a dict: the same semantics as the shared stores, for one process."""

    name = "memory"

    def __init__(self, max_records: int = MAX_RECORDS) -> None:
        super().__init__()
        self.max_records = max_records
        self._lock = threading.Lock()
        self._records: OrderedDict[str, tuple[PolicyRecord, float]] = OrderedDict()
        self._leases: dict[str, tuple[str, float]] = {}

    def peek(self, url: str) -> PolicyRecord | None:
        now = time.time()
        with self._lock:
            kept = self._records.get(url)
            if kept is None:
                return None
            if kept[1] <= now:
                del self._records[url]
                return None
            return kept[0]

    def claim_now(self, url: str, lease_seconds: float) -> Claim:
        now = time.time()
        record = self.peek(url)
        if record is not None and fresh_at(record, now):
            return Claim(ClaimState.FRESH, record)
        with self._lock:
            held = self._leases.get(url)
            if held is not None and held[1] > now:
                return Claim(ClaimState.BUSY, record)
            token = new_lease()
            self._leases[url] = (token, now + lease_seconds)
        return Claim(ClaimState.OWNER, record, token)

    def put(self, url: str, record: PolicyRecord, keep_until: float, lease: str | None) -> None:
        with self._lock:
            self._records[url] = (record, keep_until)
            self._records.move_to_end(url)
            while len(self._records) > self.max_records:
                self._records.popitem(last=False)
            held = self._leases.get(url)
            if held is not None and lease is not None and held[0] == lease:
                del self._leases[url]

    def drop_lease(self, url: str, lease: str) -> None:
        with self._lock:
            held = self._leases.get(url)
            if held is not None and held[0] == lease:
                del self._leases[url]
