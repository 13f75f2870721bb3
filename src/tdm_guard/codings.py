"""HTTP content codings (RFC 9110 §8.4), sans-IO: which codings a response's
Content-Encoding lists, and an incremental, bounded decoder that undoes them (gzip, x-gzip,
deflate, br, zstd). The crawl, `check` and the corpus scan read codings here alike."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable

Decoder = Callable[[bytes, int], bytes]
INTERMEDIATE_LIMIT = 64 * 1024 * 1024  # bytes one step may hand the next (several codings)


def content_codings(values: Iterable[str]) -> list[str]:
    """The codings Content-Encoding field values list, in the order applied, lower-cased,
    without `identity`."""
    codings = [c.strip().lower() for value in values for c in value.split(",") if c.strip()]
    return [c for c in codings if c != "identity"]


def decoder(codings: list[str]) -> Decoder:
    """An incremental decoder undoing `codings` (applied in order, so undone in reverse).
    Each call returns at most `want` bytes (a bomb grows the output by what was asked for,
    never by what it holds); input not decoded yet is kept for the next call."""
    steps = [_step(c) for c in reversed(codings)]

    def decode(data: bytes, want: int) -> bytes:
        for n, step in enumerate(steps):
            data = step(data, want if n == len(steps) - 1 else INTERMEDIATE_LIMIT)
        return data

    return decode


def _step(coding: str) -> Decoder:
    if coding in ("gzip", "x-gzip", "deflate"):
        state = {"z": zlib.decompressobj(47 if coding != "deflate" else 15), "first": True}

        def inflate(data: bytes, want: int) -> bytes:
            z = state["z"]
            try:
                out = z.decompress(z.unconsumed_tail + data, want)
            except zlib.error:
                if coding == "deflate" and state["first"]:  # raw deflate, as some servers send
                    state["z"] = z = zlib.decompressobj(-15)
                    out = z.decompress(data, want)
                else:
                    raise
            state["first"] = False
            return out
        return inflate
    if coding == "br":
        try:
            import brotli
        except ImportError:
            raise ValueError("Content-Encoding br: not decoded (install brotli)") from None
        brd = brotli.Decompressor()
        waiting: list[bytes] = []

        def unbrotli(data: bytes, want: int) -> bytes:
            if not brd.can_accept_more_data():
                waiting.append(data)
                return brd.process(b"", output_buffer_limit=want)
            if waiting:
                data = b"".join(waiting) + data
                waiting.clear()
            return brd.process(data, output_buffer_limit=want)
        return unbrotli
    if coding == "zstd":
        try:
            from backports import zstd  # type: ignore[import-not-found]
        except ImportError:
            try:
                from compression import zstd  # type: ignore[import-not-found,no-redef]
            except ImportError:
                raise ValueError("Content-Encoding zstd: not decoded (install "
                                 "backports.zstd)") from None
        zd = zstd.ZstdDecompressor()
        return lambda data, want: zd.decompress(data, max_length=want)
    raise ValueError(f"Content-Encoding {coding[:40]!r}: not decoded (unknown coding)")
