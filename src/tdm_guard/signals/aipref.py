"""Usage preferences: IETF aipref `Content-Usage` and Cloudflare `Content-Signal`.

Content-Usage, as draft-ietf-aipref-vocab-08 (14 Sep 2026) and draft-ietf-aipref-attach-05
(18 Aug 2026) define it:
- Format (vocab-08 §6): "The format relies on the Dictionary type defined in Section 3.2 of
  [FIELDS]"; values are the Tokens `y` (allow) and `n` (disallow). "Otherwise, the
  preference for that category is unknown [...] values that are not Tokens, and Token values
  that are other than y or n. All of these are not errors". "If the parsing of the Dictionary
  fails, preferences are unknown." "any unknown labels MUST be ignored", "any unknown
  parameters MUST be ignored".
- Labels (vocab-08 §6.1): `train-ai` (AI Training: "Using an asset to modify the learned
  parameters of a generative AI model"), `ai-use` (AI Use: "Use of an asset as input to a
  generative AI model, where the asset is not directly provided by the user"), `search`.
- Combining (vocab-08 §5.1): "If any statement of preference indicates that the usage is
  disallowed, the result is that the usage is disallowed."
- Header (attach-05 §3): "The Content-Usage field is a structured field dictionary"; RFC 9651
  §4.2: the field lines of one field are combined into one field value before parsing.
- robots.txt rule (attach-05 §4): `Content-Usage: [path-pattern 1*WS] usage-pref` in a group;
  "The first part of the rule value is the path. It always starts with "/""; rules select
  resources "using the same path prefix matching rules as defined for Allow and Disallow";
  rules with identical paths and conflicting preferences combine by vocab §5.1.

Cloudflare Content Signals (contentsignals.org, CC0): `Content-Signal: search=yes,
ai-input=yes, ai-train=no` inside a robots.txt group, and the same value as a response header.
A missing signal "neither grants nor restricts permission".

The profiles (docs/standards.md): `standard` reads exactly the texts above; `strict` also
reads the labels of earlier drafts still deployed (`LEGACY_LABELS`), each header field line on
its own as well as combined, and Content-Signal values that are not valid Structured Fields
(`ai-train = no`, upper-case keys). Strict only ever adds reservations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from ..model import CONTENT_SIGNAL, CONTENT_USAGE, Purpose, Reason
from .patterns import PathPattern

if TYPE_CHECKING:
    from http_sfv import Dictionary

VOCAB_DRAFT = "draft-ietf-aipref-vocab-08"
ATTACH_DRAFT = "draft-ietf-aipref-attach-05"
# The labels of vocab-08 (§6.1).
LABELS: dict[str, frozenset[Purpose]] = {
    "train-ai": frozenset({Purpose.TRAIN}),
    "ai-use": frozenset({Purpose.INPUT}),
    "search": frozenset({Purpose.SEARCH}),
}
# Labels of earlier drafts (vocab-01 to -04) still seen in deployed files; read by the
# strict profile only, each mapped to every purpose it could have meant.
LEGACY_LABELS: dict[str, frozenset[Purpose]] = {
    "all": frozenset(Purpose),
    "bots": frozenset(Purpose),
    "tdm": frozenset(Purpose),
    "ai": frozenset({Purpose.TRAIN}),
    "train-genai": frozenset({Purpose.TRAIN}),
    "genai": frozenset({Purpose.TRAIN}),
    "inference": frozenset({Purpose.INPUT}),
    "ai-output": frozenset({Purpose.INPUT}),
}
SIGNAL_KEYS: dict[str, frozenset[Purpose]] = {
    "search": frozenset({Purpose.SEARCH}),
    "ai-input": frozenset({Purpose.INPUT}),
    "ai-train": frozenset({Purpose.TRAIN}),
}
_SIGNAL_VALUES = {"yes": True, "no": False}


@dataclass(frozen=True)
class Preference:
    """One label's stated preference: `allowed` is False for `n`/`no`."""

    label: str
    allowed: bool
    purposes: frozenset[Purpose]


def _dictionary(value: str | bytes) -> Dictionary | None:
    """An RFC 9651 Dictionary, or None when the value does not parse as one."""
    from http_sfv import Dictionary  # here: a crawl whose pages send no preference never needs it

    raw = value.encode("latin-1", "replace") if isinstance(value, str) else value
    parsed = Dictionary()
    try:
        parsed.parse(raw.strip())
    except Exception:  # noqa: BLE001 - any parse failure: "preferences are unknown"
        return None
    return parsed


def _token(item: object) -> str | None:
    """The Token value of a dictionary member, or None (inner lists, strings, booleans...)."""
    from http_sfv.item import Item
    from http_sfv.types import Token

    if isinstance(item, Item) and isinstance(item.value, Token):
        return str(item.value)
    return None


# A site sends the same few values on every page: parses are kept for values up to this
# long (a pure function of the value; the caches are bounded in entries and in size).
CACHED_VALUE_CHARS = 512


def parse_content_usage(value: str | bytes, strict: bool = False) -> list[Preference]:
    """The y/n preferences of one Content-Usage value (a header value or the preference part
    of a robots.txt rule). Unknown labels, non-Token values and a value that is not an
    RFC 9651 Dictionary give nothing ("unknown"). `strict` also reads LEGACY_LABELS."""
    if len(value) <= CACHED_VALUE_CHARS:
        return list(_content_usage_cached(value, strict))
    return _parse_content_usage(value, strict)


@lru_cache(maxsize=2048)
def _content_usage_cached(value: str | bytes, strict: bool) -> tuple[Preference, ...]:
    return tuple(_parse_content_usage(value, strict))


def _parse_content_usage(value: str | bytes, strict: bool) -> list[Preference]:
    parsed = _dictionary(value)
    if parsed is None:
        return []
    prefs = []
    for label, item in parsed.items():
        purposes = LABELS.get(label) or (LEGACY_LABELS.get(label) if strict else None)
        token = _token(item)
        if purposes is None or token not in ("y", "n"):
            continue
        prefs.append(Preference(label, token == "y", purposes))
    return prefs


def parse_content_signal(value: str | bytes, strict: bool = False) -> list[Preference]:
    """The yes/no signals of one Content-Signal value, read as an RFC 9651 Dictionary of
    Tokens. `strict` also reads values that are not valid Structured Fields
    (`ai-train = no`, `AI-Train=No`) as a comma list of key=value pairs."""
    if len(value) <= CACHED_VALUE_CHARS:
        return list(_content_signal_cached(value, strict))
    return _parse_content_signal(value, strict)


@lru_cache(maxsize=2048)
def _content_signal_cached(value: str | bytes, strict: bool) -> tuple[Preference, ...]:
    return tuple(_parse_content_signal(value, strict))


def _parse_content_signal(value: str | bytes, strict: bool) -> list[Preference]:
    prefs: dict[str, Preference] = {}
    parsed = _dictionary(value)
    if parsed is not None:
        for key, item in parsed.items():
            token = _token(item)
            if key in SIGNAL_KEYS and token in _SIGNAL_VALUES:
                prefs[key] = Preference(key, _SIGNAL_VALUES[token], SIGNAL_KEYS[key])
    if strict:
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        for element in text.split(","):
            key, sep, val = element.partition("=")
            key, val = key.strip().lower(), val.strip().lower()
            if sep and key in SIGNAL_KEYS and val in _SIGNAL_VALUES:
                pref = Preference(key, _SIGNAL_VALUES[val], SIGNAL_KEYS[key])
                current = prefs.get(key)
                if current is None or (current.allowed and not pref.allowed):
                    prefs[key] = pref
    return list(prefs.values())


def split_robots_usage(value: str, strict: bool = False) -> tuple[PathPattern | None, str]:
    """Split a robots.txt Content-Usage value into its optional path and its preference.

    attach-05: "The first part of the rule value is the path. It always starts with "/" [...]
    and ends immediately before the first SP [...] or HTAB"; a value whose first character
    is not "/" has no path (it applies to every path of the group, as "/" would). `strict`
    also reads a value starting with "*" (`*.pdf train-ai=n`) as a path, as Allow and
    Disallow patterns may start.
    """
    value = value.strip()
    if value.startswith(("/", "*") if strict else "/"):
        parts = value.split(None, 1)
        return PathPattern(parts[0]), (parts[1].strip() if len(parts) > 1 else "")
    return None, value


def header_reasons(url: str, headers: Iterable[tuple[str, str]],
                   strict: bool = False) -> list[Reason]:
    """Content-Usage and Content-Signal response headers.

    RFC 9651 §4.2: "the field lines [...] are combined into one field value" before parsing,
    so each header is one statement; if it fails to parse it states nothing. Under `strict`
    each field line is also read on its own, so one broken line cannot hide another.
    """
    lines: dict[str, list[str]] = {"content-usage": [], "content-signal": []}
    for name, value in headers:
        key = name.strip().lower()
        if key in lines:
            lines[key].append(value.strip())
    reasons = []
    for key, signal, parse, field in (
            ("content-usage", CONTENT_USAGE, parse_content_usage, "Content-Usage"),
            ("content-signal", CONTENT_SIGNAL, parse_content_signal, "Content-Signal")):
        values = lines[key]
        if not values:
            continue
        statements = [", ".join(values)]
        if strict and len(values) > 1:
            statements += values
        seen: set[tuple[str, bool]] = set()
        for statement in statements:
            for p in parse(statement, strict):
                if (p.label, p.allowed) in seen:
                    continue
                seen.add((p.label, p.allowed))
                word = ("y" if p.allowed else "n") if signal == CONTENT_USAGE else (
                    "yes" if p.allowed else "no")
                reasons.append(Reason(signal, not p.allowed, url,
                                      f"{field}: {statement} ({p.label}={word})",
                                      purposes=p.purposes))
    return reasons
