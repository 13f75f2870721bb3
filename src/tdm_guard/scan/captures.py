"""Policy files captured in WARC files (`--policies-from WARC...`), such as Common Crawl's
`robotstxt/` subset: robots.txt and /.well-known/tdmrep.json captures indexed by origin
(scheme, host, port) and date, and the `OriginPolicy` a record is decided on.

- Every response or revisit record whose target is an origin's `/robots.txt` or
  `/.well-known/tdmrep.json` is a capture, whatever its status: a 404 is "unavailable", a 5xx
  "unreachable" (RFC 9309 §2.3.1, applied by `OriginPolicy.from_fetches` as for a live fetch),
  a 3xx is followed to the capture of its Location (at most 5 hops), and a revisit reads the
  body of the latest earlier capture of the same URL.
- A record captured at time T is decided on each file's capture nearest before T, else the
  nearest after T (a table row without a date: the latest capture). A file with no capture
  (or a redirect to a target not captured) is "not captured": listed in `unchecked`, and read
  as RFC 9309's unreachable file (complete disallow) only with `fail_closed`.
- Sources: WARC files, or files listing WARC paths one a line (Common Crawl's
  `robotstxt.paths.gz`; relative paths are read from the listing's folder).

The index is held in memory: each capture's body up to the fetch limits (robots.txt 500 KiB,
tdmrep.json 1 MiB); docs/limits.md.
"""

from __future__ import annotations

import bisect
import datetime as dt
import gzip
import os
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from ..decide import OriginPolicy
from ..fetched import MAX_REDIRECTS, Fetched
from ..signals.robots import MAX_ROBOTS_BYTES
from ..signals.tdmrep import MAX_TDMREP_BYTES
from ..urls import parse_url, policy_file_urls, try_parse
from .payload import MAX_HTTP_HEADER, read_payload

NOT_CAPTURED = "not captured in the --policies-from WARC files"
MAX_POLICIES_HELD = 100_000
_PATHS = {"/robots.txt": MAX_ROBOTS_BYTES, "/.well-known/tdmrep.json": MAX_TDMREP_BYTES}


@dataclass
class Capture:
    when: float  # WARC-Date as Unix time
    fetched: Fetched
    revisit: bool = False


@dataclass
class CaptureIndex:
    """URL of a policy file -> its captures, sorted by date."""

    by_url: dict[str, list[Capture]] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # files that could not be read (fully)
    _policies: OrderedDict = field(default_factory=OrderedDict, repr=False)

    @classmethod
    def build(cls, sources: Iterable[str]) -> CaptureIndex:
        index = cls()
        for path in expand_sources(sources):
            index.sources.append(path)
            index.add_file(path)
        for captures in index.by_url.values():
            captures.sort(key=lambda c: c.when)
        return index

    def add_file(self, path: str) -> None:
        from fastwarc.warc import ArchiveIterator, WarcRecordType

        wanted = WarcRecordType.response | WarcRecordType.revisit
        try:
            with open(path, "rb") as stream:
                for record in ArchiveIterator(stream, record_types=wanted, parse_http=False,
                                              max_header_len=MAX_HTTP_HEADER):
                    target = (record.headers.get("WARC-Target-URI") or "").strip("<> ")
                    url = try_parse(target)
                    if url is None or url.path not in _PATHS:
                        continue
                    self._add(record, url.href, url.path)
        except Exception as exc:  # noqa: BLE001 - the captures read so far still count
            self.errors.append(f"{path}: unreadable ({type(exc).__name__}: {exc})"[:300])

    def _add(self, record: Any, href: str, path: str) -> None:
        when = parse_warc_date(record.headers.get("WARC-Date"))
        if when is None:
            return
        revisit = str(record.record_type) == "revisit"
        try:
            record.parse_http(auto_decode="none")
            http = record.http_headers
        except Exception as exc:  # noqa: BLE001 - a broken capture is an unreadable fetch
            fetched = Fetched(href, error=f"captured response unreadable ({exc})"[:200],
                              fetched_at=when)
            self.by_url.setdefault(href, []).append(Capture(when, fetched))
            return
        if http is None:
            return
        headers = [(str(k), str(v)) for k, v in http.astuples()]
        status = http.status_code
        body, partial, note = (b"", False, None) if revisit else read_payload(
            record.reader, headers, _PATHS[path])
        limit = _PATHS[path]
        location = next((v for k, v in headers if k.lower() == "location"), None)
        fetched = Fetched(href, status=status, headers=headers, body=body[:limit],
                          error=note if note and not body else None,
                          truncated=partial or len(body) > limit, final_url=href,
                          location=location if status and 300 <= status < 400 else None,
                          fetched_at=when)
        self.by_url.setdefault(href, []).append(Capture(when, fetched, revisit))

    # -- choosing captures ------------------------------------------------------------
    def pick(self, url: str, when: float | None) -> Capture | None:
        """The capture of `url` nearest before `when`, else nearest after (None: latest)."""
        captures = self.by_url.get(url)
        if not captures:
            return None
        if when is None:
            return captures[-1]
        i = bisect.bisect_right([c.when for c in captures], when) \
            if len(captures) > 8 else sum(1 for c in captures if c.when <= when)
        return captures[i - 1] if i > 0 else captures[0]

    def fetched(self, url: str, when: float | None) -> tuple[Fetched | None, str]:
        """The capture a record at `when` reads for `url` (redirects followed, revisits
        read), or (None, why not)."""
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            capture = self.pick(current, when)
            if capture is None:
                return None, NOT_CAPTURED if current == url else \
                    f"redirected to {current}, {NOT_CAPTURED}"
            found = capture.fetched
            if capture.revisit:
                earlier = [c for c in self.by_url[current] if not c.revisit
                           and c.when <= capture.when]
                if not earlier:
                    return None, f"revisit of {current} without an earlier capture"
                found = Fetched(url, status=earlier[-1].fetched.status,
                                headers=earlier[-1].fetched.headers,
                                body=earlier[-1].fetched.body,
                                truncated=earlier[-1].fetched.truncated,
                                fetched_at=capture.when)
            if found.location and found.status and 300 <= found.status < 400:
                current = urljoin(current, found.location)
                target = try_parse(current)
                if target is None:
                    return Fetched(url, status=found.status, fetched_at=found.fetched_at), ""
                current = target.href
                continue
            if current != url or found.url != url:
                found = Fetched(url, status=found.status, headers=found.headers,
                                body=found.body, error=found.error, truncated=found.truncated,
                                final_url=current, fetched_at=found.fetched_at)
            return found, ""
        return Fetched(url, redirects_exhausted=True, fetched_at=when or 0.0), ""

    def policy(self, origin: str, warc_date: str | None, fail_closed: bool) -> OriginPolicy:
        """The policy of `origin` for a record captured at `warc_date`."""
        when = parse_warc_date(warc_date)
        robots_url, tdmrep_url = policy_file_urls(origin)
        robots, why_robots = self.fetched(robots_url, when)
        tdmrep, why_tdmrep = self.fetched(tdmrep_url, when)
        key = (origin, _identity(robots), _identity(tdmrep))
        found = self._policies.get(key)
        if found is not None:
            return found
        if fail_closed:  # RFC 9309 unreachable: complete disallow; TDMRep: a reservation
            robots = robots or Fetched(robots_url, error=why_robots)
            tdmrep = tdmrep or Fetched(tdmrep_url, error=why_tdmrep)
        why = why_robots or why_tdmrep
        policy = OriginPolicy.from_fetches(origin, robots, tdmrep, why)
        urls = policy.licence_urls()
        if urls:
            policy = policy.with_licences(
                [self.fetched(u, when)[0] or Fetched(u, error=NOT_CAPTURED) for u in urls])
        self._policies[key] = policy
        if len(self._policies) > MAX_POLICIES_HELD:
            self._policies.popitem(last=False)
        return policy

    @property
    def origins(self) -> set[str]:
        return {parse_url(u).origin for u in self.by_url}


def _identity(f: Fetched | None) -> tuple | None:
    """What makes two captures the same file (bodies cache their hash)."""
    if f is None:
        return None
    return (f.url, f.status, f.error, f.fetched_at, f.truncated, f.redirects_exhausted,
            f.final_url, len(f.body), hash(f.body))


def parse_warc_date(text: str | None) -> float | None:
    """A WARC-Date (ISO 8601; truncated forms too, read as UTC) as Unix time, or None."""
    if not text:
        return None
    value = text.strip()
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = dt.datetime.fromisoformat(value[:10])
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def expand_sources(values: Iterable[str]) -> list[str]:
    """WARC paths: each value is a WARC file or a listing of them (one a line, gzip too);
    ValueError naming a file that cannot be read."""
    out: list[str] = []
    for value in values:
        path = Path(value)
        try:
            with open(path, "rb") as f:
                head = f.read(2)
            opener = gzip.open if head == b"\x1f\x8b" else open
            with opener(path, "rb") as f:
                start = f.read(5)
        except (OSError, EOFError) as exc:
            raise ValueError(f"--policies-from {value}: cannot be read "
                             f"({getattr(exc, 'strerror', None) or exc})") from None
        if start == b"WARC/":
            out.append(str(path))
            continue
        try:
            with opener(path, "rb") as f:
                for raw in f:
                    line = raw.decode("utf-8", "replace").strip()
                    if line and not line.startswith("#"):
                        item = Path(line)
                        out.append(str(item if item.is_absolute() else path.parent / item))
        except (OSError, EOFError) as exc:
            raise ValueError(f"--policies-from {value}: cannot be read ({exc})") from None
    missing = [p for p in out if not os.path.isfile(p)]
    if missing:
        raise ValueError(f"--policies-from: no such WARC file: {missing[0]}"
                         + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    return out


__all__ = ["NOT_CAPTURED", "Capture", "CaptureIndex", "expand_sources", "parse_warc_date"]
