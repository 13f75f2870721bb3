"""The repartitioning key of the engines: any cell value in, an origin (or "") out, the same
key for every spelling of one origin (so one origin's rows meet in one partition)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tdm_guard.engines import origin_key
from tdm_guard.urls import try_parse


@settings(max_examples=300, deadline=None)
@given(st.none() | st.integers() | st.binary(max_size=20) | st.text(max_size=60)
       | st.builds(lambda h, p: f"http://{h}{p}", st.text(max_size=20), st.text(max_size=20)))
def test_any_value_has_a_key(value):
    key = origin_key(value)
    parsed = try_parse(value) if isinstance(value, str) else None
    assert key == (parsed.origin if parsed is not None else "")


def test_one_origin_one_key():
    spellings = ["http://A.Example/x", "HTTP://a.example:80/y?q", "http://a.example/%7Euser"]
    assert {origin_key(u) for u in spellings} == {"http://a.example"}
    assert origin_key("https://a.example/") != origin_key("http://a.example/")
    assert origin_key("http://a.example:8080/") != origin_key("http://a.example/")
    assert origin_key("not a url") == origin_key(None) == origin_key(7) == ""
