"""A bounded scan of an HTML document's head for `<meta>` and JSON-LD.

Only the head matters for the signals we read ("meta is a child of <head>", TDMRep
techniques; draft-illyes-repext counts meta tags only inside <head>), so scanning stops at
`</head>` or at the first `<body>`, and never reads more than MAX_HEAD_BYTES.

A small tokenizer rather than `html.parser`: it is called on every downloaded page, and
profiling showed the general parser at about 4x the cost for a typical head. It reads what
the signals need and nothing else: comments are skipped, `<script>` contents are never
scanned for tags (only JSON-LD blocks are kept), quoted attribute values may hold `>`,
character references in values are decoded, and anything unterminated ends the scan.
"""

from __future__ import annotations

import html as _html
import re
from dataclasses import dataclass, field

MAX_HEAD_BYTES = 512 * 1024

# The rest of a tag, to its `>` (quoted values may hold `>`). Possessive: runs of plain
# characters are taken at once and never given back (the alternatives start with different
# characters, so this matches exactly what `(?:[^>"']|"[^"]*"|'[^']*')*` does, in one pass
# instead of a repeat per character, and an unclosed quote fails in linear time).
_REST = rb"(?:[^>\"']++|\"[^\"]*+\"|'[^']*+')*+"
# One token of the head, whole: a comment, a script with its content, a meta or link tag,
# or where the head ends. Each part after the keyword is optional, so an unterminated
# comment, tag or script still matches (its group is None) and ends the scan.
_TOKEN = re.compile(
    rb"<(?:!--(?:.*?(-->))?"  # 1: set when the comment is closed
    rb"|script\b(?:(" + _REST + rb")>(.*?)</script\s*>)?"  # 2: attributes, 3: content
    rb"|(meta|link)\b(?:(" + _REST + rb")>)?"  # 4: which, 5: attributes
    rb"|/head\s*>|body\b)", re.IGNORECASE | re.DOTALL)
_ATTR = re.compile(r"""([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""", re.ASCII)


@dataclass
class Head:
    """What the scan of an HTML head found."""

    metas: list[tuple[str, str]] = field(default_factory=list)  # (lower-cased name, content)
    jsonld: list[str] = field(default_factory=list)
    links: list[dict[str, str]] = field(default_factory=list)  # <link> attributes (RSL)
    rsl: list[str] = field(default_factory=list)  # inline <script type="application/rsl+xml">
    truncated: bool = False  # the limit or broken markup ended the scan before the head did
    end: int = 0  # how many bytes of the body the scan depended on


def _attrs(raw: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    text = raw.decode("utf-8", "replace")  # one decode per tag, not per attribute
    for name, dq, sq, bare in _ATTR.findall(text):
        key = name.lower()
        if key not in out:  # HTML: the first occurrence of an attribute wins
            value = dq or sq or bare
            out[key] = _html.unescape(value) if "&" in value else value
    return out


def scan_head(body: bytes, limit: int = MAX_HEAD_BYTES, partial: bool = False) -> Head:
    """Extract meta tags and JSON-LD from the head of `body` (at most `limit` bytes).
    `partial`: `body` is the first part of a larger document (a download cut at its cap),
    so a head still open where it ends is `truncated` too."""
    text = body[:limit]
    head = Head()
    for token in _TOKEN.finditer(text):
        first = text[token.start() + 1]  # the byte after "<" tells which token this is
        if first == 0x21:  # "<!--"
            if token.group(1) is None:
                break  # an unterminated comment
            continue
        if first in b"/bB":  # "</head>" or "<body"
            head.end = token.end() + 1  # `body\b` looked at one byte more
            return head
        if first in b"sS":  # a script: its content is never tags
            raw = token.group(2)
            if raw is None:
                break  # an unterminated tag or script
            script_type = _attrs(raw).get("type", "").split(";")[0].strip().lower()
            if script_type == "application/ld+json":
                head.jsonld.append(token.group(3).decode("utf-8", "replace"))
            elif script_type == "application/rsl+xml" and len(head.rsl) < 8:
                head.rsl.append(token.group(3).decode("utf-8", "replace"))
            continue
        raw = token.group(5)
        if raw is None:
            break  # an unterminated tag
        if first in b"mM":
            if b"name" in raw.lower():  # <meta charset>, <meta http-equiv>: no name, no signal
                attrs = _attrs(raw)
                if "name" in attrs:
                    head.metas.append((attrs["name"].strip().lower(), attrs.get("content", "")))
        # only licence links are read (RSL); a stylesheet's attributes are not parsed
        elif len(head.links) < 100 and b"licen" in raw.lower():
            head.links.append(_attrs(raw))
    else:
        head.truncated = len(body) > limit or partial
        head.end = min(len(body), limit + 1)  # one more byte tells `truncated`
        return head
    head.truncated = True
    head.end = len(text)
    return head
