import pytest

from tdm_guard.model import Purpose
from tdm_guard.signals.aipref import parse_content_signal, parse_content_usage, split_robots_usage


def prefs(value):
    return {(p.label, p.allowed) for p in parse_content_usage(value)}


@pytest.mark.parametrize("value,expected", [
    ("train-ai=n, search=y", {("train-ai", False), ("search", True)}),
    # vocab draft §6: booleans and strings are not y/n tokens, so unknown
    ('train-ai=y, train-ai, search=n, search="n"', set()),
    ("Train-AI=n", set()),  # uppercase key: the dictionary fails to parse
    ("train-ai;allow=n, train-ai=y", {("train-ai", True)}),  # parameters ignored, last wins
    ("search=yes", set()),
    ("future-label=n", set()),
    ("train-genai=n", {("train-genai", False)}),  # legacy label, mapped to train
])
def test_content_usage_vectors(value, expected):
    assert prefs(value) == expected


def test_legacy_all_covers_every_purpose():
    (pref,) = parse_content_usage("all=n")
    assert pref.purposes == frozenset(Purpose)


def test_content_signal_keys():
    value = "search=yes,ai-train=no, ai-input=maybe, use=reference"
    found = {(p.label, p.allowed) for p in parse_content_signal(value)}
    assert found == {("search", True), ("ai-train", False)}


def test_robots_usage_value_with_and_without_path():
    pattern, pref = split_robots_usage("/ai-ok/ train-ai=y")
    assert pattern.match("/ai-ok/test") and pref == "train-ai=y"
    assert split_robots_usage("train-ai=n") == (None, "train-ai=n")
