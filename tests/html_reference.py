"""The HTML head scan written step by step, kept only as the reference a property test holds
the one-pattern scan of signals/html.py to (the same metas, JSON-LD, links, inline RSL,
truncation and end, on any bytes). It reads tags as the HTML tokenizer does: a quote opens
an attribute value only after `=`; comments close at `-->`, `--!>`, `<!-->`, `<!--->`; the
content of <title>, <style> and the other raw-text elements is text; any other tag is
skipped whole."""

from __future__ import annotations

import re

# Head and the attribute reader are shared: only the tokenizer is the reference's own.
from tdm_guard.signals.html import MAX_HEAD_BYTES, Head, _attrs

RAW = (b"title", b"textarea", b"style", b"xmp", b"iframe", b"noembed", b"noframes")
_TAG = re.compile(rb"<(!--|script\b|" + rb"|".join(r + rb"\b" for r in RAW)
                  + rb"|meta\b|link\b|/head\s*>|body\b|[a-zA-Z]|[!?]|/[a-zA-Z])", re.IGNORECASE)
_SCRIPT_END = re.compile(rb"</script\s*>", re.IGNORECASE)
SPACE = b" \t\n\r\x0b\x0c"


def tag_end(text: bytes, i: int) -> int | None:
    """The index of the `>` that ends a tag whose attributes start at `i`, or None."""
    n = len(text)
    while i < n:
        c = text[i:i + 1]
        if c == b">":
            return i
        if c == b"=":
            i += 1
            while i < n and text[i:i + 1] in SPACE and text[i:i + 1]:
                i += 1
            if i < n and text[i:i + 1] in (b'"', b"'"):
                close = text.find(text[i:i + 1], i + 1)
                if close < 0:
                    return None  # an unclosed quoted value: the tag never ends
                i = close + 1
            else:
                while i < n and text[i:i + 1] not in SPACE + b">":
                    i += 1
            continue
        i += 1
    return None


def scan_head(body: bytes, limit: int = MAX_HEAD_BYTES) -> Head:
    text = body[:limit]
    head = Head()
    pos = 0
    while True:
        tag = _TAG.search(text, pos)
        if tag is None:
            head.truncated = len(body) > limit
            head.end = min(len(body), limit + 1)
            return head
        kind = tag.group(1).lower()
        after = tag.end()
        if kind == b"!--":
            if text[after:after + 1] == b">":
                pos = after + 1
                continue
            if text[after:after + 2] == b"->":
                pos = after + 2
                continue
            ends = [(e, size) for e, size in ((text.find(b"-->", after), 3),
                                              (text.find(b"--!>", after), 4)) if e >= 0]
            if not ends:
                break
            end, size = min(ends)
            pos = end + size
            continue
        if kind.startswith(b"/head") or kind == b"body":
            head.end = after + 1
            return head
        if kind in (b"!", b"?") or kind.startswith(b"/"):  # doctype, bogus comment, end tag
            end = text.find(b">", after)
            if end < 0:
                break
            pos = end + 1
            continue
        if kind not in RAW and kind not in (b"script", b"meta", b"link"):  # any other tag
            while after < len(text) and text[after:after + 1] not in SPACE + b"/>":
                after += 1  # the rest of its name
        end = tag_end(text, after)
        if end is None:
            break
        raw = text[after:end]
        pos = end + 1
        if kind in RAW:
            close = re.compile(rb"</" + kind + rb"[\s/>]", re.IGNORECASE).search(text, pos)
            if close is None:
                break
            pos = close.end()
            continue
        if kind == b"meta":
            if b"name" in raw.lower():
                attrs = _attrs(raw)
                if "name" in attrs:
                    head.metas.append((attrs["name"].strip().lower(), attrs.get("content", "")))
            continue
        if kind == b"link":
            if len(head.links) < 100 and b"licen" in raw.lower():
                head.links.append(_attrs(raw))
            continue
        if kind != b"script":
            continue
        attrs = _attrs(raw)
        close = _SCRIPT_END.search(text, pos)
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
