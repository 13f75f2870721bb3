"""Declarations matched after download: schema.org JSON-LD and ID3 frames, with near misses."""

import io
import json

import pytest
from mutagen.id3 import ID3, TCOP, TPRO, TPUB

from tdm_guard import Evaluator, OriginPolicy, PageResponse
from tdm_guard.declarations import DeclarationSet
from tdm_guard.signals.metadata import from_id3, from_jsonld

URL = "https://lyrics.example/song/1"


def id3(**frames) -> bytes:
    tags = ID3()
    kinds = {"TCOP": TCOP, "TPRO": TPRO, "TPUB": TPUB}
    for name, text in frames.items():
        tags.add(kinds[name](encoding=3, text=[text]))
    buf = io.BytesIO()
    tags.save(buf)
    return buf.getvalue() + b"\xff\xfb\x90\x00" * 64


def jsonld_page(obj) -> bytes:
    return (f'<html><head><script type="application/ld+json">{json.dumps(obj)}</script>'
            "</head><body>lyrics</body></html>").encode()


def decide(body: bytes, content_type: str, **kw):
    evaluator = Evaluator("mybot", declarations=DeclarationSet.load(**kw))
    page = PageResponse(200, [("Content-Type", content_type)], body)
    return evaluator.evaluate(URL, OriginPolicy("https://lyrics.example"), page)


def declaration_reasons(decision):
    return [r for r in decision.reasons if r.signal == "declaration"]


def test_jsonld_record_label_reserves_and_names_policy_matcher_and_value():
    body = jsonld_page({"@context": "https://schema.org", "@type": "MusicAlbum",
                        "albumRelease": {"@type": "MusicRelease",
                                         "recordLabel": {"@type": "Organization",
                                                         "name": "Columbia Records"}}})
    decision = decide(body, "text/html")
    assert decision.allowed is False
    (reason,) = declaration_reasons(decision)
    assert reason.reserved and reason.source == URL
    assert 'JSON-LD recordLabel "Columbia Records" matches label "Columbia Records"' in \
        reason.evidence
    assert "sony-music-group-2024-05-16" in reason.evidence
    assert "mailto:aitrainingpermission@sonymusic.com" in decision.contacts


def test_id3_production_notice_reserves():
    decision = decide(id3(TPRO="(P) 2019 Sony Music Entertainment"), "audio/mpeg")
    (reason,) = declaration_reasons(decision)
    assert reason.reserved and 'ID3 TPRO "(P) 2019 Sony Music Entertainment"' in reason.evidence


@pytest.mark.parametrize("frames", [
    {"TPUB": "Epic Beats Collective"},                         # contains "Epic"
    {"TPUB": "Columbia University Press"},                     # contains "Columbia"
    {"TCOP": "2020 Sony Music Entertainment Japan Inc."},       # not a declarant
    {"TPUB": "Ultra International Music Publishing"},          # the independent Ultra
    {"TPRO": "2021 Sonny Music Entertainment"},                 # a near spelling
])
def test_near_misses_do_not_match(frames):
    decision = decide(id3(**frames), "audio/mpeg")
    assert declaration_reasons(decision) == [] and decision.allowed


def test_an_ambiguous_label_alone_is_reported_not_enforced():
    decision = decide(id3(TPUB="Epic"), "audio/mpeg")
    (reason,) = declaration_reasons(decision)
    assert reason.reserved is False and reason.note.startswith("not enforced")
    assert decision.allowed is True


def test_an_ambiguous_label_corroborated_by_a_notice_counts():
    decision = decide(id3(TPUB="Epic", TCOP="2019 Sony Music Entertainment"), "audio/mpeg")
    reasons = declaration_reasons(decision)
    assert [r.reserved for r in reasons] == [True, True]
    assert any(r.note == "corroborated by a stronger match of the same declaration"
               for r in reasons)


def test_extractors_are_bounded_and_tolerant():
    assert from_jsonld(["{not json", '{"publisher": ["A", {"name": "B"}, 3]}']) == [
        *from_jsonld(['{"publisher": "A"}']), *from_jsonld(['{"publisher": {"name": "B"}}'])]
    deep = {"a": None}
    node = deep
    for _ in range(100):
        node["a"] = {"publisher": "X"}
        node = node["a"]
    assert len(from_jsonld([json.dumps(deep)])) <= 13
    assert from_id3(b"ID3\x04\x00\x00\x00\x00\x7f\x7fgarbage") == []
    assert from_id3(b"\xff\xfb not a tag") == []


def write_licence(tmp_path, **fields):
    data = {"schema": "tdm-guard/licence/v1", "id": "acme-sony-2026",
            "declaration": "sony-music-group-2024-05-16", "licensee": "Acme AI",
            "granted_by": "Sony Music Entertainment", "reference": "contract SME-2026-001",
            "purposes": ["train"], **fields}
    import yaml

    path = tmp_path / "licence.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_licence_exempts_content_from_its_declaration(tmp_path):
    path = write_licence(tmp_path, valid_until="2099-12-31")
    decision = decide(id3(TPRO="2019 Sony Music Entertainment"), "audio/mpeg",
                      licences=[path])
    (reason,) = declaration_reasons(decision)
    assert reason.reserved is False and "licence acme-sony-2026" in reason.note
    assert decision.allowed is True


@pytest.mark.parametrize("fields", [
    {"valid_until": "2020-01-01"},       # expired
    {"purposes": ["search"]},            # another purpose
    {"domains": ["other.example"]},      # another site
])
def test_a_licence_applies_only_within_its_terms(tmp_path, fields):
    path = write_licence(tmp_path, **fields)
    decision = decide(id3(TPRO="2019 Sony Music Entertainment"), "audio/mpeg",
                      licences=[path])
    assert decision.allowed is False


def test_licence_errors_name_file_and_field(tmp_path):
    path = write_licence(tmp_path, declaration="no-such-declaration", valid_until="2026-13-01")
    loaded = DeclarationSet.load(licences=[path])
    assert any("field valid_until" in e for e in loaded.errors)
