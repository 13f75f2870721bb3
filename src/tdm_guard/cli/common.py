"""What the commands share: option groups, opening the cache, loading declarations, building
the checker. Every message a command prints goes to stderr with a `tdm-guard` prefix."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ..decide import Evaluator
from ..declarations import DeclarationSet
from ..fetching.checker import Checker
from ..fetching.http import AsyncFetcher
from ..freshness import MAX_STALE, Freshness, parse_duration
from ..model import Profile, Purpose
from ..signals.files import MAX_FILE_BYTES
from ..stored import PolicyStore
from ..stores.atomic import write_atomically  # noqa: F401 - the commands import it from here
from ..stores.base import default_cache_path
from ..stores.select import CACHE_ENV, StoreError, default_store, open_store, store_kind
from ..stores.snapshots import SnapshotStore
from ..stores.validated import load_declarations

EXIT_ALLOWED, EXIT_RESERVED, EXIT_USAGE = 0, 1, 2
PER_HOST = 4  # connections per host at most: polite to every site, whatever --workers says
# pypdf logs its repairs of broken PDFs as warnings; the commands report what could not be
# read in `unchecked` instead of printing the parser's chatter.
logging.getLogger("pypdf").setLevel(logging.ERROR)


def network_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--offline", action="store_true",
                        help="no network: declarations and the cache only")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="S",
                        help="seconds per network operation (default: 10)")
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument("--cache", metavar="STORE",
                       help="where policy files are kept and shared: a SQLite file (PATH or "
                            "sqlite:///PATH) or Redis (redis://HOST:PORT/DB, rediss://...; "
                            "?prefix=NAME: for tenants) (default: $TDM_GUARD_CACHE, else "
                            f"{default_cache_path()})")
    cache.add_argument("--no-cache", action="store_true",
                       help="keep fetched files in memory only")
    parser.add_argument("--max-stale", type=_duration, default=MAX_STALE, metavar="AGE",
                        help="use a stored policy file up to this old while the site cannot "
                             "serve it (5xx, 429, timeout; RFC 9309 §2.4); 0 never "
                             "(default: 7d)")
    parser.add_argument("--workers", type=int, default=16, help="parallel checks (default: 16)")
    parser.add_argument("--fail-closed", action="store_true",
                        help="read an unreachable tdmrep.json (5xx, timeout) as a reservation")


def byte_size(text: str) -> int:
    """`16777216`, `16M`, `16MiB`, `512K`, `1G` (binary units) as a number of bytes >= 1."""
    value = text.strip().upper().removesuffix("IB").removesuffix("B")
    scale = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}.get(value[-1:], 1)
    number = value[:-1] if scale > 1 else value
    try:
        size = int(float(number) * scale)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 16M)") from None
    if size < 1:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (at least 1 byte)")
    return size


def file_options(parser: argparse.ArgumentParser) -> None:
    """Options of the embedded-reservation readers (`check` on files, `inspect`)."""
    parser.add_argument("--max-file-bytes", type=byte_size, default=MAX_FILE_BYTES,
                        metavar="N", help="read at most N bytes of a file (image, audio, video, "
                                          "PDF, EPUB) for its embedded reservations; K/M/G "
                                          "suffixes (default: 16M)")
    parser.add_argument("--trust-anchors", metavar="PEM",
                        help="C2PA trust anchors (PEM): manifests signed under them read as "
                             "Trusted (default: none, so a good signature reads as Valid)")


def trust_anchors(args: argparse.Namespace) -> str | None:
    """The PEM text of `--trust-anchors`; ValueError naming the file when it cannot be read."""
    path = getattr(args, "trust_anchors", None)
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeError) as exc:
        raise ValueError(f"--trust-anchors {path}: cannot read: {exc}") from None


def policy_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policies", action="append", default=[], metavar="DIR",
                        help="extra folder of declaration (or licence) files; repeatable")
    parser.add_argument("--licences", action="append", default=[], metavar="PATH",
                        help="licence file or folder your team holds; repeatable")


def decision_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    parser.add_argument("--agent", default="tdm-guard" if defaults else None,
                        help="your crawler's robots.txt product token"
                             + (" (default: tdm-guard)" if defaults else
                                " (default: from the project's settings)"))
    parser.add_argument("--purpose", choices=[p.value for p in Purpose],
                        default="train" if defaults else None,
                        help="what you will do with the content (default: train)")
    parser.add_argument("--profile", choices=[p.value for p in Profile],
                        default="strict" if defaults else None,
                        help="strict (default): AI-crawler blocks in robots.txt reserve "
                             "training; standard: only your own group counts")


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def store_value(args: argparse.Namespace) -> str | None:
    """What names the store: --no-cache, --cache, $TDM_GUARD_CACHE, else the default file."""
    if args.no_cache:
        return None
    if args.cache is not None:
        return args.cache
    return default_store()


def open_cache(args: argparse.Namespace) -> PolicyStore:
    """The policy store of a command (`bad_network_options` has checked its value)."""
    try:
        return open_store(store_value(args))
    except Exception as exc:  # noqa: BLE001 - an unusable store must not stop the check
        print(f"tdm-guard: warning: policy store unusable ({exc}); using memory only",
              file=sys.stderr)
        return open_store(None)


def declarations(args: argparse.Namespace) -> DeclarationSet:
    declarations = load_declarations(args.policies, args.licences)
    for error in declarations.errors:
        for line in error.splitlines():
            print(f"tdm-guard: policy file skipped: {line}", file=sys.stderr)
    return declarations


def bad_network_options(args: argparse.Namespace) -> bool:
    if args.timeout <= 0 or args.workers < 1:
        print("tdm-guard: --timeout must be > 0 and --workers >= 1", file=sys.stderr)
        return True
    value = store_value(args)
    try:
        if store_kind(value)[0] == "redis":
            open_store(value)  # parses the URL and its options; connects only when used
    except StoreError as exc:
        source = "--cache" if args.cache is not None else f"${CACHE_ENV}"
        print(f"tdm-guard: {source}: {exc}", file=sys.stderr)
        return True
    return False


def make_checker(args: argparse.Namespace, evaluator: Evaluator, fetch_pages: bool,
                 snapshots: SnapshotStore | None = None) -> Checker:
    fetcher = None if args.offline else AsyncFetcher(
        timeout=args.timeout, connections=args.workers * 2, per_host=PER_HOST)
    return Checker(evaluator, fetcher, open_cache(args), fetch_pages=fetch_pages,
                   workers=args.workers,
                   max_file_bytes=getattr(args, "max_file_bytes", MAX_FILE_BYTES),
                   freshness=Freshness(max_stale=args.max_stale),
                   snapshots=snapshots)






def snapshot_folder(args: argparse.Namespace, command: str) -> SnapshotStore | None:
    """The `--snapshots` folder to read (None without the option); ValueError naming it
    when it is not a folder."""
    if not args.snapshots:
        return None
    store = SnapshotStore(args.snapshots)
    if not store.root.is_dir():
        raise ValueError(f"tdm-guard {command}: --snapshots {args.snapshots}: no such folder")
    return store
