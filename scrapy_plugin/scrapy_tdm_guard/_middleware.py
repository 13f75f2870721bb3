"""TdmGuardMiddleware: tdm-guard's decisions inside a Scrapy crawl.

A thin adapter: policy files are fetched through the crawler's engine (so proxies, retries
and politeness apply, but never Scrapy's HTTP cache: how long a policy file is trusted is
tdm-guard's rule, RFC 9309 §2.4), through the policy store (`tdm_guard.PolicyFiles`: in a
scrapy-redis cluster, once for every node), turned into the core's sans-IO objects, and
every decision comes from `tdm_guard.Evaluator`, the same code the CLI runs.

The warm path never leaves the process: a loaded origin is kept in memory while its files
are fresh, and only a miss asks the store (with Redis, awaited on the asyncio reactor's
loop through redis.asyncio, never a blocking call on the reactor thread).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urljoin

from scrapy import Request, signals
from scrapy.exceptions import IgnoreRequest, NotConfigured, StopDownload
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet.defer import Deferred, DeferredList

import tdm_guard
from tdm_guard import (
    Decision,
    Evaluator,
    Freshness,
    InvalidURL,
    OriginPolicy,
    PageResponse,
    PolicyFiles,
    PolicyRecord,
    StoreError,
    default_cache_path,
    load_declarations,
    open_store,
    parse_url,
    store_kind,
)
from tdm_guard.codings import content_codings
from tdm_guard.decide import SIGNAL_HEADERS
from tdm_guard.fetched import MAX_REDIRECTS, POLICY_MAX_DECODED, Fetched, utc_iso
from tdm_guard.freshness import MAX_FRESH, MAX_STALE, parse_duration
from tdm_guard.model import Profile, Purpose
from tdm_guard.scrapy_settings import (
    FROM_REDIS_URL,
    SettingError,
    crawl_agent,
    store_setting,
    switched_on,
)
from tdm_guard.signals.files import MAX_FILE_BYTES, body_cap
from tdm_guard.signals.html import MAX_HEAD_BYTES
from tdm_guard.signals.robots import MAX_ROBOTS_BYTES
from tdm_guard.signals.tdmrep import MAX_TDMREP_BYTES
from tdm_guard.urls import URL, policy_file_urls, sent_origin

from ._licences import LicenceDocuments

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

    from tdm_guard import AuditLog, PolicyStore, SnapshotStore

logger = logging.getLogger(__name__)

META_KEY = "tdm_guard"  # request.meta / response.meta: the Decision
OPT_OUT_KEY = "dont_tdm_guard"  # an explicit per-request opt-out
_INTERNAL = "_tdm_guard_policy_file"  # our own robots.txt / tdmrep.json requests
_CAP = "_tdm_guard_cap"
_URL = "_tdm_guard_url"  # (request.url, its parsed URL): parsed once for both stages
FETCH_PRIORITY = 1000
# The parsers read only the first 500 KiB (robots.txt) or 1 MiB (tdmrep.json), so a download
# is stopped, not failed, once that much has arrived; Scrapy's download_maxsize (which also
# bounds decompression) is the core's POLICY_MAX_DECODED, as in the CLI.
MODES = ("block", "tag")
# The per-decision counts, kept in `_summary` and added to Scrapy's stats every STATS_BATCH
# decisions and when the spider closes (before Scrapy dumps its stats); "dropped": decided,
# but its audit-log line failed.
_ACTION_STATS = {"allowed": "tdm_guard/allowed", "blocked": "tdm_guard/blocked",
                 "tagged": "tdm_guard/tagged", "dropped": "tdm_guard/dropped/no_audit_log"}
STATS_BATCH = 64
_clock = time.monotonic  # the origin-age clock (a module attribute, so tests can move it)


class TdmGuardMiddleware:
    """Downloader middleware. Enable with the add-on, or by hand at order 100 in place of
    Scrapy's RobotsTxtMiddleware."""

    def __init__(self, crawler: Crawler) -> None:
        """Reads every setting once. A setting tdm-guard cannot use raises SettingError (a
        ValueError naming it), so the crawl stops before any request: NotConfigured would
        silently run the crawl unprotected. Only TDM_GUARD_ENABLED false disables."""
        settings = crawler.settings
        if not switched_on(settings):
            raise NotConfigured("TDM_GUARD_ENABLED is false")
        self.crawler = crawler
        self.stats = crawler.stats
        self._inc = _unwrapped(crawler.stats, "inc_value")  # one count per page: a hot path
        self.mode = str(settings.get("TDM_GUARD_MODE", "block")).lower()
        if self.mode not in MODES:
            raise SettingError(f"TDM_GUARD_MODE must be 'block' or 'tag', not {self.mode!r}")
        # the product token (RFC 9309 §2.2.1): "MyBot/1.0" obeys `User-agent: MyBot`
        self.agent = crawl_agent(settings.get("TDM_GUARD_AGENT"),
                                 settings.get("ROBOTSTXT_USER_AGENT"), settings.get("USER_AGENT"))
        purpose = settings.get("TDM_GUARD_PURPOSE", "train")
        profile = settings.get("TDM_GUARD_PROFILE", "strict")
        try:
            purpose, profile = Purpose(purpose), Profile(profile)
        except ValueError as exc:
            raise SettingError(f"TDM_GUARD_PURPOSE / TDM_GUARD_PROFILE: {exc}") from None
        declarations = load_declarations(settings.getlist("TDM_GUARD_POLICIES"),
                                         settings.getlist("TDM_GUARD_LICENCES"))
        for error in declarations.errors:
            logger.warning("tdm-guard: policy file skipped: %s", error)
        anchors = settings.get("TDM_GUARD_TRUST_ANCHORS")
        self.evaluator = Evaluator(self.agent, purpose, profile, declarations,
                                   fail_closed=settings.getbool("TDM_GUARD_FAIL_CLOSED", False),
                                   trust_anchors=_read_text(anchors) if anchors else None)
        # a file's first bytes read for its embedded reservations (the CLI's --max-file-bytes)
        self.max_file_bytes = settings.getint("TDM_GUARD_MAX_FILE_BYTES", MAX_FILE_BYTES)
        self.licences = LicenceDocuments(self._fetch_licence, lambda: _clock())
        self.timeout = settings.getfloat("TDM_GUARD_TIMEOUT", 10.0)
        self.store, self.files = self._open_store(settings)
        audit_path = settings.get("TDM_GUARD_AUDIT_LOG")
        snapshots = settings.get("TDM_GUARD_SNAPSHOTS")
        if snapshots and not audit_path:
            raise SettingError("TDM_GUARD_SNAPSHOTS needs TDM_GUARD_AUDIT_LOG (the log names "
                               "each snapshot a decision used)")
        self.audit: AuditLog | None = None
        # tdm_guard's lazy names: the audit-log modules load only for a crawl that keeps one
        self.snapshots: SnapshotStore | None = \
            tdm_guard.SnapshotStore(snapshots) if snapshots else None
        self.evaluator.keep_inputs = self.snapshots is not None  # what each decision read
        try:
            if audit_path:
                self.audit = tdm_guard.AuditLog(audit_path)
                if self.snapshots is not None:
                    self.snapshots.create()
                self.audit.start_run("scrapy-tdm-guard", self.evaluator, self.snapshots,
                                     mode=self.mode)
        except tdm_guard.AuditLogError as exc:  # SnapshotError too: no crawl without its evidence
            logger.error("tdm-guard: TDM_GUARD_AUDIT_LOG: %s", exc)
            raise
        self._audit_failed = ""
        # Loaded origins, least recently used first; re-read after 24 h (RFC 9309 §2.4) and
        # at most TDM_GUARD_MAX_ORIGINS kept (an evicted origin reloads, from the cache).
        self._origins: OrderedDict[str, tuple[OriginPolicy, float]] = OrderedDict()
        self._max_origins = settings.getint("TDM_GUARD_MAX_ORIGINS", 20000)
        self._waiting: dict[str, list[Deferred[OriginPolicy]]] = {}
        self._received: dict[int, int] = {}  # bytes so far of each policy-file download
        self._summary: Counter[str] = Counter()
        self._in_stats: Counter[str] = Counter()  # the part of `_summary` already in the stats
        self._unflushed = 0
        crawler.signals.connect(self._spider_closed, signal=signals.spider_closed)

    def _open_store(self, settings: BaseSettings) -> tuple[PolicyStore, PolicyFiles]:
        """The policy store: TDM_GUARD_CACHE (setting, then environment), else
        scrapy-redis's REDIS_URL, else the CLI's SQLite file; None, "None", "", "memory",
        ...: this crawl only (scrapy_settings.NO_CACHE)."""
        value, source = store_setting(settings, os.environ, default_cache_path())
        try:
            kind = store_kind(value)[0]
            store = open_store(value)
            max_stale = parse_duration(settings.get("TDM_GUARD_MAX_STALE", MAX_STALE))
        except StoreError as exc:
            raise SettingError(f"{source}: {exc}") from None
        except ValueError as exc:
            raise SettingError(f"TDM_GUARD_MAX_STALE: {exc}") from None
        if kind == "redis":
            if not _asyncio_reactor():
                raise SettingError(
                    f"{source}: a Redis policy store needs Scrapy's asyncio reactor "
                    "(TWISTED_REACTOR = 'twisted.internet.asyncioreactor."
                    "AsyncioSelectorReactor', Scrapy's default)")
            logger.info("tdm-guard: policy files are shared through Redis %s%s", store.name,
                        " (from scrapy-redis's REDIS_URL; TDM_GUARD_CACHE chooses another "
                        "store)" if source == FROM_REDIS_URL else "")
        files = PolicyFiles(store, Freshness(max_stale=max_stale),
                            fetch_deadline=3 * self.timeout, sleep=_sleep)

        def count(name: str) -> None:
            self._inc(f"tdm_guard/store/{name}")

        files.on_event = count
        if hasattr(store, "on_event"):
            store.on_event = count
        return store, files

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TdmGuardMiddleware:
        try:
            return cls(crawler)
        except SettingError as exc:  # one clear line before Scrapy's traceback
            logger.error("tdm-guard: the crawl cannot start: %s", exc)
            raise

    # -- before download --------------------------------------------------------------
    async def process_request(self, request: Request) -> None:
        if _exempt(request):
            return None
        if self._opted_out(request):
            self._inc("tdm_guard/skipped")
            return None
        url = self._url(request)
        origin = url.origin
        policy = self._loaded(origin) or await self._load_policy(origin)
        decision = self.evaluator.evaluate(url, policy)
        request.meta[META_KEY] = decision
        if not decision.fetch_allowed:
            self._block(decision, "request", "robots.txt forbids fetching")
        if not decision.allowed and self.mode == "block":
            self._block(decision, "request", "reserved")
        return None

    # -- after download ---------------------------------------------------------------
    async def process_response(self, request: Request, response: Response) -> Response:
        if _exempt(request) or request.meta.get(OPT_OUT_KEY):
            return response
        url = self._url(request)
        origin = url.origin
        policy = self._loaded(origin) or await self._load_policy(origin)
        encoded = _still_encoded(response)
        if encoded:  # the bytes no reader can take: said, never read as a page without signals
            decision = self.evaluator.evaluate(url, policy, page_note=f"page not read: {encoded}",
                                               before=request.meta.get(META_KEY))
            return self._after_response(request, response, decision)
        headers = _signal_headers(response)
        body = response.body
        cap = body_cap(body, _last_content_type(headers), self.max_file_bytes, MAX_HEAD_BYTES)
        page = PageResponse(response.status, headers, body[:cap], partial=len(body) > cap,
                            fetched_at=utc_iso(time.time()))
        licence_urls = page.licence_urls(url.href)
        if licence_urls:
            page = page.with_licences(await self.licences.get_all(licence_urls))
        decision = self.evaluator.evaluate(url, policy, page, before=request.meta.get(META_KEY))
        return self._after_response(request, response, decision)

    def _after_response(self, request: Request, response: Response,
                        decision: Decision) -> Response:
        request.meta[META_KEY] = decision
        if not decision.allowed:
            if self.mode == "block":
                self._block(decision, "response", "reserved")
            self._record(decision, "response", "tagged")
        else:
            self._record(decision, "response", "allowed")
        return response

    def _url(self, request: Request) -> URL:
        """The request's URL in the one URL model. A URL that model refuses, or one whose
        canonical origin is not the origin Scrapy will connect to, cannot be checked:
        the request is dropped (fail closed), with its reason in the stats and audit log."""
        known = request.meta.get(_URL)
        if known is not None and known[0] == request.url:
            return known[1]  # parsed at the request stage
        try:
            url = parse_url(request.url)
        except InvalidURL as exc:
            self._refuse(request, str(exc))
        if url.href != request.url:  # a canonical URL reads the same to every parser
            sent = sent_origin(request.url)
            if sent != url.origin:
                self._refuse(request, f"ambiguous URL: Scrapy would connect to {sent}, its "
                                      f"canonical origin is {url.origin}")
        request.meta[_URL] = (request.url, url)
        return url

    def _refuse(self, request: Request, why: str) -> NoReturn:
        decision = Decision(request.url, self.agent, self.evaluator.purpose, False, error=why)
        self._record(decision, "request", "blocked")
        self._inc("tdm_guard/blocked/invalid-url")
        self._summary["blocked/invalid-url"] += 1
        raise IgnoreRequest(f"tdm-guard: cannot check {request.url}: {why}")

    def _opted_out(self, request: Request) -> bool:
        """`dont_tdm_guard` holds on the origin of the request it was set on, and on
        same-origin redirects; Scrapy's redirect middlewares copy meta to every hop, so on
        the first hop to another origin the opt-out is dropped and that origin decides."""
        if not request.meta.get(OPT_OUT_KEY):
            return False
        chain = request.meta.get("redirect_urls") or ()
        if chain:
            first = _origin(chain[0])
            if first is None or first != _origin(request.url):
                del request.meta[OPT_OUT_KEY]
                self._inc("tdm_guard/opt_out_dropped")
                return False
        return True

    def _block(self, decision: Decision, stage: str, why: str) -> None:
        self._record(decision, stage, "blocked")
        signals_ = sorted({r.signal for r in decision.reasons if r.reserved})
        for signal in signals_:
            self._inc(f"tdm_guard/blocked/{signal}")
            self._summary[f"blocked/{signal}"] += 1
        raise IgnoreRequest(f"tdm-guard: {why} ({', '.join(signals_)}): {decision.url}")

    def _record(self, decision: Decision, stage: str, action: str) -> None:
        """Count the decision and write it to the audit log. Without its log line nothing
        is fetched or delivered: an allowed or tagged request is then dropped, and counted
        as `tdm_guard/dropped/no_audit_log`, not as what its decision said."""
        if self._audit_failed:
            self._no_evidence(decision, action, self._audit_failed)
        if self.audit is not None:
            try:
                self.audit.write_decision(decision, self.snapshots, stage=stage, action=action,
                                          mode=self.mode)
                decision.inputs = None  # kept: the page's bytes need not live on in meta
            except tdm_guard.AuditLogError as exc:  # or SnapshotError: the evidence is incomplete
                # The audit log is the evidence: without it nothing more is fetched or delivered.
                self.audit = None
                self._inc("tdm_guard/audit_log/errors")
                logger.error("tdm-guard: %s; closing the spider (every decision so far is in "
                             "the log)", exc)
                self._audit_failed = str(exc)
                deferred_from_coro(self.crawler.engine.close_spider_async(
                    reason="tdm_guard_audit_log_failed"))
                self._no_evidence(decision, action, self._audit_failed)
        self._tally(action)

    def _no_evidence(self, decision: Decision, action: str, why: str) -> NoReturn:
        """Drop a request whose decision cannot be logged. A blocked one is still counted as
        blocked (it was refused either way); any other is counted as dropped."""
        self._tally("blocked" if action == "blocked" else "dropped")
        raise IgnoreRequest(f"tdm-guard: no audit log ({why}): {decision.url}")

    def _tally(self, action: str) -> None:
        self._summary[action] += 1
        self._unflushed += 1
        if self._unflushed >= STATS_BATCH:
            self._flush_stats()

    def _flush_stats(self) -> None:
        """Add the decisions counted since the last flush to Scrapy's stats (one stats call
        per action, not one per page)."""
        self._unflushed = 0
        for action, key in _ACTION_STATS.items():
            delta = self._summary[action] - self._in_stats[action]
            if delta:
                self._inc(key, delta)
                self._in_stats[action] += delta

    # -- policy files, once per origin, every waiter gets the real answer -----------------
    def _loaded(self, origin: str) -> OriginPolicy | None:
        """The warm path, without a coroutine, store or I/O: the origin's policy while it is
        fresh (an expired one is dropped here; `_load_policy` reads it again)."""
        entry = self._origins.get(origin)
        if entry is None:
            return None
        if _clock() < entry[1]:
            self._origins.move_to_end(origin)
            return entry[0]
        del self._origins[origin]
        return None

    async def _load_policy(self, origin: str) -> OriginPolicy:
        """The cold path (after `_loaded` found nothing): load the origin's files once, every
        other request for it waiting for that load."""
        waiters = self._waiting.get(origin)
        if waiters is not None:
            # One Deferred per waiter, fired with the policy itself: a shared Deferred
            # awaited twice hands None to the second waiter (Scrapy 2.14-2.19's fail-open).
            gate: Deferred[OriginPolicy] = Deferred()
            waiters.append(gate)
            return await maybe_deferred_to_future(gate)
        self._waiting[origin] = []
        policy: OriginPolicy | None = None
        fresh_until = time.time() + self.files.freshness.error_first
        try:
            policy, fresh_until = await self._load_origin(origin)
        except Exception as exc:  # noqa: BLE001 - fail closed, never release waiters unchecked
            logger.error("tdm-guard: could not load policy files of %s: %s", origin, exc)
            policy = OriginPolicy.unreachable(origin, f"error: {type(exc).__name__}: {exc}")
        finally:
            if policy is None:  # cancelled while loading
                policy = OriginPolicy.unreachable(origin, "cancelled")
            self._origins[origin] = (policy, _expires(fresh_until))
            if len(self._origins) > self._max_origins:
                self._origins.popitem(last=False)
            for gate in self._waiting.pop(origin, []):
                gate.callback(policy)
        return policy

    async def _load_origin(self, origin: str) -> tuple[OriginPolicy, float]:
        """The origin's policy, and until when (Unix time) both its files are fresh."""
        robots_url, tdmrep_url = policy_file_urls(origin)
        # Both files at once (each _fetch_file catches its own errors, so neither fails).
        both = DeferredList([
            deferred_from_coro(self._fetch_file(robots_url, MAX_ROBOTS_BYTES, "robots")),
            deferred_from_coro(self._fetch_file(tdmrep_url, MAX_TDMREP_BYTES, "tdmrep")),
        ], fireOnOneErrback=True, consumeErrors=True)
        (_, robots), (_, tdm) = await maybe_deferred_to_future(both)
        policy = OriginPolicy.from_fetches(origin, robots.fetched, tdm.fetched)
        fresh_until = min(robots.fresh_until, tdm.fresh_until)
        urls = policy.licence_urls()  # robots.txt License: lines (RSL), read before any page
        if urls:
            policy = policy.with_licences(await self.licences.get_all(urls))
        return policy, fresh_until

    async def _fetch_licence(self, url: str) -> PolicyRecord:
        """An RSL licence document (RSL's reader loads only for a crawl that meets one)."""
        from tdm_guard.signals.rsl import MAX_RSL_BYTES

        return await self._fetch_file(url, MAX_RSL_BYTES, "rsl")

    async def _fetch_file(self, url: str, cap: int, kind: str) -> PolicyRecord:
        """One policy file: fresh from the store, else downloaded once for every process
        sharing the store (a failure is kept briefly, never as "no file")."""
        record, how = await self.files.get(url, lambda: self._download(url, cap, kind))
        if how == "store":
            self._inc(f"tdm_guard/policy_file/{kind}/cached")
            self._summary["policy_files_cached"] += 1
        elif how == "stale":
            self._inc(f"tdm_guard/policy_file/{kind}/stale")
        return record

    async def _download(self, url: str, cap: int, kind: str) -> Fetched:
        started = time.time()
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            request = Request(current, priority=FETCH_PRIORITY, callback=NO_CALLBACK,
                              dont_filter=True, meta={
                                  "dont_obey_robotstxt": True, _INTERNAL: True, _CAP: cap,
                                  "dont_redirect": True, "handle_httpstatus_all": True,
                                  "dont_cache": True,  # freshness is tdm-guard's (24 h)
                                  "download_maxsize": POLICY_MAX_DECODED,
                                  "download_timeout": self.timeout})
            self._inc(f"tdm_guard/policy_file/{kind}/requests")
            self._watch(request)
            try:
                response = await self.crawler.engine.download_async(request)
            except Exception as exc:  # noqa: BLE001 - any failure: the file is unreachable
                self._inc(f"tdm_guard/policy_file/{kind}/errors")
                self._summary["policy_file_errors"] += 1
                return Fetched(url, error=f"{type(exc).__name__}: {exc}".strip(": "),
                               fetched_at=started)
            finally:
                self._unwatch(request)
            if "cached" in response.flags:  # a cache that ignored dont_cache: of any age
                self._inc(f"tdm_guard/policy_file/{kind}/http_cache_refused")
                self._summary["policy_file_errors"] += 1
                logger.warning("tdm-guard: %s came from an HTTP cache that ignores the "
                               "dont_cache meta key; read as unreachable", current)
                return Fetched(url, error="served from an HTTP cache (a cache middleware "
                                          "ignored dont_cache): its age is unknown",
                               fetched_at=started)
            self._inc(f"tdm_guard/policy_file/{kind}/status/{response.status}")
            self._summary["policy_files"] += 1
            encoded = _still_encoded(response)
            if encoded:  # not a successfully downloaded file (RFC 9309 §2.3.1.1), nor empty
                self._inc(f"tdm_guard/policy_file/{kind}/errors")
                self._summary["policy_file_errors"] += 1
                return Fetched(url, response.status, _header_list(response),
                               error=encoded, final_url=current, fetched_at=started)
            location = response.headers.get("Location")
            if 300 <= response.status < 400 and location:
                current = urljoin(current, location.decode("latin-1"))
                continue
            return Fetched(url, response.status, _header_list(response), response.body[:cap],
                           truncated=len(response.body) > cap, final_url=current,
                           fetched_at=started)
        return Fetched(url, redirects_exhausted=True, final_url=current, fetched_at=started)

    def _watch(self, request: Request) -> None:
        """Count a policy-file download's bytes (to stop it at its cap). The receiver is
        connected only while such downloads run: Scrapy sends `bytes_received` for every
        chunk of every response, and a crawl whose origins are loaded pays nothing for it."""
        if not self._received:
            self.crawler.signals.connect(self._bytes_received, signal=signals.bytes_received)
        self._received[id(request)] = 0

    def _unwatch(self, request: Request) -> None:
        if self._received.pop(id(request), None) is not None and not self._received:
            self.crawler.signals.disconnect(self._bytes_received,
                                            signal=signals.bytes_received)

    def _bytes_received(self, data: bytes, request: Request, spider: object = None) -> None:
        cap = request.meta.get(_CAP)
        if cap is None or id(request) not in self._received:
            return
        size = self._received[id(request)] + len(data)
        self._received[id(request)] = size
        if size > cap:
            raise StopDownload(fail=False)  # keep what arrived: the parser reads only `cap`

    async def _spider_closed(self, spider: object = None, reason: str = "") -> None:
        self._flush_stats()
        s = self._summary
        blocked = ", ".join(f"{k.split('/', 1)[1]}: {v}" for k, v in sorted(s.items())
                            if k.startswith("blocked/"))
        logger.info(
            "tdm-guard (%s mode, agent %s, purpose %s): %d allowed, %d blocked%s, %d tagged%s; "
            "%d policy-file responses, %d from the cache, %d policy-file errors",
            self.mode, self.agent, self.evaluator.purpose.value, s["allowed"], s["blocked"],
            f" ({blocked})" if blocked else "", s["tagged"],
            f", {s['dropped']} dropped (no audit log)" if s["dropped"] else "", s["policy_files"],
            s["policy_files_cached"], s["policy_file_errors"])
        shared = self.files.events
        if shared and self.store.name != "memory":
            logger.info("tdm-guard: policy store %s: %s", self.store.name, ", ".join(
                f"{name} {shared[name]}" for name in sorted(shared)))
        if self.audit is not None:
            self.audit.close()
        try:
            await self.store.aclose()
        finally:
            self.store.close()


def _unwrapped(obj: object, name: str) -> Callable[..., None]:
    """`obj.name`, bound from its class: Scrapy 2.19's StatsCollector wraps each method on
    every attribute read in a check for a deprecated `spider` argument (tdm-guard passes
    none), which costs more than the count itself."""
    method = getattr(type(obj), name, None)
    if callable(method) and hasattr(method, "__get__"):
        return method.__get__(obj, type(obj))
    return getattr(obj, name)


def _expires(fresh_until: float) -> float:
    """The in-process clock time at which a policy fresh until `fresh_until` expires."""
    return _clock() + min(MAX_FRESH, max(0.0, fresh_until - time.time()))


def _asyncio_reactor() -> bool:
    from scrapy.utils.asyncio import is_asyncio_available

    try:
        return is_asyncio_available()
    except RuntimeError:  # no reactor yet (a middleware built outside a crawl)
        return True


async def _sleep(seconds: float) -> None:
    """Wait while another node fetches a policy file, on whichever reactor runs."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # a non-asyncio reactor (SQLite and memory stores only)
        from twisted.internet import reactor
        from twisted.internet.task import deferLater

        await deferLater(reactor, seconds, lambda: None)  # type: ignore[arg-type]
        return
    await asyncio.sleep(seconds)


def _read_text(path: str) -> str:
    with open(path, encoding="ascii") as stream:
        return stream.read()


def _origin(url: str) -> str | None:
    try:
        return parse_url(url).origin
    except InvalidURL:
        return None


def _exempt(request: Request) -> bool:
    """Our own policy-file requests, and schemes that have no robots.txt (data:, file:)."""
    return bool(request.meta.get(_INTERNAL)) or \
        not request.url[:8].lower().startswith(("http://", "https://"))


def _still_encoded(response: Response) -> str:
    """Why the body is still in a content coding after Scrapy's HttpCompressionMiddleware
    (which undoes gzip, x-gzip, deflate, br and zstd and keeps the header for any other
    coding), or ""."""
    values = dict.get(response.headers, b"Content-Encoding")  # Scrapy's normalised key
    if not values:
        return ""  # nearly every page: no dict of Headers' own made
    codings = content_codings(v.decode("latin-1") for v in values)
    return f"Content-Encoding {', '.join(codings)}: not decoded" if codings else ""


def _header_list(response: Response) -> list[tuple[str, str]]:
    return [(key.decode("latin-1"), value.decode("latin-1"))
            for key, values in response.headers.items() for value in values]


_SIGNAL_HEADERS = frozenset(name.encode() for name in SIGNAL_HEADERS)


def _last_content_type(headers: list[tuple[str, str]]) -> str:
    """The Content-Type Scrapy reports (`response.headers.get`: the last value), from the
    decoded signal headers."""
    for key, value in reversed(headers):
        if key.lower() == "content-type":
            return value
    return ""


def _signal_headers(response: Response) -> list[tuple[str, str]]:
    """The response's signal-bearing headers (decide.SIGNAL_HEADERS), decoded; the others
    are never read, so never decoded."""
    # the raw dict: Scrapy's Headers.items() normalises every value again on the way out
    return [(key.decode("latin-1"), value.decode("latin-1"))
            for key, values in dict.items(response.headers) if key.lower() in _SIGNAL_HEADERS
            for value in values]
