"""A bounded scan of an HTML document's head for `<meta>` and JSON-LD.

Only the head matters for the signals we read ("meta is a child of <head>", TDMRep
techniques; draft-illyes-repext counts meta tags only inside <head>), so scanning stops at
`</head>` or at the first `<body>`, and never reads more than MAX_HEAD_BYTES.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

MAX_HEAD_BYTES = 512 * 1024


@dataclass
class Head:
    metas: list[tuple[str, str]] = field(default_factory=list)  # (lower-cased name, content)
    jsonld: list[str] = field(default_factory=list)
    truncated: bool = False  # the limit was reached before the head ended


class _Done(Exception):
    pass


class _HeadParser(HTMLParser):
    def __init__(self, head: Head) -> None:
        super().__init__(convert_charrefs=True)
        self.head = head
        self._in_jsonld = False
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            raise _Done
        if tag == "meta":
            values = {k.lower(): (v or "") for k, v in attrs}
            name = values.get("name")
            if name is not None:
                self.head.metas.append((name.strip().lower(), values.get("content", "")))
        elif tag == "script":
            values = {k.lower(): (v or "") for k, v in attrs}
            if values.get("type", "").split(";")[0].strip().lower() == "application/ld+json":
                self._in_jsonld, self._buffer = True, []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            raise _Done
        if tag == "script" and self._in_jsonld:
            self.head.jsonld.append("".join(self._buffer))
            self._in_jsonld = False

    def handle_data(self, data: str) -> None:
        if self._in_jsonld:
            self._buffer.append(data)


def scan_head(body: bytes, limit: int = MAX_HEAD_BYTES) -> Head:
    """Extract meta tags and JSON-LD from the head of `body` (at most `limit` bytes)."""
    head = Head(truncated=len(body) > limit)
    text = body[:limit].decode("utf-8", "replace")
    parser = _HeadParser(head)
    try:
        parser.feed(text)
        parser.close()
    except _Done:
        head.truncated = False
    except Exception:  # noqa: BLE001 - html.parser on hostile input: keep what was read
        pass
    return head
