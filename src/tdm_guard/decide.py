"""Combine every signal's findings into one `Decision`. The single source of truth for rules:
the CLI and the Scrapy middleware both call `Evaluator.evaluate`.

Combination (draft-ietf-aipref-vocab §7.1, applied across all signals): a purpose is reserved
when any statement that speaks to it reserves it; TDMRep layers are first resolved among
themselves by the report's precedence rules. A robots.txt Disallow for the crawler's own
token forbids fetching at all, whatever else is said.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from . import agents, aipref, content, html, noai, tdmrep
from .declarations import DeclarationSet
from .model import (
    CONTENT_SIGNAL,
    CONTENT_USAGE,
    ROBOTS,
    TDMREP_FILE,
    Decision,
    Profile,
    Purpose,
    Reason,
)
from .patterns import url_path
from .robots import RobotsResult, RobotsStatus, RobotsTxt
from .tdmrep import TdmRepFile

TRAIN = frozenset({Purpose.TRAIN})


def origin_of(url: str) -> str:
    """scheme://host[:port] (robots.txt and tdmrep.json are per origin: RFC 9309 §2.3)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


@dataclass(frozen=True)
class OriginPolicy:
    """What an origin's policy files said. `None` means the file was not consulted."""

    origin: str
    robots: RobotsResult | None = None
    tdmrep: TdmRepFile | None = None
    not_consulted: str = ""  # why robots.txt / tdmrep.json were not consulted


@dataclass(frozen=True)
class PageResponse:
    """The part of a page's response that carries signals: status, headers, head of the body."""

    status: int | None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""  # at most the first html.MAX_HEAD_BYTES

    @property
    def content_type(self) -> str:
        for name, value in self.headers:
            if name.lower() == "content-type":
                return value.split(";")[0].strip().lower()
        return ""


# Per parsed robots.txt: the distinct group selections of the AI-training tokens it names.
_AI_SETS: weakref.WeakKeyDictionary[RobotsTxt, list[tuple[str, list[str]]]] = (
    weakref.WeakKeyDictionary()
)


def _ai_training_sets(robots: RobotsTxt) -> list[tuple[str, list[str]]]:
    """[(representative name, [names sharing its groups]), ...], computed once per file."""
    cached = _AI_SETS.get(robots)
    if cached is not None:
        return cached
    sets: dict[tuple[int, ...], tuple[str, list[str]]] = {}
    seen: set[str] = set()
    for value in robots.agent_values():
        entry = agents.lookup(value)
        if entry is None or Purpose.TRAIN not in entry.purposes or value.lower() in seen:
            continue
        seen.add(value.lower())
        groups, _ = robots.select(value)
        key = tuple(id(g) for g in groups)
        sets.setdefault(key, (value, []))[1].append(value)
    result = list(sets.values())
    _AI_SETS[robots] = result
    return result


class Evaluator:
    """Decides for one agent, purpose and profile. Stateless apart from read-only caches."""

    def __init__(
        self,
        agent: str = "tdm-guard",
        purpose: Purpose | str = Purpose.TRAIN,
        profile: Profile | str = Profile.STRICT,
        declarations: DeclarationSet | None = None,
        fail_closed: bool = False,
    ) -> None:
        """`fail_closed`: read an unreachable tdmrep.json (5xx, 429, timeout, network error)
        as a reservation. TDMRep says such a server "does not implement this protocol"
        (unset); the switch is for teams whose lawyers prefer the cautious reading."""
        self.fail_closed = fail_closed
        self.agent = agent
        self.purpose = Purpose(purpose)
        self.profile = Profile(profile)
        self.declarations = declarations if declarations is not None else DeclarationSet.load()

    # -- the one entry point --------------------------------------------------------
    def evaluate(
        self,
        url: str,
        origin: OriginPolicy,
        page: PageResponse | None = None,
        page_note: str | None = None,
    ) -> Decision:
        """Decide for `url` from its origin's policy files and, after download, its response."""
        path = url_path(url)
        reasons: list[Reason] = []
        unchecked: list[str] = []

        robots = origin.robots
        if robots is None:
            unchecked.append(f"robots.txt: {origin.not_consulted or 'not consulted'}")
        else:
            reasons += self._robots_reasons(robots, path)
        if origin.tdmrep is None:
            unchecked.append(f"tdmrep.json: {origin.not_consulted or 'not consulted'}")
        elif origin.tdmrep.unreachable and self.fail_closed:
            reasons.append(Reason(
                TDMREP_FILE, True, origin.tdmrep.url,
                f"tdmrep.json unreachable ({origin.tdmrep.detail})",
                note="fail-closed: an unreadable tdmrep.json is read as a reservation"))

        head = None
        if page is not None and ("html" in page.content_type or not page.content_type):
            head = html.scan_head(page.body)
        if page_note:
            unchecked.append(f"page headers and HTML meta: {page_note}")

        tdm_reasons, policy = tdmrep.layered_reasons(
            url, origin.tdmrep, path,
            tdmrep.header_layer(page.headers) if page else None,
            tdmrep.meta_layer(head.metas) if head else None,
        )
        reasons += tdm_reasons
        if page is not None:
            reasons += noai.header_reasons(url, page.headers, self.agent)
            reasons += _header_usage_reasons(url, page.headers)
            if head is not None:
                reasons += noai.meta_reasons(url, head.metas, self.agent)
        reasons += self.declarations.reasons(url, self.purpose)
        if page is not None:
            values = content.from_jsonld(head.jsonld) if head is not None else []
            values += content.from_id3(page.body)
            reasons += self.declarations.content_reasons(url, values, self.purpose)

        relevant = [r for r in reasons if r.applies_to(self.purpose)]
        contacts: list[str] = []
        for r in relevant:
            if r.reserved:
                contacts += [c for c in r.contacts if c not in contacts]
        return Decision(
            url=url,
            agent=self.agent,
            purpose=self.purpose,
            allowed=not any(r.reserved for r in relevant),
            reasons=relevant,
            policy=policy,
            contacts=contacts,
            unchecked=unchecked,
        )

    # -- robots.txt ---------------------------------------------------------------------
    def _robots_reasons(self, result: RobotsResult, path: str) -> list[Reason]:
        if result.status is RobotsStatus.UNREACHABLE:
            return [Reason(
                ROBOTS, True, result.url,
                f"robots.txt unreachable ({result.detail}): RFC 9309 §2.3.1.4, the crawler "
                "MUST assume complete disallow", agent=self.agent, access=True)]
        if result.status is RobotsStatus.UNAVAILABLE:
            return [Reason(
                ROBOTS, False, result.url,
                f"robots.txt unavailable ({result.detail}): RFC 9309 §2.3.1.3, the crawler MAY "
                "access any resources", agent=self.agent)]
        robots = result.robots
        assert robots is not None
        match = robots.access(path, self.agent)
        if match.rule is not None:
            evidence = match.rule.line.evidence()
        elif path == "/robots.txt":
            evidence = "/robots.txt is implicitly allowed (RFC 9309 §2.2.2)"
        elif match.group_found:
            evidence = f"no rule matches {path} in the group for '{match.agent}'"
        else:
            evidence = f"no group for '{self.agent}' and no '*' group"
        reasons = [Reason(ROBOTS, not match.allowed, result.url, evidence,
                          agent=match.agent, access=True)]
        strict = self.profile is Profile.STRICT
        if strict and self.purpose in (Purpose.TRAIN, Purpose.TDM):
            reasons += self._ai_group_reasons(result, robots, path)
        reasons += self._robots_usage_reasons(result, robots, path, include_star=strict)
        return reasons

    def _ai_group_reasons(self, result: RobotsResult, robots: RobotsTxt, path: str) -> list[Reason]:
        """Strict profile: a Disallow aimed at a known AI-training crawler or control token."""
        own = self.agent.lower()
        out = []
        for _name, names in _ai_training_sets(robots):
            others = [n for n in names if n.lower() != own]
            if not others:
                continue
            match = robots.access(path, others[0])
            if match.allowed or match.rule is None:
                continue
            entry = agents.lookup(others[0])
            kind = f"{entry.kind}, {entry.operator}" if entry and entry.operator else (
                entry.kind if entry else "AI agent")
            note = (f"inferred: the site disallows the AI-training agent {others[0]} ({kind}); "
                    "the strict profile reads this as a reservation against AI training")
            if len(others) > 1:
                shown = ", ".join(others[1:6]) + (", ..." if len(others) > 6 else "")
                note += f"; the same rule covers {len(others) - 1} more AI agents: {shown}"
            out.append(Reason(ROBOTS, True, result.url, match.rule.line.evidence(),
                              purposes=TRAIN, agent=others[0], note=note))
        return out

    def _robots_usage_reasons(
        self, result: RobotsResult, robots: RobotsTxt, path: str, include_star: bool
    ) -> list[Reason]:
        reasons: list[Reason] = []
        # Content-Usage: per label, the most specific matching rule; ties most restrictive.
        best: dict[str, tuple[int, bool, str, str, frozenset[Purpose]]] = {}
        for line, group in robots.statements("content-usage", self.agent, include_star):
            pattern, pref = aipref.split_robots_usage(line.value)
            if pattern is not None and not pattern.match(path):
                continue
            length = pattern.length if pattern is not None else 0
            for p in aipref.parse_content_usage(pref):
                current = best.get(p.label)
                if (current is None or length > current[0]
                        or (length == current[0] and not p.allowed)):
                    best[p.label] = (length, p.allowed, line.evidence(), group, p.purposes)
        for label, (_, allowed, evidence, group, purposes) in best.items():
            reasons.append(Reason(CONTENT_USAGE, not allowed, result.url,
                                  f"{evidence} ({label}={'y' if allowed else 'n'})",
                                  purposes=purposes, note=_group_note(group, self.agent)))
        # Content-Signal: no paths; the most restrictive value per key.
        signals: dict[str, tuple[bool, str, str, frozenset[Purpose]]] = {}
        for line, group in robots.statements("content-signal", self.agent, include_star):
            for p in aipref.parse_content_signal(line.value):
                current = signals.get(p.label)
                if current is None or (current[0] and not p.allowed):
                    signals[p.label] = (p.allowed, line.evidence(), group, p.purposes)
        for key, (allowed, evidence, group, purposes) in signals.items():
            reasons.append(Reason(CONTENT_SIGNAL, not allowed, result.url,
                                  f"{evidence} ({key}={'yes' if allowed else 'no'})",
                                  purposes=purposes, note=_group_note(group, self.agent)))
        return reasons


def _group_note(group: str, agent: str) -> str | None:
    if group == "*" or group.lower() == agent.lower():
        return None
    return f"from the group for '{group}'"


def _header_usage_reasons(url: str, headers: list[tuple[str, str]]) -> list[Reason]:
    """Content-Usage and Content-Signal response headers; each field line is a statement."""
    reasons = []
    for name, value in headers:
        lname = name.strip().lower()
        if lname == "content-usage":
            for p in aipref.parse_content_usage(value):
                reasons.append(Reason(CONTENT_USAGE, not p.allowed, url,
                                      f"Content-Usage: {value.strip()} ({p.label})",
                                      purposes=p.purposes))
        elif lname == "content-signal":
            for p in aipref.parse_content_signal(value):
                reasons.append(Reason(CONTENT_SIGNAL, not p.allowed, url,
                                      f"Content-Signal: {value.strip()} ({p.label})",
                                      purposes=p.purposes))
    return reasons


__all__ = ["Evaluator", "OriginPolicy", "PageResponse", "origin_of"]
