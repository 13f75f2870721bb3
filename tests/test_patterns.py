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
