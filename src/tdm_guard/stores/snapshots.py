"""Content-addressed snapshots: the evidence every decision rests on, kept once, by sha256.

With `--snapshots DIR` (`check`, `scan`) or `TDM_GUARD_SNAPSHOTS` (Scrapy), each decision's
inputs are kept so that `tdm-guard verify` can re-derive it through the same `Evaluator`:

    DIR/bodies/ab/<sha256>        bytes: a policy file's or RSL document's body as read, a
                                  page's evidence (its HTML head up to where the scan stopped,
                                  or a file's bytes read), a declaration file, trust anchors
    DIR/fetches/ab/<sha256>.json  one fetch: role (robots.txt, tdmrep.json, rsl, page,
                                  page-rsl), URL, final URL, status, the headers that matter,
                                  fetched_at, how it ended, and the sha256 of its body

Both are named by the sha256 of their own content (`sha256sum` checks either), so each is
written once however many decisions use it, and a changed file no longer matches its name.
A reason that came from a fetched file names its body's sha256 and fetched_at; the audit
record's `evidence` names the fetch snapshots (`origin`, `page`, `page_licences`).

Writes are atomic (a temporary file in the same folder, then a rename): a reader never sees
a partial snapshot. A snapshot that cannot be written (a full disk, a read-only folder)
raises `SnapshotError`, which writers treat exactly as an audit-log failure: a one-line error
naming the folder, and the run stops. The snapshot is part of the evidence the user asked
for, and a record that names a snapshot which is not on disk could not be checked; so the
decision in hand is neither logged nor answered, every answer given before it has its
snapshots and its log line, and no answer is ever changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..decide import Inputs, OriginPolicy, PageResponse
from ..fetched import Fetched
from ..urls import policy_file_urls
from .auditlog import AuditLogError

# Policy files' headers kept for a person (the decision reads none of them).
POLICY_HEADERS = frozenset({"content-type", "content-length", "content-encoding",
                            "last-modified", "etag", "date", "cache-control", "location"})
MEMO = 65536  # fetches remembered per process as already kept (by object)
ROBOTS, TDMREP, RSL, PAGE, PAGE_RSL = "robots.txt", "tdmrep.json", "rsl", "page", "page-rsl"


class SnapshotError(AuditLogError):
    """A snapshot cannot be written: part of the audit trail, so writers stop the run as
    they do when the audit log cannot be written. The message names the folder."""


class SnapshotProblem(Exception):
    """A snapshot a record names is missing, or does not match its name (altered)."""

    def __init__(self, kind: str, name: str, detail: str) -> None:
        super().__init__(f"snapshot {name} {detail}")
        self.kind = kind  # "missing" | "altered"
        self.name = name


@dataclass(frozen=True)
class FetchSnapshot:
    """One fetch snapshot as read back: its role, the fetch, and its record."""

    role: str
    fetched: Fetched
    record: dict[str, Any]


def _canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def _headers(headers: list[tuple[str, str]], keep: frozenset[str]) -> list[list[str]]:
    return [[k, v] for k, v in headers if k.strip().lower() in keep]


class SnapshotStore:
    """Thread-safe; several processes may share one folder (names are contents)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._known: OrderedDict[int, tuple[object, str]] = OrderedDict()
        self._on_disk: set[str] = set()

    def create(self) -> SnapshotStore:
        """Make the folder (for writers); SnapshotError naming it when that fails."""
        try:
            for sub in ("bodies", "fetches"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SnapshotError(f"snapshots {self.root}: cannot be created: "
                                f"{exc.strerror or exc}") from None
        return self

    # -- where things are -----------------------------------------------------------------
    def body_path(self, sha256: str) -> Path:
        return self.root / "bodies" / sha256[:2] / sha256

    def fetch_path(self, name: str) -> Path:
        return self.root / "fetches" / name[:2] / f"{name}.json"

    # -- writing --------------------------------------------------------------------------
    def keep(self, inputs: Inputs) -> dict[str, Any]:
        """Keep every fetch `inputs` rests on; return the audit record's `evidence`."""
        origin = inputs.origin
        evidence: dict[str, Any] = {"origin": [self.keep_fetch(_origin_role(origin, f), f)
                                               for f in origin.fetches]}
        if origin.robots is None or origin.tdmrep is None:
            evidence["not_consulted"] = origin.not_consulted
        if inputs.page is not None:
            evidence["page"] = self.keep_page(inputs.url, inputs.page)
            if inputs.page.fetches:
                evidence["page_licences"] = [self.keep_fetch(PAGE_RSL, f)
                                             for f in inputs.page.fetches]
        if inputs.page_note:
            evidence["page_note"] = inputs.page_note
        return evidence

    def keep_fetch(self, role: str, fetched: Fetched) -> str:
        """Keep one fetch (its body, then its record); the record's name. A fetch object
        already kept by this store is not hashed again (robots.txt serves many URLs)."""
        with self._lock:
            hit = self._known.get(id(fetched))
            if hit is not None and hit[0] is fetched:
                self._known.move_to_end(id(fetched))
                return hit[1]
        record = {
            "snapshot": "fetch", "role": role, "url": fetched.url,
            "final_url": fetched.final_url or fetched.url, "status": fetched.status,
            "error": fetched.error, "headers": _headers(fetched.headers, POLICY_HEADERS),
            "body": self.keep_body(fetched.body), "size": len(fetched.body),
            "truncated": fetched.truncated, "redirects_exhausted": fetched.redirects_exhausted,
            "location": fetched.location, "fetched_at": fetched.fetched_at_iso,
            "fetched_at_unix": fetched.fetched_at,
        }
        name = self._keep_record(record)
        with self._lock:
            self._known[id(fetched)] = (fetched, name)
            if len(self._known) > MEMO:
                self._known.popitem(last=False)
        return name

    def keep_page(self, url: str, page: PageResponse) -> str:
        """Keep a page's evidence (`PageResponse.evidence`): status, signal headers, the
        bytes the readers read."""
        evidence = page.evidence()
        return self._keep_record({
            "snapshot": "page", "role": PAGE, "url": url, "status": evidence.status,
            "headers": [[k, v] for k, v in evidence.headers],
            "body": self.keep_body(evidence.body), "size": len(evidence.body),
            "partial": evidence.partial, "name": evidence.name,
            "fetched_at": evidence.fetched_at,
        })

    def keep_file(self, path: str, sha256: str) -> str:
        """Keep a declaration file as read at `path`; SnapshotError when it is not (any
        more) the version with `sha256` that was loaded."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise SnapshotError(f"snapshots {self.root}: declaration file {path} cannot be "
                                f"read: {exc.strerror or exc}") from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise SnapshotError(f"snapshots {self.root}: declaration file {path} changed "
                                "while it was being loaded; start again")
        return self.keep_body(data)

    def keep_body(self, data: bytes) -> str:
        name = hashlib.sha256(data).hexdigest()
        self._put(name, self.body_path(name), data)
        return name

    def _keep_record(self, record: dict[str, Any]) -> str:
        data = _canonical(record)
        name = hashlib.sha256(data).hexdigest()
        self._put(name, self.fetch_path(name), data)
        return name

    def _put(self, name: str, path: Path, data: bytes) -> None:
        """Write `data` at `path` atomically, once."""
        if name in self._on_disk:
            return
        if not path.exists():
            tmp = path.parent / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(tmp, "wb") as out:
                    out.write(data)
                os.replace(tmp, path)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise SnapshotError(f"snapshots {self.root}: cannot be written: "
                                    f"{exc.strerror or exc}") from None
        with self._lock:
            if len(self._on_disk) > MEMO:
                self._on_disk.clear()
            self._on_disk.add(name)

    # -- reading (verify, report) ---------------------------------------------------------
    def read_body(self, name: str, size: int | None = None) -> bytes:
        """The bytes named `name`; SnapshotProblem when missing or not what the name says."""
        path = self.body_path(str(name))
        data = self._read(name, path, size)
        if hashlib.sha256(data).hexdigest() != name:
            raise SnapshotProblem("altered", name, f"({path}) does not match its sha256: "
                                  "it was changed or swapped")
        return data

    def read_record(self, name: str) -> dict[str, Any]:
        path = self.fetch_path(str(name))
        data = self._read(name, path, None)
        if hashlib.sha256(data).hexdigest() != name:
            raise SnapshotProblem("altered", name, f"({path}) does not match its sha256: "
                                  "it was changed or swapped")
        try:
            record = json.loads(data)
        except (ValueError, RecursionError):
            raise SnapshotProblem("altered", name, f"({path}) is not JSON") from None
        if not isinstance(record, dict):
            raise SnapshotProblem("altered", name, f"({path}) is not a snapshot record")
        return record

    def _read(self, name: str, path: Path, size: int | None) -> bytes:
        if not isinstance(name, str) or len(name) != 64 or \
                any(c not in "0123456789abcdef" for c in name):
            raise SnapshotProblem("missing", str(name)[:80], "is not a sha256 name")
        try:
            if size is not None and path.stat().st_size != size:
                raise SnapshotProblem("altered", name, f"({path}) does not match its sha256 "
                                      "(nor its recorded size): it was changed or swapped")
            return path.read_bytes()
        except FileNotFoundError:
            raise SnapshotProblem("missing", name, f"is missing ({path})") from None
        except OSError as exc:
            raise SnapshotProblem("missing", name, f"cannot be read ({path}): "
                                  f"{exc.strerror or exc}") from None

    def fetch(self, name: str) -> FetchSnapshot:
        """A fetch snapshot as the `Fetched` it was made from."""
        r = self.read_record(name)
        try:
            body = self.read_body(r["body"], int(r["size"]))
            if r.get("snapshot") == "page":
                fetched = Fetched(str(r["url"]), r["status"], [(str(k), str(v)) for k, v in
                                                             r["headers"]], body)
            else:
                fetched = Fetched(
                    str(r["url"]), r["status"], [(str(k), str(v)) for k, v in r["headers"]],
                    body, error=r["error"], redirects_exhausted=bool(r["redirects_exhausted"]),
                    truncated=bool(r["truncated"]), final_url=str(r["final_url"]),
                    location=r["location"], fetched_at=float(r["fetched_at_unix"]))
        except (KeyError, TypeError, ValueError):
            raise SnapshotProblem("altered", name, "is not a snapshot record of this "
                                  "version") from None
        return FetchSnapshot(str(r.get("role")), fetched, r)

    def page(self, name: str) -> PageResponse:
        """A page snapshot as the `PageResponse` evidence it was made from."""
        snap = self.fetch(name)
        r = snap.record
        return PageResponse(snap.fetched.status, snap.fetched.headers, snap.fetched.body,
                            partial=bool(r.get("partial")), name=str(r.get("name") or ""),
                            fetched_at=r.get("fetched_at"))


def _origin_role(origin: OriginPolicy, fetched: Fetched) -> str:
    robots_url, tdmrep_url = policy_file_urls(origin.origin)
    return ROBOTS if fetched.url == robots_url else TDMREP if fetched.url == tdmrep_url else RSL
