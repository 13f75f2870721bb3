"""The one URL model: every entry point (CLI, audit, Scrapy middleware, library) turns a URL
string into an origin, a host and a matchable path here, and nowhere else.

- Origin (RFC 9309 §2.3: robots.txt applies to "the protocol, host, and port"): the scheme,
  the lower-cased host and the port when it is not the scheme's default.
- Path (RFC 9309 §2.2.2): path and query, percent-normalised for octet comparison.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

from .signals.patterns import normalize
from .signals.robots import ROBOTS_PATH
from .signals.tdmrep import WELL_KNOWN_PATH

# scheme and authority of an absolute URL: the fast path of every URL split in the package
SCHEME_NETLOC = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)")


class InvalidURL(ValueError):
    """A string that is not an http(s) URL; the message says what is wrong with it."""


def validate_url(text: str) -> str:
    """Return the URL, or raise InvalidURL saying what is wrong with it."""
    url = text.strip()
    if not url:
        raise InvalidURL("empty line")
    m = SCHEME_NETLOC.match(url)
    if m is not None and m.group(1).lower() in ("http", "https") and _valid_netloc(m.group(2)):
        return url
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise InvalidURL(f"not a url: {url!r} (expected http:// or https://)")
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidURL(f"unsupported scheme {parts.scheme!r} in {url!r} (only http and https)")
    try:
        if not parts.hostname:
            raise InvalidURL(f"not a url: {url!r} (no host)")
        _ = parts.port
        parts.hostname.encode("idna")
    except UnicodeError as exc:
        raise InvalidURL(f"not a url: {url!r} (invalid host name)") from exc
    except ValueError as exc:
        raise InvalidURL(f"not a url: {url!r} ({exc})") from exc
    return url


@lru_cache(maxsize=65536)
def _valid_netloc(netloc: str) -> bool:
    """A host, and a port that parses (the fast path; the slow one says what is wrong)."""
    try:
        parts = urlsplit(f"http://{netloc}/")
        if not parts.hostname or (parts.port is not None and parts.port < 0):
            return False
        parts.hostname.encode("idna")
        return True
    except (ValueError, UnicodeError):
        return False


def origin_of(url: str) -> str:
    """scheme://host[:port] (robots.txt and tdmrep.json are per origin: RFC 9309 §2.3)."""
    m = SCHEME_NETLOC.match(url)
    if m is not None:
        return _origin(m.group(1), m.group(2))
    return _origin_of_split(url)


@lru_cache(maxsize=65536)
def _origin(scheme: str, netloc: str) -> str:
    return _origin_of_split(f"{scheme}://{netloc}/")


def _origin_of_split(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


def policy_file_urls(origin: str) -> tuple[str, str]:
    """The two files fetched per origin: robots.txt and /.well-known/tdmrep.json."""
    return origin + ROBOTS_PATH, origin + WELL_KNOWN_PATH


def url_path(url: str) -> str:
    """The part of `url` that patterns match: path (at least "/") plus "?query", normalised.

    An empty "?" is kept: rules can name it. The fragment is dropped.
    """
    scheme_end = url.find("://")
    if scheme_end > 0 and "\\" not in url:
        rest = url[scheme_end + 3:].split("#", 1)[0]
        cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=-1)
        if cut < 0:
            return "/"
        path = rest[cut:]
        return normalize("/" + path if path.startswith("?") else path)
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query or "?" in url.split("#", 1)[0]:
        path += "?" + parts.query
    return normalize(path)


@lru_cache(maxsize=65536)
def _host_of_netloc(netloc: str) -> str:
    return (urlsplit("//" + netloc).hostname or "").rstrip(".").lower()


def host_of(url: str) -> str:
    """The URL's host, lower-cased, without a trailing dot."""
    m = SCHEME_NETLOC.match(url)
    if m is not None:
        return _host_of_netloc(m.group(2))
    return (urlsplit(url).hostname or "").rstrip(".").lower()
