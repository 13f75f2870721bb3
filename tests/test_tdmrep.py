import json

import pytest

from tdm_guard.signals.tdmrep import TdmRepFile, header_layer, layered_reasons, meta_layer

from conftest import corpus_dir, corpus_params

INVALID = {"janpetrlik.com", "koji-blog", "tuspe", "vibeslop.ceo", "byron", "maikfigura.de",
           "protocol-engineering-spec"}
NOT_RESERVED = {"xlr8harder.github.io"}


def well_known_files():
    folder = corpus_dir() / "tdmrep" / "well-known"
    return sorted(folder.glob("*.tdmrep.json"))


def test_corpus_has_21_valid_and_7_invalid_files():
    names = [p.name.removesuffix(".tdmrep.json") for p in well_known_files()]
    assert len(names) == 28
    assert set(names) >= INVALID


@pytest.mark.parametrize("path", corpus_params(well_known_files),
                         ids=lambda p: getattr(p, "name", "corpus"))
def test_real_files_get_the_spec_answer(path):
    name = path.name.removesuffix(".tdmrep.json")
    parsed = TdmRepFile.parse("https://x/.well-known/tdmrep.json", path.read_bytes())
    rule = parsed.match("/some/page.html")
    if name in INVALID:
        # "an array of JSON objects": anything else is no usable file, reservation unset
        assert rule is None and parsed.problems
        reasons, policy = layered_reasons("https://x/p", parsed, "/some/page.html", None, None)
        assert [r.reserved for r in reasons] == [False] and policy is None
    elif name in NOT_RESERVED:
        assert rule.reservation == 0
    else:
        assert rule.reservation == 1
        expected_policy = json.loads(path.read_text())[0].get("tdm-policy")
        assert rule.policy == expected_policy


def spec_example_2():
    return TdmRepFile.parse("u", (corpus_dir() / "tdmrep" / "spec-examples" /
                                  "w3c-example-2.tdmrep.json").read_bytes())


def test_spec_example_two_rules():
    parsed = spec_example_2()
    assert parsed.match("/directory-a/doc.pdf").reservation == 1
    html = parsed.match("/directory-b/html/page.html")
    assert html.reservation == 1 and html.policy == "https://provider.com/policies/policy.json"
    assert parsed.match("/directory-b/images/photo.jpg").reservation == 0
    assert parsed.match("/directory-b/images/photo.jpgx").reservation == 0  # no '$' in the spec
    assert parsed.match("/directory-c/x") is None


def test_first_matching_rule_wins_not_the_longest():
    parsed = TdmRepFile.parse("u", b'[{"location":"/","tdm-reservation":1},'
                                   b'{"location":"/open/","tdm-reservation":0}]')
    assert parsed.match("/open/x").reservation == 1


@pytest.mark.parametrize("value", ["2", '"1"', "true", "null", "1.5"])
def test_invalid_reservation_values_are_unset(value):
    parsed = TdmRepFile.parse("u", f'[{{"location":"/","tdm-reservation":{value}}}]'.encode())
    assert parsed.match("/x").reservation is None
    reasons, _ = layered_reasons("https://x/", parsed, "/x", None, None)
    assert not reasons[0].reserved and "protocol error" in reasons[0].note


def test_rules_without_a_path_location_are_skipped():
    parsed = TdmRepFile.parse("u", b'[{"location":"https://example.com/","tdm-reservation":1}]')
    assert parsed.match("/x") is None and "not a path pattern" in parsed.problems[0]


def test_non_success_means_no_file():
    assert not TdmRepFile.from_response("u", 404, b"[]").present
    assert not TdmRepFile.from_response("u", 503, b"").present
    assert not TdmRepFile.from_response("u", None, None, "timeout").present


@pytest.mark.parametrize("raw,expected", [
    ("1", 1), ("0", 0), (" 1 ", 1), ("2", None), ("true", None), ("", None), ("1, 1", 1),
])
def test_header_values(raw, expected):
    assert header_layer([("TDM-Reservation", raw)]).reservation == expected


def test_header_layer_is_case_insensitive_and_reads_policy():
    layer = header_layer([("Tdm-Policy", "https://p/policy.json"), ("tdm-reservation", "1")])
    assert layer.reservation == 1 and layer.policy == "https://p/policy.json"


def test_precedence_header_lowers_the_file_and_meta_raises_it_again():
    file = TdmRepFile.parse("f", b'[{"location":"/","tdm-reservation":1,"tdm-policy":"https://f"}]')
    reasons, policy = layered_reasons("https://x/p", file, "/p",
                                      header_layer([("tdm-reservation", "0")]), None)
    assert [(r.signal, r.reserved) for r in reasons] == [("tdmrep-file", False),
                                                          ("tdmrep-header", False)]
    assert reasons[0].note == "superseded by tdmrep-header"
    assert policy is None  # reservation 0: the policy is not processed
    reasons, policy = layered_reasons(
        "https://x/p", file, "/p", header_layer([("tdm-reservation", "0")]),
        meta_layer([("tdm-reservation", "1")]))
    assert [r.reserved for r in reasons] == [False, False, True]
    assert policy == "https://f"  # absence never resets: the file's policy carries over


def test_absence_in_a_later_layer_never_resets():
    file = TdmRepFile.parse("f", b'[{"location":"/","tdm-reservation":1}]')
    reasons, _ = layered_reasons("https://x/p", file, "/p",
                                 header_layer([("tdm-policy", "https://p")]), None)
    assert reasons[0].reserved and reasons[0].signal == "tdmrep-file"


def test_invalid_header_value_does_not_override_the_file():
    file = TdmRepFile.parse("f", b'[{"location":"/","tdm-reservation":1}]')
    reasons, _ = layered_reasons("https://x/p", file, "/p",
                                 header_layer([("tdm-reservation", "yes")]), None)
    assert reasons[0].reserved and "protocol error" in reasons[1].note
