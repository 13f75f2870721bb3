"""The policy-file cache across runs: raw fetch results of robots.txt and tdmrep.json in SQLite.

RFC 9309 §2.4: "Crawlers SHOULD NOT use the cached version for more than 24 hours, unless
the robots.txt file is unreachable." Only definitive answers are stored (2xx-4xx); server
errors and network failures are retried on the next run, never remembered as "no file".
The database uses WAL journaling, so a process killed mid-run leaves it consistent; each row
carries the sha256 of its body, checked on every read.

A cache that fails (a full disk, a corrupted or foreign file, a read-only folder) never
changes an answer: the failure is logged once (logger `tdm_guard.stores`) and the run goes
on with the copies it holds in memory, fetching what it lacks.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sqlite3
import threading
import time
from pathlib import Path

import platformdirs

from ..fetched import Fetched

TTL_SECONDS = 24 * 3600
SCHEMA = 2  # the table name carries it: an older cache file is simply not read
TABLE = f"policy_files_v{SCHEMA}"
logger = logging.getLogger("tdm_guard.stores")


def default_cache_path() -> Path:
    """`$XDG_CACHE_HOME/tdm-guard/policy-cache.sqlite3` on Linux (platformdirs elsewhere)."""
    return Path(platformdirs.user_cache_dir("tdm-guard", appauthor=False)) / "policy-cache.sqlite3"


class PolicyCache:
    """Thread-safe. `path=None` keeps entries in memory for this process only."""

    def __init__(self, path: Path | str | None, ttl: float = TTL_SECONDS) -> None:
        self.ttl = ttl
        self.path = Path(path) if path is not None else None
        self.fault: str | None = None  # why the file is not used, after a failure
        self._lock = threading.Lock()
        self._memory: dict[str, tuple[float, Fetched]] = {}
        self._db: sqlite3.Connection | None = None
        if self.path is not None:
            try:
                self._open(self.path)
            except (sqlite3.Error, OSError) as exc:
                self._failed("cannot be opened", exc)

    def _open(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), check_same_thread=False, timeout=10)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (url TEXT PRIMARY KEY, status INTEGER,"
                " headers TEXT, body BLOB, sha256 TEXT, redirects_exhausted INTEGER,"
                " truncated INTEGER, fetched_at REAL, final_url TEXT)")
            db.commit()
        except sqlite3.Error:
            db.close()
            raise
        self._db = db

    def _failed(self, what: str, exc: BaseException) -> None:
        """Stop using the file (the caller holds the lock or is the constructor)."""
        if self.fault is None:
            self.fault = f"{what}: {type(exc).__name__}: {exc}"
            logger.warning("policy cache %s %s (%s: %s); going on without it: answers are "
                           "unchanged, policy files are fetched instead", self.path, what,
                           type(exc).__name__, exc)
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None

    def get(self, url: str) -> Fetched | None:
        now = time.time()
        with self._lock:
            hit = self._memory.get(url)
            if hit is not None and 0 <= now - hit[0] < self.ttl:
                return hit[1]
            if self._db is None:
                return None
            try:
                row = self._db.execute(
                    f"SELECT status, headers, body, sha256, redirects_exhausted, truncated,"
                    f" fetched_at, final_url FROM {TABLE} WHERE url = ?", (url,)).fetchone()
            except sqlite3.Error as exc:
                self._failed("cannot be read", exc)
                return None
        fetched = _row(url, row, now, self.ttl)
        if fetched is not None:
            with self._lock:
                self._memory[url] = (fetched.fetched_at, fetched)
        return fetched

    def put(self, url: str, fetched: Fetched) -> None:
        if not (fetched.definitive or fetched.redirects_exhausted):
            return
        now = fetched.fetched_at or time.time()
        with self._lock:
            self._memory[url] = (now, fetched)
            if self._db is None:
                return
            try:
                self._db.execute(
                    f"INSERT OR REPLACE INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (url, fetched.status, json.dumps(fetched.headers), fetched.body,
                     hashlib.sha256(fetched.body).hexdigest(), int(fetched.redirects_exhausted),
                     int(fetched.truncated), now, fetched.final_url or url))
                self._db.commit()
            except sqlite3.Error as exc:
                self._failed("cannot be written", exc)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._db.close()
                self._db = None


def _row(url: str, row: tuple | None, now: float, ttl: float) -> Fetched | None:
    """A stored row as a Fetched, or None when absent, stale or not what was stored."""
    if row is None:
        return None
    try:
        status, headers, body, digest, exhausted, truncated, fetched_at, final_url = row
        fetched_at = float(fetched_at)
        if not 0 <= now - fetched_at < ttl:
            return None  # stale, or from the future (a wrong clock): fetch again
        body = bytes(body)
        if hashlib.sha256(body).hexdigest() != digest:
            return None  # the body is not the one stored: fetch again
        pairs = [(str(k), str(v)) for k, v in json.loads(headers)]
        return Fetched(url, None if status is None else int(status), pairs, body,
                       redirects_exhausted=bool(exhausted), truncated=bool(truncated),
                       final_url=str(final_url or url), fetched_at=fetched_at)
    except (TypeError, ValueError):
        return None
