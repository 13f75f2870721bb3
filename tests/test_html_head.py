"""The HTML head scan on markup a browser reads one way and a naive scanner another: each
meta here is, or is not, an element of <head> as Chromium's parser builds the DOM."""

from __future__ import annotations

import pytest

from tdm_guard import Evaluator, OriginPolicy, PageResponse
from tdm_guard.signals.html import scan_head

NOAI = b'<meta name="robots" content="noai">'


@pytest.mark.parametrize("before", [
    b"<title>The <body> element</title>",  # title content is text
    b"<TITLE>The <body> element</title >",
    b"<style>/* </head> <body> */</style>",
    b"<textarea></head></textarea>",
    b'<base href="/a<body>">',  # an attribute value is never a tag
    b"<!-- a --!>",  # comments close as HTML closes them
    b"<!-->",
    b"<!--->",
    b"<meta name=description content=Don't>",  # an apostrophe in an unquoted value
    b'<!DOCTYPE html><html lang="en">',
    b"<noscript></noscript>",
])
def test_a_meta_after_markup_that_only_looks_like_the_end_of_the_head_is_read(before):
    head = scan_head(b"<head>" + before + NOAI + b"</head><body>x</body>")
    assert ("robots", "noai") in head.metas and not head.truncated


def test_a_meta_written_inside_a_title_does_not_lower_a_header_reservation():
    page = PageResponse(200, [("Content-Type", "text/html"), ("tdm-reservation", "1")],
                        b'<head><title>demo <meta name="tdm-reservation" content="0"></title>'
                        b"</head>")
    d = Evaluator("mybot").evaluate("https://example.org/p", OriginPolicy("https://example.org"),
                                    page)
    assert d.allowed is False
    assert [r.signal for r in d.reasons if r.reserved] == ["tdmrep-header"]


def test_an_unterminated_raw_text_element_ends_the_scan_as_truncated():
    head = scan_head(b"<head><title>no end" + NOAI)
    assert head.metas == [] and head.truncated  # the rest is the title's text: said so


@pytest.mark.parametrize("encoding,bom,charset", [
    ("utf-16-le", "\ufeff", ""), ("utf-16-be", "\ufeff", ""), ("utf-16-le", "", ""),
    ("utf-16-be", "", "utf-16be"), ("utf-32", "", ""), ("utf-16-le", "", "UTF-16")])
def test_a_utf16_or_utf32_page_is_read(encoding, bom, charset):
    text = bom + "<html><head><title>t</title>" + NOAI.decode() + "</head><body>x</body>"
    ctype = "text/html" + (f"; charset={charset}" if charset else "")
    page = PageResponse(200, [("Content-Type", ctype)], text.encode(encoding))
    d = Evaluator("mybot").evaluate("https://example.org/p", OriginPolicy("https://example.org"),
                                    page)
    assert d.allowed is False and [r.signal for r in d.reasons if r.reserved] == ["noai-meta"]
