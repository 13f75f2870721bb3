"""The declaration and licence data: what a rightsholder said in public, and what a team holds.

A declaration (`tdm-guard/declaration/v1`) names its sources, contacts and matchers; a
licence (`tdm-guard/licence/v1`) exempts content from one declaration for the purposes it
names, within its dates and domains. Loading and validation are in `loading`, matching in
`matching`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

from ..model import Purpose

DECLARATION_SCHEMA = "tdm-guard/declaration/v1"
LICENCE_SCHEMA = "tdm-guard/licence/v1"
_CONFIDENCE_RANK = {"U": 0, "L": 1, "M": 2, "H": 3}


class PolicyError(ValueError):
    """A policy or licence file that cannot be used; the message names the file and field."""


@dataclass(frozen=True)
class DomainMatcher:
    """A declaration's host: pages under `domain` are the entity's."""

    domain: str
    entity: str
    coverage: str
    confidence: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class NameMatcher:
    """A label or publisher name (with aliases) that identifies the entity's content."""

    kind: str  # label | publisher
    name: str
    names: frozenset[str]  # normalised name and aliases
    entity: str
    confidence: str
    ambiguous: bool


@dataclass(frozen=True)
class NoticeMatcher:
    """A notice pattern (a regex, e.g. a copyright line) read in the named metadata fields."""

    fields: frozenset[str]
    regex: re.Pattern[str]
    confidence: str


@dataclass(frozen=True)
class Declaration:
    """One published opt-out (policies/*.json): who reserved what, for which purposes."""

    id: str
    title: str
    rightsholder: str
    published: str
    path: str
    statement_url: str | None
    purposes: frozenset[Purpose]
    contacts: tuple[str, ...]
    domains: tuple[DomainMatcher, ...] = ()
    names: tuple[NameMatcher, ...] = ()
    notices: tuple[NoticeMatcher, ...] = ()
    min_confidence: str = "M"
    scope: str = "owned-or-controlled"
    sha256: str = ""  # of the file as read: the version a decision used (audit-log headers)

    def confident(self, confidence: str) -> bool:
        return _CONFIDENCE_RANK[confidence] >= _CONFIDENCE_RANK[self.min_confidence]

    def blocks(self, matcher: DomainMatcher) -> bool:
        return matcher.coverage in ("full", "mostly") and self.confident(matcher.confidence)

    @property
    def label(self) -> str:
        return f'{self.rightsholder}, "{self.title}", {self.published} [{self.id}]'


@dataclass(frozen=True)
class Licence:
    """A licence the user holds: it exempts content from a declaration, or was obtained under
    an RSL document."""

    id: str
    declaration: str | None  # the declaration it exempts from, or None (an RSL licence)
    licensee: str
    granted_by: str
    reference: str
    purposes: frozenset[Purpose]
    domains: tuple[str, ...] = ()
    valid_from: str | None = None
    valid_until: str | None = None
    path: str = ""
    rsl: str | None = None  # the RSL document (URL) it was obtained under
    sha256: str = ""  # of the file as read

    def covers(self, purpose: Purpose, host: str, today: dt.date) -> bool:
        if self.valid_from and today < dt.date.fromisoformat(self.valid_from):
            return False
        if self.valid_until and today > dt.date.fromisoformat(self.valid_until):
            return False
        if self.domains and not any(host == d or host.endswith("." + d) for d in self.domains):
            return False
        return Purpose.TDM in self.purposes or purpose in self.purposes

    def note(self) -> str:
        until = f", valid until {self.valid_until}" if self.valid_until else ""
        return (f"exempt: licence {self.id} ({self.reference}) granted by {self.granted_by} "
                f"to {self.licensee}{until}")



def normalise_name(name: str) -> str:
    """A name as matchers compare it (case folded, `&` read as "and", spaces collapsed)."""
    if len(name) <= 256:
        return _normalised(name)
    return _normalise(name)


@lru_cache(maxsize=4096)
def _normalised(name: str) -> str:
    return _normalise(name)


def _normalise(name: str) -> str:
    return " ".join(name.casefold().replace("&", " and ").split()).strip(" .,;")

