"""The one set of freshness rules (freshness.py) and the stored record's bytes (stored.py):
how long a policy file is used, what a failure keeps, and that a store's bytes are read
back exactly or not at all."""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tdm_guard import OriginPolicy
from tdm_guard.fetched import Fetched
from tdm_guard.freshness import (
    DAY,
    Freshness,
    cache_lifetime,
    parse_duration,
    retry_after,
)
from tdm_guard.signals.robots import MAX_ROBOTS_BYTES, RobotsStatus
from tdm_guard.signals.rsl import MAX_RSL_BYTES
from tdm_guard.signals.tdmrep import MAX_TDMREP_BYTES
from tdm_guard.stored import (
    MAGIC,
    MAX_RECORD_BODY,
    PolicyRecord,
    decode_record,
    encode_record,
)

NOW = 1_800_000_000.0
URL = "https://example.org/robots.txt"
RULES = Freshness()


def ok(body=b"User-agent: *\nDisallow: /private/\n", headers=(), at=NOW):
    return Fetched(URL, 200, list(headers), body, final_url=URL, fetched_at=at)


def failed(status=503, headers=(), at=NOW):
    return Fetched(URL, status, list(headers), b"busy", final_url=URL, fetched_at=at)


# -- how long an answer is fresh ---------------------------------------------------------

@pytest.mark.parametrize("headers, fresh", [
    ([], DAY),  # RFC 9309 §2.4: at most 24 hours
    ([("Cache-Control", "max-age=3600")], 3600),
    ([("Cache-Control", "public, max-age=604800")], DAY),  # capped at 24 h
    ([("Cache-Control", "max-age=0")], 60),  # at least a minute
    ([("Cache-Control", "no-cache")], 60),
    ([("Cache-Control", "max-age=3600, s-maxage=600")], 600),  # the shortest
    ([("Cache-Control", "max-age=3600"), ("Age", "3000")], 600),
    ([("Cache-Control", "max-age=ten")], 60),  # invalid: stale at once (RFC 9111 §4.2.1)
    ([("Cache-Control", "max-age=3600"), ("Age", "²")], 3600),  # not delta-seconds: no Age
    ([("Cache-Control", "max-age=٣٦٠٠")], 60),  # digits, but not ASCII ones
    ([("Expires", "Thu, 15 Jan 2027 09:00:00 GMT"), ("Date", "Thu, 15 Jan 2027 08:00:00 GMT")],
     3600),
    ([("Expires", "0"), ("Date", "Thu, 15 Jan 2027 08:00:00 GMT")], 60),  # invalid: expired
])
def test_an_answer_is_fresh_for_its_cache_lifetime_within_a_minute_and_a_day(headers, fresh):
    record = RULES.after_fetch(ok(headers=headers), None, NOW)
    assert record.fresh_until == NOW + fresh
    assert record.failures == 0 and record.fetched.status == 200


@pytest.mark.parametrize("status", [404, 403, 410])
def test_a_4xx_is_an_answer_kept_for_its_lifetime(status):
    record = RULES.after_fetch(failed(status), None, NOW)
    assert record.fresh_until == NOW + DAY and record.fetched.status == status


# -- failures ----------------------------------------------------------------------------

def test_a_failure_with_no_copy_is_kept_briefly_as_the_failure_it_is():
    record = RULES.after_fetch(failed(503), None, NOW)
    assert record.fetched.status == 503 and record.failures == 1
    assert record.fresh_until == NOW + 300  # asked for again after 5 minutes
    policy = OriginPolicy.from_fetches("https://example.org", record.fetched, None)
    assert policy.robots.status is RobotsStatus.UNREACHABLE  # complete disallow, never allow
    # each failure in a row doubles the wait, up to an hour
    waits = []
    for _ in range(6):
        record = RULES.after_fetch(failed(503), record, NOW)
        waits.append(record.fresh_until - NOW)
    assert waits == [600, 1200, 2400, 3600, 3600, 3600]


@pytest.mark.parametrize("headers, wait", [
    ([("Retry-After", "1800")], 1800),
    ([("Retry-After", "86400")], 3600),  # bounded: asked again within the hour
    ([("Retry-After", "10")], 300),  # never sooner than our own wait
    ([("Retry-After", "Thu, 01 Jan 2027 01:00:00 GMT")], None),
    ([("Retry-After", "soon")], 300),
])
def test_retry_after_is_honoured_within_the_hour(headers, wait):
    now = NOW
    if wait is None:  # an HTTP-date 40 minutes from now
        now = 1798765200.0 - 2400  # 2027-01-01T01:00:00Z minus 40 minutes
        wait = 2400
    record = RULES.after_fetch(failed(429, headers), None, now)
    assert record.fresh_until == pytest.approx(now + wait)


@pytest.mark.parametrize("failure", [
    failed(503), failed(429), Fetched(URL, error="timeout: no data for 10 s", fetched_at=NOW),
    Fetched(URL, 200, [], b"", error="decompressed size over the 67108864-byte limit",
            fetched_at=NOW)])
def test_an_unreachable_refresh_keeps_a_good_copy_for_max_stale(failure):
    good = RULES.after_fetch(ok(at=NOW - 3 * DAY), None, NOW - 3 * DAY)
    record = RULES.after_fetch(failure, good, NOW)
    assert record.fetched is good.fetched and record.stale_copy  # RFC 9309 §2.4
    assert record.last_error and record.failures == 1 and record.fresh_until == NOW + 300
    assert RULES.keep_until(record) == good.fetched.fetched_at + 7 * DAY
    # past max_stale the copy is dropped: the failure decides (disallow all)
    later = RULES.after_fetch(failure, record, NOW + 4 * DAY + 1)
    assert later.fetched is not good.fetched and not later.stale_copy
    # and a reader allowing less staleness does not use it either
    assert not Freshness(max_stale=DAY).usable(record, NOW)
    assert Freshness(max_stale=0).after_fetch(failure, good, NOW).fetched is not good.fetched


def test_a_record_never_claims_more_than_a_day_of_freshness():
    record = RULES.after_fetch(ok(), None, NOW)
    assert RULES.usable(record, NOW) and RULES.trusted(record, NOW)
    ahead = replace(record, fresh_until=NOW + 10 * DAY)  # written by a clock set ahead
    assert not RULES.usable(ahead, NOW) and not RULES.trusted(ahead, NOW)
    # another node's clock a minute ahead: its fresh record is still used
    assert RULES.trusted(replace(record, fresh_until=NOW + DAY + 60), NOW)
    assert not RULES.usable(record, NOW + DAY + 1)


def test_a_kept_404_is_never_a_copy_to_fall_back_on():
    gone = RULES.after_fetch(failed(404, at=NOW - 2 * DAY), None, NOW - 2 * DAY)
    record = RULES.after_fetch(failed(503), gone, NOW)
    assert record.fetched.status == 503  # unreachable: disallow, never the old "allow all"


def test_durations():
    assert parse_duration("7d") == 7 * DAY and parse_duration("12h") == 43200
    assert parse_duration("30m") == 1800 and parse_duration(45) == 45
    assert parse_duration("0") == 0
    for bad in ("-1", "forever", "", True, float("nan"), -3, "9" * 400, "٣d"):
        with pytest.raises(ValueError):
            parse_duration(bad)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["Cache-Control", "Age", "Expires", "Date",
                                           "Retry-After", "cache-control", "X"]),
                          st.text(max_size=80)), max_size=6))
def test_hostile_cache_headers_give_a_bounded_lifetime(headers):
    lifetime = cache_lifetime(headers)
    assert lifetime is None or lifetime >= 0
    assert retry_after(headers, NOW) is None or retry_after(headers, NOW) >= 0
    record = RULES.after_fetch(ok(headers=headers), None, NOW)
    assert NOW + 60 <= record.fresh_until <= NOW + DAY
    error = RULES.after_fetch(failed(503, headers), None, NOW)
    assert NOW + 300 <= error.fresh_until <= NOW + 3600


# -- the stored bytes --------------------------------------------------------------------

def test_the_record_cap_holds_every_policy_file():
    assert max(MAX_ROBOTS_BYTES, MAX_TDMREP_BYTES, MAX_RSL_BYTES) <= MAX_RECORD_BODY


fetches = st.builds(
    Fetched, url=st.just(URL),
    status=st.one_of(st.none(), st.integers(100, 599)),
    headers=st.lists(st.tuples(st.sampled_from(["Content-Type", "Cache-Control", "ETag"]),
                               st.text(max_size=40)), max_size=4),
    body=st.binary(max_size=2000), error=st.one_of(st.none(), st.text(max_size=50)),
    redirects_exhausted=st.booleans(), truncated=st.booleans(),
    final_url=st.just("https://example.org/robots.txt"),
    fetched_at=st.floats(0, 4e9, allow_nan=False))


@settings(max_examples=200, deadline=None)
@given(fetches, st.floats(0, 4e9, allow_nan=False), st.integers(0, 50), st.text(max_size=40))
def test_a_record_reads_back_exactly(fetched, fresh_until, failures, last_error):
    record = PolicyRecord(fetched, fresh_until, failures, last_error)
    back = decode_record(encode_record(record), URL)
    assert back == record
    assert back.fetched.sha256 == hashlib.sha256(fetched.body).hexdigest()


def test_a_record_is_only_read_for_its_own_url_and_only_whole():
    data = encode_record(RULES.after_fetch(ok(), None, NOW))
    assert decode_record(data, URL) is not None
    assert decode_record(data, "https://other.example/robots.txt") is None
    assert decode_record(data[:-3], URL) is None  # cut short
    assert decode_record(data + b"x", URL) is None  # followed by other bytes
    for i in range(len(MAGIC), len(data)):  # any single byte changed
        flipped = data[:i] + bytes([data[i] ^ 0x40]) + data[i + 1:]
        back = decode_record(flipped, URL)
        assert back is None or back == decode_record(data, URL)


def test_a_body_that_is_not_the_one_stored_is_not_read():
    record = RULES.after_fetch(ok(), None, NOW)
    text, _, body = zlib.decompress(encode_record(record)[len(MAGIC):]).partition(b"\n")
    forged = MAGIC + zlib.compress(text + b"\nUser-agent: *\nAllow: /\n")
    assert decode_record(forged, URL) is None  # the sha256 no longer matches


def test_a_decompression_bomb_in_a_store_is_refused():
    # 200 MiB of spaces, compressed piece by piece: this process never holds them (subprocesses
    # inherit a parent's peak RSS, which other tests measure)
    packer = zlib.compressobj(9)
    chunk = b" " * (1024 * 1024)
    bomb = MAGIC + packer.compress(b"{") + b"".join(packer.compress(chunk) for _ in range(200))
    bomb += packer.flush()
    assert decode_record(bomb, URL) is None


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.binary(max_size=300).map(lambda b: MAGIC + b),
                 st.binary(max_size=300).map(lambda b: MAGIC + zlib.compress(b)),
                 st.text(max_size=100), st.none(), st.integers()))
def test_hostile_store_bytes_read_as_no_record(data):
    assert decode_record(data, URL) is None


def test_another_schema_is_not_read():
    data = encode_record(RULES.after_fetch(ok(), None, NOW))
    text, _, body = zlib.decompress(data[len(MAGIC):]).partition(b"\n")
    other = MAGIC + zlib.compress(text.replace(b'"v":1', b'"v":2') + b"\n" + body)
    assert decode_record(other, URL) is None
    assert decode_record(b"tdmg2\n" + data[len(MAGIC):], URL) is None


def test_only_the_headers_that_matter_are_kept():
    fetched = ok(headers=[("Cache-Control", "max-age=60"), ("Set-Cookie", "secret"),
                          ("Content-Type", "text/plain")])
    back = decode_record(encode_record(PolicyRecord(fetched, NOW)), URL)
    assert back.fetched.headers == [("Cache-Control", "max-age=60"),
                                    ("Content-Type", "text/plain")]
    assert replace(back.fetched, headers=fetched.headers) == fetched
