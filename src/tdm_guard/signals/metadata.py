"""Rights metadata carried by content itself, for matching declarations after download.

- schema.org JSON-LD in an HTML head: `recordLabel`, `publisher`, `copyrightHolder`,
  `producer`, `copyrightNotice` (https://schema.org/recordLabel ...).
- ID3v2 frames in audio: `TCOP` (copyright message), `TPRO` (production notice, the ℗ line),
  `TPUB` (publisher / label), read with mutagen (ID3v2.2 names are upgraded to v2.4 ones).

Everything is bounded: at most MAX_VALUES values and MAX_DEPTH levels of JSON nesting.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

JSONLD_FIELDS = ("recordLabel", "publisher", "copyrightHolder", "producer", "copyrightNotice")
ID3_FIELDS = ("TCOP", "TPRO", "TPUB")
MAX_VALUES = 200
MAX_DEPTH = 12


@dataclass(frozen=True)
class MetaValue:
    """One rights-bearing metadata value read from a page or file."""

    field: str  # recordLabel, publisher, ..., TCOP, TPRO, TPUB
    value: str
    where: str  # "JSON-LD" or "ID3"

    def describe(self) -> str:
        return f'{self.where} {self.field} "{self.value}"'


def from_jsonld(blocks: list[str]) -> list[MetaValue]:
    out: list[MetaValue] = []
    for block in blocks:
        try:
            data = json.loads(block)
        except (ValueError, RecursionError):  # invalid, or nested deeper than json goes
            continue
        for field, value in _walk(data, 0):
            out.append(MetaValue(field, value, "JSON-LD"))
            if len(out) >= MAX_VALUES:
                return out
    return out


def _walk(node: object, depth: int) -> Iterator[tuple[str, str]]:
    if depth > MAX_DEPTH:
        return
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, depth + 1)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in JSONLD_FIELDS:
                yield from ((key, name) for name in _names(value))
            if isinstance(value, (dict, list)):
                yield from _walk(value, depth + 1)


def _names(value: object) -> Iterator[str]:
    if isinstance(value, str) and value.strip():
        yield value.strip()
    elif isinstance(value, dict):
        name = value.get("name")
        if isinstance(name, str) and name.strip():
            yield name.strip()
    elif isinstance(value, list):
        for item in value[:20]:
            if isinstance(item, (str, dict)):
                yield from _names(item)


def from_id3(body: bytes) -> list[MetaValue]:
    """TCOP, TPRO and TPUB of an ID3v2 tag at the start of `body` (empty if none/unreadable)."""
    if not body.startswith(b"ID3"):
        return []
    from mutagen.id3 import ID3

    try:
        tags = ID3(io.BytesIO(body))
    except Exception:  # noqa: BLE001 - truncated or corrupt tag: no metadata, never a crash
        return []
    out = []
    for field in ID3_FIELDS:
        for frame in tags.getall(field):
            for text in getattr(frame, "text", [])[:10]:
                if str(text).strip():
                    out.append(MetaValue(field, str(text).strip(), "ID3"))
    return out
