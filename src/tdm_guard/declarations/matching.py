"""Matching published opt-out declarations (`policies/*.yaml`) against URLs and content,
with the licences a team holds.

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
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..model import DECLARATION, RSL, Purpose, Reason
from ..signals.metadata import MetaValue
from ..urls import URL, as_url
from .loading import ParsedCache, bundled_policy_dir, load_any, load_sources
from .model import Declaration, DomainMatcher, Licence, PolicyError, normalise_name

_NAME_FIELDS = frozenset({"recordLabel", "publisher", "producer", "copyrightHolder", "TPUB"})


@dataclass
class DeclarationSet:
    """The loaded declarations and licences, indexed by host."""

    declarations: list[Declaration] = field(default_factory=list)
    licences: list[Licence] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # files that could not be loaded
    _by_domain: dict[str, list[tuple[Declaration, DomainMatcher]]] = field(default_factory=dict)
    _host_cache: dict[tuple[str, Purpose, dt.date], tuple[Reason, ...]] = field(
        default_factory=dict)
    # The day licences are valid on: today (None), or the day a recorded decision was made
    # (`verify` re-derives a decision as of its own date).
    as_of: dt.date | None = None

    @classmethod
    def load(cls, folders: Iterable[Path | str] = (), bundled: bool = True,
             licences: Iterable[Path | str] = (),
             cache: ParsedCache | None = None) -> DeclarationSet:
        """Load the bundled policies, every `*.yaml`/`*.yml` in `folders` (declarations or
        licences), and the licence files or folders in `licences`.

        A bad file is reported in `errors` and skipped; the others still load. `cache` keeps
        validated file contents between runs (see `tdm_guard.stores.validated`).
        """
        result = cls()
        sources = ([bundled_policy_dir()] if bundled else []) + [Path(f) for f in folders]
        sources += [Path(p) for p in licences]
        items, result.errors = load_sources(sources, cache)
        for item in items:
            result.add(item)
        known = {d.id for d in result.declarations}
        for lic in result.licences:
            if lic.declaration is not None and lic.declaration not in known:
                result.errors.append(f"{lic.path}: field declaration: no declaration with id "
                                     f"{lic.declaration!r} is loaded")
        return result

    @classmethod
    def from_contents(cls, files: Iterable[tuple[str, bytes]],
                      cache: ParsedCache | None = None) -> DeclarationSet:
        """The declarations and licences of these (path, content) pairs, in order, read as if
        each content were the file at its path (no bundled files): how `verify` loads the
        exact declaration files a run used, from their snapshots."""
        result = cls()
        for path, raw in files:
            try:
                result.add(load_any(Path(path), cache, raw))
            except PolicyError as exc:
                result.errors.append(str(exc))
        if cache is not None:
            cache.save()
        return result

    @property
    def files(self) -> list[Declaration | Licence]:
        """Every loaded declaration, then every licence, in load order (each has its `path`
        and `sha256`): the declaration-file versions a run used."""
        return [*self.declarations, *self.licences]

    def _today(self) -> dt.date:
        return self.as_of or _today()

    def _in_force(self, decl: Declaration) -> bool:
        """Decided as of a past day (`as_of`: `scan --as-of capture`, `verify`), a
        declaration applies from the day it was published; today, every loaded one does."""
        if self.as_of is None or not decl.published:
            return True
        try:
            return dt.date.fromisoformat(str(decl.published)[:10]) <= self.as_of
        except ValueError:
            return True

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
    def match(self, url: URL | str) -> list[tuple[Declaration, DomainMatcher, str]]:
        """Declarations whose domain matchers cover the URL's host: (decl, matcher, host)."""
        host = as_url(url).domain
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

    def reasons(self, url: URL | str, purpose: Purpose = Purpose.TRAIN) -> tuple[Reason, ...]:
        """Domain-matcher reasons for the URL's host (cached per host, purpose and day)."""
        if not self._by_domain:
            return ()
        key = (as_url(url).domain, purpose, self._today())
        cached = self._host_cache.get(key)
        if cached is None:
            if len(self._host_cache) > 65536:
                self._host_cache.clear()
            cached = self._host_cache[key] = tuple(self._reasons(url, purpose))
        return cached

    def _reasons(self, url: URL | str, purpose: Purpose) -> list[Reason]:
        out = []
        for decl, matcher, host in self.match(url):
            if not self._in_force(decl):
                continue
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
    def content_reasons(self, url: URL | str, values: list[MetaValue],
                        purpose: Purpose = Purpose.TRAIN) -> list[Reason]:
        if not values:
            return []
        target = as_url(url)
        host = target.domain
        out = []
        for decl in self.declarations:
            if not self._in_force(decl):
                continue
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
                out.append(self._reason(decl, corroborated, target.href,
                                        f"{evidence}: {decl.label}",
                                        note, host, purpose))
        return out

    # -- RSL licences the team holds --------------------------------------------------
    def licensed_rsl(self, reasons: list[Reason], url: URL | str,
                     purpose: Purpose = Purpose.TRAIN) -> list[Reason]:
        """RSL reasons, with those of a document a held licence names (field `rsl`) turned
        into `reserved: false` within the licence's dates, domains and purposes."""
        held = [lic for lic in self.licences if lic.rsl]
        if not held:
            return reasons
        host, today = as_url(url).domain, self._today()
        out = []
        for reason in reasons:
            if reason.reserved and reason.signal == RSL:
                lic = next((lic for lic in held if lic.rsl == reason.source
                            and lic.covers(purpose, host, today)), None)
                if lic is not None:
                    reason = replace(reason, reserved=False, note="; ".join(
                        filter(None, [lic.note(), reason.note])))
            out.append(reason)
        return out

    def _reason(self, decl: Declaration, reserved: bool, source: str, evidence: str,
                note: str | None, host: str, purpose: Purpose) -> Reason:
        if reserved:
            today = self._today()
            for lic in self.licences:
                if lic.declaration == decl.id and lic.covers(purpose, host, today):
                    reserved, note = False, lic.note()
                    break
        return Reason(DECLARATION, reserved, source, evidence, purposes=decl.purposes,
                      note=note, contacts=decl.contacts)


_day: list = [0.0, dt.date.today()]


def _today() -> dt.date:
    """Today's date, looked up at most once a minute (licence validity is by the day)."""
    now = time.monotonic()
    if now - _day[0] > 60:
        _day[0], _day[1] = now, dt.date.today()
    return _day[1]
