"""TDMRep inside EPUB (W3C TDMRep final report, "TDM Reservation in EPUB").

The report, §EPUB 3: "the `tdm` prefix [...] must be declared in the `prefix` attribute of
the package element": `<package prefix="tdm: http://www.w3.org/ns/tdmrep#">` with
`<meta property="tdm:reservation">1</meta>` and `<meta property="tdm:policy">URL</meta>`
in the package metadata; §EPUB 2: `<meta name="tdm:reservation" content="1" />` and
`<meta name="tdm:policy" content="URL" />`. These "cover TDM rights for every resource in
the package", and are the last layer of the processing priority: "A TDM Agent MUST check
the presence of TDM Metadata in every EPUB or PDF file fetched from the Web server. The
values of tdm:reservation and tdm:policy found here supercede previous values."

The package document is found through `META-INF/container.xml` (its first `rootfile`), or
as the first `*.opf` entry when there is none. Bounded against zip bombs: at most
MAX_ENTRIES entries are listed, and the container and package documents are read (and
decompressed) only up to MAX_OPF_BYTES each, whatever sizes the archive declares.
Choices where the report is silent: a `tdm:` property whose prefix the package does not
declare is still read (with a note); the EPUB 3 namespace with `/` (as PDF has it) and the
early `…/tdmrep/xml` are accepted; a package document that is not well-formed XML is read
with a tolerant scan of its `<meta>` elements.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field

from ..model import TDMREP_EPUB
from .tdmrep import LayerValue, document_layer

MAX_OPF_BYTES = 1024 * 1024
MAX_ENTRIES = 100_000
TDM_NAMESPACES = ("http://www.w3.org/ns/tdmrep#", "http://www.w3.org/ns/tdmrep/",
                  "http://www.w3.org/ns/tdmrep/xml")
OPF_NS = "http://www.idpf.org/2007/opf"
CONTAINER_NS = "urn:oasis:names:tc:opendocument:xmlns:container"
_META = re.compile(rb"<(?:[\w.\-]+:)?meta\b((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>", re.I)
_ATTR = re.compile(rb"""([\w:.\-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


@dataclass
class EpubResult:
    layer: tuple[str, str, LayerValue] | None = None  # (signal, source, value) for tdmrep
    unchecked: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_epub(source: str, data: bytes, partial: bool = False) -> EpubResult:
    """TDMRep properties of the EPUB in `data` (never raises)."""
    result = EpubResult()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        hint = " (only the first part of the file was read: raise --max-file-bytes)" \
            if partial else ""
        result.unchecked.append(f"tdmrep-epub: not a readable EPUB (zip) archive: {exc}{hint}")
        return result
    if len(names) > MAX_ENTRIES:
        result.unchecked.append(f"tdmrep-epub: archive lists {len(names)} entries, over the "
                                f"{MAX_ENTRIES} limit; not read")
        return result
    opf_path = _rootfile(archive, names, result)
    if opf_path is None:
        if not result.unchecked:
            result.unchecked.append("tdmrep-epub: no package document (container.xml rootfile "
                                    "or *.opf) in the archive")
        return result
    opf = _read_entry(archive, opf_path, result)
    if opf is None:
        return result
    pairs, evidence = _package_metadata(opf_path, opf, result)
    value = document_layer(pairs, "{}", "{}") if pairs else None
    if value is not None:
        value = LayerValue(value.reservation, value.policy, evidence, value.invalid)
        result.layer = (TDMREP_EPUB, source, value)
    return result


def _read_entry(archive: zipfile.ZipFile, name: str, result: EpubResult) -> bytes | None:
    try:
        with archive.open(name) as entry:
            data = entry.read(MAX_OPF_BYTES + 1)
    except (KeyError, zipfile.BadZipFile, OSError, ValueError, EOFError,
            NotImplementedError, RuntimeError) as exc:
        result.unchecked.append(f"tdmrep-epub: {name} could not be read: {exc}")
        return None
    if len(data) > MAX_OPF_BYTES:
        result.unchecked.append(f"tdmrep-epub: {name} decompresses to more than "
                                f"{MAX_OPF_BYTES} bytes; not read")
        return None
    return data


def _rootfile(archive: zipfile.ZipFile, names: list[str], result: EpubResult) -> str | None:
    if "META-INF/container.xml" in names:
        container = _read_entry(archive, "META-INF/container.xml", result)
        if container is None:
            return None
        root = _parse(container)
        if not isinstance(root, str):
            for item in root.iter(f"{{{CONTAINER_NS}}}rootfile"):
                path = item.attrib.get("full-path", "").strip()
                if path in names:
                    return path
        else:
            m = re.search(rb"""full-path\s*=\s*["']([^"']+)["']""", container)
            if m and m.group(1).decode("utf-8", "replace") in names:
                return m.group(1).decode("utf-8", "replace")
    return next((n for n in names if n.lower().endswith(".opf")), None)


def _parse(data: bytes):  # -> Element | str (the problem)
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    try:
        return fromstring(data, forbid_dtd=False)
    except DefusedXmlException as exc:
        return f"refused: {type(exc).__name__} (entities are never expanded)"
    except (ParseError, ValueError, UnicodeError, RecursionError) as exc:
        return f"not well-formed XML ({exc})"


def _prefixes(value: str) -> dict[str, str]:
    """EPUB 3 `prefix` attribute: "tdm: http://… dc: http://…"."""
    out = {}
    for m in re.finditer(r"([\w.\-]+):\s+(\S+)", value):
        out[m.group(1)] = m.group(2)
    return out


def _package_metadata(path: str, opf: bytes, result: EpubResult,
                      ) -> tuple[list[tuple[str, str]], str]:
    """(name, value) pairs with names `tdm-reservation` / `tdm-policy`, and the evidence:
    the package path and the elements as written."""
    root = _parse(opf)
    metas: list[tuple[dict[str, str], str]] = []  # (attributes, text)
    prefix_attr = ""
    if isinstance(root, str):
        if "refused" in root:
            result.unchecked.append(f"tdmrep-epub: {path} {root}")
            return [], ""
        result.notes.append(f"{path} is {root}; read with a tolerant scan")
        m = re.search(rb"""<(?:[\w.\-]+:)?package\b[^>]*?\sprefix\s*=\s*["']([^"']*)["']""",
                      opf)
        prefix_attr = m.group(1).decode("utf-8", "replace") if m else ""
        for tag in _META.finditer(opf):
            attrs = {k.decode("utf-8", "replace").lower(): (dq or sq).decode("utf-8", "replace")
                     for k, dq, sq in _ATTR.findall(tag.group(1))}
            text = ""
            if not tag.group(1).rstrip().endswith(b"/"):
                close = re.compile(rb"([^<]{0,4096})</(?:[\w.\-]+:)?meta\s*>", re.I)
                cm = close.match(opf, tag.end())
                text = cm.group(1).decode("utf-8", "replace") if cm else ""
            metas.append((attrs, text))
    else:
        prefix_attr = root.attrib.get("prefix", "")
        for element in root.iter():
            if isinstance(element.tag, str) and element.tag.rsplit("}", 1)[-1] == "meta":
                attrs = {k.rsplit("}", 1)[-1].lower(): v for k, v in element.attrib.items()}
                metas.append((attrs, element.text or ""))
    declared = _prefixes(prefix_attr)
    tdm_prefixes = {p for p, uri in declared.items() if uri in TDM_NAMESPACES}
    pairs: list[tuple[str, str]] = []
    texts: list[str] = []
    undeclared = False
    for attrs, text in metas:
        prop = attrs.get("property", "").strip()
        name = attrs.get("name", "").strip()
        if prop and ":" in prop:
            prefix, _, local = prop.partition(":")
            if local.lower() not in ("reservation", "policy"):
                continue
            if prefix not in tdm_prefixes:
                if prefix != "tdm":
                    continue
                undeclared = True
            key = f"tdm-{local.lower()}"
            pairs.append((key, text.strip()))
            texts.append(f'<meta property="{prop}">{text.strip()}</meta>')
        elif name.lower() in ("tdm:reservation", "tdm:policy"):
            key = "tdm-" + name.lower().split(":", 1)[1]
            content = attrs.get("content", "").strip()
            pairs.append((key, content))
            texts.append(f'<meta name="{name}" content="{content}" />')
    if undeclared:
        result.notes.append('the package does not declare the "tdm:" prefix (the report '
                            'requires prefix="tdm: http://www.w3.org/ns/tdmrep#"); read as '
                            "TDMRep all the same")
    return pairs, f"{path}: " + " ".join(texts[:10])
