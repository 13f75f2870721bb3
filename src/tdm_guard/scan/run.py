"""The work of `tdm-guard scan`: every input decided record by record, its outputs written
atomically, a run resumable, and the summary.

For each input `NAME` (its file name; inputs that share one get a short hash of their path):

- `DIR/kept/NAME`: the kept records (WARC: byte ranges copied; tables: the allowed rows, or
  every row annotated), written to a temporary file and renamed;
- `DIR/decisions/NAME.counts.json`: the input's counts (for summary.json and the exit code);
- `DIR/decisions/NAME.parquet`: one decision row per record (`batch.DECISION_SCHEMA`),
  renamed into place last: its presence means the input is done. A rerun skips an input
  whose three outputs exist, without reading it and without any fetch; leftover temporary
  files of a killed run are removed.
- `DIR/summary.json`: the counts of every input done (by signal, purpose, origin and
  registered domain), rewritten at the end of each run.

Policy files (live): one `PolicyResolver` per process resolves each origin once for the whole
run, whatever the number of inputs (its `OriginLoader` holds up to `MAX_ORIGINS_HELD`
origins; one let go is read again from the store, fresh, without a fetch). Tables are
streamed: each batch's distinct origins are submitted as soon as the batch is read, up to
`AHEAD` batches ahead of the one being decided, so fetches overlap. WARC files are read
twice: the WARC headers first (every origin of the file resolved concurrently), then each
record decided. Memory is bounded by `AHEAD` batches, the held origins and the counts by
origin and domain (at most `MAX_KEYS` each, the rest counted as "(other)").
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..stores.atomic import OutputError, write_atomically, writing
from ..urls import try_parse
from .options import ScanOptions, evaluator_for, resolver_for
from .records import RecordView, decide_record, error_row
from .tables import TableReader, TableWriter, table_format

AHEAD = 8  # table batches read ahead of the one being decided (their origins loading)
MAX_KEYS = 100_000  # origins (and domains) counted by name in one input's counts
ROWS_PER_WRITE = 4096
OTHER = "(other)"
Event = Callable[[dict[str, Any]], None]


def input_format(path: str, given: str | None = None) -> str:
    """`warc`, `parquet`, `csv` or `jsonl`, from `given` or the file name; ValueError."""
    if given:
        return given
    name = path.lower()
    if name.endswith((".warc", ".warc.gz")):
        return "warc"
    if name.endswith((".arc", ".arc.gz")):
        raise ValueError(f"{path}: ARC files are not read (FastWARC reads WARC only); "
                         "convert them to WARC first (e.g. warcio's `warcio recompress`)")
    found = table_format(path)
    if found is None:
        raise ValueError(f"{path}: unknown format (name it .warc[.gz], .parquet, .csv[.gz], "
                         ".jsonl[.gz], or give --format)")
    return found


def output_names(inputs: list[str]) -> dict[str, str]:
    """Input path -> its output name (the file name; a short hash added where two share)."""
    names = Counter(Path(p).name for p in inputs)
    out = {}
    for p in inputs:
        name = Path(p).name
        if names[name] > 1:
            digest = hashlib.sha256(os.path.abspath(p).encode()).hexdigest()[:8]
            name = f"{digest}-{name}"
        out[p] = name
    return out


@dataclass
class Counts:
    """What one input's decisions add up to."""

    records: int = 0
    allowed: int = 0
    reserved: int = 0
    errors: int = 0
    kept: int = 0
    by_signal: Counter = field(default_factory=Counter)
    by_purpose: Counter = field(default_factory=Counter)
    by_origin: dict[str, Counter] = field(default_factory=dict)
    by_domain: dict[str, Counter] = field(default_factory=dict)
    error: str | None = None  # the input could not be read (fully)

    def add(self, row: dict[str, Any]) -> None:
        self.records += 1
        allowed = row["allowed"]
        action = "error" if allowed is None else "allowed" if allowed else "reserved"
        if allowed is None:
            self.errors += 1
        elif allowed:
            self.allowed += 1
        else:
            self.reserved += 1
            self.by_signal.update(row["reserved_by"])
            self.by_purpose.update(row["reserved_for"])
        url = row["url"]
        if url and row["reasons"] is not None:  # a canonical URL: origin and host as is
            origin, host = _origin_host(url)
            _bump(self.by_origin, origin, action)
            _bump(self.by_domain, _domain(host), action)

    def to_dict(self) -> dict[str, Any]:
        return {"records": self.records, "allowed": self.allowed, "reserved": self.reserved,
                "errors": self.errors, "kept": self.kept, "by_signal": dict(self.by_signal),
                "by_purpose": dict(self.by_purpose),
                "by_origin": {k: dict(v) for k, v in self.by_origin.items()},
                "by_domain": {k: dict(v) for k, v in self.by_domain.items()},
                "error": self.error}


def _bump(table: dict[str, Counter], key: str, action: str) -> None:
    found = table.get(key)
    if found is None:
        key = key if len(table) < MAX_KEYS else OTHER
        found = table.setdefault(key, Counter())
    found[action] += 1


def _origin_host(href: str) -> tuple[str, str]:
    """The origin and host of a canonical URL (`urls.parse_url` output: no userinfo, the
    host lower-case, the port only when not the default)."""
    scheme, _, rest = href.partition("://")
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    host = authority.split("]", 1)[0] + "]" if authority.startswith("[") \
        else authority.rsplit(":", 1)[0]
    return f"{scheme}://{authority}", host.rstrip(".")


def _domain(host: str) -> str:
    from ..report.summary import domain_of

    return domain_of(host)


@dataclass
class ScanResult:
    summary: dict[str, Any]
    exit_code: int  # 0 all allowed, 1 any reserved, 2 an input or record not read


class Scan:
    """One `tdm-guard scan` run over `inputs` into `output`."""

    def __init__(self, inputs: list[str], output: str | os.PathLike[str], options: ScanOptions,
                 fmt: str | None = None, url_column: str | None = None,
                 annotate: bool = False, on_event: Event | None = None) -> None:
        self.inputs = list(dict.fromkeys(inputs))
        self.output = Path(output)
        self.options = options
        self.fmt = fmt
        self.url_column = url_column
        self.annotate = annotate
        self.on_event = on_event or (lambda event: None)
        self.names = output_names(self.inputs)
        self.decisions = self.output / "decisions"
        self.kept = self.output / "kept"

    def paths(self, path: str) -> tuple[Path, Path, Path]:
        name = self.names[path]
        return (self.decisions / f"{name}.parquet", self.decisions / f"{name}.counts.json",
                self.kept / name)

    def done(self, path: str) -> bool:
        return all(p.exists() for p in self.paths(path))

    def run(self) -> ScanResult:
        self.decisions.mkdir(parents=True, exist_ok=True)
        self.kept.mkdir(parents=True, exist_ok=True)
        for folder in (self.decisions, self.kept):  # a killed run's temporary files
            for stale in folder.glob(".*.tmp"):
                stale.unlink(missing_ok=True)
        try:
            for path in self.inputs:
                if self.done(path):
                    self.on_event({"event": "input-skipped", "input": path,
                                   "reason": "outputs exist"})
                    continue
                self.on_event({"event": "input-start", "input": path})
                counts = self.scan_one(path)
                self.on_event({"event": "input-done", "input": path, "records": counts.records,
                               "reserved": counts.reserved, "errors": counts.errors,
                               "error": counts.error})
        finally:
            if self.options.mode != "captures":
                resolver_for(self.options).close()
        summary = self.summary()
        write_atomically(self.output / "summary.json", json.dumps(summary, indent=2) + "\n")
        return ScanResult(summary, _exit_code(summary))

    # -- one input ------------------------------------------------------------------
    def scan_one(self, path: str) -> Counts:
        import pyarrow.parquet as pq

        from .batch import DECISION_SCHEMA, rows_to_batch

        decisions_path, counts_path, kept_path = self.paths(path)
        tmp = decisions_path.with_name(f".{decisions_path.name}.{os.getpid()}.tmp")
        counts = Counts()
        writer = pq.ParquetWriter(tmp, DECISION_SCHEMA)
        pending: list[dict[str, Any]] = []
        rows: Iterator[dict[str, Any]] | None = None
        try:
            try:
                fmt = input_format(path, self.fmt)
                rows = self._warc_rows(path, kept_path, counts) if fmt == "warc" else \
                    self._table_rows(path, fmt, kept_path, counts)
                for row in rows:
                    if row["url"] is None and row["error"] and counts.error is None:
                        counts.error = f"{path}: {row['error']}"  # the file broke part way
                    counts.add(row)
                    pending.append(row)
                    if len(pending) >= ROWS_PER_WRITE:
                        with writing():
                            writer.write_batch(rows_to_batch(pending))
                        pending = []
                        self.on_event({"event": "progress", "input": path,
                                       "records": counts.records,
                                       "origins": self._origins_resolved()})
            except OutputError:
                raise  # the disk's fault, not the input's: the run stops, the input stays undone
            except Exception as exc:  # noqa: BLE001 - the input as a whole: one error row
                counts.error = _one_line(exc)
                row = error_row(RecordView("", input=path), counts.error)
                counts.add(row)
                pending.append(row)
                if not kept_path.exists():
                    kept_path.write_bytes(b"")  # nothing kept from an unreadable input
            if pending:
                writer.write_batch(rows_to_batch(pending))
            writer.close()
            write_atomically(counts_path, json.dumps(counts.to_dict()) + "\n")
            os.replace(tmp, decisions_path)
        finally:
            close = getattr(rows, "close", None)
            if close is not None:  # a reader stopped early (a full disk) removes its temp files
                close()
            writer.close()
            tmp.unlink(missing_ok=True)
        return counts

    def _origins_resolved(self) -> int:
        if self.options.mode == "captures":
            return 0
        return resolver_for(self.options).origins_resolved

    def _warc_rows(self, path: str, kept_path: Path, counts: Counts) -> Iterator[dict]:
        from .warc import scan_warc_file

        for row in scan_warc_file(path, self.options, kept_path=str(kept_path), name=path):
            if row["allowed"] is True:
                counts.kept += 1
            yield row

    def _table_rows(self, path: str, fmt: str, kept_path: Path, counts: Counts,
                    ) -> Iterator[dict[str, Any]]:
        reader = TableReader(path, fmt, self.url_column)
        out = TableWriter(kept_path, reader, self.annotate)
        resolver = resolver_for(self.options)
        evaluator = evaluator_for(self.options)
        ahead: deque[tuple[Any, list, Future]] = deque()
        failure: ValueError | None = None
        try:
            chunks = reader.chunks()
            while True:
                try:
                    while len(ahead) < AHEAD:
                        chunk = next(chunks, None)
                        if chunk is None:
                            break
                        parsed = [try_parse(u) if isinstance(u, str) else None
                                  for u in chunk.urls]
                        ahead.append((chunk, parsed,
                                      resolver.submit(u.origin for u in parsed if u)))
                except ValueError as exc:
                    failure = exc
                if not ahead:
                    break
                chunk, parsed, future = ahead.popleft()
                resolved = future.result()
                rows = []
                for i, (raw, url) in enumerate(zip(chunk.urls, parsed, strict=True)):
                    view = RecordView(raw if isinstance(raw, str) else
                                      ("" if raw is None else str(raw)),
                                      input=path, row=chunk.start + i,
                                      error=chunk.errors[i] or _not_text(raw))
                    policy = None if url is None else resolver.policy(url.origin, None,
                                                                      resolved)
                    rows.append(decide_record(view, policy, evaluator, resolver.licences,
                                              self.options.as_of_capture, parsed=url))
                with writing():
                    out.write(chunk, rows)
                counts.kept += sum(1 for r in rows if r["allowed"] is True)
                yield from rows
                if failure is not None and not ahead:
                    break
            with writing():
                out.commit()  # what was decided is kept, also when the file broke down part way
            if failure is not None:
                raise failure
        finally:
            out.discard()
            reader.close()

    # -- the run's summary ----------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        total = Counts()
        inputs = []
        for path in self.inputs:
            _, counts_path, _ = self.paths(path)
            entry: dict[str, Any] = {"input": path, "name": self.names[path]}
            try:
                data = json.loads(counts_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                entry["done"] = False
                inputs.append(entry)
                continue
            entry.update(done=True, records=data["records"], allowed=data["allowed"],
                         reserved=data["reserved"], errors=data["errors"], kept=data["kept"],
                         error=data["error"])
            inputs.append(entry)
            for key in ("records", "allowed", "reserved", "errors", "kept"):
                setattr(total, key, getattr(total, key) + data[key])
            total.by_signal.update(data["by_signal"])
            total.by_purpose.update(data["by_purpose"])
            for name in ("by_origin", "by_domain"):
                table = getattr(total, name)
                for key, value in data[name].items():
                    found = table.get(key)
                    if found is None:
                        found = table.setdefault(key if len(table) < MAX_KEYS else OTHER,
                                                 Counter())
                    found.update(value)
        out = total.to_dict()
        del out["error"]
        opts = self.options
        return {"tool": "tdm-guard scan", "agent": opts.agent, "purpose": opts.purpose,
                "profile": opts.profile, "policies_from": opts.mode, "as_of": opts.as_of,
                "fail_closed": opts.fail_closed,
                "inputs_done": sum(1 for i in inputs if i.get("done")),
                "inputs_total": len(inputs), **out, "inputs": inputs}


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, ValueError) and text:
        return text.splitlines()[0][:500]
    if isinstance(exc, OSError):
        return f"{getattr(exc, 'filename', None) or ''}: cannot be read: " \
               f"{exc.strerror or exc}".lstrip(": ")
    return f"internal error: {type(exc).__name__}: {text.splitlines()[0][:300] if text else ''}"


def _not_text(raw: Any) -> str | None:
    if raw is None:
        return "no URL (null)"  # as scan.batch.views_of words it: engines and CLI agree
    if not isinstance(raw, str):
        return f"URL is not text ({type(raw).__name__})"
    return None


def _exit_code(summary: dict[str, Any]) -> int:
    if summary["errors"] or any(i.get("error") or not i.get("done")
                                for i in summary["inputs"]):
        return 2
    return 1 if summary["reserved"] else 0




__all__ = ["AHEAD", "MAX_KEYS", "Counts", "Scan", "ScanResult", "input_format",
           "output_names"]
