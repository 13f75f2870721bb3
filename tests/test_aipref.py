import pytest

from tdm_guard.model import Purpose
from tdm_guard.signals.aipref import parse_content_signal, parse_content_usage, split_robots_usage


def prefs(value, strict=False):
    return {(p.label, p.allowed) for p in parse_content_usage(value, strict)}


@pytest.mark.parametrize("value,expected", [
    ("train-ai=n, search=y", {("train-ai", False), ("search", True)}),
    # vocab draft §6: booleans and strings are not y/n tokens, so unknown
    ('train-ai=y, train-ai, search=n, search="n"', set()),
    ("Train-AI=n", set()),  # uppercase key: the dictionary fails to parse
    ("train-ai;allow=n, train-ai=y", {("train-ai", True)}),  # parameters ignored, last wins
    ("search=yes", set()),
    ("future-label=n", set()),
    ("train-genai=n", set()),  # vocab-08: unknown labels MUST be ignored
    ("ai-use=n", {("ai-use", False)}),  # vocab-08 §6.1: AI Use
    ("train-ai=(n), search=n", {("search", False)}),  # an inner list is not a Token: unknown
    ("search=n;x=?1, train-ai=?0", {("search", False)}),  # a boolean is not a Token
    ("search=n;x=(1 2)", set()),  # a parameter cannot be an inner list: no dictionary
])
def test_content_usage_vectors(value, expected):
    assert prefs(value) == expected


def test_ai_use_is_the_input_purpose():
    (pref,) = parse_content_usage("ai-use=n")
    assert pref.purposes == frozenset({Purpose.INPUT})


@pytest.mark.parametrize("value,expected", [
    ("train-genai=n", {("train-genai", False)}),
    ("all=n, search=y", {("all", False), ("search", True)}),
    ("Train-AI=n", set()),  # strict reads legacy labels, not broken dictionaries
])
def test_strict_reads_the_legacy_labels_of_earlier_drafts(value, expected):
    assert prefs(value, strict=True) == expected


def test_legacy_all_covers_every_purpose():
    (pref,) = parse_content_usage("all=n", strict=True)
    assert pref.purposes == frozenset(Purpose)


def test_content_signal_keys():
    value = "search=yes,ai-train=no, ai-input=maybe, use=reference"
    found = {(p.label, p.allowed) for p in parse_content_signal(value)}
    assert found == {("search", True), ("ai-train", False)}


def test_content_signal_that_is_not_a_structured_field():
    value = "AI-Train = No, search=yes"
    assert parse_content_signal(value) == []  # standard: not an RFC 9651 dictionary
    found = {(p.label, p.allowed) for p in parse_content_signal(value, strict=True)}
    assert found == {("ai-train", False), ("search", True)}


def test_robots_usage_value_with_and_without_path():
    pattern, pref = split_robots_usage("/ai-ok/ train-ai=y")
    assert pattern.match("/ai-ok/test") and pref == "train-ai=y"
    assert split_robots_usage("train-ai=n") == (None, "train-ai=n")
    # attach-05: the path "always starts with "/"": a value starting otherwise has none
    assert split_robots_usage("*.pdf train-ai=n") == (None, "*.pdf train-ai=n")
