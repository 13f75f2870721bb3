"""The standards read exactly (the `standard` profile) and cautiously (`strict`): RFC 9651
field combination, RFC 9309 §2.2.4 other records, draft-ietf-aipref-attach-05 paths and
longest match, draft-ietf-aipref-vocab-08 labels. docs/standards.md names each rule."""

from __future__ import annotations

import pytest

from tdm_guard import Evaluator, OriginPolicy, PageResponse, RobotsResult

URL = "https://example.org"


def decide(robots: str | None = None, headers=(), path="/a", agent="mybot", purpose="train",
           profile="standard"):
    origin = OriginPolicy(URL, robots=None if robots is None else RobotsResult.from_response(
        URL + "/robots.txt", 200, robots.encode()))
    page = PageResponse(200, [("Content-Type", "text/html"), *headers], b"") if headers \
        else None
    return Evaluator(agent, purpose, profile).evaluate(URL + path, origin, page)


def reserving(decision, signal):
    return [r for r in decision.reasons if r.signal == signal and r.reserved]


# -- RFC 9651 §4.2: the field lines of one header are one field value ---------------------
def test_header_lines_are_combined_before_parsing_last_member_wins():
    lines = [("Content-Usage", "train-ai=n"), ("Content-Usage", "train-ai=y")]
    assert decide(headers=lines).allowed is True  # "train-ai=n, train-ai=y": y
    assert decide(headers=lines[::-1]).allowed is False  # "train-ai=y, train-ai=n": n
    strict = decide(headers=lines, profile="strict")  # strict: every line is also a statement
    assert strict.allowed is False
    assert reserving(strict, "content-usage")[0].evidence == \
        "Content-Usage: train-ai=n (train-ai=n)"


def test_a_header_that_fails_to_parse_states_nothing_in_standard():
    lines = [("Content-Usage", "train-ai=n"), ("Content-Usage", "Train-AI=n")]
    assert decide(headers=lines).allowed is True  # the combined value is not a dictionary
    assert decide(headers=lines, profile="strict").allowed is False


@pytest.mark.parametrize("value", ["train-ai=(n)", 'train-ai="n"', "train-ai=?0",
                                   "train-ai=(n);x=1, search=(y n)"])
def test_members_that_are_not_tokens_are_unknown_not_errors(value):
    for profile in ("standard", "strict"):
        decision = decide(headers=[("Content-Usage", value)], profile=profile)
        assert decision.allowed is True and reserving(decision, "content-usage") == []


def test_content_signal_header_lines_are_combined_too():
    lines = [("Content-Signal", "ai-train=no"), ("Content-Signal", "ai-train=yes")]
    assert decide(headers=lines).allowed is True
    assert decide(headers=lines, profile="strict").allowed is False


# -- RFC 9309 §2.2.4: other records never end a group --------------------------------------
@pytest.mark.parametrize("record", ["Content-Signal: ai-train=no", "Content-Usage: train-ai=y",
                                    "Crawl-delay: 5", "Sitemap: https://example.org/s.xml",
                                    "License: https://example.org/license.xml",
                                    "X-Unknown-Record: 1"])
def test_a_record_between_user_agent_lines_does_not_split_the_group(record):
    robots = f"User-agent: mybot\n{record}\nUser-agent: otherbot\nDisallow: /\n"
    for agent in ("mybot", "otherbot"):
        decision = decide(robots, agent=agent, purpose="search")
        assert decision.fetch_allowed is False, (record, agent)
        assert decision.reasons[0].evidence == "line 4: Disallow: /"


# -- draft-ietf-aipref-attach-05 §4 ---------------------------------------------------------
def test_a_value_not_starting_with_a_slash_has_no_path():
    robots = "User-agent: *\nAllow: /\nContent-Usage: *.pdf train-ai=n\n"
    # standard: "*.pdf train-ai=n" is all preference, and not a dictionary: nothing stated
    assert decide(robots, path="/a.pdf").allowed is True
    # strict: read as a path pattern, as an Allow/Disallow pattern may start with "*"
    assert decide(robots, path="/a.pdf", profile="strict").allowed is False


def test_content_usage_before_any_user_agent_line_binds_nobody_in_standard():
    robots = "Content-Usage: train-ai=n\nUser-agent: *\nAllow: /\n"
    assert decide(robots).allowed is True
    strict = decide(robots, profile="strict")
    assert strict.allowed is False
    assert "before any user-agent line" in reserving(strict, "content-usage")[0].note


def test_standard_longest_matching_rule_decides_alone():
    robots = ("User-agent: *\nAllow: /\nContent-Usage: search=n, train-ai=n\n"
              "Content-Usage: /ai-ok/ train-ai=y\n")
    # /ai-ok/: only the longer rule applies; it says nothing about search
    assert decide(robots, path="/ai-ok/x", purpose="search").allowed is True
    assert decide(robots, path="/ai-ok/x").allowed is True
    assert decide(robots, path="/other", purpose="search").allowed is False
    # strict: per label, the most specific rule stating it; search=n still applies
    assert decide(robots, path="/ai-ok/x", purpose="search", profile="strict").allowed is False
    assert decide(robots, path="/ai-ok/x", profile="strict").allowed is True


def test_identical_paths_combine_most_restrictively():
    robots = ("User-agent: *\nAllow: /\nContent-Usage: /a/ train-ai=y\n"
              "Content-Usage: /a/ train-ai=n\n")
    decision = decide(robots, path="/a/x")
    assert decision.allowed is False
    assert reserving(decision, "content-usage")[0].evidence == \
        "line 4: Content-Usage: /a/ train-ai=n (train-ai=n)"


def test_a_rule_without_path_is_as_specific_as_slash():
    robots = "User-agent: *\nAllow: /\nContent-Usage: train-ai=n\nContent-Usage: / train-ai=y\n"
    assert decide(robots).allowed is False  # identical paths: n wins


def test_the_attach_draft_example():
    robots = ("User-Agent: *\nAllow: /\nDisallow: /never/\nContent-Usage: train-ai=n\n"
              "Content-Usage: /ai-ok/ train-ai=y\n\nUser-Agent: ExampleBot\nAllow: /\n"
              "Content-Usage: train-ai=y\n")
    assert decide(robots, path="/test").allowed is False
    assert decide(robots, path="/ai-ok/test").allowed is True
    assert decide(robots, path="/never/test").fetch_allowed is False
    assert decide(robots, path="/test", agent="ExampleBot").allowed is True


# -- draft-ietf-aipref-vocab-08 labels -------------------------------------------------------
def test_ai_use_reserves_the_input_purpose():
    robots = "User-agent: *\nAllow: /\nContent-Usage: ai-use=n\n"
    assert decide(robots, purpose="input").allowed is False
    assert decide(robots, purpose="train").allowed is True


@pytest.mark.parametrize("label", ["train-genai", "all", "tdm", "ai", "bots"])
def test_legacy_labels_count_only_in_strict(label):
    robots = f"User-agent: *\nAllow: /\nContent-Usage: {label}=n\n"
    assert decide(robots).allowed is True
    assert decide(robots, profile="strict").allowed is False


# -- the strict profile's AI groups agree with the agent catalog ----------------------------
def test_google_extended_disallow_reserves_input_under_strict():
    robots = "User-agent: Google-Extended\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    decision = decide(robots, purpose="input", profile="strict")
    assert decision.allowed is False and decision.fetch_allowed is True
    (reason,) = reserving(decision, "robots")
    assert reason.agent == "Google-Extended" and "AI input" in reason.note
    assert decide(robots, purpose="input").allowed is True  # standard: only our group
    gptbot = "User-agent: GPTBot\nDisallow: /\n"
    assert decide(gptbot, purpose="input", profile="strict").allowed is True  # train only
    chatgpt_user = "User-agent: ChatGPT-User\nDisallow: /\n"  # a user-triggered fetcher
    assert decide(chatgpt_user, purpose="input", profile="strict").allowed is True
