"""The public decision model: purposes, signal ids, `Reason` and `Decision`.

Every signal module returns `Reason` objects; `tdm_guard.decide` combines them into a
`Decision`. Nothing here does I/O.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Purpose(StrEnum):
    """What the crawler wants to do with the content.

    `tdm` is the umbrella ("any mining"): a crawler that declares it must respect every
    reservation, whatever purpose the reservation names. A reservation that names `tdm`
    (TDMRep, aipref `all`, a declaration of "any text or data mining") binds every purpose.
    """

    TRAIN = "train"  # train or fine-tune AI models (aipref train-ai, Content-Signal ai-train)
    INPUT = "input"  # inference-time use: RAG, grounding (Content-Signal ai-input)
    SEARCH = "search"  # a classic search index (aipref search, Content-Signal search)
    TDM = "tdm"  # any automated analysis (TDMRep, declarations)

    def __str__(self) -> str:
        return self.value


ALL_PURPOSES: frozenset[Purpose] = frozenset(Purpose)
TRAIN: frozenset[Purpose] = frozenset({Purpose.TRAIN})  # statements that speak to training only


class Profile(StrEnum):
    """How far a robots.txt speaks for usage.

    `strict` (default): a Disallow aimed at any known AI-training crawler or control token
    (GPTBot, CCBot, Google-Extended...) reserves the URL for training, and usage statements
    (Content-Usage, Content-Signal) of the `*` group count even when the agent has its own
    group. `standard`: only the agent's own group (or `*` when it has none) counts, exactly as
    RFC 9309 and draft-ietf-aipref-attach select groups.
    """

    STRICT = "strict"
    STANDARD = "standard"

    def __str__(self) -> str:
        return self.value


# Stable signal ids: they appear in JSON output, audit logs and Scrapy stats.
ROBOTS = "robots"
TDMREP_FILE = "tdmrep-file"
TDMREP_HEADER = "tdmrep-header"
TDMREP_META = "tdmrep-meta"
NOAI_HEADER = "noai-header"
NOAI_META = "noai-meta"
CONTENT_USAGE = "content-usage"
CONTENT_SIGNAL = "content-signal"
DECLARATION = "declaration"
# Reservations inside files, and RSL licences (issue 12)
TDMREP_EPUB = "tdmrep-epub"
TDMREP_PDF = "tdmrep-pdf"
IPTC = "iptc"
C2PA = "c2pa"
RSL = "rsl"
SIGNALS: tuple[str, ...] = (
    ROBOTS,
    TDMREP_FILE,
    TDMREP_HEADER,
    TDMREP_META,
    NOAI_HEADER,
    NOAI_META,
    CONTENT_USAGE,
    CONTENT_SIGNAL,
    DECLARATION,
    TDMREP_EPUB,
    TDMREP_PDF,
    IPTC,
    C2PA,
    RSL,
)

# The standards the signals implement, with the versions followed (docs/standards.md quotes
# the clauses): what a compliance report names as "the protocols checked".
STANDARDS: tuple[dict[str, Any], ...] = (
    {"name": "Robots Exclusion Protocol", "version": "RFC 9309", "signals": [ROBOTS]},
    {"name": "W3C TDM Reservation Protocol (TDMRep)",
     "version": "Community Group Final Report, 10 May 2024",
     "signals": [TDMREP_FILE, TDMREP_HEADER, TDMREP_META, TDMREP_EPUB, TDMREP_PDF]},
    {"name": "IETF AI Preferences vocabulary", "version": "draft-ietf-aipref-vocab-08",
     "signals": [CONTENT_USAGE]},
    {"name": "IETF AI Preferences attachment (Content-Usage in robots.txt and HTTP)",
     "version": "draft-ietf-aipref-attach-05", "signals": [CONTENT_USAGE]},
    {"name": "HTTP Structured Field Values", "version": "RFC 9651", "signals": [CONTENT_USAGE]},
    {"name": "Cloudflare Content Signals Policy (Content-Signal)",
     "version": "search / ai-input / ai-train (draft-romm-aipref-contentsignals-00)",
     "signals": [CONTENT_SIGNAL]},
    {"name": "noai / noimageai (X-Robots-Tag, robots meta)", "version": "de facto values",
     "signals": [NOAI_HEADER, NOAI_META]},
    {"name": "Really Simple Licensing (RSL)", "version": "RSL 1.0, Recommendation 2025-11-06",
     "signals": [RSL]},
    {"name": "CAWG Training and Data Mining Assertion (C2PA manifests)",
     "version": "1.1 (ratified 2025-05-16)", "signals": [C2PA]},
    {"name": "IPTC Photo Metadata, PLUS Data Mining (plus:DataMining)",
     "version": "IPTC Photo Metadata 2023.1", "signals": [IPTC]},
    {"name": "Published rightsholder declarations", "version": "tdm-guard/declaration/v1",
     "signals": [DECLARATION]},
)


@dataclass(frozen=True)
class Reason:
    """One piece of evidence: which signal said what, where.

    `reserved` is True when this statement reserves the content (or forbids access) for the
    purposes in `purposes`; False when it was checked and allows, or was superseded.
    `evidence` is the exact line or value, prefixed with its line number where there is one.
    """

    signal: str
    reserved: bool
    source: str
    evidence: str
    purposes: frozenset[Purpose] = ALL_PURPOSES
    agent: str | None = None  # robots: the user-agent token whose group decided
    access: bool = False  # robots only: True when this reason forbids fetching at all
    note: str | None = None  # e.g. "superseded by the tdm-reservation header"
    contacts: tuple[str, ...] = ()  # whom to ask for a licence, where the signal names it
    policy: str | None = None  # TDMRep tdm-policy URL carried by this statement
    failure: bool = False  # a file that could not be read, read conservatively (retry later)
    sha256: str | None = None  # the fetched file this came from: sha256 of its body
    fetched_at: str | None = None  # ... and when it was fetched (ISO 8601, UTC)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "signal": self.signal,
            "reserved": self.reserved,
            "source": self.source,
            "evidence": self.evidence,
            "purposes": sorted(p.value for p in self.purposes),
        }
        if self.signal == ROBOTS:
            out["agent"] = self.agent
        if self.note:
            out["note"] = self.note
        if self.contacts:
            out["contacts"] = list(self.contacts)
        if self.policy:
            out["policy"] = self.policy
        if self.failure:
            out["failure"] = True
        if self.sha256:
            out["sha256"] = self.sha256
        if self.fetched_at:
            out["fetched_at"] = self.fetched_at
        return out


_stamp: tuple[int, str] = (0, "")


def _now() -> str:
    """The current UTC time to the second (formatted once per second: a hot path)."""
    global _stamp
    second = int(time.time())
    if _stamp[0] != second:
        _stamp = (second, datetime.fromtimestamp(second, UTC).isoformat())
    return _stamp[1]


@dataclass(slots=True)
class Decision:
    """The answer for one URL, agent and purpose, with every reason behind it."""

    url: str
    agent: str
    purpose: Purpose
    allowed: bool
    reasons: list[Reason] = field(default_factory=list)
    policy: str | None = None  # TDMRep tdm-policy of the effective reservation
    contacts: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)  # signals that could not be read, and why
    checked_at: str = field(default_factory=_now)
    error: str | None = None
    # What `Evaluator.evaluate` read (a `decide.Inputs`): never serialised, for the writers of
    # snapshots (the evidence a decision can be re-derived from); None for `undecided`.
    inputs: Any = field(default=None, repr=False, compare=False)
    content_type: str | None = field(default=None, repr=False, compare=False)  # the page's
    # What a decision before download read from the origin's files alone (`Evaluator.evaluate`
    # with `before=`): reused after download for the same URL; never serialised.
    basis: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def undecided(cls, url: str, agent: str, purpose: Purpose | str, error: str) -> Decision:
        """The answer for an input that could not be decided (not a URL, an internal error):
        `allowed` is null in JSON and `error` says why; it never counts as allowed."""
        try:
            purpose = Purpose(purpose)
        except ValueError:
            purpose = Purpose.TRAIN
        return cls(url, agent, purpose, False, error=error)

    @property
    def fetch_allowed(self) -> bool:
        """False when robots.txt forbids fetching the URL at all (never fetch, in any mode)."""
        return not any(r.reserved and r.access for r in self.reasons)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "url": self.url,
            "agent": self.agent,
            "purpose": self.purpose.value,
            "allowed": None if self.error else self.allowed,
            "reasons": [r.to_dict() for r in self.reasons],
            "policy": self.policy,
            "contacts": self.contacts,
            "unchecked": self.unchecked,
            "checked_at": self.checked_at,
        }
        if self.error:
            out["error"] = self.error
        return out
