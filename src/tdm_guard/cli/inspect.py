"""`tdm-guard inspect FILE...`: the embedded-reservation readers on local files, no network.

Each file (a folder: every file in it, recursively, in name order) is read up to
`--max-file-bytes` and decided by the same `Evaluator` as `check`, as a response without a
web origin: TDMRep in EPUB and PDF, IPTC `plus:DataMining`, C2PA/CAWG, ID3 and HTML meta
tags for the declarations. Exit 0 every file allowed; 1 at least one reserved; 2 a usage
error or a file that could not be read (after every other file has been answered).
"""

from __future__ import annotations

import argparse
import mimetypes
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

from ..decide import Evaluator, OriginPolicy, PageResponse
from ..fetching.checker import Outcome
from ..model import Decision
from .check import _as_json, _as_text
from .common import EXIT_ALLOWED, EXIT_RESERVED, EXIT_USAGE, declarations, trust_anchors

# A local file has no web origin; it is decided as a response from this name (RFC 2606:
# `.invalid` never resolves, no declaration matches it), then named by its path.
LOCAL_ORIGIN = "http://local.invalid"
NO_ORIGIN = "not applicable to a local file (check the URL it came from)"


def _paths(names: list[str]) -> Iterator[Path]:
    for name in names:
        path = Path(name)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        else:
            yield path


def inspect_file(evaluator: Evaluator, path: Path, max_bytes: int) -> Outcome:
    """One file's decision, or an error when it cannot be read."""
    try:
        with path.open("rb") as stream:
            body = stream.read(max_bytes + 1)
    except OSError as exc:
        return Outcome(str(path), error=f"cannot read: {exc.strerror or exc}")
    partial = len(body) > max_bytes
    body = body[:max_bytes]
    mime = mimetypes.guess_type(path.name)[0] or ""
    headers = [("Content-Type", mime)] if mime else []
    page = PageResponse(None, headers, body, partial=partial, name=str(path))
    url = f"{LOCAL_ORIGIN}/{quote(path.name)}"
    decision = evaluator.evaluate(url, OriginPolicy(LOCAL_ORIGIN, not_consulted=NO_ORIGIN), page)
    if page.file is None and page.head is None:
        decision.unchecked.append("file: not a kind with embedded reservations tdm-guard "
                                  "reads (image, audio, video, PDF, EPUB, HTML)")
    if partial:
        decision.unchecked.append(f"file: only the first {max_bytes} bytes were read "
                                  "(--max-file-bytes)")
    return Outcome(str(path), _as_local(decision, url, str(path)))


def _as_local(decision: Decision, url: str, path: str) -> Decision:
    decision.url = path
    decision.reasons = [replace(r, source=path) if r.source == url else r
                        for r in decision.reasons]
    return decision


def cmd_inspect(args: argparse.Namespace) -> int:
    try:
        evaluator = Evaluator(args.agent, args.purpose, args.profile, declarations(args),
                              trust_anchors=trust_anchors(args))
    except ValueError as exc:
        print(f"tdm-guard inspect: {exc}", file=sys.stderr)
        return EXIT_USAGE
    exit_code, unreadable = EXIT_ALLOWED, False
    for path in _paths(args.files):
        outcome = inspect_file(evaluator, path, args.max_file_bytes)
        if outcome.error is not None:
            unreadable = True
        elif outcome.decision is not None and not outcome.decision.allowed:
            exit_code = EXIT_RESERVED
        text = _as_json(outcome, args) if args.json else _as_text(outcome)
        sys.stdout.write(text + "\n")
    sys.stdout.flush()
    return EXIT_USAGE if unreadable else exit_code


