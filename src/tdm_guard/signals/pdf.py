"""TDMRep inside PDF (W3C TDMRep final report, "TDM Reservation in PDF"), and the PDF's XMP.

The report: the properties go in the document's XMP metadata, namespace
`http://www.w3.org/ns/tdmrep/`: `<tdm:reservation>1</tdm:reservation>` and
`<tdm:policy>URL</tdm:policy>` inside `rdf:Description`; they cover TDM rights "for every
page in the document" and are the last layer of the processing priority ("The values of
tdm:reservation and tdm:policy found here supercede previous values"). The same XMP may carry
IPTC `plus:DataMining` (`signals/iptc.py`).

The document catalog's `/Metadata` stream is located with pypdf (the `media` extra); its
bytes are decompressed here, bounded (`xmp.MAX_XMP_BYTES`), and parsed by `signals/xmp.py`.
Choices where the report is silent: the EPUB namespace (`…/tdmrep#`) is accepted too (as
other readers do); both element and attribute forms are read; XMP that is not well-formed
(the report's own example has an unquoted `xmlns:rdf`) is read with the tolerant scan.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass, field

from ..model import TDMREP_PDF
from .epub import TDM_NAMESPACES
from .tdmrep import LayerValue, document_layer
from .xmp import INSTALL_HINT, MAX_XMP_BYTES, XmpPacket, parse_xmp


@dataclass
class PdfResult:
    layer: tuple[str, str, LayerValue] | None = None
    xmp: XmpPacket | None = None  # the document XMP, for IPTC
    unchecked: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def pdf_xmp(data: bytes) -> tuple[bytes | None, str | None]:
    """The bytes of the catalog's `/Metadata` stream (None, None when there is none), or
    (None, problem)."""
    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError
    except ImportError:
        return None, INSTALL_HINT
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        root = reader.trailer.get("/Root")
        root = root.get_object() if root is not None else None
        ref = root.get("/Metadata") if root is not None and hasattr(root, "get") else None
        if ref is None:
            return None, None
        stream = ref.get_object()
        filters = stream.get("/Filter")
        raw = getattr(stream, "_data", b"") or b""
        if filters is None:
            return bytes(raw[: MAX_XMP_BYTES + 1]), None
        names = [str(f) for f in filters] if isinstance(filters, list) else [str(filters)]
        if names == ["/FlateDecode"] and not stream.get("/DecodeParms"):
            out = zlib.decompressobj().decompress(bytes(raw), MAX_XMP_BYTES + 1)
            return out, None
        return bytes(stream.get_data()[: MAX_XMP_BYTES + 1]), None
    except (PyPdfError, zlib.error, ValueError, TypeError, KeyError, AttributeError,
            IndexError, OSError, RecursionError, AssertionError) as exc:
        return None, f"the PDF could not be read ({type(exc).__name__}: {str(exc)[:200]})"
    except Exception as exc:  # noqa: BLE001 - pypdf on hostile input: never a crash
        return None, f"the PDF could not be read ({type(exc).__name__}: {str(exc)[:200]})"


def read_pdf(source: str, data: bytes, partial: bool = False) -> PdfResult:
    """TDMRep properties and the XMP packet of the PDF in `data` (never raises)."""
    result = PdfResult()
    xmp, problem = pdf_xmp(data)
    if problem is not None:
        hint = " (only the first part of the file was read: raise --max-file-bytes)" \
            if partial and problem != INSTALL_HINT else ""
        result.unchecked.append(f"tdmrep-pdf: {problem}{hint}")
        return result
    if xmp is None:
        return result
    packet = parse_xmp(xmp)
    result.xmp = packet
    if packet.problem and not packet.tolerant:
        result.unchecked.append(f"tdmrep-pdf: /Metadata stream: {packet.problem}")
        return result
    if packet.tolerant:
        result.notes.append(f"/Metadata XMP {packet.problem}; read with a tolerant scan")
    pairs: list[tuple[str, str]] = []
    texts: list[str] = []
    for prop in packet.properties:
        if prop.namespace in TDM_NAMESPACES and prop.name in ("reservation", "policy"):
            pairs.append((f"tdm-{prop.name}", prop.value))
            texts.append(prop.describe("tdm"))
            if prop.namespace != "http://www.w3.org/ns/tdmrep/":
                note = f"namespace {prop.namespace} (the report's PDF namespace ends with /)"
                if note not in result.notes:
                    result.notes.append(note)
    value = document_layer(pairs, "{}", "{}") if pairs else None
    if value is not None:
        evidence = "PDF /Metadata XMP: " + " ".join(texts[:10])
        result.layer = (TDMREP_PDF, source,
                        LayerValue(value.reservation, value.policy, evidence, value.invalid))
    return result
