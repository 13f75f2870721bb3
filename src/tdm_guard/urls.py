"""The one URL model: every entry point (check, audit, scan, the Scrapy middleware, the library)
turns a URL string into the same scheme, host, port and path here, and decides on that.

A string is read in two steps, so that tdm-guard agrees with the crawl that will fetch it:

1. Scrapy's own normalisation, `w3lib.url.safe_url_string` (what `scrapy.Request` applies to
   every URL): surrounding and embedded tabs/newlines removed, a backslash in the authority
   read as a path separator, the host through IDNA (`www.ＳＯＮＹＭＵＳＩＣ.COM` and
   `www.sonymusic。com` become `www.sonymusic.com`, `bücher.test` becomes
   `xn--bcher-kva.test`), unsafe characters percent-encoded.
2. The WHATWG URL Standard's parser and serialiser (ada-url, the parser of Node.js): what it
   rejects (a space in the host, a port over 65535, an unclosed IPv6 bracket) is an invalid
   input line, reported as such; what it accepts is serialised canonically (lower-case host,
   default port dropped, dot segments resolved), and that canonical `href` is both what is
   decided on and what the CLI fetches.

From the canonical URL: the origin (RFC 9309 §2.3: robots.txt applies to "the protocol,
host, and port"), the host for declarations (without a trailing dot), and the path that
robots-style patterns match (RFC 9309 §2.2.2: path and query, percent-normalised).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

from w3lib.url import safe_url_string

from .signals.patterns import normalize
from .signals.robots import ROBOTS_PATH
from .signals.tdmrep import WELL_KNOWN_PATH

SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEME = re.compile(r"\s*([A-Za-z][A-Za-z0-9+.-]*):")
# A canonical (WHATWG-serialised) href is unambiguous: scheme, optional userinfo, host,
# optional port, then path, query and fragment.
_CANONICAL = re.compile(
    r"(https?)://(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)(?::(\d+))?([^?#]*)(\?[^#]*)?")
# The longest input a line may be: longer strings are refused before any parsing.
MAX_URL_LENGTH = 64 * 1024


class InvalidURL(ValueError):
    """A string that is not an http(s) URL; the message says what is wrong with it."""


class URL(NamedTuple):
    """A parsed, canonical http(s) URL. Build with `parse_url`."""

    href: str  # the canonical URL: what is decided on and what is fetched
    scheme: str  # "http" or "https"
    host: str  # lower-case ASCII (IDNA A-labels), IPv6 in brackets, as in `href`
    port: int | None  # an explicit port other than the scheme's default
    path: str  # path (at least "/") and "?query", percent-normalised for matching

    @property
    def origin(self) -> str:
        """scheme://host[:port]: robots.txt and tdmrep.json are per origin (RFC 9309 §2.3)."""
        return f"{self.scheme}://{self.host}" + (f":{self.port}" if self.port else "")

    @property
    def domain(self) -> str:
        """The host without a trailing dot: what declarations match (`sonymusic.com.` is
        `sonymusic.com`)."""
        return self.host.rstrip(".")

    def __str__(self) -> str:
        return self.href


def parse_url(text: str) -> URL:
    """The canonical URL of `text`, or InvalidURL saying what is wrong with it."""
    if not isinstance(text, str):
        raise InvalidURL(f"not a url: {text!r} (not text)")
    return _fast(text) or _parse(text)


# A URL both parsers leave as it is: lower-case LDH host labels (the last one starting with
# a letter, so never an IPv4 number; no IDNA `xn--` or `--` labels) or a canonical IPv4
# address, a port without leading
# zeros, and a path and non-empty query of characters neither parser encodes or changes
# (no `%`, `'`, `\\`, spaces, fragment, dot segments). Everything else takes the full path
# below; tests/test_urls.py checks on random strings that both paths give the same URL.
_HOST = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?")
# An IPv4 address as the URL Standard serialises it: four decimal numbers 0-255 without
# leading zeros (`127.0.0.1`; `127.1`, `0x7f.0.0.1` and `010.0.0.1` take the full path).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_REST = re.compile(r"/[A-Za-z0-9\-._~!$&()*+,;=:@/]*(?:\?[A-Za-z0-9\-._~!$&()*+,;=:@/?]+)?")


def _fast(text: str) -> URL | None:
    """The canonical URL of a string that is one already, or None (then `_parse` decides)."""
    if text.startswith("https://"):
        scheme, start = "https", 8
    elif text.startswith("http://"):
        scheme, start = "http", 7
    else:
        return None
    cut = text.find("/", start)
    if cut < 0:
        cut = len(text)
    query = text.find("?", start, cut)
    if query >= 0:
        cut = query
    authority = _authority(scheme, text[start:cut])
    if authority is None:
        return None
    rest = text[cut:]
    if not rest or rest[0] == "?":
        rest = "/" + rest
    if _REST.fullmatch(rest) is None or "/." in rest:
        return None
    host, port, netloc = authority
    return URL(f"{scheme}://{netloc}{rest}", scheme, host, port, rest)


@lru_cache(maxsize=65536)
def _authority(scheme: str, authority: str) -> tuple[str, int | None, str] | None:
    """(host, port, canonical host[:port]) of an authority that needs no normalisation."""
    host, colon, port = authority.partition(":")
    if len(host) > 253 or "--" in host or (
            _HOST.fullmatch(host) is None and _IPV4.fullmatch(host) is None):
        return None
    if not colon:
        return host, None, host
    if not port.isdigit() or port[0] == "0" or len(port) > 5 or int(port) > 65535:
        return None
    number = int(port)
    if number == _DEFAULT_PORTS[scheme]:
        return host, None, host
    return host, number, f"{host}:{number}"


@lru_cache(maxsize=4096)
def _parse(text: str) -> URL:
    raw = text.strip()
    if not raw:
        raise InvalidURL("empty line")
    if len(raw) > MAX_URL_LENGTH:
        raise InvalidURL(f"not a url: {len(raw)} characters (at most {MAX_URL_LENGTH})")
    scheme = _SCHEME.match(raw)
    if scheme is None or "//" not in raw[:scheme.end() + 3].replace("\\", "/"):
        raise InvalidURL(f"not a url: {raw!r} (expected http:// or https://)")
    if scheme.group(1).lower() not in SCHEMES:
        raise InvalidURL(f"unsupported scheme {scheme.group(1)!r} in {raw!r} "
                         "(only http and https)")
    import ada_url  # here, not at import: canonical URLs (`_fast`) never need it

    try:
        safe = safe_url_string(raw)
        href = ada_url.normalize_url(safe)
    except (ValueError, UnicodeError) as exc:
        raise InvalidURL(f"not a url: {raw!r} ({_why_invalid(raw, exc)})") from None
    m = _CANONICAL.match(href)
    if m is None or not m.group(2):
        raise InvalidURL(f"not a url: {raw!r} (no host)")
    scheme_name, host, port = m.group(1), m.group(2), m.group(3)
    path = m.group(4) or "/"
    if m.group(5) is not None:
        path += m.group(5)  # an empty "?" is kept: rules can name it
    return URL(href, scheme_name, host, int(port) if port else None, normalize(path))


def _why_invalid(raw: str, exc: Exception) -> str:
    """A short reason for a URL the parsers refuse."""
    try:
        parts = urlsplit(raw)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError as err:
        return str(err)
    if not host:
        return "no host"
    if any(c.isspace() for c in host):
        return "the host contains a space"
    if "%" in host:
        return "invalid host name: a percent-escape that is not a host name"
    if not all(c.isalnum() or c in "-._:[]" for c in host):
        return "invalid host name: a character hosts cannot contain"
    if isinstance(exc, UnicodeError):
        return "invalid host name: IDNA rejects it"
    return "invalid host name (the WHATWG URL parser rejects it)"


def try_parse(text: str) -> URL | None:
    """`parse_url`, or None for a string that is not an http(s) URL."""
    try:
        return parse_url(text)
    except InvalidURL:
        return None


def as_url(url: URL | str) -> URL:
    return url if isinstance(url, URL) else parse_url(url)


def origin_of(url: URL | str) -> str:
    """scheme://host[:port] of a URL (raises InvalidURL for a string that is not one)."""
    return as_url(url).origin


def sent_origin(url: str) -> str | None:
    """The origin an HTTP client built on the standard library's parser (Twisted, so Scrapy;
    http.client) connects to for `url`, or None when it cannot tell. The middleware compares
    it with the canonical origin: a URL whose two readings differ is ambiguous."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not host or scheme not in SCHEMES:
        return None
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" + (f":{port}" if port and port != _DEFAULT_PORTS[scheme]
                                   else "")


def policy_file_urls(origin: str) -> tuple[str, str]:
    """The two files fetched per origin: robots.txt and /.well-known/tdmrep.json."""
    return origin + ROBOTS_PATH, origin + WELL_KNOWN_PATH


def url_path(url: URL | str) -> str:
    """The matchable path of a URL: path (at least "/") and "?query", percent-normalised."""
    return as_url(url).path
