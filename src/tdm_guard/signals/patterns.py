"""robots.txt-style path patterns (RFC 9309 §2.2.2-2.2.3), shared by every signal that uses them.

robots.txt Allow/Disallow, aipref `Content-Usage` path rules and TDMRep `location` all use
the same notation, so they share one matcher:

  "If a percent-encoded ASCII octet is encountered in the URI, it MUST be unencoded prior to
  comparison, unless it is a reserved character in the URI as defined by [RFC3986] or the
  character is outside the unreserved character range. [...] Octets in the URI and robots.txt
  paths outside the range of the ASCII coded character set, and those in the reserved range
  defined by [RFC3986], MUST be percent-encoded as defined by [RFC3986] prior to comparison."
  (RFC 9309 §2.2.2)

  "*  Designates 0 or more instances of any character.  $  Designates the end of the match
  pattern." (RFC 9309 §2.2.3)

Matching is anchored at the start of the path and case-sensitive; the path includes the
query string, as Google's rules (which TDMRep points to) do.
"""

from __future__ import annotations

import re
from functools import lru_cache

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = frozenset(b"0123456789abcdefABCDEF")
# Characters kept as they are when they appear literally: unreserved, reserved (gen-delims and
# sub-delims) and '%' (its escapes are handled separately).
_KEEP = _UNRESERVED | frozenset(b":/?#[]@!$&'()*+,;=%")
_ALREADY_NORMAL = re.compile(r"[A-Za-z0-9\-._~/:@!$&'()*+,;=?]*")


def normalize(text: str) -> str:
    """Percent-normalise a path or pattern for octet comparison (RFC 9309 §2.2.2).

    `%XX` of an unreserved character is decoded, other escapes get upper-case hex, and
    octets outside printable ASCII are percent-encoded (as UTF-8).
    """
    if _ALREADY_NORMAL.fullmatch(text):  # the common case: nothing to change
        return text
    return _normalize(text)


@lru_cache(maxsize=65536)
def _normalize(text: str) -> str:
    raw = text.encode("utf-8", "surrogatepass")
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        byte = raw[i]
        if byte == 0x25 and i + 2 < n and raw[i + 1] in _HEX and raw[i + 2] in _HEX:
            value = int(raw[i + 1 : i + 3], 16)
            if value in _UNRESERVED:
                out.append(value)
            else:
                out += b"%" + raw[i + 1 : i + 3].upper()
            i += 3
            continue
        if byte in _KEEP:
            out.append(byte)
        else:
            out += b"%%%02X" % byte
        i += 1
    return out.decode("ascii")


class PathPattern:
    """A compiled robots-style pattern. `match(path)` takes a path from `urls.url_path`.

    Matched in linear time, never by a backtracking regex: with only `*` and a final `$`,
    taking each literal piece at its leftmost place after the previous one finds a match
    whenever there is one (a hostile `/*a*a*a*a*a*b` is as cheap as any other pattern)."""

    __slots__ = ("raw", "pattern", "length", "prefix", "literal", "anchored", "_middle",
                 "_tail")

    def __init__(self, raw: str) -> None:
        self.raw = raw
        pattern = normalize(raw.strip())
        self.pattern = pattern
        # "The most specific match is the match that has the most octets." (RFC 9309)
        self.length = len(pattern)
        anchored = pattern.endswith("$")
        body = pattern[:-1] if anchored else pattern
        self.anchored = anchored
        parts = body.split("*")
        # what every matching path starts with: all of a plain pattern, else up to a `*`
        self.literal = parts[0]
        # a plain pattern: a prefix test is enough
        self.prefix: str | None = body if len(parts) == 1 and not anchored else None
        # the pieces found left to right after `literal`, and with `$` the piece that must
        # end the path (None: "/exact$", the path is `literal` itself)
        if anchored:
            self._middle = tuple(p for p in parts[1:-1] if p)
            self._tail: str | None = parts[-1] if len(parts) > 1 else None
        else:
            self._middle = tuple(p for p in parts[1:] if p)
            self._tail = None

    def match(self, path: str) -> bool:
        if self.prefix is not None:
            return path.startswith(self.prefix)
        first = self.literal
        if not path.startswith(first):
            return False
        if self.anchored and self._tail is None:  # "/exact$"
            return len(path) == len(first)
        pos = len(first)
        for part in self._middle:
            found = path.find(part, pos)
            if found < 0:
                return False
            pos = found + len(part)
        tail = self._tail
        if tail is None:
            return True
        # "$": the last piece ends the path, after everything before it
        return len(path) - len(tail) >= pos and path.endswith(tail)

    def regex(self) -> str:
        """This pattern as a regex source that matches as `match` does, in linear time too:
        each piece is found at its leftmost place inside an atomic group, which the engine
        never backtracks into, and the last one (or the `$` tail) by one greedy `.*`, which
        only has to exist after them (used to test many wildcard rules in one C-level call).
        """
        head = re.escape(self.literal)
        if self.prefix is not None:
            return head
        if self.anchored and self._tail is None:
            return head + r"\Z"
        middle = [re.escape(part) for part in self._middle]
        if self._tail is not None:
            last = f".*{re.escape(self._tail)}\\Z"
        elif middle:
            last = f".*{middle.pop()}"
        else:
            last = ""
        return head + "".join(f"(?>.*?{part})" for part in middle) + last

    def __repr__(self) -> str:
        return f"PathPattern({self.raw!r})"
