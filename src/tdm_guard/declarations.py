"""Published opt-out declarations (`policies/*.yaml`), validated and matched by domain.

A declaration is what a rightsholder said in public (Sony Music Group, 16 May 2024...). Each
file names its sources, its contacts and its matchers; a matcher blocks only when its
confidence reaches the file's `enforcement.min_confidence` (default M) and the domain's
content is mostly the rightsholder's (`coverage` full or mostly). Lower-confidence or partial
matches are reported with `reserved: false`: unverified claims never block.

Domains are matched by host and registered domain, using tldextract on its bundled public
suffix list only (never the network).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import tldextract
import yaml

from .model import DECLARATION, Purpose, Reason

_CONFIDENCE_RANK = {"U": 0, "L": 1, "M": 2, "H": 3}


class PolicyError(ValueError):
    """A declaration file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class DomainMatcher:
    domain: str
    entity: str
    coverage: str
    confidence: str
    evidence: tuple[str, ...]


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
    domains: tuple[DomainMatcher, ...]
    min_confidence: str = "M"

    def blocks(self, matcher: DomainMatcher) -> bool:
        return (matcher.coverage in ("full", "mostly")
                and _CONFIDENCE_RANK[matcher.confidence] >= _CONFIDENCE_RANK[self.min_confidence])


@lru_cache(maxsize=1)
def schema() -> dict:
    text = resources.files("tdm_guard").joinpath("data/declaration.schema.json").read_text()
    return json.loads(text)


def bundled_policy_dir() -> Path:
    """The shipped `policies/` folder: package data in a wheel, the repo folder in a checkout."""
    packaged = Path(str(resources.files("tdm_guard"))) / "policies"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "policies"


def validate(data: object, path: str) -> list[str]:
    """Every schema error in `data`, each naming the file and the field."""
    validator = jsonschema.Draft202012Validator(schema())
    errors = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        errors.append(f"{path}: field {where}: {err.message}")
    return errors


def load_file(path: Path) -> Declaration:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise PolicyError(f"{path}:{where} invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    errors = validate(data, str(path))
    if not errors and isinstance(data, dict):
        for i, d in enumerate(data.get("matchers", {}).get("domains", [])):
            if _extractor()(d["domain"]).suffix == d["domain"]:
                errors.append(f"{path}: field matchers/domains/{i}/domain: {d['domain']!r} is a "
                              "public suffix, not a site")
    if errors:
        raise PolicyError("\n".join(errors))
    assert isinstance(data, dict)
    primary = next((u.get("url") for u in data["statement"]["urls"]
                    if u.get("url") and u["status"] == "verified"), None)
    contacts = tuple(c.get("email") and f"mailto:{c['email']}" or c["url"]
                     for c in data["contacts"] if c["verified"])
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
            for d in data.get("matchers", {}).get("domains", [])
        ),
        min_confidence=data.get("enforcement", {}).get("min_confidence", "M"),
    )


@dataclass
class DeclarationSet:
    declarations: list[Declaration] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # files that could not be loaded
    _by_domain: dict[str, list[tuple[Declaration, DomainMatcher]]] = field(default_factory=dict)

    @classmethod
    def load(cls, folders: Iterable[Path | str] = (), bundled: bool = True) -> DeclarationSet:
        """Load the bundled policies and every `*.yaml`/`*.yml` in `folders`.

        A bad file is reported in `errors` and skipped; the others still load.
        """
        dirs = ([bundled_policy_dir()] if bundled else []) + [Path(f) for f in folders]
        result = cls()
        for folder in dirs:
            if not folder.is_dir():
                result.errors.append(f"{folder}: not a folder of policy files")
                continue
            for path in sorted(folder.glob("*.y*ml")):
                try:
                    result.add(load_file(path))
                except PolicyError as exc:
                    result.errors.append(str(exc))
        return result

    def add(self, declaration: Declaration) -> None:
        self.declarations.append(declaration)
        for matcher in declaration.domains:
            self._by_domain.setdefault(matcher.domain, []).append((declaration, matcher))

    def match(self, url: str) -> list[tuple[Declaration, DomainMatcher, str]]:
        """Declarations whose domain matchers cover the URL's host: (decl, matcher, host)."""
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
        if not host or not self._by_domain:
            return []
        # Walk from the host up to its registered domain, never onto a public suffix.
        registered = _registered_domain(host)
        stop = registered or ".".join(host.split(".")[-2:])
        hits = []
        candidate = host
        while candidate:
            for decl, matcher in self._by_domain.get(candidate, ()):
                hits.append((decl, matcher, host))
            if candidate == stop or "." not in candidate:
                break
            candidate = candidate.split(".", 1)[1]
        return hits

    def reasons(self, url: str) -> list[Reason]:
        out = []
        for decl, matcher, host in self.match(url):
            blocks = decl.blocks(matcher)
            evidence = (f"{host} matches domain {matcher.domain} ({matcher.entity}; coverage "
                        f"{matcher.coverage}, confidence {matcher.confidence}): "
                        f"{decl.rightsholder}, \"{decl.title}\", {decl.published}")
            note = None if blocks else (
                f"not enforced: needs confidence {decl.min_confidence} or higher and coverage "
                "full or mostly")
            out.append(Reason(DECLARATION, blocks, decl.statement_url or decl.path, evidence,
                              purposes=decl.purposes, note=note, contacts=decl.contacts))
        return out


@lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    # Bundled snapshot only: no suffix-list download, no cache directory.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@lru_cache(maxsize=65536)
def _registered_domain(host: str) -> str:
    parts = _extractor()(host)
    domain = getattr(parts, "top_domain_under_public_suffix", None)
    if domain is None:  # tldextract < 5.3
        domain = parts.registered_domain
    return domain or ""
