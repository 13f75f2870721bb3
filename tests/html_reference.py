"""The HTML head scan as it was before it became one token pattern (signals/html.py up to
commit dc908e9), kept only as the reference a property test holds the fast scan to."""

from __future__ import annotations

import re

# Head and the attribute reader did not change: only the tokenizer is the reference's own.
from tdm_guard.signals.html import MAX_HEAD_BYTES, Head, _attrs

_TAG = re.compile(rb"<(!--|script\b|meta\b|link\b|/head\s*>|body\b)", re.IGNORECASE)
_TAG_REST = re.compile(rb"((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>")
_SCRIPT_END = re.compile(rb"</script\s*>", re.IGNORECASE)


def scan_head(body: bytes, limit: int = MAX_HEAD_BYTES) -> Head:
    """Extract meta tags and JSON-LD from the head of `body` (at most `limit` bytes)."""
    text = body[:limit]
    head = Head()
    pos = 0
    while True:
        tag = _TAG.search(text, pos)
        if tag is None:
            head.truncated = len(body) > limit
            head.end = min(len(body), limit + 1)  # one more byte tells `truncated`
            return head
        kind = tag.group(1).lower()
        if kind == b"!--":
            end = text.find(b"-->", tag.end())
            if end < 0:
                break
            pos = end + 3
            continue
        if kind.startswith(b"/head") or kind == b"body":
            head.end = tag.end() + 1  # `body\b` looked at one byte more
            return head
        rest = _TAG_REST.match(text, tag.end())
        if rest is None:
            break
        pos = rest.end()
        raw = rest.group(1)
        if kind == b"meta":
            if b"name" in raw.lower():  # <meta charset>, <meta http-equiv>: no name, no signal
                attrs = _attrs(raw)
                if "name" in attrs:
                    head.metas.append((attrs["name"].strip().lower(), attrs.get("content", "")))
            continue
        if kind == b"link":
            # only licence links are read (RSL); a stylesheet's attributes are not parsed
            if len(head.links) < 100 and b"licen" in raw.lower():
                head.links.append(_attrs(raw))
            continue
        attrs = _attrs(raw)
        close = _SCRIPT_END.search(text, pos)  # a script: its content is never tags
        if close is None:
            break
        script_type = attrs.get("type", "").split(";")[0].strip().lower()
        if script_type == "application/ld+json":
            head.jsonld.append(text[pos:close.start()].decode("utf-8", "replace"))
        elif script_type == "application/rsl+xml" and len(head.rsl) < 8:
            head.rsl.append(text[pos:close.start()].decode("utf-8", "replace"))
        pos = close.end()
    head.truncated = True
    head.end = len(text)
    return head
