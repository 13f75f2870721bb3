"""`noai` / `noimageai` in `X-Robots-Tag` headers and `<meta name="robots">`.

DeviantArt introduced the values (2022): third parties "must ensure their training data set
excludes all content for which either of these directives are present". The syntax is
Google's robots meta syntax: comma-separated directives, optionally scoped to one agent
(`X-Robots-Tag: otherbot: noai`, `<meta name="otherbot" content="noai">`); every header field
and every meta tag counts. A scoped directive applies only to that agent; a scope persists
over the following comma elements until another `token:` prefix, as in Google's parser.
Both values reserve training (`noimageai` conservatively for the page as well as its images).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..model import NOAI_HEADER, NOAI_META, TRAIN, Reason

AI_DIRECTIVES = frozenset({"noai", "noimageai"})
# Directives that carry a value after a colon: "max-snippet: 20" is not an agent scope.
_VALUED = frozenset({"max-snippet", "max-image-preview", "max-video-preview", "unavailable_after"})
_SCOPE = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*:\s*(.*)$", re.DOTALL)


def parse_x_robots_tag(value: str) -> list[tuple[str | None, str]]:
    """[(agent scope or None, directive lower-cased), ...] for one header value."""
    out: list[tuple[str | None, str]] = []
    scope: str | None = None
    for element in value.split(","):
        m = _SCOPE.match(element)
        if m and m.group(1).lower() not in _VALUED:
            scope, element = m.group(1).lower(), m.group(2)
        directive = element.strip().lower()
        if directive:
            out.append((scope, directive))
    return out


def x_robots_tag_reasons(url: str, headers: Iterable[tuple[str, str]], agent: str) -> list[Reason]:
    agent = agent.lower()
    reasons = []
    for name, value in headers:
        if name.strip().lower() != "x-robots-tag":
            continue
        hits = [d for scope, d in parse_x_robots_tag(value)
                if d in AI_DIRECTIVES and scope in (None, agent)]
        if hits:
            reasons.append(Reason(NOAI_HEADER, True, url, f"X-Robots-Tag: {value.strip()}",
                                  purposes=TRAIN))
    return reasons


def robots_meta_reasons(url: str, metas: Iterable[tuple[str, str]], agent: str) -> list[Reason]:
    agent = agent.lower()
    reasons = []
    for name, content in metas:
        if name not in ("robots", agent):
            continue
        directives = {d.strip().lower() for d in content.split(",")}
        if directives & AI_DIRECTIVES:
            reasons.append(Reason(NOAI_META, True, url,
                                  f'<meta name="{name}" content="{content}">', purposes=TRAIN))
    return reasons
