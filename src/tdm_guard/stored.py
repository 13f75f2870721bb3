"""A policy file as a store keeps it, and the contract every store keeps (types only, no I/O).

A store holds raw fetch results of policy files (robots.txt, /.well-known/tdmrep.json, RSL
licence documents), never decisions: decisions depend on the agent, purpose and profile,
the files do not, so one store serves every job. A `PolicyRecord` is one file's last fetch
(or, after a failed refresh, the older copy still used: `freshness.py` says when) with
`fresh_until`. `encode_record` / `decode_record` turn it into the bytes every store keeps
(the SQLite file and Redis hold the same bytes), with a schema version, the body
zlib-compressed and its sha256, checked on every read: a record that is not exactly what was
stored (corrupt, truncated, foreign, another schema or another URL) reads as no record.
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from .fetched import Fetched

SCHEMA = 1  # in every key and record: a store written by another schema is simply not read
MAGIC = b"tdmg%d\n" % SCHEMA
# The largest body a policy file keeps: tdmrep.json and RSL documents are read to 1 MiB
# (robots.txt to 500 KiB); a stored body over it is not ours.
MAX_RECORD_BODY = 1024 * 1024
MAX_RECORD_META = 64 * 1024
# The headers a record keeps: what freshness reads and what evidence may show, no more.
STORED_HEADERS = frozenset({"content-type", "cache-control", "expires", "age", "date", "etag",
                            "last-modified", "retry-after"})
MAX_HEADER_VALUE = 1024
MAX_TEXT = 2048  # url, final_url, error, last_error


@dataclass(frozen=True)
class PolicyRecord:
    """One policy file in a store: `fetched` is what decisions read, fresh until
    `fresh_until` (Unix time). `failures` counts refreshes that failed in a row and
    `last_error` says how the last one failed; when `fetched` is a good copy older than that
    failure, it is the stale copy RFC 9309 §2.4 allows while the file is unreachable."""

    fetched: Fetched
    fresh_until: float
    failures: int = 0
    last_error: str = ""

    @property
    def stale_copy(self) -> bool:
        """A good copy kept in use after a failed refresh (not itself a failure)."""
        return bool(self.last_error) and self.fetched.error is None \
            and self.fetched.status is not None and 200 <= self.fetched.status < 300


class ClaimState(Enum):
    FRESH = "fresh"  # the record is fresh: use it
    OWNER = "owner"  # nobody is fetching it: fetch it, then publish (the lease is ours)
    BUSY = "busy"  # another process holds the lease: wait for its record


@dataclass(frozen=True)
class Claim:
    """The answer of a one-round-trip get-or-claim. `record` is the fresh record (FRESH) or
    the stored copy past its freshness, if any (OWNER, BUSY: the copy a failed refresh may
    keep using). `lease` is the owner's token; `local` says the shared store could not be
    used, so this process fetches for itself and nobody else waits for it."""

    state: ClaimState
    record: PolicyRecord | None = None
    lease: str | None = None
    local: bool = False


class PolicyStore(Protocol):
    """Where policy files are kept between runs and shared between processes and nodes.

    Implemented by `stores.memory.MemoryStore` (one process), `stores.sqlite.SQLiteStore`
    (one host; the default) and `stores.redis.RedisStore` (a cluster). A store never
    raises for its own trouble (a full disk, a dead Redis): it logs once, goes on with what
    it holds in memory, and the answers stay the same; only the number of fetches grows.
    """

    name: str  # for logs, credentials masked

    async def get(self, url: str) -> PolicyRecord | None:
        """The stored record of `url`, fresh or not (None when none is kept)."""
        ...

    async def claim(self, url: str, lease_seconds: float) -> Claim:
        """Get the record if fresh, else take the lease to fetch it (one round trip)."""
        ...

    async def publish(self, url: str, record: PolicyRecord, keep_until: float,
                      lease: str | None) -> None:
        """Store `record` (kept until `keep_until`) and release `lease`, in one step."""
        ...

    async def release(self, url: str, lease: str) -> None:
        """Give up a lease without a record (the fetch was cancelled)."""
        ...

    async def aclose(self) -> None:
        """Let go of what the running event loop holds (Redis connections); the store may
        be used again, from this loop or another."""
        ...

    def close(self) -> None:
        """Close the store for good (the SQLite file)."""
        ...


def encode_record(record: PolicyRecord) -> bytes:
    """The bytes a store keeps for `record` (body capped at MAX_RECORD_BODY)."""
    f = record.fetched
    body = f.body[:MAX_RECORD_BODY]
    meta = {
        "v": SCHEMA,
        "url": f.url[:MAX_TEXT],
        "final_url": (f.final_url or f.url)[:MAX_TEXT],
        "status": f.status,
        "error": None if f.error is None else f.error[:MAX_TEXT],
        "headers": [[k, v[:MAX_HEADER_VALUE]] for k, v in f.headers
                    if k.lower() in STORED_HEADERS][:32],
        "truncated": f.truncated or len(f.body) > MAX_RECORD_BODY,
        "redirects_exhausted": f.redirects_exhausted,
        "fetched_at": f.fetched_at,
        "fresh_until": record.fresh_until,
        "failures": record.failures,
        "last_error": record.last_error[:MAX_TEXT],
        "sha256": hashlib.sha256(body).hexdigest(),
        "length": len(body),
    }
    text = json.dumps(meta, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return MAGIC + zlib.compress(text + b"\n" + body, 6)


def decode_record(data: object, url: str) -> PolicyRecord | None:
    """The record `encode_record` made for `url`, or None for anything else (never raises)."""
    try:
        return _decode(data, url)
    except (ValueError, TypeError, KeyError, OverflowError, zlib.error, RecursionError):
        return None


def _decode(data: object, url: str) -> PolicyRecord | None:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        return None
    data = bytes(data)
    if not data.startswith(MAGIC):
        return None
    inflate = zlib.decompressobj()
    limit = MAX_RECORD_META + 1 + MAX_RECORD_BODY
    plain = inflate.decompress(data[len(MAGIC):], limit + 1)
    if len(plain) > limit or inflate.unconsumed_tail or not inflate.eof or inflate.unused_data:
        return None  # over the bound (a bomb), cut short, or followed by other bytes
    text, sep, body = plain.partition(b"\n")
    if not sep or len(text) > MAX_RECORD_META:
        return None
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError):  # a corrupt record is a miss, never an answer
        return None
    if not isinstance(meta, dict) or meta.get("v") != SCHEMA or meta.get("url") != url:
        return None
    if meta.get("length") != len(body) or meta.get("sha256") != hashlib.sha256(body).hexdigest():
        return None
    status = meta["status"]
    if status is not None and (type(status) is not int or not 100 <= status <= 999):
        return None
    headers = meta["headers"]
    if not isinstance(headers, list) or not all(
            isinstance(h, list) and len(h) == 2 and all(isinstance(x, str) for x in h)
            for h in headers):
        return None
    fetched_at, fresh_until = _time(meta["fetched_at"]), _time(meta["fresh_until"])
    failures = meta["failures"]
    if type(failures) is not int or not 0 <= failures < 1_000_000:
        return None
    fetched = Fetched(url, status, [(k, v) for k, v in headers], body,
                      error=_text_or_none(meta["error"]),
                      redirects_exhausted=_flag(meta["redirects_exhausted"]),
                      truncated=_flag(meta["truncated"]),
                      final_url=_text(meta["final_url"]) or url, fetched_at=fetched_at)
    return PolicyRecord(fetched, fresh_until, failures, _text(meta["last_error"]))


def _time(value: object) -> float:
    if type(value) not in (int, float) or not math.isfinite(value) or value < 0:  # type: ignore[arg-type]
        raise ValueError("not a time")
    return float(value)  # type: ignore[arg-type]


def _flag(value: object) -> bool:
    if type(value) is not bool:
        raise ValueError("not a flag")
    return value  # type: ignore[return-value]


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("not text")
    return value


def _text_or_none(value: object) -> str | None:
    return None if value is None else _text(value)


__all__ = ["Claim", "ClaimState", "PolicyRecord", "PolicyStore", "decode_record",
           "encode_record"]
