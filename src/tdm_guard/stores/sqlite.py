"""A small SQLite cache of fetched policy files (robots.txt, tdmrep.json) across runs.

RFC 9309 §2.4: "Crawlers SHOULD NOT use the cached version for more than 24 hours, unless
the robots.txt file is unreachable." Only definitive answers are stored (2xx-4xx); server
errors and network failures are retried on the next run, never remembered as "no file".
The database uses WAL journaling, so a process killed mid-run leaves it consistent.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import platformdirs

from ..fetched import Fetched

TTL_SECONDS = 24 * 3600


def default_cache_path() -> Path:
    """`$XDG_CACHE_HOME/tdm-guard/policy-cache.sqlite3` on Linux (platformdirs elsewhere)."""
    return Path(platformdirs.user_cache_dir("tdm-guard", appauthor=False)) / "policy-cache.sqlite3"


class PolicyCache:
    """Thread-safe. `path=None` keeps entries in memory for this process only."""

    def __init__(self, path: Path | str | None, ttl: float = TTL_SECONDS) -> None:
        self.ttl = ttl
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._memory: dict[str, tuple[float, Fetched]] = {}
        self._db: sqlite3.Connection | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS policy_files (url TEXT PRIMARY KEY, status INTEGER,"
                " headers TEXT, body BLOB, redirects_exhausted INTEGER, fetched_at REAL)")
            self._db.commit()

    def get(self, url: str) -> Fetched | None:
        now = time.time()
        with self._lock:
            hit = self._memory.get(url)
            if hit is not None and now - hit[0] < self.ttl:
                return hit[1]
            if self._db is None:
                return None
            row = self._db.execute(
                "SELECT status, headers, body, redirects_exhausted, fetched_at FROM policy_files"
                " WHERE url = ?", (url,)).fetchone()
        if row is None or now - row[4] >= self.ttl:
            return None
        fetched = Fetched(url, row[0], [tuple(h) for h in json.loads(row[1])], bytes(row[2]),
                          redirects_exhausted=bool(row[3]), final_url=url)
        with self._lock:
            self._memory[url] = (row[4], fetched)
        return fetched

    def put(self, url: str, fetched: Fetched) -> None:
        if not (fetched.definitive or fetched.redirects_exhausted):
            return
        now = time.time()
        with self._lock:
            self._memory[url] = (now, fetched)
            if self._db is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO policy_files VALUES (?, ?, ?, ?, ?, ?)",
                    (url, fetched.status, json.dumps(fetched.headers), fetched.body,
                     int(fetched.redirects_exhausted), now))
                self._db.commit()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
