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
from functools import lru_cache
from urllib.parse import urlsplit

from . import agents, aipref, content, html, noai, tdmrep
from .declarations import DeclarationSet
from .fetched import Fetched
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
from .patterns import SCHEME_NETLOC, PathPattern, url_path
from .robots import ROBOTS_PATH, RobotsResult, RobotsStatus, RobotsTxt, RuleList
from .tdmrep import WELL_KNOWN_PATH, TdmRepFile

TRAIN = frozenset({Purpose.TRAIN})


def origin_of(url: str) -> str:
    """scheme://host[:port] (robots.txt and tdmrep.json are per origin: RFC 9309 §2.3)."""
    m = SCHEME_NETLOC.match(url)
    if m is not None:
        return _origin(m.group(1), m.group(2))
    return _origin_of_split(url)


@lru_cache(maxsize=65536)
def _origin(scheme: str, netloc: str) -> str:
    return _origin_of_split(f"{scheme}://{netloc}/")


def _origin_of_split(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


def policy_file_urls(origin: str) -> tuple[str, str]:
    """The two files fetched per origin: robots.txt and /.well-known/tdmrep.json."""
    return origin + ROBOTS_PATH, origin + WELL_KNOWN_PATH


@dataclass(frozen=True)
class OriginPolicy:
    """What an origin's policy files said. `None` means the file was not consulted."""

    origin: str
    robots: RobotsResult | None = None
    tdmrep: TdmRepFile | None = None
    not_consulted: str = ""  # why robots.txt / tdmrep.json were not consulted

    @classmethod
    def from_fetches(cls, origin: str, robots: Fetched | None, tdmrep: Fetched | None,
                     not_consulted: str = "") -> OriginPolicy:
        """Apply each file's fetch rules (RFC 9309 §2.3.1, TDMRep) to how its fetch ended,
        whoever fetched it (the CLI with requests, the Scrapy plugin with its engine)."""
        return cls(
            origin,
            robots=None if robots is None else RobotsResult.from_response(
                robots.url, robots.status, robots.body, robots.error, robots.redirects_exhausted),
            tdmrep=None if tdmrep is None else TdmRepFile.from_response(
                tdmrep.url, tdmrep.status, tdmrep.body,
                tdmrep.error or ("more than 5 redirects" if tdmrep.redirects_exhausted
                                 else None)),
            not_consulted=not_consulted,
        )

    @classmethod
    def unreachable(cls, origin: str, detail: str) -> OriginPolicy:
        """Both files unreachable (a failure before any answer): robots.txt disallows all."""
        robots_url, tdmrep_url = policy_file_urls(origin)
        return cls.from_fetches(origin, Fetched(robots_url, error=detail),
                                Fetched(tdmrep_url, error=detail))


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


class _RobotsPlan:
    """A robots.txt compiled for one agent and profile: everything that does not depend on
    the URL is done once per file (group selection, AI-agent groups, parsed usage rules,
    the reasons themselves), so a warm decision costs a few prefix matches."""

    def __init__(self, result: RobotsResult, robots: RobotsTxt, agent: str, strict: bool) -> None:
        self.url = result.url
        self.agent = agent
        self.own_rules = robots.rules_for(agent)
        groups, self.own_group = robots.select(agent)
        self.group_found = bool(groups)
        self._rule_reasons: dict[int, Reason] = {}
        evidence = (f"no rule in the group for '{self.own_group}' matches this URL"
                    if self.group_found else f"no group for '{agent}' and no '*' group")
        self.no_match = Reason(ROBOTS, False, self.url, evidence, agent=self.own_group,
                               access=True)
        self.ai_sets = self._ai_sets(robots) if strict else []
        # Content-Usage: (pattern or None, length, preference, evidence, note) per statement
        self.usage: list[tuple[PathPattern | None, int, aipref.Preference, str, str | None]] = []
        for line, group in robots.statements("content-usage", agent, strict):
            pattern, pref = aipref.split_robots_usage(line.value)
            for p in aipref.parse_content_usage(pref):
                self.usage.append((pattern, pattern.length if pattern else 0, p,
                                   line.evidence(), _group_note(group, agent)))
        self._usage_reasons: dict[tuple[str, int], Reason] = {}
        # Content-Signal has no paths: its reasons are the same for every URL.
        signals: dict[str, tuple[bool, str, str, frozenset[Purpose]]] = {}
        for line, group in robots.statements("content-signal", agent, strict):
            for p in aipref.parse_content_signal(line.value):
                current = signals.get(p.label)
                if current is None or (current[0] and not p.allowed):
                    signals[p.label] = (p.allowed, line.evidence(), group, p.purposes)
        self.signal_reasons = [
            Reason(CONTENT_SIGNAL, not allowed, self.url,
                   f"{evidence} ({key}={'yes' if allowed else 'no'})", purposes=purposes,
                   note=_group_note(group, agent))
            for key, (allowed, evidence, group, purposes) in signals.items()]

    def _ai_sets(self, robots: RobotsTxt) -> list[tuple[RuleList, str, str]]:
        """Groups aimed at known AI-training agents other than ours: (rules, first name, note),
        the groups that disallow everything first (they decide the most URLs soonest)."""
        own = self.agent.lower()
        sets: dict[tuple[int, ...], list[str]] = {}
        seen: set[str] = set()
        for value in robots.agent_values():
            entry = agents.lookup(value)
            if (entry is None or Purpose.TRAIN not in entry.purposes or value.lower() in seen
                    or value.lower() == own):
                continue
            seen.add(value.lower())
            groups, _ = robots.select(value)
            sets.setdefault(tuple(id(g) for g in groups), []).append(value)
        out = []
        for names in sets.values():
            entry = agents.lookup(names[0])
            kind = f"{entry.kind}, {entry.operator}" if entry and entry.operator else (
                entry.kind if entry else "AI agent")
            note = (f"inferred: the site disallows the AI-training agent {names[0]} ({kind}); "
                    "the strict profile reads this as a reservation against AI training")
            if len(names) > 1:
                shown = ", ".join(names[1:6]) + (", ..." if len(names) > 6 else "")
                note += f"; the same rule covers {len(names) - 1} more AI agents: {shown}"
            out.append((robots.rules_for(names[0]), names[0], note))
        out.sort(key=lambda s: not any(r.pattern.raw.strip() == "/" and not r.allow
                                       for r in s[0].rules))
        return out

    def reasons(self, path: str, purpose: Purpose) -> list[Reason]:
        rule = self.own_rules.first(path) if path != ROBOTS_PATH else None
        if rule is not None:
            reason = self._rule_reasons.get(id(rule))
            if reason is None:
                reason = Reason(ROBOTS, not rule.allow, self.url, rule.line.evidence(),
                                agent=self.own_group, access=True)
                self._rule_reasons[id(rule)] = reason
        elif path == ROBOTS_PATH:
            reason = Reason(ROBOTS, False, self.url,
                            "/robots.txt is implicitly allowed (RFC 9309 §2.2.2)",
                            agent=self.own_group, access=True)
        else:
            reason = self.no_match
        out = [reason]
        if self.ai_sets and purpose in (Purpose.TRAIN, Purpose.TDM):
            for rules, name, note in self.ai_sets:
                ai_rule = rules.first(path)
                if ai_rule is not None and not ai_rule.allow:
                    key = -id(ai_rule)
                    ai_reason = self._rule_reasons.get(key)
                    if ai_reason is None:
                        ai_reason = Reason(ROBOTS, True, self.url, ai_rule.line.evidence(),
                                           purposes=TRAIN, agent=name, note=note)
                        self._rule_reasons[key] = ai_reason
                    out.append(ai_reason)
                    break  # one AI group is enough to reserve; the note names its agents
        if self.usage:
            out += self._usage(path)
        out += self.signal_reasons
        return out

    def _usage(self, path: str) -> list[Reason]:
        """Content-Usage: per label, the most specific matching rule; ties most restrictive."""
        best: dict[str, tuple[int, int]] = {}  # label -> (length, index)
        for index, (pattern, length, pref, _, _) in enumerate(self.usage):
            if pattern is not None and not pattern.match(path):
                continue
            current = best.get(pref.label)
            if current is None or length > current[0] or (
                    length == current[0] and not pref.allowed):
                best[pref.label] = (length, index)
        out = []
        for label, (_, index) in best.items():
            reason = self._usage_reasons.get((label, index))
            if reason is None:
                _, _, pref, evidence, note = self.usage[index]
                reason = Reason(CONTENT_USAGE, not pref.allowed, self.url,
                                f"{evidence} ({label}={'y' if pref.allowed else 'n'})",
                                purposes=pref.purposes, note=note)
                self._usage_reasons[(label, index)] = reason
            out.append(reason)
        return out


# Compiled plans per parsed robots.txt, keyed by (agent, strict); dropped with the file.
_PLANS: weakref.WeakKeyDictionary[RobotsTxt, dict[tuple[str, bool], _RobotsPlan]] = (
    weakref.WeakKeyDictionary()
)


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
        if tdm_reasons:
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

        purpose = self.purpose
        relevant = reasons if purpose is Purpose.TDM else [
            r for r in reasons if purpose in r.purposes or Purpose.TDM in r.purposes]
        contacts: list[str] = []
        allowed = True
        for r in relevant:
            if r.reserved:
                allowed = False
                contacts += [c for c in r.contacts if c not in contacts]
        return Decision(url, self.agent, purpose, allowed, relevant, policy, contacts, unchecked)

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
        strict = self.profile is Profile.STRICT
        plans = _PLANS.get(robots)
        if plans is None:
            plans = _PLANS.setdefault(robots, {})
        plan = plans.get((self.agent, strict))
        if plan is None:
            plan = plans[(self.agent, strict)] = _RobotsPlan(result, robots, self.agent, strict)
        return plan.reasons(path, self.purpose)


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
