"""One record, one decision: the per-record step every scan engine composes.

`RecordView` is what a reader hands over for one record (a WARC response, resource or revisit
record, a table row, a datatrove document): its URL, capture date, HTTP status, headers (as
repeated pairs: a header sent twice is two pairs) and the head of its payload, already
Content-Encoding-decoded within a bound. `decide_record` turns it into one decision row (the
columns of `batch.DECISION_SCHEMA`) through the one `Evaluator`: the scan, `check` and the
Scrapy middleware read every signal with the same code, so they cannot disagree.

Pure CPU: no I/O. The origin's policy (`OriginPolicy`) is resolved beforehand (live through
the policy store, from captures, or offline), and the RSL documents a page links to are
passed in as fetched (`licences`), or read as not fetched.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..decide import Evaluator, OriginPolicy, PageResponse
from ..fetched import Fetched
from ..model import Decision
from ..urls import URL, InvalidURL, parse_url

_AS_OF = threading.Lock()  # `as_of_capture` sets the declarations' day for one evaluation
NO_PAGE = "a URL table row: origin policies and declarations only (no captured response)"
LICENCE_NOT_FETCHED = "not fetched (the scan reads policy files only from its policy source)"
COLUMNS = ("input", "offset", "length", "row", "record_id", "url", "warc_date", "allowed",
           "fetch_allowed", "reserved_by", "reserved_for", "reasons", "policy_sha256", "error")


@dataclass(frozen=True)
class RecordView:
    """What a reader knows of one record. `status is None` and no headers: a table row (no
    captured response); otherwise a captured response (a revisit has headers, no body)."""

    url: str
    warc_date: str | None = None  # ISO 8601 (WARC-Date), None for a table row without one
    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)  # repeated headers repeated
    body: bytes = b""  # the payload's head, Content-Encoding decoded (bounded)
    partial: bool = False  # `body` is the first part of a larger payload
    page_note: str | None = None  # why the payload could not be read (reported in unchecked)
    # provenance: where the record is
    input: str | None = None
    offset: int | None = None  # WARC: the record's gzip member (or byte range) offset
    length: int | None = None  # ... and length
    record_id: str | None = None  # WARC-Record-ID
    row: int | None = None  # tables: the row number (0-based)
    error: str | None = None  # the record could not be read: an error row, never a decision

    @property
    def has_page(self) -> bool:
        return self.status is not None or bool(self.headers) or bool(self.body)

    def page(self) -> PageResponse | None:
        if not self.has_page:
            return None
        return PageResponse(self.status, list(self.headers), self.body, partial=self.partial,
                            fetched_at=self.warc_date)


def capture_day(warc_date: str | None) -> dt.date | None:
    """The day of a WARC-Date (`2024-05-17T23:31:22Z`, truncated forms too); None if none."""
    if not warc_date or len(warc_date) < 10:
        return None
    try:
        return dt.date.fromisoformat(warc_date[:10])
    except ValueError:
        return None


Licences = Mapping[str, Fetched] | Callable[[list[str]], Mapping[str, Fetched]]


def decide_record(view: RecordView, policy: OriginPolicy | None, evaluator: Evaluator,
                  licences: Licences | None = None,
                  as_of_capture: bool = False, parsed: URL | None = None) -> dict[str, Any]:
    """The decision row of `view` on its origin's `policy` (None only for a record whose URL
    does not parse, or one with `error` set: an error row). `licences`: the RSL documents
    fetched for this page's links, by URL, or a function fetching them (called only for a
    page that links to some); the others read as not fetched. `as_of_capture`: declarations
    and licences as of the capture's day (`--as-of capture`). `parsed`: `view.url` already
    parsed by `urls.parse_url` (a caller that parsed it to find the origin)."""
    if view.error is not None:
        return error_row(view, view.error)
    try:
        url = parsed if parsed is not None else parse_url(view.url)
    except InvalidURL as exc:
        return error_row(view, f"not a URL: {exc}")
    if policy is None:
        return error_row(view, "no policy for its origin")
    page = view.page()
    if page is not None:
        wanted = page.licence_urls(url.href)
        if wanted:
            found = (licences(wanted) if callable(licences) else licences) or {}
            page = page.with_licences([found.get(u) or Fetched(u, error=LICENCE_NOT_FETCHED)
                                       for u in wanted])
    note = view.page_note if page is not None else NO_PAGE
    if not as_of_capture:
        decision = evaluator.evaluate(url, policy, page, page_note=note)
    else:  # the declarations' day is the evaluator's state: one record at a time
        declarations = evaluator.declarations
        with _AS_OF:
            previous = declarations.as_of
            declarations.as_of = capture_day(view.warc_date) or previous
            try:
                decision = evaluator.evaluate(url, policy, page, page_note=note)
            finally:
                declarations.as_of = previous
    return decision_row(view, url, decision, policy, page)


def decision_row(view: RecordView, url: URL, decision: Decision, policy: OriginPolicy,
                 page: PageResponse | None) -> dict[str, Any]:
    reserved = [r for r in decision.reasons if r.reserved]
    if page is not None and page.provenance:
        used = {u: sha for u, (sha, _) in policy.provenance.items() if sha}
        used.update({u: sha for u, (sha, _) in page.provenance.items() if sha})
        hashes = json.dumps(used, sort_keys=True)
    else:
        hashes = _policy_hashes(policy)
    return {
        **_provenance(view), "url": url.href,
        "allowed": decision.allowed, "fetch_allowed": decision.fetch_allowed,
        "reserved_by": sorted({r.signal for r in reserved}),
        "reserved_for": sorted({p.value for r in reserved for p in r.purposes}),
        "reasons": json.dumps(decision.to_dict(), ensure_ascii=False),
        "policy_sha256": hashes,
        "error": None,
    }


_HASHES: dict[int, tuple[OriginPolicy, str]] = {}


def _policy_hashes(policy: OriginPolicy) -> str:
    """The JSON map of the policy's file hashes, made once per policy object (the same
    objects serve every record of an origin)."""
    found = _HASHES.get(id(policy))
    if found is not None and found[0] is policy:
        return found[1]
    text = json.dumps({u: sha for u, (sha, _) in policy.provenance.items() if sha},
                      sort_keys=True)
    if len(_HASHES) > 4096:
        _HASHES.clear()
    _HASHES[id(policy)] = (policy, text)
    return text


def error_row(view: RecordView, error: str) -> dict[str, Any]:
    """The row of a record that could not be decided: `allowed` is null, never allowed."""
    return {**_provenance(view), "url": view.url, "allowed": None, "fetch_allowed": None,
            "reserved_by": [], "reserved_for": [], "reasons": None, "policy_sha256": None,
            "error": error}


def _provenance(view: RecordView) -> dict[str, Any]:
    return {"input": view.input, "offset": view.offset, "length": view.length, "row": view.row,
            "record_id": view.record_id, "warc_date": view.warc_date}


__all__ = ["COLUMNS", "RecordView", "capture_day", "decide_record", "decision_row",
           "error_row"]
