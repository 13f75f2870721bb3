"""What one robots.txt says for one agent and profile, compiled once per file.

`robots.py` is RFC 9309 itself (parsing, group selection, matching, fetch status). This module
reads a parsed file the way a decision needs it: the agent's own Allow/Disallow (access), under
the strict profile the groups aimed at known AI-training agents (an inferred reservation), and
the usage statements robots.txt carries (aipref `Content-Usage`, Cloudflare `Content-Signal`).
Everything that does not depend on the URL is done once per file, so a warm decision costs a
few prefix matches.
"""

from __future__ import annotations

from ..model import CONTENT_SIGNAL, CONTENT_USAGE, ROBOTS, Profile, Purpose, Reason
from . import agents, aipref
from .patterns import PathPattern
from .robots import ORPHAN_GROUP, ROBOTS_PATH, RobotsResult, RobotsStatus, RobotsTxt, RuleList

# The catalog classes whose Disallow speaks for usage under the strict profile, and the
# purposes it can reserve (docs/agents.md): crawlers that train, control tokens (which govern
# the use of another crawl: Google-Extended covers training and grounding) and AI data agents.
INFERRING = frozenset({"crawler", "control", "ai-data"})
INFERRED_PURPOSES = (Purpose.TRAIN, Purpose.INPUT)


def robots_reasons(result: RobotsResult, agent: str, profile: Profile, path: str,
                   purpose: Purpose) -> list[Reason]:
    """The robots.txt reasons for one URL path (RFC 9309 §2.3.1 fetch status first)."""
    robots = result.robots
    if robots is not None:
        key = (agent, profile is Profile.STRICT)
        plan = robots.plans.get(key)
        if plan is None:
            plan = robots.plans[key] = RobotsPlan(result, robots, agent, key[1])
        return plan.reasons(path, purpose)  # type: ignore[attr-defined]
    if result.status is RobotsStatus.UNREACHABLE:
        return [Reason(
            ROBOTS, True, result.url,
            f"robots.txt unreachable ({result.detail}): RFC 9309 §2.3.1.4, the crawler "
            "MUST assume complete disallow", agent=agent, access=True, failure=True,
            fetched_at=result.fetched_at)]
    return [Reason(
        ROBOTS, False, result.url,
        f"robots.txt unavailable ({result.detail}): RFC 9309 §2.3.1.3, the crawler MAY "
        "access any resources", agent=agent, fetched_at=result.fetched_at)]


class RobotsPlan:
    """A robots.txt compiled for one agent and profile: everything that does not depend on
    the URL is done once per file (group selection, AI-agent groups, parsed usage rules,
    the reasons themselves), so a warm decision costs a few prefix matches."""

    def __init__(self, result: RobotsResult, robots: RobotsTxt, agent: str, strict: bool) -> None:
        self.url = result.url
        self.agent = agent
        # every reason this plan gives names the file it came from
        stamp = {"sha256": result.sha256, "fetched_at": result.fetched_at}
        self.own_rules = robots.rules_for(agent)
        groups, self.own_group = robots.select(agent)
        self.group_found = bool(groups)
        self._rule_reasons: dict[int, Reason] = {}
        self._ai_reasons: dict[tuple[int, Purpose], Reason] = {}
        evidence = (f"no rule in the group for '{self.own_group}' matches this URL"
                    if self.group_found else f"no group for '{agent}' and no '*' group")
        self.no_match = Reason(ROBOTS, False, self.url, evidence, agent=self.own_group,
                               access=True, **stamp)
        self._stamp = stamp
        # strict: Disallows aimed at AI agents, per purpose they speak for (docs/agents.md)
        self.ai_sets = {p: self._ai_sets(robots, p) for p in INFERRED_PURPOSES} if strict \
            else {}
        self.strict = strict
        # Content-Usage: (pattern or None, length, preference, evidence, note) per statement.
        # A rule without a path applies to every path, as "/" does (length 1).
        self.usage: list[tuple[PathPattern | None, int, aipref.Preference, str, str | None]] = []
        for line, group in robots.statements("content-usage", agent, include_star=strict,
                                             include_orphans=strict):
            pattern, pref = aipref.split_robots_usage(line.value, strict)
            for p in aipref.parse_content_usage(pref, strict):
                self.usage.append((pattern, pattern.length if pattern else 1, p,
                                   line.evidence(), _group_note(group, agent)))
        self._usage_reasons: dict[tuple[str, int], Reason] = {}
        # Content-Signal has no paths: its reasons are the same for every URL.
        signals: dict[str, tuple[bool, str, str, frozenset[Purpose]]] = {}
        for line, group in robots.statements("content-signal", agent, include_star=strict,
                                             include_orphans=strict):
            for p in aipref.parse_content_signal(line.value, strict):
                current = signals.get(p.label)
                if current is None or (current[0] and not p.allowed):
                    signals[p.label] = (p.allowed, line.evidence(), group, p.purposes)
        self.signal_reasons = [
            Reason(CONTENT_SIGNAL, not allowed, self.url,
                   f"{evidence} ({key}={'yes' if allowed else 'no'})", purposes=purposes,
                   note=_group_note(group, agent), **stamp)
            for key, (allowed, evidence, group, purposes) in signals.items()]

    def _ai_sets(self, robots: RobotsTxt, purpose: Purpose) -> list[tuple[RuleList, str, str]]:
        """Groups aimed at known AI agents other than ours whose catalog purposes include
        `purpose`, of the classes that speak for usage (INFERRING): (rules, first name,
        note), the groups that disallow everything first (they decide the most URLs soonest).
        """
        own = self.agent.lower()
        sets: dict[tuple[int, ...], list[str]] = {}
        seen: set[str] = set()
        for value in robots.agent_values():
            entry = agents.lookup(value)
            if (entry is None or entry.kind not in INFERRING or purpose not in entry.purposes
                    or value.lower() in seen or value.lower() == own):
                continue
            seen.add(value.lower())
            groups, _ = robots.select(value)
            sets.setdefault(tuple(id(g) for g in groups), []).append(value)
        use = "AI training" if purpose is Purpose.TRAIN else "AI input (RAG, grounding)"
        out = []
        for names in sets.values():
            entry = agents.lookup(names[0])
            kind = f"{entry.kind}, {entry.operator}" if entry and entry.operator else (
                entry.kind if entry else "AI agent")
            note = (f"inferred: the site disallows the AI agent {names[0]} ({kind}); the "
                    f"strict profile reads this as a reservation against {use}")
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
                                agent=self.own_group, access=True, **self._stamp)
                self._rule_reasons[id(rule)] = reason
        elif path == ROBOTS_PATH:
            reason = Reason(ROBOTS, False, self.url,
                            "/robots.txt is implicitly allowed (RFC 9309 §2.2.2)",
                            agent=self.own_group, access=True, **self._stamp)
        else:
            reason = self.no_match
        out = [reason]
        if self.ai_sets:
            for inferred in (INFERRED_PURPOSES if purpose is Purpose.TDM else (purpose,)):
                ai_reason = self._ai_reason(path, inferred)
                if ai_reason is not None:
                    out.append(ai_reason)
        if self.usage:
            out += self._usage(path)
        out += self.signal_reasons
        return out

    def _ai_reason(self, path: str, purpose: Purpose) -> Reason | None:
        """The first AI-agent group that disallows `path`, as a reservation of `purpose`."""
        for rules, name, note in self.ai_sets.get(purpose, ()):
            ai_rule = rules.first(path)
            if ai_rule is not None and not ai_rule.allow:
                key = (id(ai_rule), purpose)
                reason = self._ai_reasons.get(key)
                if reason is None:
                    reason = Reason(ROBOTS, True, self.url, ai_rule.line.evidence(),
                                    purposes=frozenset({purpose}), agent=name, note=note,
                                    **self._stamp)
                    self._ai_reasons[key] = reason
                return reason  # one AI group is enough to reserve; the note names its agents
        return None

    def _usage(self, path: str) -> list[Reason]:
        """Content-Usage reasons for `path` (draft-ietf-aipref-attach-05 §4.1).

        standard: the rules "use the same path prefix matching rules as defined for Allow and
        Disallow": the longest matching path decides alone; rules with identical paths all
        apply, combined most restrictively per label (vocab-08 §5.1).
        strict: per label, the most specific rule that states that label (a `/ai-ok/
        train-ai=y` rule does not erase a general `search=n`); ties most restrictive.
        """
        matching = [(index, length, pref) for index, (pattern, length, pref, _, _)
                    in enumerate(self.usage) if pattern is None or pattern.match(path)]
        if not matching:
            return []
        best: dict[str, tuple[int, int]] = {}  # label -> (length, index)
        if not self.strict:
            longest = max(length for _, length, _ in matching)
            matching = [m for m in matching if m[1] == longest]
        for index, length, pref in matching:
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
                                purposes=pref.purposes, note=note, **self._stamp)
                self._usage_reasons[(label, index)] = reason
            out.append(reason)
        return out


def _group_note(group: str, agent: str) -> str | None:
    if group == ORPHAN_GROUP:
        return ("written before any user-agent line, so in no group; the strict profile "
                "reads it as said to every agent")
    if group == "*" or group.lower() == agent.lower():
        return None
    return f"from the group for '{group}'"
