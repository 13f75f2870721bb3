"""The readers of reservations inside files, on the corpus's real files and on files the tests
make: IPTC plus:DataMining in XMP, TDMRep in EPUB and PDF, C2PA/CAWG, and their layering."""

from __future__ import annotations

import json

import pytest

from tdm_guard import Evaluator, OriginPolicy, PageResponse, TdmRepFile
from tdm_guard.declarations import DeclarationSet
from tdm_guard.model import Purpose
from tdm_guard.signals import files, iptc

import mediafiles as mf

pytest.importorskip("PIL")
pytest.importorskip("pypdf")
pytest.importorskip("c2pa")

URL = "https://example.org/asset"
NO_DECLARATIONS = DeclarationSet()


def decide(body: bytes, purpose: str = "train", content_type: str = "", headers=(),
           tdmrep: TdmRepFile | None = None, partial: bool = False, **kw):
    headers = [*headers] + ([("Content-Type", content_type)] if content_type else [])
    evaluator = Evaluator("mybot", purpose, declarations=NO_DECLARATIONS, **kw)
    return evaluator.evaluate(URL, OriginPolicy("https://example.org", tdmrep=tdmrep),
                              PageResponse(200, headers, body, partial=partial))


def reasons(decision, signal):
    return [r for r in decision.reasons if r.signal == signal]


def file_unchecked(decision):
    """`unchecked` without the policy files, which these decisions never consult."""
    return [u for u in decision.unchecked if not u.startswith(("robots.txt", "tdmrep.json"))]


# -- IPTC plus:DataMining --------------------------------------------------------------
def test_iptc_reference_images(media):
    for name in ("IPTC-PhotometadataRef-Std2023.1.small.jpg",
                 "IPTC-PhotometadataRef-Std2024.1.jpg"):
        d = decide((media / "iptc" / name).read_bytes())
        (r,) = reasons(d, "iptc")
        assert d.allowed is False and r.reserved
        assert r.evidence == ("JPEG APP1 XMP: <plus:DataMining>http://ns.useplus.org/ldf/vocab/"
                              "DMI-PROHIBITED-GENAIMLTRAINING</plus:DataMining>")
        assert decide((media / "iptc" / name).read_bytes(), "search").allowed is True
    older = decide((media / "iptc" / "IPTC-PhotometadataRef-Std2021.1.small.jpg").read_bytes())
    assert older.allowed is True and reasons(older, "iptc") == []  # predates the property


def test_getty_webp_leaves_search_open(media):
    body = (media / "iptc" / "gettyimages-1404056433-1024x1024.webp").read_bytes()
    assert [decide(body, p).allowed for p in ("train", "input", "search", "tdm")] == \
        [False, False, True, False]
    (r,) = reasons(decide(body), "iptc")
    assert r.evidence.startswith("WebP XMP chunk: plus:DataMining=\"http://ns.useplus.org/")
    assert "EXCEPTSEARCHENGINEINDEXING" in r.evidence


EXPECTED = {  # PLUS value -> allowed for train, input, search, tdm
    "DMI-UNSPECIFIED": (True, True, True, True),
    "DMI-ALLOWED": (True, True, True, True),
    "DMI-PROHIBITED-AIMLTRAINING": (False, True, True, False),
    "DMI-PROHIBITED-GENAIMLTRAINING": (False, True, True, False),
    "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING": (False, False, True, False),
    "DMI-PROHIBITED": (False, False, False, False),
    "DMI-PROHIBITED-SEECONSTRAINT": (False, False, False, False),
    "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR": (False, False, False, False),
    "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR": (False, False, False, False),
}


def test_every_plus_value_is_mapped():
    assert set(EXPECTED) == set(iptc.PLUS_VALUES)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
@pytest.mark.parametrize("value", sorted(EXPECTED))
def test_plus_values_in_made_images(fmt, value):
    form = {"JPEG": "element", "PNG": "attribute", "WEBP": "resource", "TIFF": "element"}[fmt]
    body = mf.image_with_xmp(fmt, mf.data_mining_xmp(value, form))
    got = tuple(decide(body, p).allowed for p in ("train", "input", "search", "tdm"))
    assert got == EXPECTED[value]
    (r,) = reasons(decide(body, "tdm"), "iptc")
    assert value in r.evidence


def test_see_constraint_quotes_other_constraints():
    packet = mf.xmp(f"<plus:DataMining>{mf.VOCAB}DMI-PROHIBITED-SEECONSTRAINT</plus:DataMining>"
                    "<plus:OtherConstraints><rdf:Alt><rdf:li xml:lang='x-default'>Licensed for "
                    "search only</rdf:li></rdf:Alt></plus:OtherConstraints>")
    (r,) = reasons(decide(mf.image_with_xmp("JPEG", packet)), "iptc")
    assert r.reserved and "plus:OtherConstraints: Licensed for search only" in r.note


def test_bare_keys_labels_and_unknown_values():
    assert iptc.plus_key("dmi-prohibited-aimltraining") == "DMI-PROHIBITED-AIMLTRAINING"
    assert iptc.plus_key("Prohibited for Generative AI/ML training") == \
        "DMI-PROHIBITED-GENAIMLTRAINING"
    odd = decide(mf.image_with_xmp("JPEG", mf.data_mining_xmp("DMI-PROHIBITED-FOREVER")))
    assert odd.allowed is False and "read as DMI-PROHIBITED" in reasons(odd, "iptc")[0].note
    other = decide(mf.image_with_xmp("JPEG", mf.data_mining_xmp("maybe")), "tdm")
    assert other.allowed is True and "states nothing" in reasons(other, "iptc")[0].note


def test_broken_xmp_is_read_tolerantly_or_named():
    broken = (b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf=http://www.w3.org/1999/"
              b"02/22-rdf-syntax-ns#><rdf:Description xmlns:plus='" + mf.PLUS_NS.encode() +
              b"'><plus:DataMining>" + mf.VOCAB.encode() + b"DMI-PROHIBITED</plus:DataMining>")
    d = decide(mf.image_with_xmp("JPEG", broken), "search")
    assert d.allowed is False and "tolerant scan" in reasons(d, "iptc")[0].note
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;'
            b'&a;&a;&a;&a;&a;&a;&a;">]>' + mf.data_mining_xmp("DMI-PROHIBITED").replace(
                b"DMI-PROHIBITED", b"&b;"))
    d = decide(mf.image_with_xmp("PNG", bomb))
    assert reasons(d, "iptc") == []
    assert any("iptc: PNG iTXt XML:com.adobe.xmp: XMP refused" in u for u in d.unchecked)


# -- TDMRep in EPUB ----------------------------------------------------------------------
def test_w3c_epub_examples_as_packages(media):
    for name in ("w3c-example.epub3-opf.xml", "w3c-example.epub2-opf.xml"):
        body = mf.epub((media / "tdmrep" / name).read_bytes())
        d = decide(body)
        (r,) = reasons(d, "tdmrep-epub")
        assert d.allowed is False and r.reserved and d.policy == \
            "https://provider.com/policies/policy.json"
        assert r.evidence.startswith("OEBPS/content.opf: <meta ")
        assert "tolerant scan" in r.note  # the report's fragments are not well-formed XML
        assert "https://provider.com/policies/policy.json" in d.contacts


def test_epub3_and_epub2_well_formed():
    opf = mf.epub3_opf('<meta property="tdm:reservation">1</meta>')
    d = decide(mf.epub(opf), "search")
    (r,) = reasons(d, "tdmrep-epub")
    assert d.allowed is False and r.note is None
    assert r.evidence == 'OEBPS/content.opf: <meta property="tdm:reservation">1</meta>'
    other_prefix = mf.epub3_opf('<meta property="t:reservation">1</meta>',
                                'prefix="t: http://www.w3.org/ns/tdmrep#"')
    assert decide(mf.epub(other_prefix)).allowed is False
    undeclared = mf.epub3_opf('<meta property="tdm:reservation">1</meta>', "")
    d = decide(mf.epub(undeclared))
    assert d.allowed is False and "does not declare" in reasons(d, "tdmrep-epub")[0].note
    epub2 = mf.epub3_opf('<meta name="tdm:reservation" content="0"/>', "")
    d = decide(mf.epub(epub2, container=False))  # no container.xml: the first *.opf
    assert d.allowed is True and reasons(d, "tdmrep-epub")[0].reserved is False
    invalid = mf.epub3_opf('<meta property="tdm:reservation">yes</meta>')
    d = decide(mf.epub(invalid))
    assert d.allowed is True and "protocol error" in reasons(d, "tdmrep-epub")[0].note


def test_epub_is_the_last_tdmrep_layer():
    site = TdmRepFile.parse("https://example.org/.well-known/tdmrep.json",
                            b'[{"location": "/", "tdm-reservation": 1}]')
    lowered = mf.epub(mf.epub3_opf('<meta property="tdm:reservation">0</meta>'))
    d = decide(lowered, tdmrep=site, headers=[("tdm-reservation", "1")])
    assert d.allowed is True
    assert [r.note for r in d.reasons if r.signal.startswith("tdmrep")][:2] == [
        "superseded by tdmrep-epub", "superseded by tdmrep-epub"]
    silent = mf.epub(mf.epub3_opf('<meta property="dcterms:modified">2024</meta>'))
    d = decide(silent, tdmrep=site)  # absence never resets
    assert d.allowed is False and reasons(d, "tdmrep-file")[0].reserved


def test_epub_bombs_and_broken_archives():
    d = decide(mf.zip_bomb_epub())
    assert any("decompresses to more than" in u for u in d.unchecked)
    d = decide(mf.epub(mf.epub3_opf('<meta property="tdm:reservation">1</meta>'))[:200],
               content_type="application/epub+zip", partial=True)
    assert any("not a readable EPUB" in u and "first part" in u for u in d.unchecked)
    entity = mf.epub3_opf('<meta property="tdm:reservation">&x;</meta>').replace(
        "<package", '<!DOCTYPE p [<!ENTITY x "1">]><package')
    d = decide(mf.epub(entity.replace('<?xml version="1.0" encoding="UTF-8"?>', "")))
    assert any("refused" in u for u in d.unchecked) and d.allowed is True
    d = decide(b"PK\x03\x04" + b"\0" * 26 + b"mimetypeapplication/epub+zip" + b"\xff" * 500)
    assert any("tdmrep-epub" in u for u in d.unchecked)


# -- TDMRep and XMP in PDF -------------------------------------------------------------
@pytest.mark.parametrize("compress", [False, True])
def test_pdf_xmp_reservation_and_policy(media, compress):
    body = mf.pdf_with_xmp(media / "base" / "basic.pdf", mf.tdm_xmp("1", "https://p.example/p"),
                           compress)
    d = decide(body, "search")
    (r,) = reasons(d, "tdmrep-pdf")
    assert d.allowed is False and d.policy == "https://p.example/p"
    assert r.evidence == ("PDF /Metadata XMP: <tdm:reservation>1</tdm:reservation> "
                          "<tdm:policy>https://p.example/p</tdm:policy>")


def blank_pdf(tmp_path):
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(72, 72)
    path = tmp_path / "blank.pdf"
    writer.write(path)
    return path


@pytest.mark.parametrize("content_type", ["text/html", "text/html; charset=utf-8",
                                          "application/xhtml+xml", "application/pdf",
                                          "application/octet-stream", "text/plain", ""])
def test_a_pdf_is_read_as_a_pdf_whatever_it_is_served_as(tmp_path, content_type):
    # a server that labels a PDF text/html does not hide the reservation inside it
    body = mf.pdf_with_xmp(blank_pdf(tmp_path), mf.tdm_xmp("1", "https://p.example/p"))
    d = decide(body, content_type=content_type)
    (r,) = reasons(d, "tdmrep-pdf")
    assert d.allowed is False and r.reserved and d.policy == "https://p.example/p"


def test_a_page_served_as_html_that_mentions_a_file_signature_is_read_as_html():
    body = (b"<!DOCTYPE html><html><head><title>What %PDF-1.7 and ftyp mean</title>"
            b"<meta name='robots' content='noai'></head><body>%PDF-1.7</body></html>")
    d = decide(body, content_type="text/html")
    assert d.allowed is False and reasons(d, "noai-meta")
    assert not [u for u in d.unchecked if "PDF" in u]  # not read as a PDF at all
    # untyped, it is sniffed ("%PDF-" in its first KiB) and read both ways: still reserved
    assert decide(body).allowed is False and reasons(decide(body), "noai-meta")


def test_w3c_pdf_example_and_the_epub_namespace(media):
    example = (media / "tdmrep" / "w3c-example.pdf-xmp.xml").read_bytes()
    d = decide(mf.pdf_with_xmp(media / "base" / "basic.pdf", example))
    (r,) = reasons(d, "tdmrep-pdf")
    assert d.allowed is False and "tolerant scan" in r.note
    hashed = mf.tdm_xmp("1", namespace="http://www.w3.org/ns/tdmrep#")
    d = decide(mf.pdf_with_xmp(media / "base" / "basic-no-xmp.pdf", hashed))
    assert d.allowed is False and "namespace" in reasons(d, "tdmrep-pdf")[0].note


def test_pdf_carries_iptc_and_lowers_the_site(media):
    packet = mf.xmp(f"<plus:DataMining>{mf.VOCAB}DMI-PROHIBITED-AIMLTRAINING</plus:DataMining>"
                    "<tdm:reservation>0</tdm:reservation>",
                    f'xmlns:plus="{mf.PLUS_NS}" xmlns:tdm="http://www.w3.org/ns/tdmrep/"')
    site = TdmRepFile.parse("https://example.org/.well-known/tdmrep.json",
                            b'[{"location": "/", "tdm-reservation": 1}]')
    body = mf.pdf_with_xmp(media / "base" / "basic.pdf", packet)
    d = decide(body, "input", tdmrep=site)
    assert d.allowed is True and reasons(d, "tdmrep-file")[0].note == "superseded by tdmrep-pdf"
    assert decide(body, "train", tdmrep=site).allowed is False  # IPTC still reserves training


def test_plain_and_broken_pdfs(media):
    for name in ("basic.pdf", "basic-no-xmp.pdf"):
        d = decide((media / "base" / name).read_bytes(), "tdm")
        assert d.allowed is True and file_unchecked(d) == []
    d = decide(b"%PDF-1.7\n" + b"\x00garbage" * 100)
    assert d.allowed is True and any(u.startswith("tdmrep-pdf: the PDF could not be read")
                                     for u in d.unchecked)


# -- C2PA / CAWG ---------------------------------------------------------------------
def test_cawg_corpus_files(media):
    d = decide((media / "c2pa" / "C_with_CAWG_data.jpg").read_bytes())
    (r,) = reasons(d, "c2pa")
    assert d.allowed is False and "cawg.ai_generative_training use=\"notAllowed\"" in r.evidence
    assert r.note.startswith("manifest Valid") and "no trust list" in r.note
    assert decide((media / "c2pa" / "C_with_CAWG_data.jpg").read_bytes(), "input").allowed \
        is False
    assert decide((media / "c2pa" / "C_with_CAWG_data.jpg").read_bytes(), "search").allowed
    wav = decide((media / "c2pa" / "sample1_signed.wav").read_bytes(), "tdm")
    assert decide((media / "c2pa" / "sample1_signed.wav").read_bytes(), "search").allowed \
        is False  # cawg.data_mining notAllowed reserves every purpose
    assert {r.evidence.split(": ", 1)[1].split(" ")[0] for r in reasons(wav, "c2pa")} == {
        "cawg.ai_training", "cawg.ai_generative_training", "cawg.ai_inference",
        "cawg.data_mining"}
    legacy = decide((media / "c2pa" / "sample_c2pa.png").read_bytes())
    assert legacy.allowed is False
    assert all("assertion c2pa.training-mining: c2pa." in r.evidence
               for r in reasons(legacy, "c2pa"))


def test_invalid_manifests_state_their_validation(media):
    allowed = decide((media / "c2pa" / "adobe_connected_identities.jpg").read_bytes(), "tdm")
    assert allowed.allowed is True and all(not r.reserved for r in reasons(allowed, "c2pa"))
    assert "manifest Invalid (" in reasons(allowed, "c2pa")[0].note
    for name in ("E-sig-CA.jpg", "XCA.jpg", "screenshot-signed-badsig.jpg", "C.jpg"):
        d = decide((media / "c2pa" / name).read_bytes(), "tdm")
        (r,) = reasons(d, "c2pa")
        assert d.allowed is True and "no training-mining assertion" in r.evidence
    assert "Invalid" in reasons(decide((media / "c2pa" / "XCA.jpg").read_bytes()), "c2pa")[0].note


def test_remote_manifest_is_not_fetched(media):
    d = decide((media / "c2pa" / "libpng-test_with_url.png").read_bytes())
    assert any("remote manifest (http://localhost:5000/libpng-test.c2pa) that is not fetched"
               in u for u in d.unchecked)


@pytest.mark.parametrize("name", ["id3v23_compression_underflow.mp3", "nested_moov_1000.mp4",
                                  "riff_bomb_1000.wav", "sample3.invalid.wav", "tiff_poc.tiff"])
def test_malformed_containers(media, name):
    d = decide((media / "c2pa" / "malformed" / name).read_bytes(), "tdm")
    assert d.allowed is True  # nothing readable reserves; what could not be read is named
    if name in ("nested_moov_1000.mp4", "sample3.invalid.wav", "tiff_poc.tiff"):
        assert any(u.startswith("c2pa: the ") and "could not be read" in u for u in d.unchecked)


def test_truncated_jumbf(media):
    whole = (media / "c2pa" / "C_with_CAWG_data.jpg").read_bytes()
    start = whole.find(b"\xff\xeb")
    for cut in (start + 100, start + 5000, start + 30000):
        d = decide(whole[:cut], partial=True)
        assert reasons(d, "c2pa") == [] and any(u.startswith("c2pa:") for u in d.unchecked)


def test_signed_by_the_tests(media):
    source = media / "c2pa" / "A.jpg"
    body = mf.signed(media, source, "image/jpeg", {
        "cawg.ai_training": {"use": "constrained"},
        "cawg.ai_inference": {"use": "constrained", "constraint_info": "licence: x.example"},
        "cawg.data_mining": {"use": "allowed"}})
    d = decide(body)
    (r,) = reasons(d, "c2pa")[:1]
    assert d.allowed is False and "equivalent to notAllowed" in r.note
    inference = decide(body, "input")
    assert inference.allowed is False
    assert "reserved until a person has read the constraints" in reasons(inference, "c2pa")[0].note
    assert decide(body, "search").allowed is True  # data_mining allowed
    anchors = (media / "c2pa" / "certs" / "test_cert_root_bundle.pem").read_text()
    trusted = decide(body, trust_anchors=anchors)
    assert reasons(trusted, "c2pa")[0].note.startswith("manifest Trusted")
    tampered = bytearray(body)
    tampered[-200] ^= 0xFF  # image data: the hard binding no longer matches
    d = decide(bytes(tampered))
    assert d.allowed is False and "manifest Invalid" in reasons(d, "c2pa")[0].note
    assert "assertion.dataHash.mismatch" in reasons(d, "c2pa")[0].note


@pytest.mark.parametrize("base,mime", [("base/libpng-test.png", "image/png"),
                                       ("base/sample1.webp", "image/webp"),
                                       ("base/basic.pdf", "application/pdf")])
def test_signed_formats(media, base, mime):
    body = mf.signed(media, media / base, mime, {"c2pa.ai_generative_training":
                                                  {"use": "notAllowed"}},
                     label="c2pa.training-mining")
    d = decide(body)
    assert d.allowed is False and reasons(d, "c2pa")[0].note.startswith("manifest Valid")


# -- downloads: when enough has arrived ----------------------------------------------
def test_enough_stops_after_metadata_unless_a_manifest_needs_the_whole_file(media):
    plain = (media / "c2pa" / "A.jpg").read_bytes()
    signed_jpeg = (media / "c2pa" / "C_with_CAWG_data.jpg").read_bytes()
    assert not files.enough(plain[:1000])
    assert not files.enough(plain[:30000])  # A.jpg's start of scan is at 34,979
    assert files.enough(plain[:36000]) and files.enough(plain)
    assert not files.enough(signed_jpeg) and not files.enough(signed_jpeg[:60000])
    png = (media / "base" / "libpng-test.png").read_bytes()
    assert files.enough(png) and not files.enough((media / "c2pa" / "sample_c2pa.png")
                                                  .read_bytes())
    assert not files.enough((media / "base" / "basic.pdf").read_bytes())
    assert files.enough(b"<html>" + b" " * (512 * 1024)) and not files.enough(b"<html>")


def test_partial_png_is_closed_for_the_readers(media):
    packet = mf.data_mining_xmp("DMI-PROHIBITED")
    body = mf.image_with_xmp("PNG", packet)
    idat = body.find(b"IDAT")
    d = decide(body[:idat + 10], partial=True)
    assert d.allowed is False and file_unchecked(d) == []


def test_reason_json_is_stable(media):
    d = decide((media / "iptc" / "gettyimages-1404056433-1024x1024.webp").read_bytes())
    out = json.loads(json.dumps(d.to_dict()))
    (r,) = [r for r in out["reasons"] if r["signal"] == "iptc"]
    assert r["purposes"] == sorted(p.value for p in (Purpose.INPUT, Purpose.TRAIN))
