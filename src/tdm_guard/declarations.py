"""Published opt-out declarations (`policies/*.yaml`) and the licences a team holds.

A declaration is what a rightsholder said in public (Sony Music Group, 16 May 2024...). Each
file names its sources, its contacts and its matchers:

- domains, before download: a matcher reserves only when its confidence reaches the file's
  `enforcement.min_confidence` (H or M) and the domain's content is mostly the rightsholder's
  (`coverage` full or mostly). Domains are matched by host, walking up to the registered
  domain with tldextract on its bundled suffix list only (never the network).
- labels, publishers and notice patterns, after download, against schema.org JSON-LD and ID3
  frames (`content.py`). A name marked `ambiguous` ("Epic", "Columbia") counts only when a
  stronger match of the same declaration corroborates it; names match whole, never as a
  substring ("Epic Beats Collective" is not "Epic").

Lower-confidence, partial or uncorroborated matches are reported with `reserved: false`:
unverified claims never block. A licence (`tdm-guard/licence/v1`) exempts content from one
declaration for the purposes it names, within its dates and domains.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from .content import MetaValue
from .model import DECLARATION, Purpose, Reason
from .patterns import SCHEME_NETLOC

DECLARATION_SCHEMA = "tdm-guard/declaration/v1"
LICENCE_SCHEMA = "tdm-guard/licence/v1"
_CONFIDENCE_RANK = {"U": 0, "L": 1, "M": 2, "H": 3}
_NAME_FIELDS = frozenset({"recordLabel", "publisher", "producer", "copyrightHolder", "TPUB"})


class PolicyError(ValueError):
    """A policy or licence file that cannot be used; the message names the file and field."""


@dataclass(frozen=True)
class DomainMatcher:
    domain: str
    entity: str
    coverage: str
    confidence: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class NameMatcher:
    kind: str  # label | publisher
    name: str
    names: frozenset[str]  # normalised name and aliases
    entity: str
    confidence: str
    ambiguous: bool


@dataclass(frozen=True)
class NoticeMatcher:
    fields: frozenset[str]
    regex: re.Pattern[str]
    confidence: str


@dataclass(frozen=True)
class Declaration:
    id: str
    title: str
    rightsholder: str
    published: str
    path: str
    statement_url: str | None
    purposes: frozenset[Purpose]
    contacts: tuple[str, ...]
    domains: tuple[DomainMatcher, ...] = ()
    names: tuple[NameMatcher, ...] = ()
    notices: tuple[NoticeMatcher, ...] = ()
    min_confidence: str = "M"
    scope: str = "owned-or-controlled"

    def confident(self, confidence: str) -> bool:
        return _CONFIDENCE_RANK[confidence] >= _CONFIDENCE_RANK[self.min_confidence]

    def blocks(self, matcher: DomainMatcher) -> bool:
        return matcher.coverage in ("full", "mostly") and self.confident(matcher.confidence)

    @property
    def label(self) -> str:
        return f'{self.rightsholder}, "{self.title}", {self.published} [{self.id}]'


@dataclass(frozen=True)
class Licence:
    id: str
    declaration: str
    licensee: str
    granted_by: str
    reference: str
    purposes: frozenset[Purpose]
    domains: tuple[str, ...] = ()
    valid_from: str | None = None
    valid_until: str | None = None
    path: str = ""

    def covers(self, purpose: Purpose, host: str, today: dt.date) -> bool:
        if self.valid_from and today < dt.date.fromisoformat(self.valid_from):
            return False
        if self.valid_until and today > dt.date.fromisoformat(self.valid_until):
            return False
        if self.domains and not any(host == d or host.endswith("." + d) for d in self.domains):
            return False
        return Purpose.TDM in self.purposes or purpose in self.purposes

    def note(self) -> str:
        until = f", valid until {self.valid_until}" if self.valid_until else ""
        return (f"exempt: licence {self.id} ({self.reference}) granted by {self.granted_by} "
                f"to {self.licensee}{until}")


@lru_cache(maxsize=2)
def schema(kind: str = "declaration") -> dict:
    text = resources.files("tdm_guard").joinpath(f"data/{kind}.schema.json").read_text()
    return json.loads(text)


def bundled_policy_dir() -> Path:
    """The shipped `policies/` folder: package data in a wheel, the repo folder in a checkout."""
    packaged = Path(str(resources.files("tdm_guard"))) / "policies"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "policies"


def normalise_name(name: str) -> str:
    return " ".join(name.casefold().replace("&", " and ").split()).strip(" .,;")


def validate(data: object, path: str, kind: str = "declaration") -> list[str]:
    """Every schema error in `data`, each naming the file and the field."""
    import jsonschema  # imported on first validation: it is slow to import

    validator = jsonschema.Draft202012Validator(schema(kind))
    errors = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        errors.append(f"{path}: field {where}: {err.message}")
    return errors


def _read_yaml(path: Path, raw: bytes) -> object:
    import yaml  # only when a file is not in the validated cache: a slow import

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available
    try:
        return yaml.load(raw.decode("utf-8"), Loader=loader)  # noqa: S506
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise PolicyError(f"{path}:{where} invalid YAML: {getattr(exc, 'problem', exc)}") from exc


def load_any(path: Path) -> Declaration | Licence:
    """Load a declaration or a licence file, by its `schema` field."""
    data = _validated(path)
    if data.get("schema") == LICENCE_SCHEMA:
        return _licence(path, data)
    return _declaration(path, data)


def _check(path: Path, data: object) -> dict:
    """Validate parsed file data; raise PolicyError naming every problem."""
    if isinstance(data, dict) and data.get("schema") == LICENCE_SCHEMA:
        errors = validate(data, str(path), "licence")
        for key in ("valid_from", "valid_until"):
            if not errors and key in data:
                try:
                    dt.date.fromisoformat(data[key])
                except ValueError as exc:
                    errors.append(f"{path}: field {key}: {exc}")
    else:
        errors = validate(data, str(path))
        if not errors and isinstance(data, dict):
            matchers = data.get("matchers", {})
            for i, d in enumerate(matchers.get("domains", [])):
                # A matcher must be a site: host matching walks up the labels of a host and
                # relies on never meeting a public suffix (tldextract's bundled list).
                if _extractor()(d["domain"]).suffix == d["domain"]:
                    errors.append(f"{path}: field matchers/domains/{i}/domain: {d['domain']!r} "
                                  "is a public suffix, not a site")
            for i, n in enumerate(matchers.get("notice_patterns", [])):
                try:
                    re.compile(n["regex"])
                except re.error as exc:
                    errors.append(f"{path}: field matchers/notice_patterns/{i}/regex: {exc}")
    if errors:
        raise PolicyError("\n".join(errors))
    assert isinstance(data, dict)
    return data


class _ValidatedCache:
    """Validated file contents, keyed by a hash of the file and of the schemas, kept in the
    user cache directory: a crawl that starts with unchanged policy files skips YAML parsing,
    schema validation and the suffix list (about 0.4 s of start-up)."""

    def __init__(self) -> None:
        self.entries: dict[str, dict] | None = None
        self.dirty = False

    @property
    def path(self) -> Path:
        import platformdirs

        return Path(platformdirs.user_cache_dir("tdm-guard", appauthor=False)) / \
            "validated-policies.json"

    def get(self, key: str) -> dict | None:
        if self.entries is None:
            try:
                self.entries = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self.entries = {}
        return self.entries.get(key)

    def put(self, key: str, data: dict) -> None:
        if self.entries is None:
            self.entries = {}
        self.entries[key] = data
        self.dirty = True

    def save(self) -> None:
        if not self.dirty or self.entries is None:
            return
        self.dirty = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.entries), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass  # a cache that cannot be written only costs start-up time


_VALIDATED = _ValidatedCache()


@lru_cache(maxsize=1)
def _schemas_fingerprint() -> bytes:
    files = resources.files("tdm_guard")
    text = "".join(files.joinpath(f"data/{k}.schema.json").read_text()
                   for k in ("declaration", "licence"))
    return hashlib.sha256(text.encode()).digest()


def _validated(path: Path) -> dict:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read: {exc}") from exc
    key = hashlib.sha256(_schemas_fingerprint() + raw).hexdigest()
    cached = _VALIDATED.get(key)
    if cached is not None:
        return cached
    data = _check(path, _read_yaml(path, raw))
    data = json.loads(json.dumps(data, default=str))  # dates as strings, as cached
    _VALIDATED.put(key, data)
    return data


def load_file(path: Path) -> Declaration:
    result = load_any(path)
    if not isinstance(result, Declaration):
        raise PolicyError(f"{path}: field schema: a licence, not a declaration")
    return result


def _declaration(path: Path, data: dict) -> Declaration:
    primary = next((u.get("url") for u in data["statement"]["urls"]
                    if u.get("url") and u["status"] == "verified"), None)
    contacts = tuple(
        (f"mailto:{c['email']}" if c.get("email") else c["url"])
        + ("" if c["verified"] else " (unverified)")
        for c in data["contacts"])
    matchers = data.get("matchers", {})
    names = tuple(
        NameMatcher(kind, m["name"],
                    frozenset(normalise_name(n) for n in [m["name"], *m.get("aliases", [])]),
                    m["entity"], m["confidence"], m["ambiguous"])
        for kind, key in (("label", "labels"), ("publisher", "publishers"))
        for m in matchers.get(key, []))
    return Declaration(
        id=data["id"],
        title=data["title"],
        rightsholder=data["rightsholder"]["name"],
        published=str(data["published"]),
        path=str(path),
        statement_url=primary,
        purposes=frozenset(Purpose(p) for p, v in data["purposes"].items() if v == "reserved"),
        contacts=contacts,
        domains=tuple(
            DomainMatcher(d["domain"], d["entity"], d["coverage"], d["confidence"],
                          tuple(d["evidence"]))
            for d in matchers.get("domains", [])),
        names=names,
        notices=tuple(NoticeMatcher(frozenset(n["fields"]), re.compile(n["regex"]),
                                    n["confidence"])
                      for n in matchers.get("notice_patterns", [])),
        min_confidence=data.get("enforcement", {}).get("min_confidence", "M"),
        scope=data.get("scope", "owned-or-controlled"),
    )


def _licence(path: Path, data: dict) -> Licence:
    return Licence(
        id=data["id"], declaration=data["declaration"], licensee=data["licensee"],
        granted_by=data["granted_by"], reference=data["reference"],
        purposes=frozenset(Purpose(p) for p in data["purposes"]),
        domains=tuple(d.lower() for d in data.get("domains", [])),
        valid_from=data.get("valid_from"), valid_until=data.get("valid_until"), path=str(path))


@dataclass
class DeclarationSet:
    declarations: list[Declaration] = field(default_factory=list)
    licences: list[Licence] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # files that could not be loaded
    _by_domain: dict[str, list[tuple[Declaration, DomainMatcher]]] = field(default_factory=dict)
    _host_cache: dict[tuple[str, Purpose, dt.date], tuple[Reason, ...]] = field(
        default_factory=dict)

    @classmethod
    def load(cls, folders: Iterable[Path | str] = (), bundled: bool = True,
             licences: Iterable[Path | str] = ()) -> DeclarationSet:
        """Load the bundled policies, every `*.yaml`/`*.yml` in `folders` (declarations or
        licences), and the licence files or folders in `licences`.

        A bad file is reported in `errors` and skipped; the others still load.
        """
        result = cls()
        sources = ([bundled_policy_dir()] if bundled else []) + [Path(f) for f in folders]
        sources += [Path(p) for p in licences]
        for source in sources:
            if source.is_file():
                files = [source]
            elif source.is_dir():
                files = sorted(source.glob("*.y*ml"))
            else:
                result.errors.append(f"{source}: no such file or folder")
                continue
            for path in files:
                try:
                    result.add(load_any(path))
                except PolicyError as exc:
                    result.errors.append(str(exc))
        _VALIDATED.save()
        known = {d.id for d in result.declarations}
        for lic in result.licences:
            if lic.declaration not in known:
                result.errors.append(f"{lic.path}: field declaration: no declaration with id "
                                     f"{lic.declaration!r} is loaded")
        return result

    def add(self, item: Declaration | Licence) -> None:
        if isinstance(item, Licence):
            self.licences.append(item)
            return
        if any(d.id == item.id for d in self.declarations):
            self.errors.append(f"{item.path}: field id: {item.id!r} is already loaded; skipped")
            return
        self.declarations.append(item)
        for matcher in item.domains:
            self._by_domain.setdefault(matcher.domain, []).append((item, matcher))
        self._host_cache.clear()

    def get(self, declaration_id: str) -> Declaration | None:
        return next((d for d in self.declarations if d.id == declaration_id), None)

    # -- before download: the URL's host ----------------------------------------------
    def match(self, url: str) -> list[tuple[Declaration, DomainMatcher, str]]:
        """Declarations whose domain matchers cover the URL's host: (decl, matcher, host)."""
        host = _host(url)
        if not host or not self._by_domain:
            return []
        # The host and each parent domain: a matcher covers its subdomains. Matchers are
        # registrable domains (checked against tldextract's suffix list when the file is
        # validated), so the walk is matching by registered domain without a lookup per host.
        hits = []
        candidate = host
        while candidate:
            for decl, matcher in self._by_domain.get(candidate, ()):
                hits.append((decl, matcher, host))
            candidate = candidate.partition(".")[2]
        return hits

    def reasons(self, url: str, purpose: Purpose = Purpose.TRAIN) -> tuple[Reason, ...]:
        """Domain-matcher reasons for the URL's host (cached per host, purpose and day)."""
        if not self._by_domain:
            return ()
        key = (_host(url), purpose, _today())
        cached = self._host_cache.get(key)
        if cached is None:
            if len(self._host_cache) > 65536:
                self._host_cache.clear()
            cached = self._host_cache[key] = tuple(self._reasons(url, purpose))
        return cached

    def _reasons(self, url: str, purpose: Purpose) -> list[Reason]:
        out = []
        for decl, matcher, host in self.match(url):
            blocks = decl.blocks(matcher)
            evidence = (f"{host} matches domain {matcher.domain} ({matcher.entity}; coverage "
                        f"{matcher.coverage}, confidence {matcher.confidence}): {decl.label}")
            note = None if blocks else (
                f"not enforced: needs confidence {decl.min_confidence} or higher and coverage "
                "full or mostly")
            out.append(self._reason(decl, blocks, decl.statement_url or decl.path, evidence,
                                    note, host, purpose))
        return out

    # -- after download: metadata in the content --------------------------------------
    def content_reasons(self, url: str, values: list[MetaValue],
                        purpose: Purpose = Purpose.TRAIN) -> list[Reason]:
        if not values:
            return []
        host = (urlsplit(url).hostname or "").lower()
        out = []
        for decl in self.declarations:
            hits: list[tuple[bool, str]] = []  # (strong, evidence)
            for value in values:
                if value.field in _NAME_FIELDS:
                    norm = normalise_name(value.value)
                    for m in decl.names:
                        if norm in m.names:
                            strong = not m.ambiguous and decl.confident(m.confidence)
                            hits.append((strong, f"{value.describe()} matches {m.kind} "
                                         f'"{m.name}" ({m.entity}, confidence {m.confidence}'
                                         f'{", ambiguous" if m.ambiguous else ""})'))
                for n in decl.notices:
                    if value.field in n.fields and n.regex.search(value.value):
                        hits.append((decl.confident(n.confidence),
                                     f"{value.describe()} matches notice pattern "
                                     f"/{n.regex.pattern}/ (confidence {n.confidence})"))
            if not hits:
                continue
            corroborated = any(strong for strong, _ in hits)
            for strong, evidence in hits:
                note = None
                if not corroborated:
                    note = ("not enforced: an ambiguous or low-confidence match counts only "
                            "with a stronger match of the same declaration")
                elif not strong:
                    note = "corroborated by a stronger match of the same declaration"
                out.append(self._reason(decl, corroborated, url, f"{evidence}: {decl.label}",
                                        note, host, purpose))
        return out

    def _reason(self, decl: Declaration, reserved: bool, source: str, evidence: str,
                note: str | None, host: str, purpose: Purpose) -> Reason:
        if reserved:
            today = _today()
            for lic in self.licences:
                if lic.declaration == decl.id and lic.covers(purpose, host, today):
                    reserved, note = False, lic.note()
                    break
        return Reason(DECLARATION, reserved, source, evidence, purposes=decl.purposes,
                      note=note, contacts=decl.contacts)


@lru_cache(maxsize=65536)
def _host_of_netloc(netloc: str) -> str:
    return (urlsplit("//" + netloc).hostname or "").rstrip(".").lower()


_day: list = [0.0, dt.date.today()]


def _host(url: str) -> str:
    """The URL's host, lower-cased, without a trailing dot."""
    m = SCHEME_NETLOC.match(url)
    if m is not None:
        return _host_of_netloc(m.group(2))
    return (urlsplit(url).hostname or "").rstrip(".").lower()


def _today() -> dt.date:
    """Today's date, looked up at most once a minute (licence validity is by the day)."""
    now = time.monotonic()
    if now - _day[0] > 60:
        _day[0], _day[1] = now, dt.date.today()
    return _day[1]


@lru_cache(maxsize=1)
def _extractor():  # -> tldextract.TLDExtract
    import tldextract

    # Bundled snapshot only: no suffix-list download, no cache directory.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
