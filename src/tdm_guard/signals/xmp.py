"""XMP packets (ISO 16684-1): the properties of every `rdf:Description`, namespace-aware.

An XMP packet is RDF/XML. A simple property is written either as an attribute of
`rdf:Description` (`plus:DataMining="…"`), as a child element with text
(`<tdm:reservation>1</tdm:reservation>`) or with an `rdf:resource` attribute; array values
(`rdf:Alt`, `rdf:Bag`, `rdf:Seq`) hold `rdf:li` items. Properties are returned with their
namespace URI, so a reader never depends on the prefix a writer chose.

Parsed with defusedxml: no DTD, no entity expansion, no external fetches. A packet that is not
well-formed XML is read with a tolerant scan (prefix declarations, then `<p:name>value</p:name>`
and `p:name="value"`), reported as such: a reservation written badly is still a reservation.
Everything is bounded (packet size, number of properties, array items).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_XMP_BYTES = 4 * 1024 * 1024
INSTALL_HINT = "install tdm-guard[media]"  # what a reader without its optional library says
MAX_PROPERTIES = 2000
MAX_ITEMS = 20
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_ARRAYS = {f"{{{RDF}}}Alt", f"{{{RDF}}}Bag", f"{{{RDF}}}Seq"}


@dataclass(frozen=True)
class XmpProperty:
    namespace: str
    name: str  # local name
    value: str  # text, attribute value or rdf:resource; array items joined with "; "
    form: str  # "attribute", "element", "resource" or "array"

    def describe(self, prefix: str) -> str:
        if self.form == "attribute":
            return f'{prefix}:{self.name}="{self.value}"'
        if self.form == "resource":
            return f'<{prefix}:{self.name} rdf:resource="{self.value}"/>'
        return f"<{prefix}:{self.name}>{self.value}</{prefix}:{self.name}>"


@dataclass(frozen=True)
class XmpPacket:
    properties: tuple[XmpProperty, ...] = ()
    problem: str | None = None  # why the packet could not be read strictly
    tolerant: bool = False  # read with the tolerant scan

    def get(self, namespaces: tuple[str, ...] | str, name: str) -> list[XmpProperty]:
        spaces = (namespaces,) if isinstance(namespaces, str) else namespaces
        return [p for p in self.properties if p.namespace in spaces and p.name == name]


def parse_xmp(data: bytes) -> XmpPacket:
    """Every property of the packet's `rdf:Description` elements (never raises)."""
    if len(data) > MAX_XMP_BYTES:
        return XmpPacket(problem=f"XMP packet of {len(data)} bytes is over the "
                                 f"{MAX_XMP_BYTES}-byte limit; not read")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        return XmpPacket(problem="XMP refused: it declares a DTD or entities (never expanded)")
    data = _packet(data)
    try:
        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import ParseError, fromstring
    except ImportError:  # pragma: no cover - defusedxml is a core dependency
        return XmpPacket(problem="defusedxml is not installed")
    try:
        root = fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        return XmpPacket(problem=f"XMP refused: {type(exc).__name__} (DTDs and entities are "
                                 "never expanded)")
    except (ParseError, ValueError, UnicodeError) as exc:
        scanned = tolerant_scan(data)
        return XmpPacket(scanned, problem=f"XMP is not well-formed XML ({exc})", tolerant=True)
    except RecursionError:
        return XmpPacket(problem="XMP nesting too deep; not read")
    out: list[XmpProperty] = []
    for desc in root.iter(f"{{{RDF}}}Description"):
        for key, value in desc.attrib.items():
            ns, name = _split(key)
            if ns and ns != RDF:
                out.append(XmpProperty(ns, name, value.strip(), "attribute"))
        for child in desc:
            ns, name = _split(child.tag)
            if not ns or ns == RDF:
                continue
            resource = child.attrib.get(f"{{{RDF}}}resource")
            if resource is not None:
                out.append(XmpProperty(ns, name, resource.strip(), "resource"))
                continue
            arrays = [c for c in child if c.tag in _ARRAYS]
            if arrays:
                items = [(li.text or li.attrib.get(f"{{{RDF}}}resource") or "").strip()
                         for li in arrays[0].iter(f"{{{RDF}}}li")][:MAX_ITEMS]
                out.append(XmpProperty(ns, name, "; ".join(i for i in items if i), "array"))
            else:
                out.append(XmpProperty(ns, name, (child.text or "").strip(), "element"))
        if len(out) >= MAX_PROPERTIES:
            break
    return XmpPacket(tuple(out[:MAX_PROPERTIES]))


def _packet(data: bytes) -> bytes:
    """The `x:xmpmeta` (or bare `rdf:RDF`) element, without xpacket wrappers or padding."""
    start = data.find(b"<x:xmpmeta")
    if start < 0:
        start = data.find(b"<rdf:RDF")
        end_tag = b"</rdf:RDF>"
    else:
        end_tag = b"</x:xmpmeta>"
    if start < 0:
        return data.strip(b"\x00 \r\n\t")
    end = data.find(end_tag, start)
    return data[start: end + len(end_tag)] if end >= 0 else data[start:]


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


_XMLNS = re.compile(rb"""xmlns:([A-Za-z_][\w.\-]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""")


def tolerant_scan(data: bytes) -> tuple[XmpProperty, ...]:
    """Properties of a packet that is not well-formed, by prefix: for every declared prefix,
    `<p:name>text</p:name>`, `<p:name rdf:resource="…"/>` and `p:name="value"`."""
    prefixes: dict[bytes, str] = {}
    for m in _XMLNS.finditer(data[:MAX_XMP_BYTES]):
        uri = (m.group(2) or m.group(3) or m.group(4) or b"").decode("utf-8", "replace")
        prefixes.setdefault(m.group(1), uri)
    out: list[XmpProperty] = []
    for prefix, uri in prefixes.items():
        if uri == RDF or prefix == b"x":
            continue
        p = re.escape(prefix)
        element = re.compile(rb"<" + p + rb":([\w.\-]+)(\s[^>]*)?>([^<]{0,4096})</" + p
                             + rb":\1\s*>")
        resource = re.compile(rb"<" + p + rb""":([\w.\-]+)\s[^>]*?rdf:resource\s*=\s*["']"""
                              rb"""([^"']{0,4096})["']""")
        attribute = re.compile(rb"""[\s"']""" + p + rb""":([\w.\-]+)\s*=\s*(?:"([^"]{0,4096})"|"""
                               rb"""'([^']{0,4096})')""")
        for m in element.finditer(data):
            out.append(XmpProperty(uri, _text(m.group(1)), _text(m.group(3)), "element"))
        for m in resource.finditer(data):
            out.append(XmpProperty(uri, _text(m.group(1)), _text(m.group(2)), "resource"))
        for m in attribute.finditer(data):
            out.append(XmpProperty(uri, _text(m.group(1)), _text(m.group(2) or m.group(3)),
                                   "attribute"))
        if len(out) >= MAX_PROPERTIES:
            break
    return tuple(out[:MAX_PROPERTIES])


def _text(raw: bytes) -> str:
    import html

    return html.unescape(raw.decode("utf-8", "replace")).strip()
