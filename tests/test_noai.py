import pytest

from tdm_guard.signals.noai import parse_x_robots_tag, robots_meta_reasons, x_robots_tag_reasons


def reserved(headers, agent="ourbot"):
    return [r.evidence for r in x_robots_tag_reasons("https://x/", headers, agent)]


def test_global_and_case_insensitive():
    assert reserved([("X-Robots-Tag", "NoAI")]) == ["X-Robots-Tag: NoAI"]
    assert reserved([("x-robots-tag", "noindex, noimageai")])


def test_repeated_fields_all_count():
    assert len(reserved([("X-Robots-Tag", "noindex"), ("X-Robots-Tag", "noai")])) == 1


def test_agent_scoped_forms_apply_only_to_that_agent():
    assert reserved([("X-Robots-Tag", "otherbot: noai")]) == []
    assert reserved([("X-Robots-Tag", "ourbot: noai")])
    # the scope runs over the following elements until the next agent prefix
    assert parse_x_robots_tag("googlebot: noindex, otherbot: noai, nofollow") == [
        ("googlebot", "noindex"), ("otherbot", "noai"), ("otherbot", "nofollow")]
    assert reserved([("X-Robots-Tag", "googlebot: noindex, otherbot: noai")]) == []


def test_valued_directives_are_not_scopes():
    assert parse_x_robots_tag("max-snippet: 20, noai") == [
        (None, "max-snippet: 20"), (None, "noai")]


def test_meta_robots_and_agent_meta():
    metas = [("robots", "index, follow"), ("otherbot", "noai"), ("ourbot", "NoImageAI")]
    assert [r.evidence for r in robots_meta_reasons("https://x/", metas, "OurBot")] == [
        '<meta name="ourbot" content="NoImageAI">']


@pytest.mark.parametrize("body", [
    b"<html><head><meta name='x' content='" + b"a" * 600_000,  # an unclosed quote
    b"<html><head><!-- never closed <meta name=robots content=noai>",
    b"<html><head>" + b"<meta name=a content=b>" * 30_000,  # no </head> in 512 KiB
])
def test_a_head_the_scan_could_not_finish_is_named_in_unchecked(body):
    """A head cut short (the 512 KiB read, or markup left unterminated) may hide meta tags
    after the cut: the decision says so instead of a silent allowed."""
    from tdm_guard import Evaluator, OriginPolicy, PageResponse
    from tdm_guard.declarations import DeclarationSet
    from tdm_guard.signals.html import MAX_HEAD_BYTES

    page = PageResponse(200, [("Content-Type", "text/html")], body[:MAX_HEAD_BYTES],
                        partial=len(body) > MAX_HEAD_BYTES)
    decision = Evaluator("mybot", declarations=DeclarationSet()).evaluate(
        "https://a.test/p", OriginPolicy("https://a.test"), page)
    assert any(line.startswith("HTML head: read to byte") for line in decision.unchecked)


def test_a_head_that_ends_is_not_named_in_unchecked():
    from tdm_guard import Evaluator, OriginPolicy, PageResponse
    from tdm_guard.declarations import DeclarationSet

    page = PageResponse(200, [("Content-Type", "text/html")],
                        b"<html><head><meta name=description content=d></head><body>x")
    decision = Evaluator("mybot", declarations=DeclarationSet()).evaluate(
        "https://a.test/p", OriginPolicy("https://a.test"), page)
    assert not any(line.startswith("HTML head") for line in decision.unchecked)
