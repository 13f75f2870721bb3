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
