"""Files the media tests make themselves: images with XMP (Pillow), EPUBs (zipfile), PDFs
with XMP (pypdf), C2PA manifests signed with the SDK's published test certificate."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

PLUS_NS = "http://ns.useplus.org/ldf/xmp/1.0/"
VOCAB = "http://ns.useplus.org/ldf/vocab/"


def xmp(body: str, namespaces: str = f'xmlns:plus="{PLUS_NS}"') -> bytes:
    return (f'<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            f'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            f'<rdf:Description rdf:about="" {namespaces}>{body}</rdf:Description>'
            f'</rdf:RDF></x:xmpmeta><?xpacket end="w"?>').encode()


def data_mining_xmp(value: str, form: str = "element") -> bytes:
    uri = value if "/" in value else VOCAB + value
    if form == "attribute":
        return xmp("").replace(b'rdf:about=""', f'rdf:about="" plus:DataMining="{uri}"'.encode())
    if form == "resource":
        return xmp(f'<plus:DataMining rdf:resource="{uri}"/>')
    return xmp(f"<plus:DataMining>{uri}</plus:DataMining>")


def image_with_xmp(fmt: str, packet: bytes) -> bytes:
    """A small image of format `fmt` (JPEG, PNG, WEBP, TIFF, GIF) carrying `packet`."""
    from PIL import Image, PngImagePlugin

    image = Image.new("RGB", (24, 16), (200, 30, 30))
    out = io.BytesIO()
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", packet.decode("utf-8"))
        image.save(out, "PNG", pnginfo=info)
    elif fmt == "TIFF":
        image.save(out, "TIFF", tiffinfo={700: packet})
    elif fmt == "GIF":
        image.convert("P").save(out, "GIF", xmp=packet)
    else:
        image.save(out, fmt, xmp=packet)
    return out.getvalue()


def epub(opf: bytes | str, container: bool = True, extra: dict[str, bytes] | None = None,
         opf_path: str = "OEBPS/content.opf") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        if container:
            archive.writestr("META-INF/container.xml", (
                '<?xml version="1.0"?><container version="1.0" '
                'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
                f'<rootfile full-path="{opf_path}" media-type="application/oebps-package+xml"/>'
                '</rootfiles></container>'), compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr(opf_path, opf, compress_type=zipfile.ZIP_DEFLATED)
        for name, data in (extra or {}).items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def epub3_opf(metas: str, prefix: str = 'prefix="tdm: http://www.w3.org/ns/tdmrep#"') -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            f'<package xmlns="http://www.idpf.org/2007/opf" version="3.0" {prefix} '
            'unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f'<dc:title>T</dc:title>{metas}</metadata><manifest/><spine/></package>')


def zip_bomb_epub() -> bytes:
    """An EPUB whose package document decompresses to 200 MiB of spaces (about 200 KB)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        info = zipfile.ZipInfo("OEBPS/content.opf")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as entry:
            block = b" " * (1024 * 1024)
            entry.write(b'<package prefix="tdm: http://www.w3.org/ns/tdmrep#">')
            for _ in range(200):
                entry.write(block)
    return out.getvalue()


def pdf_with_xmp(base: Path, packet: bytes, compress: bool = False) -> bytes:
    """`base` (a PDF) with `packet` as the catalog's /Metadata stream."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, NameObject, StreamObject

    writer = PdfWriter(clone_from=str(base))
    stream: StreamObject = DecodedStreamObject()
    stream.set_data(packet)
    stream[NameObject("/Type")] = NameObject("/Metadata")
    stream[NameObject("/Subtype")] = NameObject("/XML")
    if compress:
        stream = stream.flate_encode()
    writer._root_object[NameObject("/Metadata")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def tdm_xmp(reservation: str, policy: str | None = None,
            namespace: str = "http://www.w3.org/ns/tdmrep/") -> bytes:
    body = f"<tdm:reservation>{reservation}</tdm:reservation>"
    if policy:
        body += f"<tdm:policy>{policy}</tdm:policy>"
    return xmp(body, f'xmlns:tdm="{namespace}"')


def signed(media: Path, source: Path, mime: str, entries: dict[str, dict],
           label: str = "cawg.training-mining") -> bytes:
    """`source` signed with the SDK's test certificate, with a training-mining assertion."""
    import c2pa

    certs = media / "c2pa" / "certs"
    info = c2pa.C2paSignerInfo(alg=b"es256", sign_cert=(certs / "es256_certs.pem").read_bytes(),
                               private_key=(certs / "es256_private.key").read_bytes(),
                               ta_url=None)
    signer = c2pa.Signer.from_info(info)
    manifest = {"claim_generator_info": [{"name": "tdm-guard tests", "version": "1"}],
                "title": source.name, "assertions": [
                    {"label": "c2pa.actions", "data": {"actions": [{
                        "action": "c2pa.created", "digitalSourceType":
                        "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"}]}},
                    {"label": label, "data": {"entries": entries}}]}
    out = io.BytesIO()
    with c2pa.Builder(manifest) as builder:
        builder.sign(signer, mime, io.BytesIO(source.read_bytes()), out)
    return out.getvalue()


