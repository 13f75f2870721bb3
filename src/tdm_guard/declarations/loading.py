"""Reading and validating declaration and licence files (YAML, JSON Schema, suffix checks).

A bad file raises `PolicyError` whose every line names the file and the field. Validation is
slow (YAML, jsonschema, the public-suffix list), so a `ParsedCache` may keep validated file
contents by content hash; the persistent one lives in `tdm_guard.stores.validated` and is
passed in by the commands and the Scrapy plugin (the core writes no cache of its own).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Protocol

from ..model import Purpose
from .model import (
    LICENCE_SCHEMA,
    Declaration,
    DomainMatcher,
    Licence,
    NameMatcher,
    NoticeMatcher,
    PolicyError,
    normalise_name,
)


class ParsedCache(Protocol):
    """Validated file contents keyed by a hash of the file and the schemas."""

    def get(self, key: str) -> dict | None: ...

    def put(self, key: str, data: dict) -> None: ...

    def save(self) -> None: ...


@lru_cache(maxsize=2)
def schema(kind: str = "declaration") -> dict:
    text = resources.files("tdm_guard").joinpath(f"data/{kind}.schema.json").read_text()
    return json.loads(text)


def bundled_policy_dir() -> Path:
    """The shipped `policies/` folder: package data in a wheel, the repo folder in a checkout."""
    packaged = Path(str(resources.files("tdm_guard"))) / "policies"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "policies"



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


def load_any(path: Path, cache: ParsedCache | None = None,
             raw: bytes | None = None) -> Declaration | Licence:
    """Load a declaration or a licence file, by its `schema` field. `raw`: the file's
    content as kept elsewhere (a snapshot), read as if it were at `path`."""
    if raw is None:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise PolicyError(f"{path}: cannot read: {exc}") from exc
    data = _validated(path, raw, cache)
    digest = hashlib.sha256(raw).hexdigest()
    if data.get("schema") == LICENCE_SCHEMA:
        return replace(_licence(path, data), sha256=digest)
    return replace(_declaration(path, data), sha256=digest)


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




@lru_cache(maxsize=1)
def _schemas_fingerprint() -> bytes:
    files = resources.files("tdm_guard")
    text = "".join(files.joinpath(f"data/{k}.schema.json").read_text()
                   for k in ("declaration", "licence"))
    return hashlib.sha256(text.encode()).digest()


def _validated(path: Path, raw: bytes, cache: ParsedCache | None) -> dict:
    key = hashlib.sha256(_schemas_fingerprint() + raw).hexdigest()
    cached = cache.get(key) if cache is not None else None
    if cached is not None:
        return cached
    data = _check(path, _plain(_read_yaml(path, raw)))
    if cache is not None:
        cache.put(key, data)
    return data


def _plain(data: object) -> object:
    """YAML's own types as the schema sees them: an unquoted date (`valid_from: 2026-01-01`)
    is its ISO string, as if it had been quoted; keys become strings."""
    if isinstance(data, dict):
        return {str(_plain(k)): _plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_plain(v) for v in data]
    if isinstance(data, (dt.date, dt.datetime)):
        return data.isoformat()
    return data


def load_file(path: Path, cache: ParsedCache | None = None) -> Declaration:
    result = load_any(path, cache)
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
        id=data["id"], declaration=data.get("declaration"), licensee=data["licensee"],
        granted_by=data["granted_by"], reference=data["reference"],
        purposes=frozenset(Purpose(p) for p in data["purposes"]),
        domains=tuple(d.lower() for d in data.get("domains", [])),
        valid_from=data.get("valid_from"), valid_until=data.get("valid_until"), path=str(path),
        rsl=data.get("rsl"))



def load_sources(sources: Iterable[Path], cache: ParsedCache | None = None,
                 ) -> tuple[list[Declaration | Licence], list[str]]:
    """Every file of `sources` (files, or folders of `*.yaml`/`*.yml`): the loaded items and
    one error per file that could not be used (the others still load)."""
    items: list[Declaration | Licence] = []
    errors: list[str] = []
    for source in sources:
        if source.is_file():
            files = [source]
        elif source.is_dir():
            files = sorted(source.glob("*.y*ml"))
        else:
            errors.append(f"{source}: no such file or folder")
            continue
        for path in files:
            try:
                items.append(load_any(path, cache))
            except PolicyError as exc:
                errors.append(str(exc))
    if cache is not None:
        cache.save()
    return items, errors


@lru_cache(maxsize=1)
def _extractor():  # -> tldextract.TLDExtract
    import tldextract

    # Bundled snapshot only: no suffix-list download, no cache directory.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
