"""A captured payload's head: chunked transfer coding undone (leniently: a capture that kept
the header on a plain body is read as is), Content-Encoding undone (gzip, x-gzip, deflate,
br, zstd; identity), incrementally and within bounds, keeping what the signal readers need (an HTML
head's 512 KiB, a file's `max_file_bytes`: what `check` downloads)."""

from __future__ import annotations

import io
from typing import Any

from ..codings import content_codings, decoder
from ..signals import files
from ..signals.html import MAX_HEAD_BYTES

MAX_RAW_READ = 64 * 1024 * 1024  # raw payload bytes read at most per record
MAX_HTTP_HEADER = 1024 * 1024  # an HTTP header block larger than this is an error row
CHUNK = 64 * 1024


def read_payload(reader: Any, headers: list[tuple[str, str]],
                 max_file_bytes: int = files.MAX_FILE_BYTES,
                 ) -> tuple[bytes, bool, str | None]:
    """(the payload's decoded head, whether there is more, why it could not be read)."""
    codings = content_codings(v for k, v in headers if k.lower() == "content-encoding")
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    content_type = content_type.split(";")[0].strip().lower()
    try:
        decode = decoder(codings)
    except ValueError as exc:
        return b"", False, str(exc)
    chunked = any(k.lower() == "transfer-encoding" and "chunked" in v.lower()
                  for k, v in headers)
    if chunked:  # undone here, leniently: archives often keep the header on a plain body
        cap = max(MAX_HEAD_BYTES, max_file_bytes) + CHUNK
        try:
            raw_body = reader.read(cap)
        except Exception as exc:  # noqa: BLE001 - a cut stream: nothing usable read
            return b"", True, f"payload not readable ({short_error(exc)})"
        reader = io.BytesIO(dechunk(raw_body))
    out = bytearray()
    raw = 0
    partial = False
    try:
        while True:
            chunk = reader.read(CHUNK)
            if not chunk:
                break
            raw += len(chunk)
            cap = files.body_cap(bytes(out[:1024]), content_type, max_file_bytes,
                                 MAX_HEAD_BYTES)
            out += decode(chunk, max(cap - len(out), 0) + CHUNK)
            if files.enough(out, content_type, MAX_HEAD_BYTES, max_file_bytes) \
                    or raw >= MAX_RAW_READ:
                partial = True
                break
    except Exception as exc:  # noqa: BLE001 - a corrupt or cut stream: keep what was read
        note = f"payload not fully readable ({short_error(exc)}); read its first {len(out)} bytes"
        return bytes(out), True, note
    limit = max(MAX_HEAD_BYTES, max_file_bytes)
    if len(out) > limit:
        del out[limit:]
        partial = True
    return bytes(out), partial, None



def dechunk(data: bytes) -> bytes:
    """HTTP/1.1 chunked framing undone; a body whose framing is not chunked at all is
    returned as is (a capture that kept the header but stored the decoded body), and one
    cut or broken part way gives the chunks read before."""
    out = bytearray()
    at = 0
    while at < len(data):
        end = data.find(b"\r\n", at, at + 1024)
        if end < 0:
            break
        size_text = data[at:end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return data if at == 0 else bytes(out)
        if size == 0:
            break
        out += data[end + 2:end + 2 + size]
        at = end + 2 + size + 2
    return bytes(out) if out or not data else data


def short_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


__all__ = ["MAX_HTTP_HEADER", "MAX_RAW_READ", "dechunk", "read_payload", "short_error"]
