"""The small corpus every engine test scans: two WARC files and a URL table, written by the
test itself, over three origins served on 127.0.0.1 by `servers.Site`.

Origins: A = http://127.0.0.1:P (robots.txt disallows tdm-guard under /private/, tdmrep.json
reserves /news/), B = http://localhost:P (robots.txt allows all, no tdmrep.json), C =
http://127.0.0.1:Q (a second server: every policy file is a 404). The WARC records carry the
page signals (X-Robots-Tag noai repeated, tdm-reservation header and meta, Content-Usage);
origin B is in both WARC files, so two workers want it at once.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from servers import Resp, Site, serving

ROBOTS_A = "User-agent: *\nAllow: /\n\nUser-agent: tdm-guard\nDisallow: /private/\n"
TDMREP_A = json.dumps([{"location": "/news/*", "tdm-reservation": 1}])
ROBOTS_B = "User-agent: *\nDisallow:\n"
DATE = "2025-03-01T10:00:00Z"
POLICY_PATHS = ("/robots.txt", "/.well-known/tdmrep.json")


@dataclass
class Corpus:
    folder: Path
    warcs: list[Path]
    table: Path
    a: Site
    c: Site

    @property
    def origins(self) -> dict[str, tuple[Site, str]]:
        """Origin -> (its server, the Host it is asked under)."""
        return {f"http://127.0.0.1:{self.a.port}": (self.a, "127.0.0.1"),
                f"http://localhost:{self.a.port}": (self.a, "localhost"),
                f"http://127.0.0.1:{self.c.port}": (self.c, "127.0.0.1")}

    def reset_counts(self) -> None:
        for site in (self.a, self.c):
            with site.lock:
                site.hits.clear()

    def policy_fetches(self) -> dict[tuple[str, str], int]:
        """(origin, policy path) -> requests the servers saw since `reset_counts`."""
        return {(origin, path): site.count(path, host)
                for origin, (site, host) in self.origins.items() for path in POLICY_PATHS}


def _page(title: str, head: str = "") -> str:
    return (f"<!doctype html><html><head><title>{title}</title>{head}</head>"
            f"<body><p>{title}: some text to train on, or not.</p></body></html>")


def _records(a: str, b: str, c: str) -> tuple[list[tuple], list[tuple]]:
    """(url, extra headers, html) per response, for the two WARC files."""
    first = [
        (f"{a}/ok.html", [], _page("ok")),
        (f"{a}/news/story.html", [], _page("story")),
        (f"{a}/private/secret.html", [], _page("secret")),
        (f"{b}/noai.html", [("X-Robots-Tag", "noai")], _page("noai header")),
        (f"{b}/meta.html", [], _page("meta", '<meta name="tdm-reservation" content="1">')),
    ]
    second = [
        (f"{b}/header.html", [("tdm-reservation", "1")], _page("tdm header")),
        (f"{b}/usage.html", [("Content-Usage", "train-ai=n")], _page("usage")),
        (f"{b}/fine.html", [], _page("fine")),
        (f"{c}/plain.html", [], _page("plain")),
        (f"{c}/repeated.html", [("X-Robots-Tag", "index"), ("X-Robots-Tag", "noai")],
         _page("repeated")),
    ]
    return first, second


def _member(headers: list[tuple[str, str]], block: bytes) -> bytes:
    head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    head += f"Content-Length: {len(block)}\r\n\r\n"
    return gzip.compress(head.encode() + block + b"\r\n\r\n")


def write_warc(path: Path, pages: Iterable[tuple], prefix: str) -> None:
    """A gzip-per-record WARC: warcinfo, then a request, response and metadata per page."""
    out = [_member([("WARC-Type", "warcinfo"), ("WARC-Record-ID", f"<urn:uuid:{prefix}-info>"),
                    ("WARC-Date", DATE), ("Content-Type", "application/warc-fields")],
                   b"software: tdm-guard tests\r\n")]
    for n, (url, extra, html) in enumerate(pages):
        rid = f"<urn:uuid:{prefix}-{n:04d}>"
        body = html.encode()
        http = (["HTTP/1.1 200 OK", "Content-Type: text/html; charset=utf-8",
                 f"Content-Length: {len(body)}"] + [f"{k}: {v}" for k, v in extra])
        block = ("\r\n".join(http) + "\r\n\r\n").encode() + body
        host = url.split("/")[2]
        request = f"GET /{url.split('/', 3)[3]} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        out.append(_member([("WARC-Type", "request"), ("WARC-Record-ID", f"{rid[:-1]}-req>"),
                            ("WARC-Date", DATE), ("WARC-Target-URI", url),
                            ("WARC-Concurrent-To", rid),
                            ("Content-Type", "application/http; msgtype=request")], request))
        out.append(_member([("WARC-Type", "response"), ("WARC-Record-ID", rid),
                            ("WARC-Date", DATE), ("WARC-Target-URI", url),
                            ("Content-Type", "application/http; msgtype=response")], block))
        out.append(_member([("WARC-Type", "metadata"), ("WARC-Record-ID", f"{rid[:-1]}-meta>"),
                            ("WARC-Date", DATE), ("WARC-Target-URI", url),
                            ("WARC-Concurrent-To", rid),
                            ("Content-Type", "application/warc-fields")], b"fetchTimeMs: 12\r\n"))
    path.write_bytes(b"".join(out))


def table_urls(a: str, b: str, c: str) -> list[str | None]:
    urls: list[str | None] = []
    for i in range(6):
        urls += [f"{a}/img/{i}.jpg", f"{a}/news/{i}.jpg", f"{a}/private/{i}.jpg",
                 f"{b}/p/{i}.png", f"{c}/q/{i}.webp"]
    return [*urls, "not a url", "ftp://files.example/x", None]


def write_table(path: Path, urls: list[str | None]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"url": pa.array(urls, pa.string()),
                      "text": [f"caption {i}" for i in range(len(urls))],
                      "key": [f"{i:06d}" for i in range(len(urls))]})
    pq.write_table(table, path, row_group_size=7)  # several row groups: several partitions


@contextmanager
def engine_corpus(folder: Path) -> Iterator[Corpus]:
    """The corpus in `folder`, its servers running for the duration of the block."""
    with ExitStack() as stack:
        site_a, site_c = stack.enter_context(serving(Site())), stack.enter_context(serving(Site()))
        site_a.add("/robots.txt", Resp(200, ROBOTS_A), host="127.0.0.1")
        site_a.add("/.well-known/tdmrep.json", Resp(200, TDMREP_A,
                   headers=[("Content-Type", "application/json")]), host="127.0.0.1")
        site_a.add("/robots.txt", Resp(200, ROBOTS_B), host="localhost")
        a = f"http://127.0.0.1:{site_a.port}"
        b = f"http://localhost:{site_a.port}"
        c = f"http://127.0.0.1:{site_c.port}"
        (folder / "warc").mkdir(parents=True, exist_ok=True)
        first, second = _records(a, b, c)
        warcs = [folder / "warc" / "one.warc.gz", folder / "warc" / "two.warc.gz"]
        write_warc(warcs[0], first, "one")
        write_warc(warcs[1], second, "two")
        (folder / "table").mkdir(exist_ok=True)
        table = folder / "table" / "urls.parquet"
        write_table(table, table_urls(a, b, c))
        yield Corpus(folder, warcs, table, site_a, site_c)


# -- comparing decisions --------------------------------------------------------------------
COMPARED = ("url", "allowed", "fetch_allowed", "reserved_by", "reserved_for", "policy_sha256",
            "error")


def comparable(row: dict) -> dict:
    """The decision of a row, without where it was read (input names differ by engine)."""
    out = {k: _plain(row.get(k)) for k in COMPARED}
    reasons = row.get("reasons")
    out["reasons"] = None if reasons is None else _timeless(json.loads(reasons))
    return out


def _timeless(value):
    """A decision's JSON without its clock readings (when it was made, when a file was
    fetched): everything else must be identical whichever engine decided."""
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if k not in ("checked_at", "fetched_at")}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


def _plain(value):
    if hasattr(value, "tolist"):  # numpy arrays from pandas
        value = value.tolist()
    if isinstance(value, tuple):
        value = list(value)
    if value != value:  # NaN / NA
        return None
    return value


def by_key(rows: Iterable[dict], key: str) -> dict:
    found: dict = {}
    for row in rows:
        k = row[key]
        assert k not in found, f"two decision rows for {key}={k!r}"
        found[k] = comparable(row)
    return found


def read_decisions(folder: Path) -> list[dict]:
    """Every row of the parquet files under `folder`."""
    import pyarrow.parquet as pq

    rows: list[dict] = []
    for path in sorted(folder.rglob("*.parquet")):
        rows += pq.read_table(path).to_pylist()
    return rows


@dataclass
class Outcome:
    """What one run decided: WARC rows by record id, table rows by row number, the policy
    fetches the servers saw, and the kept WARC files' bytes by name."""

    warc: dict
    table: dict
    fetches: dict
    kept: dict


def table_by_row(rows: Iterable[dict]) -> dict:
    return by_key(rows, "row")


def warc_by_id(rows: Iterable[dict]) -> dict:
    return by_key(rows, "record_id")


def kept_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.rglob("*.warc.gz"))}


def assert_fetched_once(fetches: dict) -> None:
    """Each origin's robots.txt and tdmrep.json requested exactly once in the run."""
    assert fetches and all(n == 1 for n in fetches.values()), fetches


def reference_outcome(corpus: Corpus, folder: Path) -> Outcome:
    """`tdm-guard scan` of the whole corpus (a real subprocess, a store of its own): the
    decisions every engine must reproduce."""
    import subprocess
    import sys

    corpus.reset_counts()
    out = folder / "out"
    command = [sys.executable, "-m", "tdm_guard.cli", "scan", *map(str, corpus.warcs),
               str(corpus.table), "--output", str(out), "--cache", str(folder / "store.sqlite")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    # 2: the table's rows without a usable URL are error rows, after every other decision
    assert done.returncode == 2, done.stderr
    fetches = corpus.policy_fetches()
    assert_fetched_once(fetches)
    rows = read_decisions(out / "decisions")
    warc = [r for r in rows if r["record_id"] is not None]
    table = [r for r in rows if r["row"] is not None]
    assert len(warc) == 10 and len(table) == len(table_urls("a", "b", "c"))
    return Outcome(warc_by_id(warc), table_by_row(table), fetches, kept_files(out / "kept"))
