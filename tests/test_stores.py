"""The policy stores (memory, SQLite, a real redis-server) keep one contract, and PolicyFiles
turns it into one fetch per file for everyone sharing a store; Redis trouble (refused,
killed, paused) changes no answer, only who fetches."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tdm_guard.fetched import Fetched
from tdm_guard.freshness import Freshness
from tdm_guard.stored import ClaimState, PolicyRecord
from tdm_guard.stores.files import PolicyFiles
from tdm_guard.stores.memory import MemoryStore
from tdm_guard.stores.select import StoreError, open_store, store_kind
from tdm_guard.stores.sqlite import SQLiteStore

URL = "https://example.org/robots.txt"
ROBOTS = b"User-agent: *\nDisallow: /private/\n"


def good(url=URL, body=ROBOTS):
    return Fetched(url, 200, [("Content-Type", "text/plain")], body, final_url=url,
                   fetched_at=time.time())


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request, tmp_path):
    if request.param == "memory":
        made = MemoryStore()
    elif request.param == "sqlite":
        made = SQLiteStore(tmp_path / "store.sqlite3")
    else:
        server = request.getfixturevalue("redis_server")
        # a generous deadline: these tests count fetches, a loaded CI machine must not trip
        # the breaker (the trouble tests below use the default)
        made = open_store(server.url + "?prefix=test:&timeout=2")
    yield made
    made.close()


def run(coro):
    return asyncio.run(coro)


# -- the contract ------------------------------------------------------------------------

def test_claim_publish_and_read_back(store):
    async def go():
        first = await store.claim(URL, 30)
        assert first.state is ClaimState.OWNER and first.lease and first.record is None
        second = await store.claim(URL, 30)
        assert second.state is ClaimState.BUSY  # someone is fetching it
        record = PolicyRecord(good(), time.time() + 3600)
        await store.publish(URL, record, time.time() + 7200, first.lease)
        hit = await store.claim(URL, 30)
        assert hit.state is ClaimState.FRESH and hit.record.fetched == record.fetched
        assert (await store.get(URL)).fetched.body == ROBOTS
        await store.aclose()

    run(go())


def test_a_record_past_its_freshness_is_handed_to_the_next_owner(store):
    async def go():
        stale = PolicyRecord(good(), time.time() - 1)
        await store.publish(URL, stale, time.time() + 3600, None)
        claim = await store.claim(URL, 30)
        assert claim.state is ClaimState.OWNER and claim.record.fetched.body == ROBOTS
        await store.aclose()

    run(go())


def test_a_released_or_expired_lease_is_taken_over(store):
    async def go():
        first = await store.claim(URL, 30)
        await store.release(URL, first.lease)
        assert (await store.claim(URL, 0.001)).state is ClaimState.OWNER
        for _ in range(500):  # the 1 ms lease runs out: the next claim is ours
            claim = await store.claim(URL, 30)
            if claim.state is ClaimState.OWNER:
                break
            await asyncio.sleep(0.01)
        assert claim.state is ClaimState.OWNER
        await store.aclose()

    run(go())


def test_a_lease_is_released_only_by_its_holder(store):
    async def go():
        first = await store.claim(URL, 30)
        await store.release(URL, "someone-else")
        await store.publish(URL, PolicyRecord(Fetched(URL, 503), time.time() - 1),
                            time.time() + 60, "someone-else")
        assert (await store.claim(URL, 30)).state is ClaimState.BUSY
        await store.release(URL, first.lease)
        assert (await store.claim(URL, 30)).state is ClaimState.OWNER
        await store.aclose()

    run(go())


# -- one fetch for everyone --------------------------------------------------------------

def test_concurrent_loaders_fetch_a_file_once_and_waiters_get_the_real_answer(store):
    async def go():
        gate = asyncio.Event()
        calls = []

        async def fetch():
            calls.append(1)
            await gate.wait()  # the owner is slow: every other loader has to wait
            return good()

        loaders = [PolicyFiles(store) for _ in range(4)]  # four "processes" on one store
        tasks = [asyncio.ensure_future(f.get(URL, fetch)) for f in loaders]
        while sum(f.events["wait"] for f in loaders) < 3:
            await asyncio.sleep(0.005)
        gate.set()
        results = await asyncio.gather(*tasks)
        assert len(calls) == 1
        assert [how for _, how in results].count("fetched") == 1
        assert [how for _, how in results].count("store") == 3
        assert all(r.fetched.body == ROBOTS for r, _ in results)
        await store.aclose()

    run(go())


def test_a_waiter_takes_over_when_the_fetching_process_died(store):
    async def go():
        dead = await store.claim(URL, 0.05)  # a process claimed it, then died
        assert dead.state is ClaimState.OWNER
        files = PolicyFiles(store)

        async def fetch():
            return good()

        record, how = await files.get(URL, fetch)
        assert how == "fetched" and record.fetched.body == ROBOTS
        assert files.events["wait"] == 1 and files.events["takeover"] == 1
        await store.aclose()

    run(go())


def test_a_failed_refresh_uses_the_good_copy_and_everyone_sees_it(store):
    async def go():
        old = PolicyRecord(good(), time.time() - 1)
        await store.publish(URL, old, time.time() + 86400, None)
        files = PolicyFiles(store)

        async def unreachable():
            return Fetched(URL, 503, [("Retry-After", "1200")], b"down", fetched_at=time.time())

        record, how = await files.get(URL, unreachable)
        assert how == "stale" and record.fetched.body == ROBOTS and record.failures == 1
        again, how = await PolicyFiles(store).get(URL, unreachable)
        assert how == "store" and again.fetched.body == ROBOTS  # no second fetch
        assert again.fresh_until == pytest.approx(time.time() + 1200, abs=30)
        await store.aclose()

    run(go())


def test_a_cancelled_fetch_lets_the_next_loader_fetch_at_once(store):
    async def go():
        files = PolicyFiles(store)
        started = asyncio.Event()

        async def hang():
            started.set()
            await asyncio.Event().wait()

        task = asyncio.ensure_future(files.get(URL, hang))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await store.claim(URL, 30)).state is ClaimState.OWNER
        await store.aclose()

    run(go())


# -- choosing a store --------------------------------------------------------------------

@pytest.mark.parametrize("value, kind", [
    (None, "memory"), ("memory", "memory"), ("None", "memory"), ("", "memory"),
    ("cache.sqlite3", "sqlite"), ("~/x.sqlite3", "sqlite"), ("sqlite:///var/x.db", "sqlite"),
    ("redis://localhost:6379/0", "redis"), ("rediss://h:6380/1?prefix=acme:", "redis"),
    ("REDIS://h", "redis"),
])
def test_store_values(value, kind):
    assert store_kind(value)[0] == kind


def test_sqlite_urls_are_absolute_paths():
    assert store_kind("sqlite:///var/cache/x.db") == ("sqlite", "/var/cache/x.db")


@pytest.mark.parametrize("value, words", [
    ("postgres://db/x", "unknown store postgres://"),
    ("sqlite://", "name a file"),
    ("redis://", "no host"),
    ("redis://h:port/0", "port is not a number"),
    ("redis://h/0?prefix=a{b}", "prefix="),
    ("redis://h/0?timeout=0", "timeout="),
    ("redis://h/0?timeout=fast", "timeout="),
    ("redis://h/0?bogus=1", "bogus"),
])
def test_store_values_that_name_no_store_say_why(value, words):
    with pytest.raises(StoreError, match=words.replace("{", r"\{").replace("?", r"\?")):
        open_store(value)


def test_passwords_never_reach_the_logs():
    pytest.importorskip("redis")
    store = open_store("redis://user:s3cret@localhost:6379/2?prefix=acme:")
    assert "s3cret" not in store.name and store.name == \
        "redis://user:***@localhost:6379/2 (prefix acme:)"
    with pytest.raises(StoreError) as caught:
        open_store("redis://user:s3cret@localhost:6379/2?bogus=1")
    assert "s3cret" not in str(caught.value)


def test_tenants_do_not_see_each_other(redis_server):
    async def go():
        acme, other = (open_store(f"{redis_server.url}?prefix={p}:") for p in ("acme", "other"))
        await acme.publish(URL, PolicyRecord(good(), time.time() + 60), time.time() + 60, None)
        assert (await acme.claim(URL, 30)).state is ClaimState.FRESH
        assert (await other.claim(URL, 30)).state is ClaimState.OWNER
        await acme.aclose()
        await other.aclose()

    run(go())
    keys = sorted(k.decode() for k in redis_server.client().keys("*"))
    assert keys == [f"acme:v1:{{{URL}}}:fresh", f"acme:v1:{{{URL}}}:rec",
                    f"other:v1:{{{URL}}}:lease"]


# -- Redis trouble -----------------------------------------------------------------------

def unreachable_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: connections are refused


def test_a_refused_redis_means_fetching_locally_logged_once(caplog):
    pytest.importorskip("redis")
    store = open_store(f"redis://127.0.0.1:{unreachable_port()}/0")

    async def go():
        files = PolicyFiles(store)
        calls = []

        async def fetch():
            calls.append(1)
            return good()

        for i in range(5):
            record, how = await files.get(f"https://site{i}.example/robots.txt", fetch)
            assert how == "fetched"
        # inside the process, single-flight still holds while Redis is down
        again, how = await files.get("https://site0.example/robots.txt", fetch)
        assert how == "store" and len(calls) == 5
        assert files.events["local"] == 5
        await store.aclose()

    with caplog.at_level(logging.INFO, logger="tdm_guard.stores"):
        run(go())
    assert store.events["down"] == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unusable" in warnings[0].getMessage()
    assert "answers are unchanged" in warnings[0].getMessage()


@pytest.mark.parametrize("trouble", ["pause", "kill"])
def test_redis_paused_or_killed_between_calls(redis_server, trouble):
    store = open_store(redis_server.url)
    store.cooldown = 0.0  # try Redis again at once (the default waits 30 s)

    async def go():
        files = PolicyFiles(store)

        async def fetch():
            return good()

        _, how = await files.get(URL, fetch)
        assert how == "fetched" and store.events["down"] == 0
        getattr(redis_server, trouble)()
        try:
            record, how = await files.get("https://other.example/robots.txt", fetch)
            assert how == "fetched" and record.fetched.body == ROBOTS
            assert files.events["local"] == 1 and store.events["down"] == 1
        finally:
            redis_server.resume()
        if trouble == "pause":  # it answers again: the next call goes back to Redis
            _, how = await files.get(URL, fetch)
            assert how == "store" and store.events["up"] == 1
        await store.aclose()

    run(go())


def test_a_lease_is_handed_on_even_when_the_breaker_opened_during_the_fetch(redis_server):
    # A node whose Redis call timed out once (a loaded machine) must still publish the file
    # it holds the lease of: otherwise every other node waits out the lease (35 s per file).
    fetcher, other = (open_store(redis_server.url) for _ in range(2))

    async def go():
        claim = await fetcher.claim(URL, 30)
        assert claim.state is ClaimState.OWNER and not claim.local
        fetcher._failed(TimeoutError("Timeout reading from 127.0.0.1"))  # breaker opens
        await fetcher.publish(URL, PolicyRecord(good(), time.time() + 3600),
                              time.time() + 7200, claim.lease)
        seen = await other.claim(URL, 30)
        assert seen.state is ClaimState.FRESH and seen.record.fetched.body == ROBOTS
        await fetcher.aclose()
        await other.aclose()

    run(go())


def test_a_claim_whose_reply_was_lost_still_frees_the_waiters(redis_server):
    # Redis ran the claim script (the lease is taken) but the reply timed out: this process
    # fetches locally; its publish must still release that lease for the other nodes.
    fetcher = open_store(redis_server.url)
    other = open_store(redis_server.url + "?timeout=1")  # a client of its own (another node)

    async def go():
        client = fetcher._client()
        real = client.claim

        async def reply_lost(*args, **kwargs):
            await real(*args, **kwargs)
            raise TimeoutError("Timeout reading from 127.0.0.1")

        client.claim = reply_lost
        files = PolicyFiles(fetcher)

        async def fetch():
            assert (await other.claim(URL, 30)).state is ClaimState.BUSY  # leased in Redis
            return good()

        record, how = await files.get(URL, fetch)
        assert how == "fetched" and files.events["local"] == 1
        client.claim = real
        seen = await other.claim(URL, 30)
        assert seen.state is ClaimState.FRESH and seen.record.fetched.body == ROBOTS
        await fetcher.aclose()
        await other.aclose()

    run(go())


def test_a_store_that_raises_changes_no_answer():
    class Broken(MemoryStore):
        async def claim(self, url, lease_seconds):
            raise RuntimeError("bug")

        async def publish(self, url, record, keep_until, lease):
            raise OSError("disk")

    files = PolicyFiles(Broken())

    async def fetch():
        return good()

    record, how = run(files.get(URL, fetch))
    assert how == "fetched" and record.fetched.body == ROBOTS
    assert files.events["errors"] == 2


def test_unreadable_bytes_in_redis_are_fetched_again(redis_server):
    store = open_store(redis_server.url)
    rec, fresh, _ = store.keys(URL)
    client = redis_server.client()
    client.set(rec, b"tdmg1\nnot a record")
    client.set(fresh, b"1")

    async def go():
        files = PolicyFiles(store)

        async def fetch():
            return good()

        record, how = await files.get(URL, fetch)
        assert how == "fetched" and record.fetched.body == ROBOTS
        assert store.events["unreadable"] == 1
        assert (await store.claim(URL, 30)).state is ClaimState.FRESH  # repaired
        await store.aclose()

    run(go())


def test_a_reader_allowing_less_staleness_fetches_for_itself(store):
    async def go():
        old = Fetched(URL, 200, [], ROBOTS, final_url=URL, fetched_at=time.time() - 3 * 86400)
        kept = PolicyRecord(old, time.time() + 300, 1, "HTTP 503")
        await store.publish(URL, kept, time.time() + 86400, None)
        files = PolicyFiles(store, Freshness(max_stale=86400))

        async def fetch():
            return good(body=b"User-agent: *\nAllow: /\n")

        record, how = await files.get(URL, fetch)
        assert how == "fetched" and b"Allow" in record.fetched.body
        assert files.events["refused"] == 1
        await store.aclose()

    run(go())


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.text(max_size=80),
    st.builds(lambda scheme, rest: f"{scheme}://{rest}",
              st.sampled_from(["redis", "rediss", "sqlite", "REDIS", "unix", "http"]),
              st.text(alphabet=st.characters(codec="utf-8"), max_size=60)
              | st.just("h:1/0?prefix=a\nb") | st.just("\n") | st.just("u:p@h\n:1"))))
def test_hostile_store_values_open_a_store_or_say_why(value):
    pytest.importorskip("redis")
    try:
        kind, _ = store_kind(value)
        if kind == "redis":
            store = open_store(value)
            assert store.name.startswith(("redis://", "rediss://"))
    except StoreError as exc:
        assert str(exc) and "\n" not in str(exc)


def test_a_stored_record_fresh_for_ten_days_is_fetched_again(tmp_path):
    store = SQLiteStore(tmp_path / "s.sqlite3")
    ahead = PolicyRecord(good(), time.time() + 10 * 86400)  # a clock set ahead wrote it

    async def go():
        await store.publish(URL, ahead, time.time() + 20 * 86400, None)
        claim = await store.claim(URL, 30)
        assert claim.state is ClaimState.OWNER  # never trusted for more than 24 hours

    run(go())
    store.close()


_RACE = """
import sys, time
from tdm_guard.stores.sqlite import SQLiteStore
path, start = sys.argv[1], float(sys.argv[2])
while time.time() < start:
    pass
store = SQLiteStore(path)
states = [store.claim_now(f"http://o{i}.test/robots.txt", 35).state.value for i in range(20)]
print(store.fault or "", *states)
"""


def test_two_processes_creating_one_sqlite_file_at_once_share_it(tmp_path):
    # Both switch the new file to WAL at the same instant; SQLite answers the loser "database
    # is locked" at once (no busy wait), and it used to go on in memory: every policy file
    # was fetched twice (a flaky two-process test on a loaded machine found it).
    import subprocess
    import sys
    for attempt in range(5):
        path = tmp_path / f"race{attempt}.sqlite3"
        start = time.time() + 1.0
        procs = [subprocess.Popen([sys.executable, "-c", _RACE, str(path), repr(start)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        outs = [p.communicate(timeout=60) for p in procs]
        for _, err in outs:
            assert "going on without it" not in err, err
        claims = [out.split() for out, _ in outs]
        for states in zip(*claims, strict=True):  # per URL: exactly one process owns it
            assert sorted(states) == ["busy", "owner"], claims


def test_a_file_another_process_published_while_this_one_waited_is_fresh(store):
    # The reader reads its clock, waits for the store (SQLite's write lock), and meanwhile
    # another process publishes a file fresh for the full 24 hours from a moment later: that
    # is a fresh record, not "fresh for more than 24 hours" (which fetched it a second time).
    from tdm_guard.freshness import MAX_FRESH, fresh_at
    now = time.time()
    assert fresh_at(PolicyRecord(good(), now + 0.5 + MAX_FRESH), now)
    assert not fresh_at(PolicyRecord(good(), now + 3600 + MAX_FRESH), now)  # a clock far ahead

    async def go():
        claim = await store.claim(URL, 30)
        await store.publish(URL, PolicyRecord(good(), time.time() + 0.5 + MAX_FRESH),
                            time.time() + 7200, claim.lease)
        assert (await store.claim(URL, 30)).state is ClaimState.FRESH
        await store.aclose()

    run(go())
