"""What one bounded fetch returned, and the limits every fetcher shares (no HTTP library here:
the CLI fills it with requests, the Scrapy plugin with Scrapy's engine, the cache stores it)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

MAX_REDIRECTS = 5  # RFC 9309 §2.3.1.2: "at least five consecutive redirects"
# A policy file is parsed from its first bytes only (robots.txt 500 KiB, tdmrep.json 1 MiB);
# one that declares, or decompresses to, more than this is refused as unreachable (a
# decompression bomb fails closed).
POLICY_MAX_DECODED = 64 * 1024 * 1024


@dataclass
class Fetched:
    """Outcome of one bounded GET. `error` is set when no HTTP response was had."""

    url: str
    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    error: str | None = None
    redirects_exhausted: bool = False
    truncated: bool = False
    final_url: str = ""
    location: str | None = None  # a redirect that was not followed
    fetched_at: float = 0.0  # when the fetch started (Unix time)

    @property
    def sha256(self) -> str:
        """The sha256 of the body as kept: what a decision read, for its evidence."""
        return hashlib.sha256(self.body).hexdigest()

    @property
    def fetched_at_iso(self) -> str | None:
        """When the fetch started, as an ISO 8601 UTC time (None when unknown)."""
        return utc_iso(self.fetched_at) if self.fetched_at else None

    @property
    def definitive(self) -> bool:
        """Worth caching: an HTTP answer that is not a server error."""
        return self.error is None and self.status is not None and self.status < 500 \
            and self.status != 429


_last: tuple[int, str] = (-1, "")


def utc_iso(seconds: float) -> str:
    """A Unix time as the ISO 8601 UTC string evidence carries, to the second (the last
    second formatted is kept: every page of a crawl asks for "now")."""
    global _last
    second = int(seconds)
    if _last[0] != second:
        _last = (second, datetime.fromtimestamp(second, UTC).isoformat())
    return _last[1]
