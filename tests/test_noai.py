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
