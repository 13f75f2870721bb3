"""A bounded scan of an HTML document's head for `<meta>` and JSON-LD.

Only the head matters for the signals we read ("meta is a child of <head>", TDMRep
techniques; draft-illyes-repext counts meta tags only inside <head>), so scanning stops at
`</head>` or at the first `<body>`, and never reads more than MAX_HEAD_BYTES.

A small tokenizer rather than `html.parser`: it is called on every downloaded page, and
profiling showed the general parser at about 4x the cost for a typical head. It reads what
the signals need as the HTML tokenizer would (so a meta is read exactly when a browser's DOM
has it): comments are skipped (closed by `-->`, `--!>`, `<!-->` or `<!--->`); the content
of `<script>` (only JSON-LD and inline RSL are kept) and of the raw-text elements (`<title>`,
`<style>`, `<textarea>`, ...) is text, never tags; every other tag is skipped whole, so an
attribute value is never a tag; a quote opens a value only after `=`, and a quoted value
may hold `>`; character references in values are decoded; anything unterminated ends the
scan, marked truncated. `<noscript>` is read as markup (a crawler runs no scripts).
"""

from __future__ import annotations

import html as _html
import re
from dataclasses import dataclass, field

MAX_HEAD_BYTES = 512 * 1024

# The rest of a tag, to its `>`. As the HTML tokenizer reads it: a quote opens a value only
# right after `=` (an apostrophe inside `content=Don't` is a letter), a quoted value may
# hold `>`, and an unclosed quoted value leaves the tag unterminated. Possessive: runs are
# taken at once and never given back, and the alternatives start with different characters,
# so a hostile tag fails in linear time.
_REST = (rb"(?:[^>\"'=]++"
         rb"|=\s*+(?:\"[^\"]*+\"|'[^']*+'|(?![\"'])[^\s>]*+)"
         rb"|[\"'])*+")
# Elements whose content is text, never tags (HTML's RCDATA and RAWTEXT elements): a
# `<body>` or `<meta>` written inside a <title> or <style> is not one. (<noscript> is
# read as markup: a crawler runs no scripts, so its metas count.)
_RAW = rb"title|textarea|style|xmp|iframe|noembed|noframes"
# One token of the head, whole: a comment (closed by `-->`, `--!>`, or at once by `<!-->`
# and `<!--->`, as HTML closes them), a script or raw-text element with its content, a meta
# or link tag, any other tag (its attribute values are never tags), or where the head ends.
# Each part after the keyword is optional, so an unterminated token still matches (its
# group is None) and ends the scan.
_TOKEN = re.compile(
    rb"<(?:!--(?:(?P<c>-?>|.*?--!?>))?"
    rb"|script\b(?:(?P<sa>" + _REST + rb")>(?P<sc>.*?)</script\s*>)?"
    rb"|(?P<raw>" + _RAW + rb")\b(?P<rc>" + _REST + rb">.*?</(?P=raw)[\s/>])?"
    rb"|(?P<ml>meta|link)\b(?:(?P<a>" + _REST + rb")>)?"
    rb"|/head\s*>|body\b"
    rb"|(?P<other>[a-zA-Z][^\s/>]*+" + _REST + rb">?|[!?][^>]*+>?|/[a-zA-Z][^>]*+>?))",
    re.IGNORECASE | re.DOTALL)
_COMMENT, _SCRIPT_ATTRS, _SCRIPT_CONTENT, _RAW_CONTENT, _ATTRS, _OTHER = (
    _TOKEN.groupindex[name] for name in ("c", "sa", "sc", "rc", "a", "other"))
_ATTR = re.compile(r"""([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""", re.ASCII)


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


def wide_encoding(body: bytes, charset: str = "") -> str | None:
    """The UTF-16 or UTF-32 encoding a document is in (its byte-order mark, its declared
    charset, or a `<` as its first 16-bit unit), or None: the tokenizer reads ASCII-based
    bytes, so such a document is transcoded first, never scanned as bytes that hold no tag."""
    if body[:1] == b"<" and body[1:2] != b"\x00" and not charset:
        return None  # nearly every page: ASCII-based, said nothing else
    if body[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        return "utf-32"
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    charset = charset.strip().strip("\"'").lower().replace("_", "-")
    if charset in ("utf-16", "utf-16le", "utf-16be", "utf-16-le", "utf-16-be", "utf-32",
                   "utf-32le", "utf-32be", "utf-32-le", "utf-32-be"):
        return charset
    if body[:2] == b"<\x00":
        return "utf-16-le"
    if body[:2] == b"\x00<":
        return "utf-16-be"
    return None


def scan_head(body: bytes, limit: int = MAX_HEAD_BYTES, partial: bool = False,
              charset: str = "") -> Head:
    """Extract meta tags and JSON-LD from the head of `body` (at most `limit` bytes).
    `partial`: `body` is the first part of a larger document (a download cut at its cap),
    so a head still open where it ends is `truncated` too. `charset`: the one the response
    declared (a UTF-16 or UTF-32 document is transcoded to UTF-8 first; its scan then
    depends on every byte read)."""
    encoding = wide_encoding(body, charset)
    if encoding is not None:
        try:
            text = body[:limit].decode(encoding, "replace").encode("utf-8")
        except LookupError:
            text = None
        if text is not None:
            head = scan_head(text, len(text) + 1, partial or len(body) > limit)
            head.end = min(len(body), limit + 1)
            return head
    text = body[:limit]
    head = Head()
    for token in _TOKEN.finditer(text):
        kind = token.lastindex  # the group that closed last tells which token this is
        if kind == _OTHER:  # any other tag, an end tag, a doctype: its text is no token
            if token.group(_OTHER)[-1] != 0x3E:  # ">"
                break  # an unterminated tag
            continue
        if kind in (_COMMENT, _RAW_CONTENT):
            continue  # a closed comment; <title>, <style>, ...: text to its end tag
        if kind == _ATTRS:  # a whole meta or link tag
            raw = token.group(_ATTRS)
            if text[token.start() + 1] in b"mM":
                if b"name" in raw.lower():  # <meta charset>, <meta http-equiv>: no signal
                    attrs = _attrs(raw)
                    if "name" in attrs:
                        head.metas.append((attrs["name"].strip().lower(),
                                           attrs.get("content", "")))
            # only licence links are read (RSL); a stylesheet's attributes are not parsed
            elif len(head.links) < 100 and b"licen" in raw.lower():
                head.links.append(_attrs(raw))
            continue
        if kind == _SCRIPT_CONTENT:  # a whole script: its content is never tags
            script_type = _attrs(token.group(_SCRIPT_ATTRS)).get("type", "")
            script_type = script_type.split(";")[0].strip().lower()
            if script_type == "application/ld+json":
                head.jsonld.append(token.group(_SCRIPT_CONTENT).decode("utf-8", "replace"))
            elif script_type == "application/rsl+xml" and len(head.rsl) < 8:
                head.rsl.append(token.group(_SCRIPT_CONTENT).decode("utf-8", "replace"))
            continue
        if kind is None and text[token.start() + 1] in b"/bB":  # "</head>" or "<body"
            head.end = token.end() + 1  # `body\b` looked at one byte more
            return head
        break  # unterminated: a comment, script, raw-text element, meta or link
    else:
        head.truncated = len(body) > limit or partial
        head.end = min(len(body), limit + 1)  # one more byte tells `truncated`
        return head
    head.truncated = True
    head.end = len(text)
    return head
