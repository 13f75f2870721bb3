from tdm_guard.signals.patterns import PathPattern, normalize
from tdm_guard.urls import url_path


def test_unreserved_escapes_are_decoded_and_others_uppercased():
    assert normalize("/foo/%62%61%7A") == "/foo/baz"
    assert normalize("/a%2fb") == "/a%2Fb"  # '/' is reserved: stays encoded
    assert normalize("/ツ") == "/%E3%83%84"


def test_url_path_keeps_query_and_defaults_to_slash():
    assert url_path("https://example.com") == "/"
    assert url_path("https://example.com/a?b=1#frag") == "/a?b=1"


def test_prefix_wildcard_and_end_anchor():
    assert PathPattern("/fish").match("/fish.html")
    assert not PathPattern("/fish").match("/Fish")  # case-sensitive
    assert PathPattern("/*.php$").match("/index.php")
    assert not PathPattern("/*.php$").match("/index.php?x=1")
    assert PathPattern("/directory-b/images/*.jpg").match("/directory-b/images/a.jpgx")
    assert PathPattern("*").match("/anything")


def test_specificity_counts_octets_of_the_normalised_pattern():
    assert PathPattern("/%7Efoo").length == PathPattern("/~foo").length == 5


# -- the matcher is linear and means what the RFC's regex reading means ------------------
import re  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PIECES = st.lists(st.sampled_from(["a", "b", "ab", "/", "*", "**", "$", "%41", "."]),
                  max_size=8).map("".join)
PATHS = st.lists(st.sampled_from(["a", "b", "/", ".", "A", "%41"]), max_size=14).map("".join)


def regex_reading(pattern: str, path: str) -> bool:
    """RFC 9309 §2.2.3 read as a regex: `*` is `.*`, a final `$` ends the path."""
    from tdm_guard.signals.patterns import normalize

    text = normalize(pattern.strip())
    anchored = text.endswith("$")
    body = text[:-1] if anchored else text
    regex = ".*".join(re.escape(part) for part in body.split("*"))
    return re.match(regex + (r"\Z" if anchored else ""), path, re.DOTALL) is not None


@settings(max_examples=2000, deadline=None)
@given(PIECES, PATHS)
def test_the_matcher_agrees_with_the_regex_reading(pattern, path):
    path = "/" + path
    assert PathPattern("/" + pattern).match(path) == regex_reading("/" + pattern, path)


def test_a_hostile_wildcard_pattern_is_matched_without_backtracking():
    # a backtracking regex takes minutes here (n^k); the matcher does one pass per piece
    pattern = PathPattern("/*a*a*a*a*a*a*a*a*b")
    assert not pattern.match("/" + "a" * 20000)
    assert pattern.match("/" + "a" * 20000 + "b")
    assert PathPattern("/*a*a*a*a*b$").match("/" + "a" * 5000 + "xb")
    assert not PathPattern("/*a*a*a*a*b$").match("/" + "a" * 5000 + "bx")


@settings(max_examples=2000, deadline=None)
@given(PIECES, PATHS)
def test_the_linear_regex_agrees_with_the_matcher(pattern, path):
    compiled = PathPattern("/" + pattern)
    path = "/" + path
    assert (re.match(compiled.regex(), path, re.DOTALL) is not None) == compiled.match(path)


def _rule_list(patterns):
    from tdm_guard.signals.robots import Line, Rule, RuleList

    def line(n, allow, p):
        key = "allow" if allow else "disallow"
        return Line(n, key, p, f"{key}: {p}")

    return RuleList([Rule(line(n, allow, p), allow, PathPattern(p))
                     for n, (allow, p) in enumerate(patterns, 1)])


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.booleans(), PIECES.map(lambda p: "/" + p)), min_size=1,
                max_size=80),
       st.lists(PATHS.map(lambda p: "/" + p), min_size=1, max_size=10))
def test_combined_wildcard_rules_pick_the_same_rule_as_the_loop(patterns, paths):
    """After enough lookups a rule list tests its wildcard rules in compiled alternations;
    the deciding rule (and so the line cited as evidence) is the one the loop picks."""
    loop, combined = _rule_list(patterns), _rule_list(patterns)
    combined._combine()
    for path in paths:
        expected, got = loop.first(path), combined.first(path)
        assert (got and got.line.number) == (expected and expected.line.number), path


def test_a_busy_rule_list_switches_to_combined_regexes_with_the_same_answers():
    from tdm_guard.signals import robots

    patterns = [(False, f"/*x{i}*") for i in range(robots.COMBINE_CHUNK + 10)]
    patterns += [(True, "/*x1*y"), (False, "/*a*a*a*a*a*a*a*b")]
    rules = _rule_list(patterns)
    paths = ["/q/x1/y", "/x70", "/zzz", "/" + "a" * 20000, "/" + "a" * 20000 + "b",
             "/" + "a" * 200 + "b", "/" + "a" * 200]  # long paths keep the loop
    before = [rules.first(p) for p in paths]
    for _ in range(robots.COMBINE_AFTER):
        rules.first("/nothing")
    assert rules._combined is not None and len(rules._combined) == 2  # chunked
    after = [rules.first(p) for p in paths]
    assert [r and r.line.number for r in after] == [r and r.line.number for r in before]
    assert after[0].allow and after[0].pattern.raw == "/*x1*y"
    assert after[2] is None and after[3] is None and not after[4].allow
    assert not after[5].allow and after[6] is None


def test_wildcard_rules_are_compiled_once_however_long_the_later_paths(monkeypatch):
    """A path too long for the combined regexes takes the loop; it must not compile them
    again (found by a new-user review: every long path rebuilt them)."""
    from tdm_guard.signals import robots

    rules = _rule_list([(False, f"/x{i}*y{i}*z$") for i in range(20)])
    compiled = []
    original = robots.RuleList._combine
    monkeypatch.setattr(robots.RuleList, "_combine",
                        lambda self: (compiled.append(1), original(self))[1])
    for _ in range(robots.COMBINE_AFTER + 5):
        rules.first("/short")
    for _ in range(50):
        assert rules.first("/x3" + "a" * 300 + "y3z").pattern.raw == "/x3*y3*z$"
    assert len(compiled) == 1
