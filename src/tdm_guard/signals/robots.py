"""robots.txt, RFC 9309: a pure parser and matcher that keeps line numbers for evidence.

Protego (Scrapy's parser) gets longest-match, Allow-wins-ties and wildcards right, and the
test suite checks that we agree with it on every Allow/Disallow verdict of the real corpus.
We parse ourselves because Protego hides what a compliance answer needs and gets a few things
wrong for us (see docs/standards.md): it keeps no line numbers, discards extension records
(`Content-Usage`, `Content-Signal`), has no size limit and leaves HTTP status rules to the
caller, and matches a group token as a prefix of a longer name.

Rules implemented, quoted from RFC 9309:
- §2.1/2.2.1 groups: "one or more user-agent lines that are followed by one or more rules";
  "If there is more than one group matching the user-agent, the matching groups' rules MUST
  be combined into one group"; "If no matching group exists, crawlers MUST obey the group
  with a user-agent line with the "*" value, if present."; "Crawlers MUST use case-insensitive
  matching to find the group that matches the product token".
- §2.2.2 "The most specific match found MUST be used. The most specific match is the match
  that has the most octets. [...] If an allow rule and a disallow rule are equivalent, then the
  allow rule SHOULD be used. If no match is found amongst the rules in a group for a matching
  user-agent or there are no rules in the group, the URI is allowed. The /robots.txt URI is
  implicitly allowed."
- §2.5 "Crawlers MUST at least parse the first 500 KiB" (we parse exactly that much).
- §2.2.4 "Crawlers MAY interpret other records that are not part of the robots.txt protocol
  [...] Parsing of other records MUST NOT interfere with the parsing of explicitly defined
  records": records other than user-agent, allow and disallow (Content-Usage,
  Content-Signal, Crawl-delay, Sitemap, License, anything unknown) between user-agent lines
  never split a group; Content-Usage and Content-Signal are kept with the group they are in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from .patterns import PathPattern

MAX_ROBOTS_BYTES = 500 * 1024
ROBOTS_PATH = "/robots.txt"
ORPHAN_GROUP = "(before any user-agent)"  # the group name of records before any group

# Keys we read, with the spellings real files use. Misspelt Disallow variants are accepted
# (as Google and Protego do): reading them can only make us more careful.
_KEYS = {
    "user-agent": "user-agent",
    "useragent": "user-agent",
    "user agent": "user-agent",
    "allow": "allow",
    "disallow": "disallow",
    "dissallow": "disallow",
    "dissalow": "disallow",
    "disalow": "disallow",
    "diasllow": "disallow",
    "disallaw": "disallow",
    "content-usage": "content-usage",
    "content-signal": "content-signal",
    "license": "license",  # RSL 1.0: global, outside every group (§2.2.4 "other records")
}
_TOKEN_PREFIX = re.compile(r"[A-Za-z_-]*")
_LINE_SPLIT = re.compile(r"\r\n|\r|\n")


def product_token(value: str) -> str:
    """The RFC 9309 product token at the start of a user-agent value ("FooBot/1.2" -> "FooBot")."""
    return _TOKEN_PREFIX.match(value).group(0)  # type: ignore[union-attr]


def agent_token(value: str) -> str:
    """The crawler's own product token, from a token or a whole User-Agent value.

    RFC 9309 §2.2.1: "Crawlers set their own name, which is called a product token, to find
    relevant groups. The product token MUST contain only uppercase and lowercase letters
    ("a-z" and "A-Z"), underscores ("_"), and hyphens ("-")." So "MyBot/1.0 (+https://x)"
    is read as "MyBot", as the group `User-agent: MyBot` names it. A value that starts with
    no such character has no token: ValueError, a usage error for the caller to report.
    """
    token = product_token(str(value).strip())
    if not token:
        raise ValueError(f"agent {str(value)!r} has no RFC 9309 product token (it must start "
                         "with letters, '_' or '-', e.g. 'MyBot' or 'MyBot/1.0')")
    return token


@dataclass(frozen=True)
class Line:
    """One record of the file as written, for evidence."""

    number: int
    key: str  # canonical key
    value: str
    text: str  # the line as written, without comment and surrounding space

    def evidence(self) -> str:
        return f"line {self.number}: {self.text}"


@dataclass(frozen=True)
class Rule:
    """One Allow or Disallow line with its parsed path pattern."""

    line: Line
    allow: bool
    pattern: PathPattern


# A rule list with this many wildcard rules compiles them into regexes after this many
# lookups; an alternation is kept short because the engine's cost per branch grows with
# the number of groups.
# Paths longer than COMBINE_PATHS_UPTO keep the loop: the regex engine scans for a piece
# position by position, where `str.find` is faster on a long path.
COMBINE_AT = 4
COMBINE_AFTER = 64
COMBINE_CHUNK = 64
COMBINE_PATHS_UPTO = 256


class RuleList:
    """A group's rules, longest pattern first (Allow first on a tie), indexed for matching.

    Every rule is indexed by the literal text it must start with (the whole path of a plain
    rule, the part before the first `*` of a wildcard or `$` rule), by its length: the rules
    that can match a path are found with one dictionary lookup per distinct length, and only
    wildcard rules among them run their pattern. The deciding rule is the one with the most
    octets, Allow on a tie (RFC 9309 §2.2.2).
    """

    __slots__ = ("rules", "_plain", "_plain_lengths", "_special", "_special_lengths",
                 "_combined", "_lookups")

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = sorted(rules, key=lambda r: (r.pattern.length, r.allow), reverse=True)
        plain: dict[int, dict[str, Rule]] = {}
        special: dict[int, dict[str, list[Rule]]] = {}
        for rule in self.rules:  # Allow first on a tie: the first rule kept for a prefix wins
            prefix = rule.pattern.prefix
            if prefix is not None:
                plain.setdefault(len(prefix), {}).setdefault(prefix, rule)
            else:
                literal = rule.pattern.literal
                special.setdefault(len(literal), {}).setdefault(literal, []).append(rule)
        self._plain = plain
        self._plain_lengths = sorted(plain, reverse=True)
        self._special = special
        self._special_lengths = sorted(special, reverse=True)
        # Many wildcard rules (github.com has 48) are matched by combined regexes once the
        # list has served COMBINE_AFTER lookups: an origin visited a few times never pays
        # their compilation, a busy one tests all its wildcards in a few C-level calls.
        self._combined: list[tuple[re.Pattern[str], list[Rule]]] | None = None
        count = sum(len(found) for bucket in special.values() for found in bucket.values())
        self._lookups = 0 if count >= COMBINE_AT else -1

    def first(self, path: str) -> Rule | None:
        """The deciding rule for `path` (RFC 9309 §2.2.2: the most octets; Allow on a tie),
        or None."""
        best: Rule | None = None
        size = len(path)
        for length in self._plain_lengths:
            if length <= size:
                best = self._plain[length].get(path[:length])
                if best is not None:
                    break
        if not self._special_lengths:
            return best
        if self._combined is not None:
            if size <= COMBINE_PATHS_UPTO:
                return self._first_combined(path, best)
        elif self._lookups >= 0:  # compiled once, on the COMBINE_AFTER-th lookup
            self._lookups += 1
            if self._lookups >= COMBINE_AFTER:
                self._combine()
        rank = (best.pattern.length, best.allow) if best is not None else (-1, False)
        for length in self._special_lengths:
            if length > size:
                continue
            found = self._special[length].get(path[:length])
            if found is None:
                continue
            for rule in found:
                key = (rule.pattern.length, rule.allow)
                if key > rank and rule.pattern.match(path):
                    best, rank = rule, key
        return best

    def _combine(self) -> None:
        """Compile the wildcard rules into alternations in the order `first` prefers them:
        most octets, Allow, then the longest literal start, then file order (what the loop
        over lengths keeps on a tie). The first alternative that matches is the best one."""
        specials = [rule for length in self._special_lengths
                    for found in self._special[length].values() for rule in found]
        specials.sort(key=lambda r: (r.pattern.length, r.allow, len(r.pattern.literal)),
                      reverse=True)  # stable: ties keep the loop's order
        chunks = []
        for start in range(0, len(specials), COMBINE_CHUNK):
            part = specials[start : start + COMBINE_CHUNK]
            source = "|".join(f"({rule.pattern.regex()})" for rule in part)
            chunks.append((re.compile(source, re.DOTALL), part))
        self._combined = chunks

    def _first_combined(self, path: str, best: Rule | None) -> Rule | None:
        for regex, part in self._combined:  # type: ignore[union-attr]
            found = regex.match(path)
            if found is not None:
                rule = part[found.lastindex - 1]  # type: ignore[operator]
                if best is None or (rule.pattern.length, rule.allow) > (best.pattern.length,
                                                                        best.allow):
                    return rule
                return best
        return best

    def __bool__(self) -> bool:
        return bool(self.rules)


@dataclass
class Group:
    """One robots.txt group: its user-agent lines, rules and usage statements."""

    agents: list[Line] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    statements: list[Line] = field(default_factory=list)  # content-usage, content-signal
    has_rules: bool = False


@dataclass(frozen=True)
class AccessMatch:
    """The outcome of matching one path for one agent."""

    allowed: bool
    rule: Rule | None  # the deciding rule; None when no rule matched
    agent: str  # the group's user-agent value that selected the rules ("*" for the default)
    group_found: bool  # False when no group applied at all


def _agent_matches(value: str, agent: str) -> bool:
    value_l = value.strip().lower()
    return value_l == agent or product_token(value.strip()).lower() == agent


class RobotsTxt:
    """A parsed robots.txt. Build with `RobotsTxt.parse(body_bytes)`."""

    def __init__(self, groups: list[Group], orphans: list[Line], truncated: bool,
                 licences: list[Line] | None = None) -> None:
        self.groups = groups
        self.licences = licences or []  # RSL `License:` records, for every agent
        self.orphan_statements = orphans  # extension records before any user-agent line
        self.truncated = truncated
        self._selection: dict[str, tuple[list[Group], str]] = {}
        self._sorted_rules: dict[str, RuleList] = {}
        self.plans: dict[tuple[str, bool], object] = {}  # robots_plan's compiled plans

    @classmethod
    def parse(cls, body: bytes | str, truncated: bool = False) -> RobotsTxt:
        """Parse the first MAX_ROBOTS_BYTES of `body`. `truncated`: the fetcher stopped at
        its cap, so the file went on: its last line may be cut and is dropped."""
        if isinstance(body, str):
            body = body.encode("utf-8", "surrogatepass")
        if len(body) > MAX_ROBOTS_BYTES:
            body = body[:MAX_ROBOTS_BYTES]
            truncated = True
        if body.startswith(b"\xef\xbb\xbf"):
            body = body[3:]
        text = body.decode("utf-8", "replace")
        lines = _LINE_SPLIT.split(text)
        if truncated:
            lines = lines[:-1]  # the last line was cut mid-way: do not guess its end
        groups: list[Group] = []
        orphans: list[Line] = []
        licences: list[Line] = []
        current: Group | None = None
        for number, raw in enumerate(lines, start=1):
            record = _parse_line(number, raw)
            if record is None:
                continue
            if record.key == "license":
                licences.append(record)  # never part of a group, never splits one
                continue
            if record.key == "user-agent":
                if current is None or current.has_rules:
                    current = Group()
                    groups.append(current)
                current.agents.append(record)
            elif record.key in ("allow", "disallow"):
                if current is None:
                    continue  # Allow/Disallow outside a group bind nobody
                current.has_rules = True
                if record.value:  # "Disallow:" with no path disallows nothing
                    current.rules.append(
                        Rule(record, record.key == "allow", PathPattern(record.value)))
            elif current is None:
                orphans.append(record)  # before any user-agent line: in no group
            else:
                # §2.2.4: other records "MUST NOT interfere with the parsing of explicitly
                # defined records": they never end a run of user-agent lines.
                current.statements.append(record)
        return cls(groups, orphans, truncated, licences)

    # -- group selection -------------------------------------------------------------
    def select(self, agent: str) -> tuple[list[Group], str]:
        """The groups that apply to `agent` and the user-agent value that selected them."""
        key = agent.strip().lower()
        cached = self._selection.get(key)
        if cached is not None:
            return cached
        own = [g for g in self.groups if any(_agent_matches(a.value, key) for a in g.agents)]
        if own:
            name = next(a.value for a in own[0].agents if _agent_matches(a.value, key))
            result = (own, name)
        else:
            star = [g for g in self.groups if any(a.value.strip() == "*" for a in g.agents)]
            result = (star, "*")
        self._selection[key] = result
        return result

    def rules_for(self, agent: str) -> RuleList:
        """The merged rules of the groups that apply to `agent`, ready for matching."""
        key = agent.strip().lower()
        rules = self._sorted_rules.get(key)
        if rules is None:
            groups, _ = self.select(agent)
            rules = RuleList([r for g in groups for r in g.rules])
            self._sorted_rules[key] = rules
        return rules

    def access(self, path: str, agent: str) -> AccessMatch:
        """May `agent` fetch `path` (as given by `patterns.url_path`)?"""
        groups, name = self.select(agent)
        if path == ROBOTS_PATH:
            return AccessMatch(True, None, name, bool(groups))
        rule = self.rules_for(agent).first(path)
        if rule is not None:
            return AccessMatch(rule.allow, rule, name, True)
        return AccessMatch(True, None, name, bool(groups))

    def statements(self, kind: str, agent: str, include_star: bool = False,
                   include_orphans: bool = False) -> list[tuple[Line, str]]:
        """Extension records of `kind` that speak to `agent`, each with the group value.

        By the RFC only the groups selected for `agent` speak to it. The strict profile also
        reads the `*` group's records when the agent has its own group (`include_star`) and
        records before any user-agent line (`include_orphans`: published examples put
        Content-Signal there); reading them can only make a decision more careful.
        """
        groups, name = self.select(agent)
        found = [(line, name) for g in groups for line in g.statements if line.key == kind]
        if include_star and name != "*":
            star, _ = self.select("*")
            found += [(line, "*") for g in star for line in g.statements if line.key == kind]
        if include_orphans:
            found += [(line, ORPHAN_GROUP) for line in self.orphan_statements
                      if line.key == kind]
        return found

    def agent_values(self) -> Iterable[str]:
        for g in self.groups:
            for a in g.agents:
                yield a.value


def _parse_line(number: int, raw: str) -> Line | None:
    text = raw.split("#", 1)[0].strip()
    if not text:
        return None
    if ":" in text:
        key, value = text.split(":", 1)
    else:
        # Google accepts a missing colon ("user-agent FooBot"); so do we, for known keys.
        parts = text.split(None, 1)
        if len(parts) != 2:
            return None
        key, value = parts
    canonical = _KEYS.get(" ".join(key.strip().lower().split()))
    if canonical is None:
        return None
    return Line(number, canonical, value.strip(), text)


class RobotsStatus(StrEnum):
    """How the fetch of robots.txt ended (RFC 9309 §2.3.1)."""

    PARSED = "parsed"  # 2xx: follow the rules
    UNAVAILABLE = "unavailable"  # 4xx, or too many redirects: "MAY access any resources"
    UNREACHABLE = "unreachable"  # 5xx, 429, network error: "MUST assume complete disallow"


@dataclass(frozen=True)
class RobotsResult:
    """robots.txt of one origin as fetched: its status and, when parsed, its rules."""

    url: str
    status: RobotsStatus
    detail: str  # "HTTP 404", "timeout", ...
    robots: RobotsTxt | None = None
    sha256: str | None = None  # of the body read, when there was one: named by its reasons
    fetched_at: str | None = None  # ISO 8601 UTC: when it was fetched

    @classmethod
    def from_response(
        cls, url: str, status: int | None, body: bytes | None, error: str | None = None,
        redirects_exhausted: bool = False, truncated: bool = False,
        sha256: str | None = None, fetched_at: str | None = None,
    ) -> RobotsResult:
        """Apply RFC 9309 §2.3.1 to a fetch outcome.

        - "2.3.1.1 Successful Access: If the crawler successfully downloads the robots.txt
          file, the crawler MUST follow the parseable rules."
        - "2.3.1.2 Redirects: [...] crawlers SHOULD follow at least five consecutive
          redirects [...] If there are more than five consecutive redirects, crawlers MAY
          assume that the robots.txt file is unavailable."
        - "2.3.1.3 Unavailable Status: [...] 400-499 [...] the crawler MAY access any
          resources on the server."
        - "2.3.1.4 Unreachable Status: If the robots.txt file is unreachable due to server or
          network errors, this means the robots.txt file is undefined and the crawler MUST
          assume complete disallow. For example, in the context of HTTP, server errors are
          identified by status codes from the 500-599 range."
        429 Too Many Requests is treated like 5xx, as Google does (the RFC is silent).
        """
        if error is not None:
            return cls(url, RobotsStatus.UNREACHABLE, error, fetched_at=fetched_at)
        if redirects_exhausted:
            return cls(url, RobotsStatus.UNAVAILABLE, "more than 5 redirects",
                       fetched_at=fetched_at)
        if status is None:
            return cls(url, RobotsStatus.UNREACHABLE, "no response", fetched_at=fetched_at)
        if 200 <= status < 300:
            return cls(url, RobotsStatus.PARSED, f"HTTP {status}",
                       RobotsTxt.parse(body or b"", truncated), sha256, fetched_at)
        if status == 429 or status >= 500:
            return cls(url, RobotsStatus.UNREACHABLE, f"HTTP {status}", fetched_at=fetched_at)
        if 400 <= status < 500:
            return cls(url, RobotsStatus.UNAVAILABLE, f"HTTP {status}", fetched_at=fetched_at)
        # 1xx, or a 3xx that could not be followed: no usable file; treat as unavailable.
        return cls(url, RobotsStatus.UNAVAILABLE, f"HTTP {status} without a usable redirect",
                   fetched_at=fetched_at)
