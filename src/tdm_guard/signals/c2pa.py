"""C2PA / CAWG training-and-data-mining assertions, read with the C2PA SDK (`c2pa-python`).

CAWG Training and Data Mining Assertion 1.1 (ratified 2025-05-16), label
`cawg.training-mining`: entries `cawg.ai_training`, `cawg.ai_generative_training`,
`cawg.ai_inference` and `cawg.data_mining`, each with `use` "allowed", "notAllowed" or
"constrained": "In the absence of additional information, `constrained` shall be treated as
equivalent to `notAllowed`." C2PA 1.x had the same assertion as `c2pa.training-mining` with
`c2pa.*` entries (removed in C2PA 2.0); both are read.

Manifests are read by the SDK only, never by hand (JUMBF parsing is the SDK's job), with
remote-manifest and OCSP fetches switched off (a reader is sans-IO). The evidence names the
manifest, the assertion, the entry and its value, and the note says how the manifest
validated: `Trusted` (signer on the configured trust list), `Valid` (signature and bindings
verify; signer not on a trust list), `Invalid` (a signature or hash does not verify).

Decisions where the standards leave it to the reader (docs/standards.md):
- An unsigned, untrusted or invalid manifest still states the rights holder's wish: a
  `notAllowed` reserves whatever the validation state, and the state is in the note. (A
  forged "allowed" cannot open anything either: `allowed` never lifts another signal.)
- `constrained` reserves even with constraint information: the constraints are for a person
  to read, and the note quotes them.
- An unknown `use` value reads as `notAllowed`.
- Only the active manifest speaks for the asset; ingredients' manifests speak for the
  ingredients.
- Purposes: ai_training and ai_generative_training → train; ai_inference → input;
  data_mining → every purpose (it is the umbrella, as TDM is).
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field

from ..model import ALL_PURPOSES, C2PA, Purpose, Reason
from .xmp import INSTALL_HINT

ASSERTION_LABELS = ("cawg.training-mining", "c2pa.training-mining")
ENTRY_PURPOSES: dict[str, frozenset[Purpose]] = {
    "ai_training": frozenset({Purpose.TRAIN}),
    "ai_generative_training": frozenset({Purpose.TRAIN}),
    "ai_inference": frozenset({Purpose.INPUT}),
    "data_mining": ALL_PURPOSES,
}
_URL = re.compile(r"https?://\S+")


@dataclass
class C2paResult:
    reasons: list[Reason] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    present: bool = False  # the file carries a manifest store


def available() -> bool:
    try:
        import c2pa  # noqa: F401
    except ImportError:
        return False
    return True


def manifest_reasons(source: str, data: bytes, mime: str, partial: bool = False,
                     trust_anchors: str | None = None) -> C2paResult:
    """The training-mining entries of the active manifest in `data` (never raises).

    `partial`: `data` is the first part of a larger file, so hashes cannot verify.
    `trust_anchors`: PEM certificates whose signers read as `Trusted`.
    """
    result = C2paResult()
    try:
        import c2pa
    except ImportError:
        result.unchecked.append(f"c2pa: {INSTALL_HINT}")
        return result
    settings: dict = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if trust_anchors:
        settings["trust"] = {"trust_anchors": trust_anchors}
    try:
        context = c2pa.Context.from_dict(settings)
        reader = c2pa.Reader.try_create(mime or None, io.BytesIO(data), context=context)
        if reader is None:
            return result
        with reader:
            store = json.loads(reader.json())
    except Exception as exc:  # noqa: BLE001 - the SDK's errors, or a native failure
        text = str(exc).replace("\n", " ")[:300]
        if "remote" in text.lower():
            url = _URL.search(text)
            result.present = True
            result.unchecked.append(
                "c2pa: the file refers to a remote manifest"
                + (f" ({url.group(0)})" if url else "") + " that is not fetched")
        elif "could not be parsed" in text or "not supported" in text.lower():
            hint = " (only the first part of the file was read)" if partial else ""
            result.unchecked.append(f"c2pa: the {mime or 'file'} container could not be read "
                                    f"by the C2PA SDK ({text}){hint}")
        else:
            result.unchecked.append(f"c2pa: manifest could not be read ({type(exc).__name__}: "
                                    f"{text})")
        return result
    result.present = True
    manifests = store.get("manifests") if isinstance(store, dict) else None
    active = store.get("active_manifest") if isinstance(store, dict) else None
    if not isinstance(manifests, dict) or active not in manifests:
        result.unchecked.append("c2pa: manifest store without an active manifest")
        return result
    state = _state_note(store, partial)
    before = len(result.reasons)
    for assertion in manifests[active].get("assertions") or []:
        if not isinstance(assertion, dict):
            continue
        label = str(assertion.get("label", "")).split("__")[0]
        if label not in ASSERTION_LABELS:
            continue
        entries = (assertion.get("data") or {}).get("entries") or {}
        if not isinstance(entries, dict):
            continue
        for key, entry in list(entries.items())[:50]:
            result.reasons.append(_entry_reason(source, active, label, str(key), entry, state))
    if len(result.reasons) == before:
        result.reasons.append(Reason(C2PA, False, source, f"C2PA manifest {active}: no "
                                     "training-mining assertion", note=state))
    return result


def _entry_reason(source: str, manifest: str, label: str, key: str, entry: object,
                  state: str) -> Reason:
    name = key.split(".", 1)[-1]
    use = entry.get("use") if isinstance(entry, dict) else None
    info = None
    if isinstance(entry, dict):
        info = entry.get("constraint_info", entry.get("constraints_info"))
    evidence = f"C2PA manifest {manifest}, assertion {label}: {key} use={json.dumps(use)}"
    purposes = ENTRY_PURPOSES.get(name)
    notes = [state]
    if purposes is None:
        notes.append("a custom entry: not a standard purpose; not read")
        return Reason(C2PA, False, source, evidence, note="; ".join(notes))
    if state.startswith("manifest Invalid") or state.startswith("manifest unvalidated"):
        notes.append("the manifest does not validate: a reservation it states counts all "
                     "the same, an allowance never lifts another signal")
    if use == "allowed":
        reserved = False
    elif use == "notAllowed":
        reserved = True
    elif use == "constrained":
        reserved = True
        if info:
            evidence += f", constraint_info={json.dumps(info)[:300]}"
            notes.append("constrained: reserved until a person has read the constraints")
        else:
            notes.append("constrained without constraint information: equivalent to "
                         "notAllowed (CAWG 1.1)")
    else:
        reserved = True
        notes.append("not allowed, notAllowed or constrained: read as notAllowed")
    return Reason(C2PA, reserved, source, evidence, purposes=purposes, note="; ".join(notes))


def _state_note(store: dict, partial: bool) -> str:
    state = store.get("validation_state") or "unvalidated"
    codes: list[str] = []
    for item in store.get("validation_status") or []:
        if isinstance(item, dict) and item.get("code"):
            codes.append(str(item["code"]))
    shown = f" ({', '.join(codes[:5])})" if codes else ""
    if partial:
        return (f"manifest state {state}{shown} on a partial download: hashes over the whole "
                "file cannot verify; a stated wish counts whatever the state")
    if state == "Trusted":
        return "manifest Trusted: signature verifies and the signer is on the trust list"
    if state == "Valid":
        return f"manifest Valid{shown}: signature verifies; the signer is on no trust list"
    return f"manifest {state}{shown}"
