"""Files: what kind a response body or a local file is, which embedded-reservation readers
apply to it, and when a download has read enough.

- `file_kind`: the one rule every entry point asks: a body served as HTML is a file too only
  when it begins with a file's signature; any other body, `sniff`: the kind from the first
  bytes (magic numbers), else from the media type or the file name; HTML and text are not
  files.
- `read_file`: runs the readers for the kind: XMP (`iptc`) in JPEG, PNG, WebP, TIFF, GIF and
  PDF; TDMRep in EPUB (`epub`) and PDF (`pdf`); C2PA/CAWG (`c2pa`) in images, audio, video
  and PDF. ID3 is read once, by `metadata.from_id3`, for the declarations. Without the
  `media` extra (Pillow, pypdf, c2pa-python) the signals a file would carry are listed in
  `unchecked` as "install tdm-guard[media]", never read as allowing.
- `enough`: True once a download holds everything the readers need. JPEG keeps its XMP and
  C2PA segments before the start of scan, PNG its metadata chunks before the image data; a
  file that carries a C2PA manifest is read on to the cap, because the manifest's hard
  binding is a hash over the whole file.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field

from ..model import IPTC, Reason
from .tdmrep import LayerValue

MAX_FILE_BYTES = 16 * 1024 * 1024  # default download cap for files (`--max-file-bytes`)


@dataclass(frozen=True)
class FileKind:
    """What a body is (sniffed from its bytes, type and name)."""

    name: str  # jpeg, png, webp, gif, tiff, heif, pdf, epub, audio, video
    mime: str
    image: bool = False


JPEG = FileKind("jpeg", "image/jpeg", True)
PNG = FileKind("png", "image/png", True)
_BY_MIME = {
    "image/jpeg": JPEG, "image/jpg": JPEG, "image/pjpeg": JPEG,
    "image/png": PNG, "image/apng": PNG,
    "image/webp": FileKind("webp", "image/webp", True),
    "image/gif": FileKind("gif", "image/gif", True),
    "image/tiff": FileKind("tiff", "image/tiff", True),
    "image/heic": FileKind("heif", "image/heic"), "image/heif": FileKind("heif", "image/heif"),
    "image/avif": FileKind("heif", "image/avif"),
    "application/pdf": FileKind("pdf", "application/pdf"),
    "application/epub+zip": FileKind("epub", "application/epub+zip"),
    "audio/mpeg": FileKind("audio", "audio/mpeg"), "audio/mp3": FileKind("audio", "audio/mpeg"),
    "audio/wav": FileKind("audio", "audio/wav"), "audio/x-wav": FileKind("audio", "audio/wav"),
    "audio/vnd.wave": FileKind("audio", "audio/wav"), "audio/wave": FileKind("audio", "audio/wav"),
    "audio/mp4": FileKind("audio", "audio/mp4"), "audio/x-m4a": FileKind("audio", "audio/mp4"),
    "audio/flac": FileKind("audio", "audio/flac"), "audio/ogg": FileKind("audio", "audio/ogg"),
    "video/mp4": FileKind("video", "video/mp4"), "video/quicktime": FileKind("video",
                                                                          "video/quicktime"),
    "video/x-msvideo": FileKind("video", "video/x-msvideo"),
}
_BY_SUFFIX = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
    ".gif": "image/gif", ".tif": "image/tiff", ".tiff": "image/tiff", ".heic": "image/heic",
    ".avif": "image/avif", ".pdf": "application/pdf", ".epub": "application/epub+zip",
    ".mp3": "audio/mpeg", ".wav": "audio/wav", ".m4a": "audio/mp4", ".flac": "audio/flac",
    ".ogg": "audio/ogg", ".mp4": "video/mp4", ".mov": "video/quicktime", ".avi": "video/x-msvideo",
}
# containers the C2PA SDK reads (c2pa-rs 0.91 supported types)
_C2PA_KINDS = frozenset({"jpeg", "png", "webp", "gif", "tiff", "heif", "pdf", "audio", "video"})


def _magic(head: bytes, pdf_anywhere: bool = True) -> FileKind | None:
    """The kind from magic numbers; `pdf_anywhere`: a PDF header anywhere in the first KiB
    (as PDF readers accept) counts, not only at byte 0."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return _BY_MIME["image/gif"]
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return _BY_MIME["image/tiff"]
    if head.startswith(b"RIFF") and len(head) >= 12:
        return {b"WEBP": _BY_MIME["image/webp"], b"WAVE": _BY_MIME["audio/wav"],
                b"AVI ": _BY_MIME["video/x-msvideo"]}.get(head[8:12])
    if head.startswith(b"%PDF-") or (pdf_anywhere and b"%PDF-" in head[:1024]):
        return _BY_MIME["application/pdf"]
    if head.startswith(b"PK\x03\x04") and head[30:58] == b"mimetypeapplication/epub+zip":
        return _BY_MIME["application/epub+zip"]
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"heim", b"heis"):
            return FileKind("heif", "image/avif" if brand == b"avif" else "image/heic")
        if brand in (b"M4A ", b"M4B "):
            return _BY_MIME["audio/mp4"]
        return _BY_MIME["video/quicktime" if brand == b"qt  " else "video/mp4"]
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0
                                   and head[1] & 0x06):
        return _BY_MIME["audio/mpeg"]
    if head.startswith(b"fLaC"):
        return _BY_MIME["audio/flac"]
    if head.startswith(b"OggS"):
        return _BY_MIME["audio/ogg"]
    return None


def signature(head: bytes) -> FileKind | None:
    """The kind a body's own first bytes declare, from signatures that begin at byte 0 and
    that no HTML document begins with: not MP3 frame sync (a UTF-16 byte-order mark matches
    it), not ID3 (read from every body anyway, `metadata.from_id3`), not "%PDF-" after byte 0
    (a page about PDFs may say it)."""
    if head[:1] in (b"<", b"", b" ", b"\n", b"\r", b"\t", b"\xef"):  # most HTML: at once
        return None
    kind = _magic(head, pdf_anywhere=False)
    return None if kind is None or kind.mime == "audio/mpeg" else kind


def file_kind(body: bytes, content_type: str = "", name: str = "") -> FileKind | None:
    """The one rule for which file reader, if any, reads a body (every entry point asks it).
    A body served as HTML is read as HTML; it is read as a file as well only when it begins
    with a file's own signature (`signature`): a PDF served as `text/html` still has its
    embedded reservations read, its head is scanned too. Any other body: `sniff`."""
    if "html" in content_type.lower():
        return signature(bytes(body[:64]))
    return sniff(body, content_type, name)


def sniff(body: bytes, content_type: str = "", name: str = "") -> FileKind | None:
    """The file kind of a body: magic numbers first, then the media type, then the name.
    None for HTML, text and anything else that is not a file these readers know."""
    kind = _magic(bytes(body[:1024]))
    if kind is not None:
        return kind
    mime = content_type.split(";")[0].strip().lower()
    if mime in _BY_MIME:
        return _BY_MIME[mime]
    lower = name.lower().split("?")[0]
    for suffix, by_suffix in _BY_SUFFIX.items():
        if lower.endswith(suffix):
            return _BY_MIME[by_suffix]
    return None


# -- how much to download -------------------------------------------------------------
def _jpeg_metadata_end(data: bytes) -> tuple[int | None, bool]:
    """(offset where the image data starts, whether an APP11 (JUMBF, C2PA) segment came
    before it); offset None while the segments are still arriving."""
    i, jumbf = 2, False
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return i, jumbf  # not a segment: stop looking (the readers will say why)
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker == 0xEB:
            jumbf = True
        if marker == 0xDA:  # start of scan: every metadata segment has been seen
            end = i + 2 + length
            return (end if end <= n else None), jumbf
        i += 2 + length
    return None, jumbf


def _png_metadata_end(data: bytes) -> tuple[int | None, bool]:
    """(offset of the first IDAT chunk, whether a caBX (C2PA) chunk came before it)."""
    i, jumbf = 8, False
    n = len(data)
    while i + 8 <= n:
        length = struct.unpack(">I", data[i:i + 4])[0]
        kind = bytes(data[i + 4:i + 8])
        if kind == b"caBX":
            jumbf = True
        if kind in (b"IDAT", b"IEND"):
            return i, jumbf
        i += 12 + length
    return None, jumbf


def enough(prefix: bytes, content_type: str = "", head_limit: int = 512 * 1024,
           file_limit: int = MAX_FILE_BYTES) -> bool:
    """True once `prefix` (the first bytes of a download) holds what the readers need: an
    HTML head's first `head_limit` bytes, a file's first `file_limit`, or sooner a JPEG/PNG's
    metadata when it carries no C2PA manifest."""
    kind = file_kind(prefix[:1024], content_type)
    if kind is None:
        return len(prefix) >= head_limit
    if "html" in content_type.lower() and len(prefix) < head_limit:
        return False  # served as HTML: its head is scanned as well
    if len(prefix) >= file_limit:
        return True
    if kind is JPEG:
        end, jumbf = _jpeg_metadata_end(prefix)
        return end is not None and not jumbf and len(prefix) >= end + 64
    if kind is PNG:
        end, jumbf = _png_metadata_end(prefix)
        return end is not None and not jumbf
    return False


def complete_prefix(kind: FileKind, data: bytes) -> bytes:
    """A partial PNG ends at its last whole chunk, closed with IEND, so that the readers
    can open it (JPEG readers take a prefix as it is)."""
    if kind is not PNG:
        return data
    i, n = 8, len(data)
    while i + 8 <= n:
        length = struct.unpack(">I", data[i:i + 4])[0]
        if i + 12 + length > n:
            break
        i += 12 + length
    return bytes(data[:i]) + b"\x00\x00\x00\x00IEND\xaeB`\x82"


# -- reading ------------------------------------------------------------------------
@dataclass
class FileFindings:
    """What one file's embedded metadata said (reasons, TDMRep layer, notes)."""

    kind: FileKind | None
    reasons: list[Reason] = field(default_factory=list)
    document: tuple[str, str, LayerValue] | None = None  # TDMRep's last layer (EPUB, PDF)
    document_notes: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)


_XMP_WHERE = {"jpeg": "JPEG APP1 XMP", "png": "PNG iTXt XML:com.adobe.xmp",
              "webp": "WebP XMP chunk", "gif": "GIF XMP data", "tiff": "TIFF tag 700 (XMP)"}


def image_xmp(kind: FileKind, data: bytes) -> tuple[bytes | None, str | None]:
    """The XMP packet of an image, read with Pillow: (packet or None, problem or None)."""
    from .xmp import INSTALL_HINT

    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        return None, INSTALL_HINT
    try:
        with Image.open(io.BytesIO(data)) as image:
            xmp = image.info.get("xmp")
            if xmp is None and kind.name == "tiff":
                xmp = image.tag_v2.get(700)  # type: ignore[attr-defined]
    except UnidentifiedImageError:
        return None, f"not a readable {kind.name.upper()} (Pillow cannot identify it)"
    except (OSError, ValueError, SyntaxError, EOFError, struct.error,
            Image.DecompressionBombError) as exc:
        return None, f"not a readable {kind.name.upper()} ({type(exc).__name__}: {exc})"
    except Exception as exc:  # noqa: BLE001 - Pillow on hostile input: never a crash
        return None, f"not a readable {kind.name.upper()} ({type(exc).__name__}: {exc})"
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    return (bytes(xmp) if xmp else None), None


def read_file(source: str, body: bytes, content_type: str = "", name: str = "",
              partial: bool = False, trust_anchors: str | None = None) -> FileFindings:
    """Every embedded reservation in `body` (a whole file, or its first bytes: `partial`)."""
    kind = sniff(body, content_type, name)
    found = FileFindings(kind)
    if kind is None:
        return found
    data = complete_prefix(kind, body) if partial else body
    # the readers are imported on first use: a crawl of HTML pages never loads them
    from . import c2pa, epub, iptc, pdf
    if kind.image:
        xmp, problem = image_xmp(kind, data)
        if problem is not None:
            found.unchecked.append(f"iptc: {problem}")
        elif xmp is not None:
            _iptc(found, source, xmp, _XMP_WHERE.get(kind.name, "XMP"))
    elif kind.name == "pdf":
        from .xmp import INSTALL_HINT

        result = pdf.read_pdf(source, data, partial)
        found.unchecked += result.unchecked
        if any(INSTALL_HINT in u for u in result.unchecked):
            found.unchecked.append(f"iptc: {INSTALL_HINT}")
        found.document, found.document_notes = result.layer, result.notes
        if result.xmp is not None:
            found.reasons += iptc.data_mining_reasons(source, result.xmp, "PDF /Metadata XMP")
    elif kind.name == "epub":
        result_epub = epub.read_epub(source, data, partial)
        found.unchecked += result_epub.unchecked
        found.document, found.document_notes = result_epub.layer, result_epub.notes
    if kind.name in _C2PA_KINDS:
        manifest = c2pa.manifest_reasons(source, data, kind.mime, partial, trust_anchors)
        found.reasons += manifest.reasons
        found.unchecked += manifest.unchecked
    return found


def _iptc(found: FileFindings, source: str, xmp: bytes, where: str) -> None:
    from . import iptc
    from .xmp import parse_xmp

    packet = parse_xmp(xmp)
    if packet.problem and not packet.tolerant:
        found.unchecked.append(f"{IPTC}: {where}: {packet.problem}")
        return
    found.reasons += iptc.data_mining_reasons(source, packet, where)


def with_document_notes(reasons: list[Reason], found: FileFindings) -> list[Reason]:
    """The TDMRep reasons, with the EPUB/PDF reader's notes added to the file layer's."""
    if found.document is None or not found.document_notes:
        return reasons
    from dataclasses import replace

    signal = found.document[0]
    return [replace(r, note="; ".join([*found.document_notes, *([r.note] if r.note else [])]))
            if r.signal == signal else r for r in reasons]


def body_cap(body: bytes, content_type: str, max_file_bytes: int = MAX_FILE_BYTES,
             head_limit: int = 512 * 1024) -> int:
    """How many bytes of a response the readers take: a file's `max_file_bytes`, or an HTML
    head's `head_limit` (for callers that hold the whole body, such as Scrapy)."""
    if file_kind(body[:1024], content_type) is None:
        return head_limit
    if "html" in content_type.lower():
        return max(max_file_bytes, head_limit)  # a file served as HTML: both readers
    return max_file_bytes
