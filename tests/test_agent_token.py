"""The agent is an RFC 9309 product token (§2.2.1), whatever spelling the user gives."""

import pytest

from tdm_guard import Evaluator, OriginPolicy, RobotsResult
from tdm_guard.signals.robots import agent_token

ROBOTS = b"User-agent: *\nAllow: /\n\nUser-agent: MyBot\nDisallow: /private/\n"


def policy():
    url = "https://example.org/robots.txt"
    return OriginPolicy("https://example.org", RobotsResult.from_response(url, 200, ROBOTS))


@pytest.mark.parametrize("value", ["MyBot", "MyBot/1.0", "mybot/2.3 (+https://x.test/bot)",
                                   "  MyBot/1.0  ", "MYBOT"])
def test_a_user_agent_value_is_reduced_to_its_product_token(value):
    decision = Evaluator(agent=value).evaluate("https://example.org/private/1", policy())
    assert not decision.fetch_allowed
    assert decision.reasons[0].agent == "MyBot"
    assert decision.reasons[0].evidence == "line 5: Disallow: /private/"


@pytest.mark.parametrize("value", ["", "   ", "1.0", "/MyBot", "ü-bot"])
def test_a_value_without_a_product_token_is_refused(value):
    with pytest.raises(ValueError, match="no RFC 9309 product token"):
        agent_token(value)


@pytest.mark.parametrize("value", ["", "1.0"])
def test_cli_refuses_an_agent_without_a_token_as_a_usage_error(cli, value):
    code, out, err = cli("check", "--offline", "--agent", value, "https://example.org/")
    assert code == 2 and out == ""
    assert "--agent" in err and "product token" in err


def test_cli_agent_with_version_obeys_the_named_group(cli, site):
    from servers import Resp

    site.add("/robots.txt", Resp(200, ROBOTS))
    code, out, _ = cli("check", "--no-fetch", "--no-cache", "--agent", "MyBot/1.0",
                       site.base + "/private/1")
    assert code == 1
    assert out.startswith("BLOCKED") and "(agent MyBot," in out
    assert "line 5: Disallow: /private/" in out
