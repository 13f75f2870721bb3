"""The default policy store: one SQLite file per host, shared by every process on it.

Records are the bytes `stored.encode_record` makes (the same as in Redis: body compressed,
sha256 checked on every read); how long each is fresh and kept is `freshness.py`'s rule.
Leases live in a second table, so two processes on one host (two `tdm-guard check` runs,
batch workers, Scrapy jobs) fetch each policy file once: a claim is one short `BEGIN
IMMEDIATE` transaction. The database uses WAL journaling, so a process killed mid-run leaves
it consistent.

A file that fails (a full disk, a corrupted or foreign file, a read-only folder) never
changes an answer: the failure is logged once (logger `tdm_guard.stores`) and the run goes
on in memory, fetching what it lacks.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from dataclasses import replace
from pathlib import Path

from ..freshness import fresh_at
from ..stored import SCHEMA, Claim, ClaimState, PolicyRecord, decode_record, encode_record
from .base import LocalStore, default_cache_path, new_lease  # noqa: F401 - re-exported
from .memory import MemoryStore

RECORDS = f"policy_records_v{SCHEMA}"  # older tables (policy_files_v2) are simply not read
LEASES = f"policy_leases_v{SCHEMA}"
BUSY_TIMEOUT = 5.0  # seconds to wait for another process's write transaction
logger = logging.getLogger("tdm_guard.stores")


class SQLiteStore(LocalStore):
    """Thread-safe; every method is a short local transaction."""

    def __init__(self, path: Path | str) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = f"sqlite:///{self.path}" if self.path.is_absolute() else str(self.path)
        self.fault: str | None = None  # why the file is not used, after a failure
        self._lock = threading.Lock()
        self._memory = MemoryStore()  # what is kept once the file cannot be used
        self._db: sqlite3.Connection | None = None
        try:
            self._open(self.path)
        except (sqlite3.Error, OSError) as exc:
            self._failed("cannot be opened", exc)

    def _open(self, path: Path) -> None:
        """Open (and on first use create) the file. Two processes opening a new file at once
        contend for the switch to WAL, for which SQLite answers "database is locked" at once
        rather than waiting: that is retried within BUSY_TIMEOUT, or one of them would go on
        in memory and fetch every file a second time."""
        path.parent.mkdir(parents=True, exist_ok=True)
        deadline, pause = time.monotonic() + BUSY_TIMEOUT, 0.005
        while True:
            last_try = time.monotonic() + pause > deadline
            try:
                self._connect(path, need_wal=not last_try)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or last_try:
                    raise
                time.sleep(pause)
                pause = min(2 * pause, 0.1)

    def _connect(self, path: Path, need_wal: bool = False) -> None:
        """`need_wal`: a connection whose switch to WAL did not take (SQLite may answer with
        the old mode instead of an error while another process switches) is tried again; on
        the last try any journal mode is accepted (a file system without WAL support)."""
        db = sqlite3.connect(str(path), check_same_thread=False, timeout=BUSY_TIMEOUT,
                             isolation_level=None)
        try:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()
            if need_wal and (mode is None or str(mode[0]).lower() != "wal"):
                raise sqlite3.OperationalError(f"database is locked (journal mode {mode})")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(f"CREATE TABLE IF NOT EXISTS {RECORDS} (url TEXT PRIMARY KEY,"
                       " record BLOB NOT NULL, fresh_until REAL NOT NULL,"
                       " keep_until REAL NOT NULL)")
            db.execute(f"CREATE TABLE IF NOT EXISTS {LEASES} (url TEXT PRIMARY KEY,"
                       " token TEXT NOT NULL, expires REAL NOT NULL)")
        except sqlite3.Error:
            db.close()
            raise
        self._db = db

    def _failed(self, what: str, exc: BaseException) -> None:
        """Stop using the file (the caller holds the lock or is the constructor)."""
        self.count("errors")
        if self.fault is None:
            self.fault = f"{what}: {type(exc).__name__}: {exc}"
            logger.warning("policy cache %s %s (%s: %s); going on without it: answers are "
                           "unchanged, policy files are fetched instead", self.path, what,
                           type(exc).__name__, exc)
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.rollback()
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None

    def _select(self, db: sqlite3.Connection, url: str, now: float) -> PolicyRecord | None:
        row = db.execute(f"SELECT record, fresh_until, keep_until FROM {RECORDS} WHERE url = ?",
                         (url,)).fetchone()
        if row is None or not all(isinstance(t, (int, float)) for t in row[1:]) \
                or row[2] <= now:
            return None
        record = decode_record(row[0], url)  # None when the bytes are not what was stored
        if record is None:
            self.count("unreadable")
            return None
        # the column decides, as Redis's fresh key does
        return replace(record, fresh_until=float(row[1]))

    def peek(self, url: str) -> PolicyRecord | None:
        now = time.time()
        with self._lock:
            if self._db is None:
                return self._memory.peek(url)
            try:
                return self._select(self._db, url, now)
            except sqlite3.Error as exc:
                self._failed("cannot be read", exc)
                return None

    def claim_now(self, url: str, lease_seconds: float) -> Claim:
        record = self.peek(url)
        now = time.time()
        if record is not None and fresh_at(record, now):
            return Claim(ClaimState.FRESH, record)
        with self._lock:
            db = self._db
            if db is None:
                return replace(self._memory.claim_now(url, lease_seconds), local=True)
            try:
                db.execute("BEGIN IMMEDIATE")
                now = time.time()  # after waiting for the write lock, not before
                record = self._select(db, url, now)  # another process may just have published
                if record is not None and fresh_at(record, now):
                    db.execute("COMMIT")
                    return Claim(ClaimState.FRESH, record)
                held = db.execute(f"SELECT expires FROM {LEASES} WHERE url = ?",
                                  (url,)).fetchone()
                if held is not None and isinstance(held[0], (int, float)) and held[0] > now:
                    db.execute("COMMIT")
                    return Claim(ClaimState.BUSY, record)
                token = new_lease()
                db.execute(f"INSERT OR REPLACE INTO {LEASES} VALUES (?, ?, ?)",
                           (url, token, now + lease_seconds))
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._failed("cannot be written", exc)
                return replace(self._memory.claim_now(url, lease_seconds), local=True)
        return Claim(ClaimState.OWNER, record, token)

    def put(self, url: str, record: PolicyRecord, keep_until: float, lease: str | None) -> None:
        blob = encode_record(record)
        with self._lock:
            db = self._db
            if db is None:
                self._memory.put(url, record, keep_until, lease)
                return
            try:
                db.execute("BEGIN IMMEDIATE")
                db.execute(f"INSERT OR REPLACE INTO {RECORDS} VALUES (?, ?, ?, ?)",
                           (url, blob, record.fresh_until, keep_until))
                if lease is not None:
                    db.execute(f"DELETE FROM {LEASES} WHERE url = ? AND token = ?", (url, lease))
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._failed("cannot be written", exc)
                self._memory.put(url, record, keep_until, lease)

    def drop_lease(self, url: str, lease: str) -> None:
        with self._lock:
            if self._db is None:
                self._memory.drop_lease(url, lease)
                return
            try:
                self._db.execute(f"DELETE FROM {LEASES} WHERE url = ? AND token = ?",
                                 (url, lease))
            except sqlite3.Error as exc:
                self._failed("cannot be written", exc)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._db.close()
                self._db = None
