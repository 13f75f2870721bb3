import socket
import textwrap

import pytest
import yaml

from tdm_guard.declarations import DeclarationSet, PolicyError, bundled_policy_dir, load_file


def sony_file():
    return bundled_policy_dir() / "sony-music-group-2024-05-16.yaml"


def test_bundled_sony_declaration_loads_and_validates():
    loaded = DeclarationSet.load()
    assert loaded.errors == []
    (sony,) = [d for d in loaded.declarations if d.id == "sony-music-group-2024-05-16"]
    assert sony.published == "2024-05-16"
    assert "mailto:aitrainingpermission@sonymusic.com" in sony.contacts
    assert "mailto:aitrainingpermission@sonymusicpub.com" in sony.contacts


@pytest.mark.parametrize("url,hit", [
    ("https://www.sonymusic.com/", True),
    ("https://sonymusic.com/artists", True),
    ("http://shop.sonymusicpub.com:8080/x", True),
    ("https://sonymusic.com.evil.example/", False),
    ("https://notsonymusic.com/", False),
    ("https://example.org/sonymusic.com", False),
])
def test_domain_matching_by_host_and_registered_domain(url, hit):
    reasons = DeclarationSet.load().reasons(url)
    assert bool(reasons) is hit
    if hit:
        assert reasons[0].reserved and reasons[0].signal == "declaration"
        assert "Declaration of AI Training Opt-Out" in reasons[0].evidence


def test_matching_never_touches_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    from tdm_guard.declarations import loading

    loading._extractor.cache_clear()
    # no validated cache: validate again, so tldextract's suffix list is used
    assert DeclarationSet.load().reasons("https://music.sonymusic.com/")
    assert loading._extractor()("forums.bbc.co.uk").suffix == "co.uk"


def write_variant(tmp_path, name, mutate):
    data = yaml.safe_load(sony_file().read_text())
    mutate(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_schema_errors_name_the_file_and_the_field(tmp_path):
    def bad(data):
        data["matchers"]["domains"][0]["confidence"] = "very high"
        del data["contacts"]

    path = write_variant(tmp_path, "bad.yaml", bad)
    with pytest.raises(PolicyError) as exc:
        load_file(path)
    text = str(exc.value)
    assert f"{path}: field matchers/domains/0/confidence: 'very high' is not one of" in text
    assert f"{path}: field (top level): 'contacts' is a required property" in text


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("schema: tdm-guard/declaration/v1\nid: [unclosed\n")
    with pytest.raises(PolicyError, match=r"broken.yaml: line \d+ invalid YAML"):
        load_file(path)


def test_a_bad_file_is_reported_and_the_others_still_load(tmp_path):
    (tmp_path / "zz-bad.yaml").write_text("not: a declaration\n")

    def other(data):
        data["id"] = "example-label-2025"
        data["matchers"]["domains"] = [{"domain": "example-label.test", "entity": "X",
                                        "coverage": "full", "confidence": "H",
                                        "evidence": ["test"]}]

    write_variant(tmp_path, "good.yaml", other)
    loaded = DeclarationSet.load([tmp_path])
    assert len(loaded.errors) == 1 and "zz-bad.yaml" in loaded.errors[0]
    assert {d.id for d in loaded.declarations} >= {"example-label-2025",
                                                   "sony-music-group-2024-05-16"}
    assert loaded.reasons("https://www.example-label.test/")[0].reserved


def test_unverified_or_partial_matchers_never_block(tmp_path):
    def weak(data):
        data["id"] = "weak-2025"
        data["matchers"]["domains"] = [
            {"domain": "low.test", "entity": "X", "coverage": "full", "confidence": "L",
             "evidence": ["a forum post"]},
            {"domain": "mixed.test", "entity": "X", "coverage": "partial", "confidence": "H",
             "evidence": ["distributor"]},
        ]

    write_variant(tmp_path, "weak.yaml", weak)
    loaded = DeclarationSet.load([tmp_path], bundled=False)
    for url in ("https://low.test/", "https://mixed.test/"):
        (reason,) = loaded.reasons(url)
        assert reason.reserved is False and reason.note.startswith("not enforced")


def test_policy_text_is_literal_yaml():
    text = sony_file().read_text()
    assert "schema: tdm-guard/declaration/v1" in textwrap.dedent(text)


def test_a_public_suffix_is_not_a_domain_matcher(tmp_path):
    def suffix(data):
        data["matchers"]["domains"][0]["domain"] = "co.uk"

    path = write_variant(tmp_path, "suffix.yaml", suffix)
    with pytest.raises(PolicyError, match="matchers/domains/0/domain: 'co.uk' is a public suffix"):
        load_file(path)


def test_validated_files_are_cached_and_an_edited_file_is_validated_again(tmp_path):
    from tdm_guard.stores.validated import ValidatedPolicyCache

    folder = tmp_path / "p"
    folder.mkdir()

    def good(data):
        data["id"] = "cached-2025"

    path = write_variant(folder, "c.yaml", good)
    DeclarationSet.load([folder], bundled=False, cache=ValidatedPolicyCache())
    cache_file = ValidatedPolicyCache().path
    assert cache_file.is_file()
    path.write_text(path.read_text().replace("confidence: H", "confidence: HIGH", 1))
    loaded = DeclarationSet.load([folder], bundled=False, cache=ValidatedPolicyCache())
    assert loaded.declarations == [] and "confidence" in loaded.errors[0]
