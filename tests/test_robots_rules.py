from tdm_guard.signals.robots import MAX_ROBOTS_BYTES, RobotsResult, RobotsStatus, RobotsTxt


def test_longest_match_wins_and_allow_wins_a_tie():
    robots = RobotsTxt.parse("User-agent: *\nDisallow: /a\nAllow: /a/b\nAllow: /c\nDisallow: /c\n")
    assert robots.access("/a/b/x", "bot").allowed
    assert not robots.access("/a/x", "bot").allowed
    assert robots.access("/c", "bot").allowed


def test_evidence_keeps_the_line_number_and_text():
    robots = RobotsTxt.parse("# comment\nUser-agent: *\n\nDisallow: /private/  # keep out\n")
    match = robots.access("/private/x", "bot")
    assert match.rule.line.evidence() == "line 4: Disallow: /private/"
    assert match.agent == "*"


def test_own_group_is_not_matched_by_a_shorter_token_prefix():
    # Protego lets a group 'Claude' match the crawler 'ClaudeBot'; RFC 9309 compares tokens.
    robots = RobotsTxt.parse("User-agent: Claude\nDisallow: /\n")
    assert robots.access("/x", "ClaudeBot").allowed
    assert not robots.access("/x", "claude").allowed


def test_product_token_with_version_matches_case_insensitively():
    robots = RobotsTxt.parse("User-agent: FooBot/1.2\nDisallow: /\n")
    assert not robots.access("/x", "foobot").allowed


def test_groups_for_the_same_agent_are_merged():
    robots = RobotsTxt.parse("User-agent: a\nDisallow: /x\n\nUser-agent: b\nDisallow: /y\n\n"
                             "User-agent: a\nDisallow: /z\n")
    assert not robots.access("/x", "a").allowed
    assert not robots.access("/z", "a").allowed
    assert robots.access("/y", "a").allowed


def test_robots_txt_itself_is_always_allowed():
    robots = RobotsTxt.parse("User-agent: *\nDisallow: /\n")
    assert robots.access("/robots.txt", "bot").allowed
    assert not robots.access("/robots.txt.bak", "bot").allowed


def test_rules_before_any_user_agent_bind_nobody():
    robots = RobotsTxt.parse("Disallow: /\nUser-agent: *\nAllow: /\n")
    assert robots.access("/x", "bot").allowed


def test_only_the_first_500_kib_count():
    filler = "# " + "x" * 1000 + "\n"
    body = "User-agent: *\n" + filler * ((MAX_ROBOTS_BYTES // len(filler)) + 1)
    body += "Disallow: /late\n"
    robots = RobotsTxt.parse(body)
    assert robots.truncated
    assert robots.access("/late", "bot").allowed


def test_empty_disallow_allows_everything():
    assert RobotsTxt.parse("User-agent: *\nDisallow:\n").access("/x", "bot").allowed


def test_status_rules_of_rfc_9309():
    url = "http://h/robots.txt"
    assert RobotsResult.from_response(url, 200, b"").status is RobotsStatus.PARSED
    assert RobotsResult.from_response(url, 404, b"").status is RobotsStatus.UNAVAILABLE
    assert RobotsResult.from_response(url, 403, b"").status is RobotsStatus.UNAVAILABLE
    assert RobotsResult.from_response(url, 503, b"").status is RobotsStatus.UNREACHABLE
    assert RobotsResult.from_response(url, 429, b"").status is RobotsStatus.UNREACHABLE
    assert RobotsResult.from_response(url, None, None, "timeout").status is RobotsStatus.UNREACHABLE
    exhausted = RobotsResult.from_response(url, None, None, redirects_exhausted=True)
    assert exhausted.status is RobotsStatus.UNAVAILABLE


def test_content_usage_and_signal_records_stay_in_their_group():
    robots = RobotsTxt.parse("Content-Signal: ai-train=no\nUser-agent: *\n"
                             "Content-Signal: search=yes\nAllow: /\n\nUser-agent: Bot\n"
                             "Content-Usage: train-ai=y\nAllow: /\n")
    bot = robots.statements("content-usage", "bot", include_star=False)
    assert [line.value for line, _ in bot] == ["train-ai=y"]
    star = robots.statements("content-signal", "other", include_orphans=True)
    assert [(line.value, group) for line, group in star] == [
        ("search=yes", "*"), ("ai-train=no", "(before any user-agent)")]
