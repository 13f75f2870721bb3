"""How long a fetched policy file may be used: the one set of rules every store and every
in-process table follows (pure functions of headers and times; no I/O, no clock of its own).

RFC 9309 §2.4: "Crawlers MAY cache the fetched robots.txt file's contents. Crawlers MAY use
standard cache control as defined in [RFC9111]. Crawlers SHOULD NOT use the cached version
for more than 24 hours, unless the robots.txt file is unreachable." TDMRep asks agents to
"keep in cache the content of the TDM file" and gives no lifetime: the same rules apply to
tdmrep.json and to RSL licence documents.

- An answer (2xx, 4xx, too many redirects) is fresh for its RFC 9111 lifetime (s-maxage,
  max-age, else Expires minus Date; less its Age), at most 24 hours and at least one minute
  (so a `max-age=0` file is not fetched again for every page); without cache headers, 24 h.
- A failure (5xx, 429, timeout, network error, a body over the bound) is never stored as an
  answer. If a good copy (2xx) fetched at most `max_stale` ago (default 7 days) is held, that
  copy stays in use ("unless the robots.txt file is unreachable"); else the failure itself is
  recorded, which robots.txt reads as complete disallow (§2.3.1.4). Either way the file is
  asked for again after a short wait: 5 minutes, doubling with each failure in a row up to
  1 hour, longer if `Retry-After` asks (up to that hour).
- A kept 4xx is not a copy to fall back on: when such a file becomes unreachable, the answer
  is unreachable (disallow all), never "allow all" from an old 404 (the cautious reading;
  the RFC allows either).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import UTC
from email.utils import parsedate_to_datetime

from .fetched import Fetched
from .stored import PolicyRecord

DAY = 24 * 3600.0
MAX_FRESH = DAY  # RFC 9309 §2.4
MIN_FRESH = 60.0
MAX_STALE = 7 * DAY
ERROR_FIRST = 300.0
ERROR_MAX = 3600.0
CLOCK_SKEW = 300.0  # how far apart the clocks of nodes sharing a store may be
_SECONDS = re.compile(r"[0-9]{1,15}")  # delta-seconds (RFC 9111 §1.2.2): ASCII digits only
_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([smhd]?)\s*", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": DAY}


WRITTEN_LATER = 60.0  # a record may be written a moment after a reader read its clock


def fresh_at(record: PolicyRecord, now: float, skew: float = 0.0) -> bool:
    """Fresh now, and never for more than 24 hours from now (a record written by a clock set
    ahead, or tampered with, is not trusted for longer than RFC 9309 allows); `skew` is
    the leeway for a record written on another machine's clock. The 24-hour bound allows
    WRITTEN_LATER more: a file fetched and published by another process while this reader
    waited for the store is fresh for 24 hours from a moment after this reader's `now`, and
    refusing it would fetch every such file twice."""
    return now - skew < record.fresh_until <= now + MAX_FRESH + max(skew, WRITTEN_LATER)


def answered(fetched: Fetched) -> bool:
    """An answer worth keeping for its freshness: an HTTP status that is not a server error
    or 429, or more redirects than RFC 9309 asks to follow (unavailable)."""
    return fetched.definitive or (fetched.redirects_exhausted and fetched.error is None)


def good_copy(fetched: Fetched) -> bool:
    """A file that was there (2xx): the only kind of copy used while a refresh fails."""
    return fetched.error is None and fetched.status is not None and 200 <= fetched.status < 300


def _header(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in headers if k.lower() == name]


def cache_lifetime(headers: list[tuple[str, str]]) -> float | None:
    """The RFC 9111 §4.2.1 freshness lifetime the headers give, less the `Age` (None when
    they give none). Conflicting or invalid directives read as the shortest lifetime
    (§4.2.1: "the most restrictive directive should be honored")."""
    found: list[float] = []
    for value in _header(headers, "cache-control"):
        for part in value.split(","):
            name, _, arg = part.partition("=")
            name, arg = name.strip().lower(), arg.strip().strip('"')
            if name in ("no-cache", "no-store"):
                found.append(0.0)
            elif name in ("max-age", "s-maxage"):
                found.append(float(arg) if _SECONDS.fullmatch(arg) else 0.0)
    expires = _header(headers, "expires")
    if not found and expires:
        when = _http_date(expires[0])
        dates = _header(headers, "date")
        date = _http_date(dates[0]) if dates else None
        if when is None:
            found.append(0.0)  # RFC 9111 §5.3: an invalid Expires means already expired
        elif date is not None:
            found.append(max(0.0, when - date))
    if not found:
        return None
    ages = [float(a.strip()) for a in _header(headers, "age") if _SECONDS.fullmatch(a.strip())]
    return max(0.0, min(found) - (max(ages) if ages else 0.0))


def retry_after(headers: list[tuple[str, str]], now: float) -> float | None:
    """Seconds `Retry-After` asks to wait (delay-seconds or an HTTP-date), None if absent or
    unreadable."""
    values = _header(headers, "retry-after")
    if not values:
        return None
    text = values[0].strip()
    if _SECONDS.fullmatch(text):
        return float(text)
    if text.isdigit():  # digits, but not ASCII ones
        return None
    when = _http_date(text)
    return None if when is None else max(0.0, when - now)


def _http_date(text: str) -> float | None:
    try:
        when = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


def parse_duration(text: object) -> float:
    """`604800`, `7d`, `12h`, `30m`, `45s`, `0` as seconds; ValueError for anything else."""
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, (int, float)):
        if not math.isfinite(text) or text < 0:
            raise ValueError(f"not a duration: {text!r}")
        return float(text)
    match = _DURATION.fullmatch(str(text))
    seconds = float(match.group(1)) * _UNITS[match.group(2).lower()] if match else math.inf
    if not math.isfinite(seconds):
        raise ValueError(f"not a duration: {text!r} (e.g. 7d, 12h, 30m or seconds)")
    return seconds


@dataclass(frozen=True)
class Freshness:
    """The rules, with their few knobs. `max_stale` is how old a good copy may be and still
    be used while its file is unreachable (0: never)."""

    max_fresh: float = MAX_FRESH
    min_fresh: float = MIN_FRESH
    max_stale: float = MAX_STALE
    error_first: float = ERROR_FIRST
    error_max: float = ERROR_MAX

    def fresh_for(self, fetched: Fetched) -> float:
        """How long an answer stays fresh: its cache lifetime within [min_fresh, max_fresh]."""
        lifetime = cache_lifetime(fetched.headers)
        if lifetime is None:
            return self.max_fresh
        return min(self.max_fresh, max(self.min_fresh, lifetime))

    def retry_in(self, failed: Fetched, failures: int, now: float) -> float:
        """How long after the `failures`-th failure in a row the file is asked for again."""
        wait = min(self.error_max, self.error_first * 2 ** min(max(failures, 1) - 1, 32))
        asked = retry_after(failed.headers, now)
        return max(wait, min(asked, self.error_max)) if asked is not None else wait

    def may_fall_back_on(self, record: PolicyRecord, now: float) -> bool:
        """May `record` still be used while its file is unreachable?"""
        fetched = record.fetched
        return good_copy(fetched) and \
            -CLOCK_SKEW <= now - (fetched.fetched_at or now) <= self.max_stale

    def after_fetch(self, fetched: Fetched, previous: PolicyRecord | None,
                    now: float) -> PolicyRecord:
        """The record to use and store after a fetch; `previous` is the stored record past
        its freshness, if any."""
        if not fetched.fetched_at:
            fetched = replace(fetched, fetched_at=now)
        if answered(fetched):
            return PolicyRecord(fetched, now + self.fresh_for(fetched))
        failures = (previous.failures if previous is not None else 0) + 1
        why = describe_failure(fetched)
        until = now + self.retry_in(fetched, failures, now)
        if previous is not None and self.may_fall_back_on(previous, now):
            return PolicyRecord(previous.fetched, until, failures, why)
        return PolicyRecord(fetched, until, failures, why)

    def trusted(self, record: PolicyRecord, now: float) -> bool:
        """May this reader use a record its store says is fresh? Not if it claims to be fresh
        for more than 24 hours, nor a stale copy older than this reader allows (its writer
        may allow more). The store's word on freshness stands: Redis decides it with a key
        that expires, whatever the clocks of the nodes say."""
        return record.fresh_until <= now + self.max_fresh + CLOCK_SKEW and (
            not record.stale_copy or self.may_fall_back_on(record, now))

    def usable(self, record: PolicyRecord, now: float) -> bool:
        """Fresh on this machine's clock, and trusted (for reads that claim nothing)."""
        return fresh_at(record, now) and self.trusted(record, now)

    def keep_until(self, record: PolicyRecord) -> float:
        """How long a store keeps a record: a good copy for as long as it may be fallen back
        on; anything else a little past its freshness (so the next failure knows the count)."""
        if good_copy(record.fetched):
            return max(record.fresh_until, (record.fetched.fetched_at or record.fresh_until)
                       + self.max_stale)
        return record.fresh_until + self.error_max


def describe_failure(fetched: Fetched) -> str:
    if fetched.error:
        return fetched.error
    if fetched.status is not None:
        return f"HTTP {fetched.status}"
    return "no response"


__all__ = ["Freshness", "answered", "cache_lifetime", "fresh_at", "good_copy",
           "parse_duration", "retry_after"]
