"""W3C TDM Reservation Protocol (TDMRep), Community Group Final Report of 10 May 2024.

Four layers (file, header, HTML meta, EPUB/PDF metadata), combined as the report's
"Processing priority" section says:

  "A TDM Agent MUST check the presence of a TDM file on the origin server before it starts
  scraping the content [...]. The values of tdm-reservation and tdm-policy found in this
  header supercede any value inferred from a TDM file [...]. The values [...] found here
  [HTML meta] supercede previous values. A TDM Agent MUST check the presence of TDM Metadata
  in every EPUB or PDF file fetched from the Web server. The values of tdm:reservation and
  tdm:policy found here supercede previous values. At every step, the absence of
  tdm-reservation and tdm-policy MUST not reset current values."

(The EPUB and PDF layer is read by `signals/epub.py` and `signals/pdf.py`.)

Property values: "1: TDM rights are reserved", "0: TDM rights are not reserved", "Other values
are considered protocol errors. In such a case the TDM Agents MUST consider that
tdm-reservation is unset."

`/.well-known/tdmrep.json` is "an array of JSON objects; each object represents a rule" with
`location`, `tdm-reservation` and an optional `tdm-policy`; "The most specific match found MUST
be used. The most specific match is the first in sequence." (first match in array order, not
longest match). "If no match is found [...] tdm-reservation is unset". "Failure to provide
access to such a representation implies that the origin server does not implement this
protocol": 404, 5xx, timeouts and invalid files all leave the reservation unset.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..model import TDMREP_FILE, TDMREP_HEADER, TDMREP_META, Reason
from .patterns import PathPattern

WELL_KNOWN_PATH = "/.well-known/tdmrep.json"
MAX_TDMREP_BYTES = 1024 * 1024


@dataclass(frozen=True)
class TdmRule:
    """One rule of a tdmrep.json array, in file order."""

    index: int  # 1-based position in the array
    location: str
    pattern: PathPattern
    reservation: int | None  # None: protocol error (unset)
    policy: str | None
    raw_reservation: object = None

    def evidence(self) -> str:
        text = f'rule {self.index}: "location": {json.dumps(self.location)}, ' \
               f'"tdm-reservation": {json.dumps(self.raw_reservation)}'
        if self.policy:
            text += f', "tdm-policy": {json.dumps(self.policy)}'
        return text


@dataclass(frozen=True)
class TdmRepFile:
    """A fetched `/.well-known/tdmrep.json`: its rules, or why there are none."""

    url: str
    rules: tuple[TdmRule, ...] = ()
    present: bool = False  # a successful response carried a file
    problems: tuple[str, ...] = field(default=())  # invalid file or rules, for evidence
    detail: str = ""  # "HTTP 404", "timeout", ...
    unreachable: bool = False  # a server or network error, not an answer (5xx, 429, timeout)

    @classmethod
    def parse(cls, url: str, body: bytes) -> TdmRepFile:
        if len(body) > MAX_TDMREP_BYTES:
            return cls(url, present=True, detail="too large",
                       problems=(f"file larger than {MAX_TDMREP_BYTES} bytes; ignored",))
        try:
            data = json.loads(body.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as exc:
            return cls(url, present=True, problems=(f"invalid JSON: {exc}",))
        except RecursionError:
            # valid JSON, perhaps, but nested deeper than the parser goes: not "no file"
            # (a rule could sit beside the nesting), so read as a file that could not be read
            return cls(url, present=True, unreachable=True,
                       detail="nested too deeply to be read",
                       problems=("JSON nested too deeply to be read",))
        if not isinstance(data, list):
            kind = type(data).__name__.replace("dict", "object")
            return cls(url, present=True, problems=(
                f"top level is a JSON {kind}, not an array of rules "
                "(the report: 'brackets are mandatory even if you express only one rule')",))
        rules, problems = [], []
        for index, item in enumerate(data, start=1):
            rule, problem = _parse_rule(index, item)
            if rule is not None:
                rules.append(rule)
            if problem:
                problems.append(problem)
        return cls(url, tuple(rules), True, tuple(problems))

    @classmethod
    def from_response(cls, url: str, status: int | None, body: bytes | None,
                      error: str | None = None) -> TdmRepFile:
        if error is not None:
            return cls(url, detail=error, unreachable=True)
        if status is None or not 200 <= status < 300:
            return cls(url, detail=f"HTTP {status}" if status else "no response",
                       unreachable=status is None or status >= 500 or status == 429)
        return cls.parse(url, body or b"")

    def match(self, path: str) -> TdmRule | None:
        """The first rule, in array order, whose location matches `path`."""
        for rule in self.rules:
            if rule.pattern.match(path):
                return rule
        return None


def _parse_rule(index: int, item: object) -> tuple[TdmRule | None, str | None]:
    if not isinstance(item, dict):
        return None, f"rule {index}: not a JSON object; skipped"
    location = item.get("location")
    if not isinstance(location, str) or not location.strip():
        return None, f"rule {index}: missing or empty \"location\"; skipped"
    location = location.strip()
    if not location.startswith(("/", "*")):
        return None, f"rule {index}: location {json.dumps(location)} is not a path pattern; skipped"
    raw = item.get("tdm-reservation")
    # A JSON number 0 or 1 (JSON has one number type: 1.0 and 1e0 are the number 1);
    # booleans, strings ("1") and other numbers are protocol errors.
    reservation = int(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) \
        and raw in (0, 1) else None
    policy = item.get("tdm-policy")
    policy = policy.strip() if isinstance(policy, str) and policy.strip() else None
    rule = TdmRule(index, location, PathPattern(location), reservation, policy, raw)
    problem = None
    if reservation is None:
        problem = (f"rule {index}: \"tdm-reservation\": {json.dumps(raw)} is not 0 or 1 "
                   "(protocol error: unset)")
    return rule, problem


@dataclass(frozen=True)
class LayerValue:
    """What one layer (header or meta) says: a reservation and a policy, each maybe absent."""

    reservation: int | None
    policy: str | None
    evidence: str
    invalid: str | None = None  # the raw value when it was a protocol error


def _combine_values(values: list[str]) -> tuple[int | None, str | None]:
    """Several tdm-reservation values (repeated fields, comma lists, several metas).

    The report is silent; we read them conservatively: any valid `1` reserves, all `0`
    means not reserved, and only invalid values leave the property unset.
    """
    cleaned = [v.strip() for value in values for v in value.split(",")]
    valid = {v for v in cleaned if v in ("0", "1")}
    invalid = [v for v in cleaned if v not in ("0", "1")]
    if "1" in valid:
        return 1, None
    if "0" in valid:
        return 0, None
    return None, ", ".join(invalid) if invalid else None


def _layer(pairs: Iterable[tuple[str, str]], reservation_text: str, policy_text: str,
           sep: str) -> LayerValue | None:
    """One layer from (lower-cased name, value) pairs; the texts format the evidence."""
    reservations, policies = [], []
    for name, value in pairs:
        if name == "tdm-reservation":
            reservations.append(value)
        elif name == "tdm-policy" and value.strip():
            policies.append(value.strip())
    if not reservations and not policies:
        return None
    reservation, invalid = _combine_values(reservations)
    parts = [reservation_text.format(v) for v in reservations]
    parts += [policy_text.format(p) for p in policies]
    return LayerValue(reservation, policies[0] if policies else None, sep.join(parts), invalid)


def header_layer(headers: Iterable[tuple[str, str]]) -> LayerValue | None:
    """`tdm-reservation` / `tdm-policy` response headers (field names are case-insensitive)."""
    return _layer(((n.strip().lower(), v.strip()) for n, v in headers),
                  "tdm-reservation: {}", "tdm-policy: {}", "; ")


def meta_layer(metas: Iterable[tuple[str, str]]) -> LayerValue | None:
    """`<meta name="tdm-reservation">` / `<meta name="tdm-policy">` (names compared ASCII
    case-insensitively, as HTML does: `html.scan_head` lower-cases them)."""
    return _layer(metas, '<meta name="tdm-reservation" content="{}">',
                  '<meta name="tdm-policy" content="{}">', " ")


def document_layer(pairs: Iterable[tuple[str, str]], reservation_text: str,
                   policy_text: str) -> LayerValue | None:
    """The last layer: `tdm:reservation` / `tdm:policy` inside an EPUB or PDF, as
    ("tdm-reservation" | "tdm-policy", value) pairs (`signals/epub.py`, `signals/pdf.py`)."""
    return _layer(pairs, reservation_text, policy_text, " ")


def layered_reasons(
    url: str,
    file: TdmRepFile | None,
    path: str,
    header: LayerValue | None,
    meta: LayerValue | None,
    document: tuple[str, str, LayerValue] | None = None,
) -> tuple[list[Reason], str | None]:
    """Combine the layers (file, header, meta, then the EPUB/PDF metadata as
    (signal, source, value): "The values of tdm:reservation and tdm:policy found here
    supercede previous values"); return one reason per layer that spoke, and the effective
    `tdm-policy` (surfaced only when the effective reservation is 1, since with 0 "TDM agents
    SHOULD NOT process tdm-policy").

    Only the layer that set the final reservation carries `reserved=True`; earlier layers it
    overrode are kept as evidence with a note.
    """
    if header is None and meta is None and document is None and (file is None or (not file.rules
                                                              and not file.problems)):
        return [], None
    layers: list[tuple[str, str, LayerValue]] = []
    if file is not None:
        if file.present and file.problems and not file.rules:
            layers.append((TDMREP_FILE, file.url, LayerValue(None, None, "; ".join(
                file.problems), invalid="file")))
        rule = file.match(path)
        if rule is not None:
            layers.append((TDMREP_FILE, file.url, LayerValue(
                rule.reservation, rule.policy, rule.evidence(),
                invalid=None if rule.reservation is not None else str(rule.raw_reservation))))
    if header is not None:
        layers.append((TDMREP_HEADER, url, header))
    if meta is not None:
        layers.append((TDMREP_META, url, meta))
    if document is not None:
        layers.append(document)

    reservation: int | None = None
    policy: str | None = None
    decider: int | None = None
    for i, (_, _, value) in enumerate(layers):
        if value.reservation is not None:
            reservation, decider = value.reservation, i
        if value.policy:
            policy = value.policy
    reasons = []
    for i, (signal, source, value) in enumerate(layers):
        note = None
        if value.invalid is not None and value.reservation is None:
            note = "protocol error: tdm-reservation must be 0 or 1; treated as unset"
            if value.invalid == "file":
                note = "invalid tdmrep.json: treated as absent (reservation unset)"
        elif value.reservation is not None and i != decider:
            later = layers[decider][0] if decider is not None else "a later layer"
            note = f"superseded by {later}"
        reserved = i == decider and reservation == 1
        reasons.append(Reason(
            signal, reserved, source, value.evidence, note=note,
            policy=value.policy if reserved else None,
            contacts=(value.policy,) if reserved and value.policy else (),
        ))
    return reasons, (policy if reservation == 1 else None)
