"""Hostile input for every file reader and the RSL parser: random bytes, real files with
random damage, random zips. A reader never raises, never loops, keeps its output bounded."""

from __future__ import annotations

import io
import zipfile
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tdm_guard.signals import files, rsl, xmp

from conftest import CORPUS

SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
KINDS = ["image/jpeg", "image/png", "image/webp", "image/tiff", "image/gif", "application/pdf",
         "application/epub+zip", "audio/mpeg", "audio/wav", "video/mp4", ""]
SAMPLES = ["c2pa/C_with_CAWG_data.jpg", "c2pa/sample_c2pa.png", "iptc/gettyimages-1404056433-"
           "1024x1024.webp", "base/basic.pdf", "c2pa/sample1_signed.wav", "c2pa/pdf-file.pdf"]


@cache
def sample(name: str) -> bytes | None:
    path = CORPUS / "media" / name
    return path.read_bytes() if path.is_file() else None


def check_findings(found: files.FileFindings) -> None:
    assert len(found.reasons) <= 200 and len(found.unchecked) <= 20
    for reason in found.reasons:
        assert len(reason.evidence) < 20_000


@SETTINGS
@given(st.binary(max_size=4096), st.sampled_from(KINDS), st.booleans())
def test_random_bytes_as_any_kind(body, content_type, partial):
    check_findings(files.read_file("https://x.example/f", body, content_type, partial=partial))


MAGIC = [b"\xff\xd8\xff\xe1", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBP",
         b"RIFF\x00\x00\x00\x00WAVE", b"%PDF-1.7\n", b"II*\x00", b"GIF89a", b"ID3\x03\x00",
         b"\x00\x00\x00\x18ftypmp42",
         b"PK\x03\x04" + b"\x00" * 26 + b"mimetypeapplication/epub+zip"]


@SETTINGS
@given(st.sampled_from(MAGIC), st.binary(max_size=8192))
def test_magic_numbers_followed_by_garbage(magic, rest):
    check_findings(files.read_file("https://x.example/f", magic + rest))


@SETTINGS
@given(st.sampled_from(SAMPLES), st.lists(st.tuples(st.integers(0, 10**7), st.integers(0, 255)),
                                          max_size=8), st.integers(0, 10**7))
def test_real_files_with_random_damage(name, flips, cut):
    body = sample(name)
    if body is None:
        pytest.skip("media corpus not found")
    damaged = bytearray(body[: max(16, cut % (len(body) + 1))])
    for offset, value in flips:
        damaged[offset % len(damaged)] = value
    check_findings(files.read_file("https://x.example/f", bytes(damaged), partial=True))
    files.enough(damaged)


@SETTINGS
@given(st.dictionaries(st.text(min_size=1, max_size=30), st.binary(max_size=2048), max_size=6),
       st.booleans())
def test_random_zips_as_epub(entries, with_mimetype):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        if with_mimetype:
            archive.writestr("mimetype", "application/epub+zip")
        for name, data in entries.items():
            try:
                archive.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
            except (ValueError, UnicodeEncodeError, IndexError):  # zipfile refuses the name
                continue
    check_findings(files.read_file("https://x.example/b.epub", out.getvalue(),
                                   "application/epub+zip"))


XML_BITS = ["<rsl xmlns='https://rslstandard.org/rsl'>", "</rsl>", "<content url='/'>",
            "<content url='https://a.example/*'>", "</content>", "<license>", "</license>",
            "<permits type='usage'>", "<prohibits type='usage'>", "</permits>", "</prohibits>",
            "all ", "ai-all ", "ai-train ", "search ", "train-ai,", "<payment type='crawl'>",
            "</payment>", "<!DOCTYPE r [<!ENTITY a 'x'>]>", "&a;", "<![CDATA[x]]>", "\x00", "ü"]


@SETTINGS
@given(st.lists(st.sampled_from(XML_BITS), max_size=30), st.binary(max_size=64))
def test_rsl_documents_from_pieces(pieces, noise):
    body = "".join(pieces).encode("utf-8") + noise
    doc = rsl.RslDocument.parse("https://a.example/l.xml", body)
    reasons, unchecked = rsl.licence_reasons("https://a.example/x", "/x", [doc])
    assert len(reasons) <= 2 * rsl.MAX_CONTENTS and len(unchecked) <= 1


@SETTINGS
@given(st.binary(max_size=4096))
def test_xmp_from_random_bytes(body):
    packet = xmp.parse_xmp(body)
    assert len(packet.properties) <= xmp.MAX_PROPERTIES


@SETTINGS
@given(st.text(max_size=300))
def test_link_headers(value):
    for url in rsl.link_header_urls("https://a.example/p", [("Link", value)]):
        assert isinstance(url, str)


def test_deep_nesting_and_wide_documents_are_bounded():
    deep = b"<rsl>" + b"<content url='/'>" * 100_000 + b"</rsl>"
    assert rsl.RslDocument.parse("https://a.example/l.xml", deep).problem is not None
    wide = (b"<rsl xmlns='https://rslstandard.org/rsl'>" + b"<content url='/'><license>"
            b"<prohibits type='usage'>all</prohibits></license></content>" * 5000 + b"</rsl>")
    doc = rsl.RslDocument.parse("https://a.example/l.xml", wide)
    assert len(doc.contents) == rsl.MAX_CONTENTS
    deep_xmp = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>" + b"<a>" * 200_000
    assert xmp.parse_xmp(deep_xmp).problem is not None


# -- which reader reads a body: the one rule (files.file_kind) ----------------------------
HTML_TYPES = ["text/html", "text/html; charset=utf-8", "TEXT/HTML", "application/xhtml+xml"]
SIGNATURES = [m for m in MAGIC if not m.startswith(b"ID3")]  # ID3 is read from every body


@SETTINGS
@given(st.binary(max_size=2048), st.sampled_from(HTML_TYPES))
def test_a_body_served_as_html_is_a_file_only_when_it_begins_like_one(rest, content_type):
    # A page may mention "%PDF-" or "ftyp" anywhere; it begins with markup or text.
    for lead in (b"<", b" <", b"\xef\xbb\xbf<", b"\xff\xfe<\x00", b"hello "):
        assert files.file_kind(lead + rest, content_type) is None
        assert files.body_cap(lead + rest, content_type, 10, 100) == 100
    for magic in SIGNATURES:
        kind = files.file_kind(magic + rest, content_type)
        assert kind is not None and kind == files.sniff(magic)  # its own signature
        assert files.body_cap(magic + rest, content_type, 10, 100) == 100  # both readers
        assert files.body_cap(magic + rest, content_type, 1000, 100) == 1000


@SETTINGS
@given(st.binary(max_size=2048), st.sampled_from(KINDS + ["text/plain", "application/json"]))
def test_a_body_not_served_as_html_is_sniffed(body, content_type):
    assert files.file_kind(body, content_type) == files.sniff(body, content_type)
