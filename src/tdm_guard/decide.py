"""Combine every signal's findings into one `Decision`. The single source of truth for rules:
the CLI and the Scrapy middleware both call `Evaluator.evaluate`.

Combination (draft-ietf-aipref-vocab-08 §5.1, applied across all signals): a purpose is reserved
when any statement that speaks to it reserves it; TDMRep layers are first resolved among
themselves by the report's precedence rules. A robots.txt Disallow for the crawler's own
token forbids fetching at all, whatever else is said.

This module only combines: each rule lives in its signal module (`signals/`), declarations
in `declarations/`, and URLs are split by `urls`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .declarations import DeclarationSet
from .fetched import Fetched
from .model import TDMREP_FILE, Decision, Profile, Purpose, Reason
from .signals import aipref, files, html, metadata, noai, tdmrep
from .signals.robots import RobotsResult, agent_token
from .signals.robots_plan import robots_reasons
from .signals.tdmrep import TdmRepFile
from .urls import URL, as_url, policy_file_urls

if TYPE_CHECKING:
    from .signals import rsl

# The response headers a page's signals read (TDMRep, X-Robots-Tag, aipref Content-Usage,
# Content-Signal, RSL Link, the file kind), and a few that date or identify the response:
# what page evidence keeps (`PageResponse.evidence`).
SIGNAL_HEADERS = frozenset({
    "content-type", "tdm-reservation", "tdm-policy", "x-robots-tag", "content-usage",
    "content-signal", "link", "content-length", "last-modified", "etag", "date"})
# the headers each header reader looks for (decide skips a reader whose headers are absent)
_TDMREP_HEADERS = frozenset({"tdm-reservation", "tdm-policy"})
_AIPREF_HEADERS = frozenset({"content-usage", "content-signal"})
SNIFF_BYTES = 4096  # what page evidence keeps at least of a body that is not a file

_T = TypeVar("_T")


class cached_attribute(Generic[_T]):  # noqa: N801 - a decorator, named as functools.cached_property
    """functools.cached_property without its lock (Python 3.11 takes an RLock on every first
    read; a page's properties are read on one thread): computed once, kept in the instance's
    `__dict__`, which later reads find first."""

    def __init__(self, func: Any) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> _T:
        if obj is None:
            return self  # type: ignore[return-value]
        value = obj.__dict__[self.name] = self.func(obj)
        return value


@dataclass(frozen=True)
class OriginPolicy:
    """What an origin's policy files said. `None` means the file was not consulted."""

    origin: str
    robots: RobotsResult | None = None
    tdmrep: TdmRepFile | None = None
    not_consulted: str = ""  # why robots.txt / tdmrep.json were not consulted
    licences: tuple[rsl.RslDocument, ...] = ()  # RSL documents named by robots.txt License:
    # url -> (sha256 of the body read, fetched_at) of every policy file fetched: each reason
    # that came from one of them names it (a decision can be explained from the store later)
    provenance: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)
    fetches: tuple[Fetched, ...] = ()  # the fetch records themselves (for snapshots)
    _stamped: dict[Reason, Reason] = field(default_factory=dict, compare=False, repr=False)

    def licence_urls(self) -> list[str]:
        """The RSL documents robots.txt names (`License:`, every agent), to fetch once."""
        if self.robots is None or self.robots.robots is None:
            return []
        values = [line.value for line in self.robots.robots.licences]
        if not values:
            return []
        rsl = _rsl()
        return rsl.robots_licence_urls(self.robots.url, values)[:rsl.MAX_DOCUMENTS]

    def with_licences(self, fetched: list[Fetched]) -> OriginPolicy:
        return replace(self, licences=tuple(_rsl_documents(fetched)),
                       provenance={**self.provenance, **_provenance(fetched)},
                       fetches=self.fetches + tuple(fetched), _stamped={})

    def stamp(self, reasons: list[Reason]) -> list[Reason]:
        """`reasons`, each that came from a fetched policy file naming that file's sha256
        and fetched_at (memoised: robots.txt reasons are the same objects for every URL)."""
        if not self.provenance:
            return reasons
        out = []
        for r in reasons:
            if r.sha256 or r.fetched_at:
                out.append(r)
                continue
            found = self.provenance.get(r.source)
            if found is None:
                out.append(r)
                continue
            stamped = self._stamped.get(r)
            if stamped is None:
                if len(self._stamped) > 4096:
                    self._stamped.clear()
                stamped = self._stamped[r] = replace(r, sha256=found[0], fetched_at=found[1])
            out.append(stamped)
        return out

    @classmethod
    def from_fetches(cls, origin: str, robots: Fetched | None, tdmrep: Fetched | None,
                     not_consulted: str = "") -> OriginPolicy:
        """Apply each file's fetch rules (RFC 9309 §2.3.1, TDMRep) to how its fetch ended,
        whoever fetched it (the CLI with requests, the Scrapy plugin with its engine)."""
        fetched = [f for f in (robots, tdmrep) if f is not None]
        return cls(
            origin,
            provenance=_provenance(fetched),
            fetches=tuple(fetched),
            robots=None if robots is None else RobotsResult.from_response(
                robots.url, robots.status, robots.body, robots.error, robots.redirects_exhausted,
                robots.truncated, robots.sha256, robots.fetched_at_iso),
            tdmrep=None if tdmrep is None else TdmRepFile.from_response(
                tdmrep.url, tdmrep.status, tdmrep.body,
                tdmrep.error or ("more than 5 redirects" if tdmrep.redirects_exhausted
                                 else None)),
            not_consulted=not_consulted,
        )

    @classmethod
    def from_evidence(cls, origin: str, fetches: list[Fetched],
                      not_consulted: str = "") -> OriginPolicy:
        """The policy `fetches` (as in `OriginPolicy.fetches`: robots.txt and tdmrep.json,
        each by its URL, then the RSL documents robots.txt named) make: how `verify` rebuilds
        an origin from its snapshots, through the same rules as a live run."""
        robots_url, tdmrep_url = policy_file_urls(origin)
        robots = next((f for f in fetches if f.url == robots_url), None)
        tdmrep = next((f for f in fetches if f.url == tdmrep_url), None)
        licences = [f for f in fetches if f is not robots and f is not tdmrep]
        policy = cls.from_fetches(origin, robots, tdmrep, not_consulted)
        return policy.with_licences(licences) if licences else policy

    @classmethod
    def unreachable(cls, origin: str, detail: str) -> OriginPolicy:
        """Both files unreachable (a failure before any answer): robots.txt disallows all."""
        robots_url, tdmrep_url = policy_file_urls(origin)
        return cls.from_fetches(origin, Fetched(robots_url, error=detail),
                                Fetched(tdmrep_url, error=detail))


@dataclass(frozen=True, init=False)
class PageResponse:
    """The part of a page's response that carries signals: status, headers, head of the body."""

    status: int | None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""  # an HTML head's first html.MAX_HEAD_BYTES, or a file's first bytes
    partial: bool = False  # `body` is the first part of a larger response
    licences: tuple[rsl.RslDocument, ...] = ()  # RSL documents this response links to
    name: str = ""  # a local file's name (inspect), for the file kind
    provenance: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)
    fetched_at: str | None = None  # when it was read (ISO 8601, UTC): reasons from it name it
    fetches: tuple[Fetched, ...] = ()  # the RSL documents it links to, as fetched (snapshots)

    def __init__(self, status: int | None, headers: list[tuple[str, str]] | None = None,
                 body: bytes = b"", partial: bool = False,
                 licences: tuple[rsl.RslDocument, ...] = (), name: str = "",
                 provenance: Mapping[str, tuple[str | None, str | None]] | None = None,
                 fetched_at: str | None = None, fetches: tuple[Fetched, ...] = ()) -> None:
        # One per downloaded page: the fields go straight into `__dict__` (the generated
        # frozen `__init__` calls object.__setattr__ per field, three times the cost);
        # assignment after construction still raises FrozenInstanceError.
        fields_ = self.__dict__
        fields_["status"] = status
        fields_["headers"] = [] if headers is None else headers
        fields_["body"] = body
        fields_["partial"] = partial
        fields_["licences"] = licences
        fields_["name"] = name
        fields_["provenance"] = {} if provenance is None else provenance
        fields_["fetched_at"] = fetched_at
        fields_["fetches"] = fetches

    @cached_attribute
    def file(self) -> files.FileKind | None:
        """The file kind of the body (None for HTML, text and unknown bodies), by the one rule
        (`files.file_kind`: a body served as HTML is a file only if it begins like one)."""
        return files.file_kind(self.body, self.content_type, self.name)

    @cached_attribute
    def head(self) -> html.Head | None:
        """The scanned HTML head: of a body served as HTML (even one that begins like a file:
        both are read), or of an untyped body that does not begin like a file (one that only
        mentions "%PDF-" is read both ways)."""
        if "html" in self.content_type or (
                not self.content_type and files.signature(bytes(self.body[:64])) is None):
            return html.scan_head(self.body, partial=self.partial, charset=self.charset)
        return None

    def licence_urls(self, url: str) -> list[str]:
        """The RSL documents this response names (Link header, HTML <link>), to fetch."""
        links = self.head.links if self.head is not None else []
        if not links and "link" not in self.header_names:
            return []
        rsl = _rsl()
        found = rsl.link_header_urls(url, self.headers) if "link" in self.header_names else []
        found += rsl.html_link_urls(url, links)
        return list(dict.fromkeys(found))[:rsl.MAX_DOCUMENTS]

    def with_licences(self, fetched: list[Fetched]) -> PageResponse:
        page = replace(self, licences=tuple(_rsl_documents(fetched)),
                       provenance=_provenance(fetched), fetches=tuple(fetched))
        for name in ("file", "head"):  # the same body: keep what was already read of it
            if name in self.__dict__:
                page.__dict__[name] = self.__dict__[name]
        return page

    def evidence(self) -> PageResponse:
        """What a decision on this response rests on, and nothing more: the signal-bearing
        headers and the bytes the readers read (an HTML head up to where its scan stopped, a
        file's bytes as given). Evaluating it gives the same decision as evaluating `self`
        (a property test holds this); the page's snapshot keeps it."""
        headers = [(k, v) for k, v in self.headers if k.strip().lower() in SIGNAL_HEADERS]
        body = self.body
        if self.file is None and not body.startswith(b"ID3"):
            scanned = self.head.end if self.head is not None else 0
            body = body[:max(scanned, SNIFF_BYTES)]
        if headers == self.headers and body is self.body:
            return self
        page = replace(self, headers=headers, body=body)
        if len(body) == len(self.body):
            for name in ("file", "head"):
                if name in self.__dict__:
                    page.__dict__[name] = self.__dict__[name]
        return page

    @cached_attribute
    def sha256(self) -> str:
        """The sha256 of the evidence's body: what the page's reasons name (its snapshot)."""
        return hashlib.sha256(self.evidence().body).hexdigest()

    @cached_attribute
    def header_names(self) -> frozenset[str]:
        """The names of the headers present, lower-cased: a signal whose header is absent is
        not looked for (each header reader finds nothing in headers without its own)."""
        return frozenset(name.strip().lower() for name, _ in self.headers)

    @cached_attribute
    def _content_type_field(self) -> str:
        """The first Content-Type value, lower-cased ("" without one)."""
        for name, value in self.headers:
            if name.lower() == "content-type":
                return value.lower()
        return ""

    @cached_attribute
    def content_type(self) -> str:
        return self._content_type_field.split(";")[0].strip()

    @cached_attribute
    def charset(self) -> str:
        """The charset parameter of the Content-Type (the first), or ""."""
        _, found, rest = self._content_type_field.partition("charset=")
        return rest.split(";")[0].strip() if found else ""


@dataclass(frozen=True)
class Inputs:
    """What one `Evaluator.evaluate` call read: enough to make the same call again. Set on
    the `Decision` it returned (`Decision.inputs`, never serialised), so the writers of
    snapshots keep exactly the evidence a decision rests on, and `verify` replays it."""

    url: str
    origin: OriginPolicy
    page: PageResponse | None = None
    page_note: str | None = None


class Evaluator:
    """Decides for one agent, purpose and profile. Stateless apart from read-only caches."""

    def __init__(
        self,
        agent: str = "tdm-guard",
        purpose: Purpose | str = Purpose.TRAIN,
        profile: Profile | str = Profile.STRICT,
        declarations: DeclarationSet | None = None,
        fail_closed: bool = False,
        trust_anchors: str | None = None,
        keep_inputs: bool = False,
    ) -> None:
        """`fail_closed`: read an unreachable tdmrep.json (5xx, 429, timeout, network error)
        or RSL licence document as a reservation. TDMRep says such a server "does not
        implement this protocol" (unset); the switch is for teams whose lawyers prefer the
        cautious reading. `trust_anchors`: PEM certificates for C2PA `Trusted`.
        `keep_inputs`: set `Decision.inputs` (what the decision read, for snapshots); off,
        a decision holds no reference to the page it read."""
        self.fail_closed = fail_closed
        self.keep_inputs = keep_inputs
        self.trust_anchors = trust_anchors
        self.agent = agent_token(agent)  # "MyBot/1.0" is the group `User-agent: MyBot`
        self.purpose = Purpose(purpose)
        self.profile = Profile(profile)
        self.declarations = declarations if declarations is not None else DeclarationSet.load()

    def _origin_part(self, origin: OriginPolicy, path: str) -> tuple[list[Reason], list[str]]:
        """The reasons and unchecked lines that depend only on the URL's path and the
        origin's files: robots.txt, and an unreachable tdmrep.json."""
        reasons: list[Reason] = []
        unchecked: list[str] = []
        robots = origin.robots
        if robots is None:
            unchecked.append(f"robots.txt: {origin.not_consulted or 'not consulted'}")
        else:
            reasons += robots_reasons(robots, self.agent, self.profile, path, self.purpose)
        if origin.tdmrep is None:
            unchecked.append(f"tdmrep.json: {origin.not_consulted or 'not consulted'}")
        elif origin.tdmrep.unreachable:
            if self.fail_closed:
                reasons.append(Reason(
                    TDMREP_FILE, True, origin.tdmrep.url,
                    f"tdmrep.json unreachable ({origin.tdmrep.detail})",
                    note="fail-closed: an unreadable tdmrep.json is read as a reservation",
                    failure=True))
            else:  # "allowed" never hides a signal that could not be read
                unchecked.append(
                    f"tdmrep.json: unreachable ({origin.tdmrep.detail}); read as no file "
                    "(TDMRep), --fail-closed reads it as a reservation")
        return reasons, unchecked

    # -- the one entry point --------------------------------------------------------
    def evaluate(
        self,
        url: URL | str,
        origin: OriginPolicy,
        page: PageResponse | None = None,
        page_note: str | None = None,
        before: Decision | None = None,
    ) -> Decision:
        """Decide for `url` from its origin's policy files and, after download, its response.

        `url` is parsed by the one URL model (`urls.parse_url`): a string that is not an http(s)
        URL raises `InvalidURL`. `page_note` says why the page was not read; it is reported
        (in `unchecked`) when fetching is allowed: a page robots.txt forbids is never read.
        `before`: this evaluator's decision for the same URL and `origin` before download
        (the crawl's request stage); what depends only on the URL and the origin's files
        (robots.txt, an unreachable tdmrep.json) is taken from it, not computed again.
        """
        target = url if type(url) is URL else as_url(url)
        url = target.href
        path = target.path
        basis = before.basis if before is not None else None
        if basis is not None and basis[0] is self and basis[1] is origin and basis[2] == url:
            reasons, unchecked = list(basis[3]), list(basis[4])
        else:
            reasons, unchecked = self._origin_part(origin, path)
        if page is None:
            origin_part = (self, origin, url, tuple(reasons), tuple(unchecked))

        head = page.head if page is not None else None
        found = None
        if page is not None and page.file is not None:
            found = files.read_file(page.name or url, page.body, page.content_type,
                                    page.name, page.partial, self.trust_anchors)
            unchecked += found.unchecked

        names = page.header_names if page is not None else frozenset()
        tdm_reasons, policy = tdmrep.layered_reasons(
            url, origin.tdmrep, path,
            tdmrep.header_layer(page.headers) if names & _TDMREP_HEADERS else None,
            tdmrep.meta_layer(head.metas) if head else None,
            found.document if found else None,
        )
        if tdm_reasons:
            reasons += files.with_document_notes(tdm_reasons, found) if found else tdm_reasons
        if found is not None:
            reasons += found.reasons
        docs = list(origin.licences)
        if page is not None:
            docs += page.licences
        if head is not None and head.rsl:
            docs += [_rsl().RslDocument.parse(f"{url} (inline RSL)", text) for text in head.rsl]
        if docs:
            rsl_reasons, rsl_unchecked = _rsl().licence_reasons(url, path, docs,
                                                                self.fail_closed)
            reasons += self.declarations.licensed_rsl(rsl_reasons, url, self.purpose)
            unchecked += rsl_unchecked
        if page is not None:
            if "x-robots-tag" in names:
                reasons += noai.x_robots_tag_reasons(url, page.headers, self.agent)
            if names & _AIPREF_HEADERS:
                reasons += aipref.header_reasons(url, page.headers,
                                                 self.profile is Profile.STRICT)
            if head is not None:
                reasons += noai.robots_meta_reasons(url, head.metas, self.agent)
                if head.truncated:
                    # "allowed" never hides a signal that could not be read
                    unchecked.append(
                        f"HTML head: read to byte {head.end} only (markup left unterminated, "
                        f"or the first {html.MAX_HEAD_BYTES // 1024} KiB read); meta tags "
                        "after that are not seen")
        by_host = len(reasons)  # declarations matched by host: from no fetched file
        reasons += self.declarations.reasons(target, self.purpose)
        by_host = range(by_host, len(reasons))
        if page is not None:
            values = metadata.from_jsonld(head.jsonld) if head is not None else []
            values += metadata.from_id3(page.body)
            reasons += self.declarations.content_reasons(target, values, self.purpose)

        if origin.provenance:
            reasons = origin.stamp(reasons)  # robots.txt reasons carry theirs already
        if page is not None and page.provenance:
            reasons = [replace(r, sha256=page.provenance[r.source][0],
                               fetched_at=page.provenance[r.source][1])
                       if r.source in page.provenance and not r.sha256 else r for r in reasons]
        if page is not None and page.fetched_at:
            reasons = _stamp_page(reasons, page, url, by_host)
        purpose = self.purpose
        tdm = Purpose.TDM
        relevant = reasons if purpose is tdm else [
            r for r in reasons if purpose in r.purposes or tdm in r.purposes]
        contacts: list[str] = []
        allowed = True
        for r in relevant:
            if r.reserved:
                allowed = False
                if r.contacts:
                    contacts += [c for c in r.contacts if c not in contacts]
        decision = Decision(url, self.agent, purpose, allowed, relevant, policy, contacts,
                            unchecked)
        if page is not None:
            decision.content_type = page.content_type or None
        else:
            decision.basis = origin_part
        if self.keep_inputs:
            decision.inputs = Inputs(url, origin, page, page_note)
        if page_note and decision.fetch_allowed:
            unchecked.append(f"page headers and HTML meta: {page_note}")
        return decision


def _stamp_page(reasons: list[Reason], page: PageResponse, url: str,
                by_host: range) -> list[Reason]:
    """Reasons read from the page itself (its headers, head or file bytes) name the page's
    evidence: its sha256 and when it was read."""
    sources = {url, f"{url} (inline RSL)", page.name or url}
    return [replace(r, sha256=page.sha256, fetched_at=page.fetched_at)
            if r.source in sources and not r.sha256 and i not in by_host else r
            for i, r in enumerate(reasons)]


def _provenance(fetched: list[Fetched]) -> dict[str, tuple[str | None, str | None]]:
    """url -> (sha256 of the body, when fetched) for each fetch that had an answer."""
    return {f.url: (f.sha256 if f.status is not None and f.error is None else None,
                    f.fetched_at_iso) for f in fetched if f.fetched_at or f.status is not None}


def _rsl() -> ModuleType:
    """RSL's reader, imported on first use: most origins and pages name no licence, and a
    crawl's start-up should not pay for it (`tdm_guard.signals.rsl`)."""
    from .signals import rsl

    return rsl


def _rsl_documents(fetched: list[Fetched]) -> list[rsl.RslDocument]:
    rsl = _rsl()
    return [rsl.RslDocument.from_response(
        f.url, f.status, f.body, f.error or ("more than 5 redirects" if f.redirects_exhausted
                                             else None)) for f in fetched]


__all__ = ["SIGNAL_HEADERS", "Evaluator", "Inputs", "OriginPolicy", "PageResponse"]
