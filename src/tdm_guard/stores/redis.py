"""Policy files shared by every process and node through Redis (redis-py's asyncio client).

Keys (Redis Cluster-safe: the hash tag keeps a URL's keys in one slot):

    <prefix>v1:{<url>}:rec     the record (stored.encode_record), PX = its keep window
    <prefix>v1:{<url>}:fresh   present while the record is fresh, PX = its freshness
    <prefix>v1:{<url>}:lease   "<host>:<pid>:<token>" of the process fetching it, PX = lease

A miss is one round trip (CLAIM: the fresh record, or the lease, or "busy" with the stale
copy), its fetch is published in one more (PUBLISH: the record, its freshness and the lease
released only if still ours). The lease is an efficiency device only: a second fetch of a
policy file is harmless, so a single-instance `SET NX PX` is enough (no Redlock).

Redis trouble never changes an answer, only the number of fetches: every call has a short
deadline (`timeout`, 0.2 s by default: connect, each read, and 5x for a whole call), no
client retries, and a circuit breaker. On a connection error or timeout the store stops
using Redis for `cooldown` seconds (30), logs it once, counts it (`down`), then tries one
call again; while it is open this process keeps the records it fetches in memory (its own
single-flight), so each node fetches for itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import weakref
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from ..stored import SCHEMA, Claim, ClaimState, PolicyRecord, decode_record, encode_record
from .base import Counted, new_lease, node_name
from .memory import MemoryStore

DEFAULT_PREFIX = "tdmg:"
DEFAULT_TIMEOUT = 0.2
COOLDOWN = 30.0
MAX_MAYBE_HELD = 10_000  # leases remembered for a publish (bounded: one per file in flight)
MAX_CONNECTIONS = 32  # per process and event loop (one pool, however many crawlers)
OURS = ("prefix", "timeout")  # query parameters tdm-guard reads; the others are redis-py's
logger = logging.getLogger("tdm_guard.stores")

# KEYS: rec, fresh, lease. ARGV: token, lease ms. -> {1, rec} fresh; {2, rec|nil} ours;
# {3, rec|nil} busy (rec: the stored copy past its freshness, if any).
CLAIM = """
local rec = redis.call('GET', KEYS[1])
if rec and redis.call('EXISTS', KEYS[2]) == 1 then return {1, rec} end
if redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2, rec} end
return {3, rec}
"""
# KEYS: rec, fresh, lease. ARGV: record, keep ms, fresh ms, token ('' for none).
PUBLISH = """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
else redis.call('DEL', KEYS[2]) end
if ARGV[4] ~= '' and redis.call('GET', KEYS[3]) == ARGV[4] then redis.call('DEL', KEYS[3]) end
return 1
"""
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class RedisLocation:
    """Where the store is: `url` for redis-py (tdm-guard's own query parameters removed),
    `shown` with any password masked."""

    url: str
    shown: str
    prefix: str = DEFAULT_PREFIX
    timeout: float = DEFAULT_TIMEOUT


def parse_redis_url(text: str) -> RedisLocation:
    """`redis://[user:password@]host[:port][/db][?prefix=NAME:&timeout=S]` (or rediss://);
    ValueError with a message naming what is wrong."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"not a Redis URL: {mask(text)!r} (redis://HOST:PORT/DB or rediss://)")
    if not parts.hostname:
        raise ValueError(f"{mask(text)!r}: no host")
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError:
        raise ValueError(f"{mask(text)!r}: the port is not a number") from None
    prefix, timeout, rest = DEFAULT_PREFIX, DEFAULT_TIMEOUT, []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "prefix":
            prefix = value
        elif key == "timeout":
            try:
                timeout = float(value)
            except ValueError:
                timeout = -1.0
            if not 0 < timeout <= 30:
                raise ValueError(f"{mask(text)!r}: timeout={value!r} must be seconds, "
                                 "more than 0 and at most 30")
        else:
            rest.append((key, value))
    if len(prefix) > 64 or any(c in prefix for c in "{} \t\r\n") or not prefix.isprintable():
        raise ValueError(f"{mask(text)!r}: prefix={prefix!r} must be at most 64 printable "
                         "characters without spaces or braces")
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(rest), ""))
    _check_options(url, text)
    return RedisLocation(url, mask(url), prefix, timeout)


def _check_options(url: str, text: str) -> None:
    """redis-py reads unknown query options only when it connects: refuse them now."""
    try:
        pool = BlockingConnectionPool.from_url(url)
        pool.connection_class(**pool.connection_kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{mask(text)!r}: {exc}") from None


def mask(url: str) -> str:
    """`url` with its password (if any) replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, ""))


@dataclass
class _Client:
    redis: Redis
    claim: object
    publish: object
    release: object
    users: int = 0


# One client (and pool) per event loop and location, shared by every store in the process.
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, float], _Client]] \
    = weakref.WeakKeyDictionary()


class RedisStore(Counted):
    def __init__(self, location: RedisLocation | str, cooldown: float = COOLDOWN) -> None:
        super().__init__()
        self.location = location if isinstance(location, RedisLocation) \
            else parse_redis_url(location)
        self.name = f"{self.location.shown} (prefix {self.location.prefix})"
        self.cooldown = cooldown
        self.deadline = 5 * self.location.timeout
        self._local = MemoryStore()
        self._loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
        self._open_until: float | None = None  # the breaker: None closed, else open until
        self._probing = False
        self._warned = False
        # Leases this process may hold without knowing it: a claim whose reply was lost (a
        # timeout after Redis ran the script). Publishing with the token frees the waiters
        # at once, instead of after the lease (35 s per file, one origin after another).
        self._maybe_held: dict[str, str] = {}
        self._issued: dict[str, str] = {}  # leases Redis gave this process, not yet published

    # -- keys and the client ------------------------------------------------------------
    def keys(self, url: str) -> list[str]:
        tag = url if len(url) <= 1000 else "sha256:" + hashlib.sha256(url.encode()).hexdigest()
        base = f"{self.location.prefix}v{SCHEMA}:{{{tag}}}"
        return [f"{base}:rec", f"{base}:fresh", f"{base}:lease"]

    def _client(self) -> _Client:
        loop = asyncio.get_running_loop()
        key = (self.location.url, self.location.timeout)
        clients = _CLIENTS.setdefault(loop, {})
        client = clients.get(key)
        if client is None:
            pool = BlockingConnectionPool.from_url(
                self.location.url, max_connections=MAX_CONNECTIONS, timeout=None,
                socket_timeout=self.location.timeout,
                socket_connect_timeout=self.location.timeout,
                retry=Retry(NoBackoff(), 0), retry_on_error=[], health_check_interval=0,
                client_name=f"tdm-guard:{node_name()}")
            redis = Redis(connection_pool=pool)
            client = clients[key] = _Client(redis, redis.register_script(CLAIM),
                                            redis.register_script(PUBLISH),
                                            redis.register_script(RELEASE))
        if loop not in self._loops:
            self._loops.add(loop)
            client.users += 1
        return client

    # -- the breaker --------------------------------------------------------------------
    def _usable(self) -> bool:
        if self._open_until is None:
            return True
        if time.monotonic() < self._open_until or self._probing:
            return False
        self._probing = True  # one call tries Redis again; the others stay local meanwhile
        return True

    def _worked(self) -> None:
        if self._open_until is not None:
            self._open_until, self._probing = None, False
            self.count("up")
            logger.info("policy store %s answers again", self.name)

    def _failed(self, exc: BaseException) -> None:
        self.count("errors")
        was_closed = self._open_until is None
        self._open_until, self._probing = time.monotonic() + self.cooldown, False
        if was_closed:
            self.count("down")
            text = f"{type(exc).__name__}: {exc}".strip(": ")
            if not self._warned:
                self._warned = True
                logger.warning(
                    "policy store %s unusable (%s); this process fetches policy "
                    "files itself (answers are unchanged) and tries Redis again every %g s",
                    self.name, text, self.cooldown)
            else:
                logger.debug("policy store %s unusable again (%s)", self.name, text)

    async def _run(self, call, force: bool = False):  # noqa: ANN001 - a coroutine function
        """`call(client)` against Redis, `_UNUSABLE` (breaker open: not tried) or `_FAILED`
        (tried: it failed, perhaps after Redis ran it).
        `force`: try even with the breaker open (publishing or releasing a lease that other
        nodes may be waiting on: one bounded call is cheaper than their wait)."""
        if not force and not self._usable():
            return _UNUSABLE
        try:
            async with asyncio.timeout(self.deadline):
                result = await call(self._client())
        except asyncio.CancelledError:
            self._probing = False
            raise
        except Exception as exc:  # noqa: BLE001 - Redis errors, timeouts, anything: go local
            self._failed(exc)
            return _FAILED
        self._worked()
        return result

    # -- the PolicyStore protocol -------------------------------------------------------
    async def get(self, url: str) -> PolicyRecord | None:
        rec, _, _ = self.keys(url)
        value = await self._run(lambda c: c.redis.get(rec))
        if value is _UNUSABLE or value is _FAILED:
            return self._local.peek(url)
        return self._decoded(value, url)

    async def claim(self, url: str, lease_seconds: float) -> Claim:
        token = new_lease()
        lease_ms = max(1, int(lease_seconds * 1000))
        answer = await self._run(
            lambda c: c.claim(keys=self.keys(url), args=[token, lease_ms]))
        if answer is _UNUSABLE or answer is _FAILED:
            if answer is _FAILED and len(self._maybe_held) < MAX_MAYBE_HELD:
                self._maybe_held[url] = token  # the script may have run before the fault
            return replace(self._local.claim_now(url, lease_seconds), local=True)
        try:
            state, value = int(answer[0]), answer[1]
        except (TypeError, ValueError, IndexError):
            return Claim(ClaimState.OWNER, None, None)  # not our script's answer: fetch
        record = self._decoded(value, url)
        if state == 1:
            if record is not None:
                return Claim(ClaimState.FRESH, record)
            # unreadable bytes under a fresh marker: fetch, without a lease (nobody waits)
            return Claim(ClaimState.OWNER, None, None)
        if state == 2:
            if len(self._issued) < MAX_MAYBE_HELD:
                self._issued[url] = token
            return Claim(ClaimState.OWNER, record, token)
        return Claim(ClaimState.BUSY, record)

    async def publish(self, url: str, record: PolicyRecord, keep_until: float,
                      lease: str | None) -> None:
        now = time.time()
        keep_ms = max(1, int((keep_until - now) * 1000))
        fresh_ms = max(0, int((record.fresh_until - now) * 1000))
        blob = encode_record(record)
        token = self._redis_lease(url, lease)
        done = await self._run(lambda c: c.publish(
            keys=self.keys(url), args=[blob, keep_ms, fresh_ms, token or ""]),
            force=token is not None)
        if done is _UNUSABLE or done is _FAILED:
            self._local.put(url, record, keep_until, None)

    def _redis_lease(self, url: str, lease: str | None) -> str | None:
        """The Redis lease this process holds on `url`, if any: the one Redis gave it, or one
        a failed claim may have taken (a local lease, from the breaker, is not Redis's)."""
        if lease is not None and self._issued.get(url) == lease:
            del self._issued[url]
            self._maybe_held.pop(url, None)
            return lease
        return self._maybe_held.pop(url, None)

    async def release(self, url: str, lease: str) -> None:
        token = self._redis_lease(url, lease)
        if token is not None:
            await self._run(lambda c: c.release(keys=self.keys(url)[2:], args=[token]),
                            force=True)

    async def aclose(self) -> None:
        """Let go of this process's client for the running loop (closed by its last user)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if loop not in self._loops:
            return
        self._loops.discard(loop)
        clients = _CLIENTS.get(loop, {})
        key = (self.location.url, self.location.timeout)
        client = clients.get(key)
        if client is None:
            return
        client.users -= 1
        if client.users <= 0:
            del clients[key]
            try:
                async with asyncio.timeout(self.deadline):
                    await client.redis.aclose(close_connection_pool=True)
            except Exception:  # noqa: BLE001, S110 - closing: nothing left to report to
                pass

    def close(self) -> None:
        return None  # connections belong to event loops: aclose() on each

    def _decoded(self, value: object, url: str) -> PolicyRecord | None:
        if value is None:
            return None
        record = decode_record(value, url)
        if record is None:
            self.count("unreadable")
        return record


_UNUSABLE = object()
_FAILED = object()
