"""IPTC Photo Metadata / PLUS "Data Mining" (`plus:DataMining`) in a file's XMP.

IPTC Photo Metadata Standard 2023.1 (and Video Metadata Hub 1.5): "Data Mining: Prohibition
of the use of the image for Data Mining, such as for AI/ML training", XMP property
`plus:DataMining` of the PLUS License Data Format namespace
`http://ns.useplus.org/ldf/xmp/1.0/`, one value of the PLUS vocabulary
`http://ns.useplus.org/ldf/vocab/DMI-…`; the human-readable terms go in `plus:OtherConstraints`.

What each value reserves (docs/standards.md; tdm-guard's purposes):

| PLUS value | meaning (PLUS) | reserved purposes |
|---|---|---|
| DMI-UNSPECIFIED | "Unspecified - no prohibition defined" | none |
| DMI-ALLOWED | "Allowed" | none |
| DMI-PROHIBITED-AIMLTRAINING | "Prohibited for AI/ML training" | train |
| DMI-PROHIBITED-GENAIMLTRAINING | "Prohibited for Generative AI/ML training" | train |
| DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING | "Prohibited except for search engine indexing" |
|   | | train, input (search stays open) |
| DMI-PROHIBITED | "Prohibited" | every purpose |
| DMI-PROHIBITED-SEECONSTRAINT | "Prohibited, see plus:OtherConstraints" | every purpose |
| DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR | "Prohibited, see embedded rights expression" | all |
| DMI-PROHIBITED-SEELINKEDRIGHTSEXPR | "Prohibited, see linked rights expression" | every purpose |

Choices where the vocabulary is silent: tdm-guard's `train` does not tell generative from
other training, so GENAIMLTRAINING reserves `train` (the cautious reading); the SEE… values
reserve everything, with a note quoting `plus:OtherConstraints` or naming the rights
expression, since the constraint they point to may allow some use only a person can read;
an unknown value starting with DMI-PROHIBITED reserves everything, any other unknown value
reserves nothing and is reported. Values match on the part after the last `/`, case
insensitively; the bare key and ExifTool's labels ("Prohibited for AI/ML training") are
accepted too.
"""

from __future__ import annotations

from ..model import ALL_PURPOSES, IPTC, TRAIN, Purpose, Reason
from .xmp import XmpPacket

PLUS_NS = "http://ns.useplus.org/ldf/xmp/1.0/"
IPTC_EXT_NS = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
VOCAB = "http://ns.useplus.org/ldf/vocab/"
NONE: frozenset[Purpose] = frozenset()
EXCEPT_SEARCH = frozenset({Purpose.TRAIN, Purpose.INPUT})

# value key -> (reserved purposes, PLUS label)
PLUS_VALUES: dict[str, tuple[frozenset[Purpose], str]] = {
    "DMI-UNSPECIFIED": (NONE, "Unspecified - no prohibition defined"),
    "DMI-ALLOWED": (NONE, "Allowed"),
    "DMI-PROHIBITED-AIMLTRAINING": (TRAIN, "Prohibited for AI/ML training"),
    "DMI-PROHIBITED-GENAIMLTRAINING": (TRAIN, "Prohibited for Generative AI/ML training"),
    "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING": (
        EXCEPT_SEARCH, "Prohibited except for search engine indexing"),
    "DMI-PROHIBITED": (ALL_PURPOSES, "Prohibited"),
    "DMI-PROHIBITED-SEECONSTRAINT": (ALL_PURPOSES, "Prohibited, see plus:OtherConstraints"),
    "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR": (
        ALL_PURPOSES, "Prohibited, see embedded rights expression"),
    "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR": (
        ALL_PURPOSES, "Prohibited, see linked rights expression"),
}
_LABELS = {label.lower(): key for key, (_, label) in PLUS_VALUES.items()}


def plus_key(value: str) -> str | None:
    """The PLUS vocabulary key a value names (full URI, bare key or ExifTool label)."""
    text = value.strip()
    key = text.rsplit("/", 1)[-1].strip().upper()
    if key in PLUS_VALUES:
        return key
    return _LABELS.get(text.lower())


def data_mining_reasons(source: str, packet: XmpPacket, where: str) -> list[Reason]:
    """One reason per `plus:DataMining` value in the packet (none when the property is absent:
    absence means nothing, metadata is routinely stripped)."""
    found = packet.get(PLUS_NS, "DataMining")
    found += [p for p in packet.get(IPTC_EXT_NS, "DataMining")]
    reasons = []
    for prop in found:
        prefix = "plus" if prop.namespace == PLUS_NS else "Iptc4xmpExt"
        evidence = f"{where}: {prop.describe(prefix)}"
        key = plus_key(prop.value)
        notes = []
        if packet.tolerant:
            notes.append(f"read with a tolerant scan: {packet.problem}")
        if prop.namespace != PLUS_NS:
            notes.append("legacy Iptc4xmpExt namespace, read as plus:DataMining")
        if key is None:
            if prop.value.strip().upper().rsplit("/", 1)[-1].startswith("DMI-PROHIBITED"):
                purposes, reserved = ALL_PURPOSES, True
                notes.append("not a PLUS vocabulary value, but a prohibition: read as "
                             "DMI-PROHIBITED")
            else:
                purposes, reserved = ALL_PURPOSES, False
                notes.append("not a PLUS vocabulary value: states nothing")
        else:
            purposes, label = PLUS_VALUES[key]
            reserved = bool(purposes)
            if not reserved:
                purposes = ALL_PURPOSES
                notes.append(f"{label}: reserves nothing")
            elif key.startswith("DMI-PROHIBITED-SEE"):
                notes.append(_see_note(key, packet))
        reasons.append(Reason(IPTC, reserved, source, evidence, purposes=purposes,
                              note="; ".join(notes) or None))
    return reasons


def _see_note(key: str, packet: XmpPacket) -> str:
    if key == "DMI-PROHIBITED-SEECONSTRAINT":
        other = packet.get(PLUS_NS, "OtherConstraints")
        text = other[0].value[:300] if other and other[0].value else "(absent)"
        return f"the terms are in plus:OtherConstraints: {text}"
    name = "EmbdEncRightsExpr" if key.endswith("EMBEDDEDRIGHTSEXPR") else "LinkedEncRightsExpr"
    expr = packet.get(IPTC_EXT_NS, name)
    text = expr[0].value[:300] if expr and expr[0].value else "(absent)"
    return f"the terms are in the rights expression Iptc4xmpExt:{name}: {text}"
