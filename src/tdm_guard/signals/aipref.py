"""Usage preferences: IETF aipref `Content-Usage` and Cloudflare `Content-Signal`.

Content-Usage (draft-ietf-aipref-vocab-07/-08, draft-ietf-aipref-attach-05):
- "The Content-Usage field is a Dictionary Structured Field [RFC 9651]"; keys are labels and
  values the Tokens `y` or `n`. "Any other value [...] is not a usage preference", i.e. unknown.
  "Unknown labels and all parameters MUST be ignored." A failed parse yields no preference.
- Vocabulary of -07: `train-ai` (AI model training) and `search`. Older drafts' labels still
  appear in deployed files; we map them conservatively (see LEGACY_LABELS).
- robots.txt rule: `Content-Usage: [path-pattern 1*WS] usage-pref`, selected by the same
  group rules and "the same path prefix matching rules as defined for Allow and Disallow";
  "conflicting rules on identical paths" combine most restrictively.
- Combining statements: "If any statement [...] indicates that the usage is disallowed, the
  result is [...] disallowed" (vocab §7.1): the most restrictive statement wins.

Content-Signal (contentsignals.org, CC0): `Content-Signal: search=yes, ai-input=yes,
ai-train=no` inside a robots.txt group. A missing signal "neither grants nor restricts".
"""

from __future__ import annotations

from dataclasses import dataclass

from http_sfv import Dictionary
from http_sfv.types import Token

from ..model import CONTENT_SIGNAL, CONTENT_USAGE, Purpose, Reason
from .patterns import PathPattern

# Current (-07) labels, then legacy labels from earlier drafts (vocab-01..-04).
LABELS: dict[str, frozenset[Purpose]] = {
    "train-ai": frozenset({Purpose.TRAIN}),
    "search": frozenset({Purpose.SEARCH}),
}
LEGACY_LABELS: dict[str, frozenset[Purpose]] = {
    "all": frozenset(Purpose),
    "bots": frozenset(Purpose),
    "tdm": frozenset(Purpose),
    "ai": frozenset({Purpose.TRAIN}),
    "train-genai": frozenset({Purpose.TRAIN}),
    "genai": frozenset({Purpose.TRAIN}),
    "ai-use": frozenset({Purpose.INPUT}),
    "inference": frozenset({Purpose.INPUT}),
    "ai-output": frozenset({Purpose.INPUT}),
}
SIGNAL_KEYS: dict[str, frozenset[Purpose]] = {
    "search": frozenset({Purpose.SEARCH}),
    "ai-input": frozenset({Purpose.INPUT}),
    "ai-train": frozenset({Purpose.TRAIN}),
}


@dataclass(frozen=True)
class Preference:
    """One label's stated preference: `allowed` is False for `n`/`no`."""

    label: str
    allowed: bool
    purposes: frozenset[Purpose]


def parse_content_usage(value: str) -> list[Preference]:
    """Parse a Content-Usage value (header or robots.txt preference part).

    Returns the y/n preferences for known labels; unknown labels, non-token values and a
    value that fails to parse as an RFC 9651 dictionary give nothing ("unknown").
    """
    parsed = Dictionary()
    try:
        parsed.parse(value.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return []
    prefs = []
    for label, item in parsed.items():
        purposes = LABELS.get(label) or LEGACY_LABELS.get(label)
        if purposes is None or not isinstance(item.value, Token) or item.value not in ("y", "n"):
            continue
        prefs.append(Preference(label, item.value == "y", purposes))
    return prefs


def parse_content_signal(value: str) -> list[Preference]:
    """Parse a Content-Signal value: comma-separated `key=yes|no`; unknown keys ignored."""
    prefs = []
    for element in value.split(","):
        key, sep, val = element.partition("=")
        key, val = key.strip().lower(), val.strip().lower()
        purposes = SIGNAL_KEYS.get(key)
        if not sep or purposes is None or val not in ("yes", "no"):
            continue
        prefs.append(Preference(key, val == "yes", purposes))
    return prefs


def split_robots_usage(value: str) -> tuple[PathPattern | None, str]:
    """Split a robots.txt Content-Usage value into its optional path and its preference.

    "A value that does not start with / is all preference" (attach-05 §2.4).
    """
    value = value.strip()
    if value.startswith(("/", "*")):
        parts = value.split(None, 1)
        return PathPattern(parts[0]), (parts[1].strip() if len(parts) > 1 else "")
    return None, value


def header_reasons(url: str, headers: list[tuple[str, str]]) -> list[Reason]:
    """Content-Usage and Content-Signal response headers; each field line is a statement."""
    reasons = []
    for name, value in headers:
        lname = name.strip().lower()
        if lname == "content-usage":
            for p in parse_content_usage(value):
                reasons.append(Reason(CONTENT_USAGE, not p.allowed, url,
                                      f"Content-Usage: {value.strip()} ({p.label})",
                                      purposes=p.purposes))
        elif lname == "content-signal":
            for p in parse_content_signal(value):
                reasons.append(Reason(CONTENT_SIGNAL, not p.allowed, url,
                                      f"Content-Signal: {value.strip()} ({p.label})",
                                      purposes=p.purposes))
    return reasons
