"""RSL 1.0, Really Simple Licensing (RSL-SPEC-1.0, Recommendation, 2025-11-06).

Discovery (each gives the absolute URL of an `application/rsl+xml` document):
- robots.txt `License: <absoluteURL>`, "global (not tied to any specific user agent)": read
  by `signals/robots.py` as a record outside every group (RFC 9309 §2.2.4, "other records");
- the response header `Link: <…>; rel="license"; type="application/rsl+xml"`;
- HTML `<link rel="license" type="application/rsl+xml" href="…">`, or the document inline in
  `<script type="application/rsl+xml">` (`signals/html.py` collects both).

The document: `<rsl xmlns="https://rslstandard.org/rsl">` holds `<content url="…">`
elements; `url` "must be either a full URL, or a path on the server [...] that follows the
URL-matching rules of the Robots Exclusion Protocol (RFC 9309), including support for the
special characters * [...] and $" (matched with `signals/patterns.py`). `server`: "if this
attribute is present, clients must obtain a license for this asset, even if the license is
free." Each `<license>` has `<permits>`/`<prohibits>` of `type="usage"` with the tokens
`all`, `ai-all`, `ai-train`, `ai-input`, `ai-index`, `search` (`all` covers `ai-all` and
`search`; `ai-all` covers `ai-train`, `ai-input` and `ai-index`), and `<payment type="…">`
(purchase, subscription, training, crawl, use, contribution, attribution, free; absent:
free) with `<standard>`/`<custom>` rate-card URLs and `<amount>`.

How a document is read for one URL (docs/standards.md; the choices are marked):
- The `<content>` whose pattern matches with the most octets applies (RFC 9309's "most
  specific match"); *choice:* equally long matches combine, most restrictively. A full-URL
  pattern matches on the host (any scheme, default ports) and then on the path.
- Per licence: prohibited usages are reserved ("prohibits win"); where a `permits
  type="usage"` list exists, every usage it does not permit is reserved; a permitted usage
  that needs a licence (a `server`, or a payment other than `free` or `attribution`) is
  reserved until the team holds one ("licence required"), with the server, the rate cards
  and the contacts as whom to ask. *Choice:* several `<license>` elements reserve a purpose
  when any of them does (the user and geo terms that would choose between them are not
  known to a crawler; they are quoted in the note).
- The legacy `train-ai` spelling of early RSL guides reads as `ai-train`; unknown tokens are
  ignored and named in the note. Purposes: `ai-train` → train; `ai-input` and `ai-index`
  (an index for AI applications) → input; `search` → search; `all` → every purpose.
- Parsed with defusedxml (no DTD, no entities, no external fetches), from at most 1 MiB; a
  document that cannot be read is listed in `unchecked` (and, with `--fail-closed`, reserves).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from ..model import ALL_PURPOSES, RSL, Purpose, Reason
from .patterns import PathPattern

RSL_NS = "https://rslstandard.org/rsl"
RSL_TYPE = "application/rsl+xml"
MAX_RSL_BYTES = 1024 * 1024
MAX_DOCUMENTS = 8  # licence documents read per URL (robots.txt, Link, HTML together)
MAX_CONTENTS = 1000
MAX_LICENSES = 50
USAGE: dict[str, frozenset[Purpose]] = {
    "all": ALL_PURPOSES,
    "ai-all": frozenset({Purpose.TRAIN, Purpose.INPUT}),
    "ai-train": frozenset({Purpose.TRAIN}),
    "ai-input": frozenset({Purpose.INPUT}),
    "ai-index": frozenset({Purpose.INPUT}),
    "search": frozenset({Purpose.SEARCH}),
}
LEGACY = {"train-ai": "ai-train"}
FREE_PAYMENTS = frozenset({"free", "attribution"})
_NAMED = (Purpose.TRAIN, Purpose.INPUT, Purpose.SEARCH)


@dataclass(frozen=True)
class RslLicence:
    """One `<license>` element, as read."""

    permits: tuple[str, ...] | None  # usage tokens; None: no `permits type="usage"`
    prohibits: tuple[str, ...]
    payment: str | None  # payment type; None: no payment element (free)
    rate_cards: tuple[str, ...] = ()  # <standard>/<custom> URLs
    amounts: tuple[str, ...] = ()
    other_terms: tuple[str, ...] = ()  # permits/prohibits of type user or geo
    unknown: tuple[str, ...] = ()
    contacts: tuple[str, ...] = ()
    evidence: str = ""


@dataclass(frozen=True)
class RslContent:
    """One RSL `<content>` element: the URLs it covers and their licences."""

    url: str
    server: str | None
    licences: tuple[RslLicence, ...]
    contacts: tuple[str, ...] = ()
    host: str | None = None  # a full-URL pattern's host
    pattern: PathPattern | None = None


@dataclass(frozen=True)
class RslDocument:
    """A fetched (or inline) RSL document: its contents, or why it could not be read."""

    url: str
    contents: tuple[RslContent, ...] = ()
    problem: str | None = None  # unreadable: not fetched, not XML, not RSL...
    notes: tuple[str, ...] = ()

    @classmethod
    def from_response(cls, url: str, status: int | None, body: bytes | None,
                      error: str | None = None) -> RslDocument:
        if error is not None:
            return cls(url, problem=f"unreachable ({error})")
        if status is None or not 200 <= status < 300:
            return cls(url, problem=f"HTTP {status}" if status else "no response")
        return cls.parse(url, body or b"")

    @classmethod
    def parse(cls, url: str, body: bytes | str) -> RslDocument:
        if isinstance(body, str):
            body = body.encode("utf-8", "replace")
        if len(body) > MAX_RSL_BYTES:
            return cls(url, problem=f"larger than {MAX_RSL_BYTES} bytes; not read")
        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import ParseError, fromstring

        try:
            root = fromstring(body, forbid_dtd=True)
        except DefusedXmlException as exc:
            return cls(url, problem=f"refused: {type(exc).__name__} (DTDs and entities are "
                                    "never expanded)")
        except (ParseError, ValueError, UnicodeError, RecursionError) as exc:
            return cls(url, problem=f"not well-formed XML ({exc})")
        ns, name = _split(root.tag)
        if name != "rsl":
            return cls(url, problem=f"root element <{name}> is not <rsl>")
        notes = []
        if ns != RSL_NS:
            notes.append(f"namespace {ns or '(none)'} is not {RSL_NS}; read as RSL")
        contents = []
        for element in list(root)[:MAX_CONTENTS]:
            if _split(element.tag)[1] == "content":
                content = _content(url, element)
                if content is not None:
                    contents.append(content)
        if not contents:
            return cls(url, problem="no <content url=…> element", notes=tuple(notes))
        return cls(url, tuple(contents), notes=tuple(notes))

    def match(self, url: str, path: str) -> list[RslContent]:
        """The `<content>` elements that apply to `url`: the longest matching pattern(s)."""
        host = _host(url)
        best: list[RslContent] = []
        length = -1
        for content in self.contents:
            if content.pattern is None or (content.host is not None and content.host != host):
                continue
            if content.pattern.match(path):
                if content.pattern.length > length:
                    best, length = [content], content.pattern.length
                elif content.pattern.length == length:
                    best.append(content)
        return best


def _split(tag: object) -> tuple[str, str]:
    if not isinstance(tag, str):
        return "", ""
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def _host(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
        port = parts.port
    except ValueError:
        return ""
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return host + (f":{port}" if port and port != default else "")


def _text(element) -> str:
    return " ".join((element.text or "").split())


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[\s,]+", text.strip().lower()) if t]


def _contacts(element) -> list[str]:
    out = []
    for child in element:
        if _split(child.tag)[1] == "copyright":
            email = child.attrib.get("contactEmail", "").strip()
            if email:
                out.append(email if email.startswith("mailto:") else f"mailto:{email}")
            if child.attrib.get("contactUrl", "").strip():
                out.append(child.attrib["contactUrl"].strip())
        elif _split(child.tag)[1] == "terms" and _text(child):
            out.append(_text(child))
    return out


def _content(doc_url: str, element) -> RslContent | None:
    raw = element.attrib.get("url", "").strip()
    if not raw:
        return None
    host: str | None = None
    pattern_text = raw
    if "://" in raw:
        host = _host(raw.replace("*", "x"))
        split = raw.split("://", 1)[1]
        pattern_text = "/" + split.split("/", 1)[1] if "/" in split else "/"
    elif not raw.startswith(("/", "*")):
        pattern_text = "/" + raw
    server = element.attrib.get("server", "").strip() or None
    licences = []
    for child in list(element)[:MAX_LICENSES * 4]:
        if _split(child.tag)[1] == "license" and len(licences) < MAX_LICENSES:
            licences.append(_licence(child))
    contacts = _contacts(element)
    return RslContent(raw, server, tuple(licences), tuple(contacts), host,
                      PathPattern(pattern_text))


def _licence(element) -> RslLicence:
    permits: list[str] | None = None
    prohibits: list[str] = []
    payment: str | None = None
    cards: list[str] = []
    amounts: list[str] = []
    other: list[str] = []
    unknown: list[str] = []
    shown: list[str] = []
    for child in element:
        name = _split(child.tag)[1]
        kind = child.attrib.get("type", "usage").strip().lower()
        if name in ("permits", "prohibits"):
            text = _text(child)
            shown.append(f'<{name} type="{kind}">{text}</{name}>')
            if kind != "usage":
                other.append(f"{name} {kind}: {text}")
                continue
            tokens = []
            for token in _tokens(text):
                token = LEGACY.get(token, token)
                (tokens if token in USAGE else unknown).append(token)
            if name == "prohibits":
                prohibits += tokens
            else:
                permits = (permits or []) + tokens
        elif name == "payment":
            payment = kind or "free"
            shown.append(f'<payment type="{payment}">')
            for item in child:
                item_name = _split(item.tag)[1]
                if item_name in ("standard", "custom") and _text(item):
                    cards.append(_text(item))
                elif item_name == "amount" and _text(item):
                    amounts.append(f"{_text(item)} {item.attrib.get('currency', '')}".strip())
    return RslLicence(tuple(permits) if permits is not None else None, tuple(prohibits), payment,
                   tuple(cards), tuple(amounts), tuple(other), tuple(unknown),
                   tuple(_contacts(element)), " ".join(shown))


def _expand(tokens: tuple[str, ...]) -> frozenset[Purpose]:
    out: set[Purpose] = set()
    for token in tokens:
        out |= USAGE[token]
    return frozenset(out)


def _reserved(licence: RslLicence, server: str | None) -> tuple[frozenset[Purpose], bool]:
    """(reserved purposes, whether a licence is required for what is permitted)."""
    reserved = set(_expand(licence.prohibits))
    if licence.permits is not None:
        permitted = _expand(licence.permits)
        # (not `tdm` itself: a reason naming tdm binds every purpose; a tdm crawler is
        # bound by every reason anyway)
        reserved |= {p for p in _NAMED if p not in permitted}
    needs_licence = server is not None or (licence.payment is not None
                                           and licence.payment not in FREE_PAYMENTS)
    if needs_licence:
        reserved |= set(ALL_PURPOSES)
    return frozenset(reserved), needs_licence


def document_reasons(doc: RslDocument, url: str, path: str) -> list[Reason]:
    """What one RSL document says for `url`: a reserving reason for the reserved purposes
    and a non-reserving one for the others (nothing when no `<content>` matches)."""
    if doc.problem is not None:
        return []
    out = []
    for content in doc.match(url, path):
        reserved: set[Purpose] = set()
        notes: list[str] = list(doc.notes)
        contacts: list[str] = []
        if content.server:
            contacts.append(content.server)
            notes.append(f"server {content.server}: clients must obtain a licence from it, "
                         "even if the licence is free")
        if not content.licences:
            notes.append("no <license> element: states nothing")
        for licence in content.licences:
            purposes, needs = _reserved(licence, content.server)
            reserved |= purposes
            if licence.payment:
                terms = licence.payment + (f" {', '.join(licence.amounts)}"
                                           if licence.amounts else "")
                if licence.rate_cards:
                    terms += f" ({', '.join(licence.rate_cards)})"
                notes.append(f"payment: {terms}")
            if needs and licence.permits:
                notes.append(f"licence required for the permitted usages "
                             f"({' '.join(licence.permits)})")
            if licence.other_terms:
                notes.append("other terms: " + "; ".join(licence.other_terms))
            if licence.unknown:
                notes.append("unknown usage tokens ignored: " + " ".join(licence.unknown))
            contacts += list(licence.rate_cards) + list(licence.contacts)
        contacts += list(content.contacts)
        contacts = list(dict.fromkeys(contacts))
        body = " ".join(lic.evidence for lic in content.licences) or "(no licence terms)"
        server = f' server="{content.server}"' if content.server else ""
        evidence = f'<content url="{content.url}"{server}>: {body}'
        note = "; ".join(dict.fromkeys(notes)) or None
        if reserved:
            out.append(Reason(RSL, True, doc.url, evidence, purposes=frozenset(reserved),
                              note=note, contacts=tuple(contacts)))
        open_purposes = frozenset(p for p in _NAMED if p not in reserved)
        if open_purposes:
            out.append(Reason(RSL, False, doc.url, evidence, purposes=open_purposes,
                              note=note, contacts=tuple(contacts)))
    return out


def link_header_urls(base: str, headers: list[tuple[str, str]]) -> list[str]:
    """`Link: <…>; rel="license"; type="application/rsl+xml"` targets (RFC 8288), absolute."""
    out = []
    for name, value in headers:
        if name.strip().lower() != "link":
            continue
        for target, params in _links(value):
            rels = params.get("rel", "").lower().split()
            if "license" in rels and params.get("type", "").lower() == RSL_TYPE:
                out.append(urljoin(base, target))
    return out


_LINK = re.compile(r'\s*<([^>]*)>((?:\s*;\s*[^;,"]+(?:=(?:"[^"]*"|[^;,]*))?)*)\s*(?:,|$)')
_PARAM = re.compile(r';\s*([^=;,\s]+)\s*(?:=\s*(?:"([^"]*)"|([^;,]*)))?')


def _links(value: str) -> list[tuple[str, dict[str, str]]]:
    out = []
    pos = 0
    while pos < len(value) and len(out) < 100:
        m = _LINK.match(value, pos)
        if m is None or m.end() == pos:
            break
        params = {p.group(1).lower(): (p.group(2) if p.group(2) is not None else
                                       (p.group(3) or "")).strip()
                  for p in _PARAM.finditer(m.group(2))}
        out.append((m.group(1).strip(), params))
        pos = m.end()
    return out


def html_link_urls(base: str, links: list[dict[str, str]]) -> list[str]:
    """`<link rel="license" type="application/rsl+xml" href="…">` targets, absolute."""
    return [urljoin(base, link["href"].strip()) for link in links
            if "license" in link.get("rel", "").lower().split()
            and link.get("type", "").strip().lower() == RSL_TYPE and link.get("href", "").strip()]


def robots_licence_urls(robots_url: str, values: list[str]) -> list[str]:
    """robots.txt `License:` values as absolute URLs (a relative one is resolved against
    robots.txt: the guide asks for absolute URLs; reading it can only make us more careful)."""
    return [urljoin(robots_url, v.strip()) for v in values if v.strip()]




def licence_reasons(url: str, path: str, docs: list[RslDocument],
                    fail_closed: bool = False) -> tuple[list[Reason], list[str]]:
    """Every document's reasons for `url` (each document once, by URL), and an `unchecked`
    line for each that could not be read (a reservation instead, with `fail_closed`)."""
    reasons: list[Reason] = []
    unchecked: list[str] = []
    seen: set[str] = set()
    for doc in docs:
        if doc.url in seen:
            continue
        seen.add(doc.url)
        if doc.problem is None:
            reasons += document_reasons(doc, url, path)
        elif fail_closed:
            reasons.append(Reason(RSL, True, doc.url, f"RSL licence document {doc.problem}",
                                  note="fail-closed: an unreadable licence document is read "
                                       "as a reservation"))
        else:
            unchecked.append(f"rsl: licence document {doc.url}: {doc.problem}")
    return reasons, unchecked
