"""The output formats of `tdm-guard audit`: text, JSON, GitHub workflow annotations, JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from ..fetching.checker import Outcome
from ..model import Reason

if TYPE_CHECKING:
    from .audit import AuditResult, Seed


def state(outcome: Outcome) -> str:
    """INVALID (not checked), BLOCKED (robots.txt forbids fetching it: never fetch),
    RESERVED (a reservation binds the purpose), or allowed."""
    decision = outcome.decision
    if decision is None:
        return "INVALID"
    if not decision.fetch_allowed:
        return "BLOCKED"
    return "allowed" if decision.allowed else "RESERVED"


def _reason(r: Reason) -> str:
    """One reserving reason: its signal, the robots.txt group that decided, and whether the
    reservation is inferred (strict profile) rather than stated."""
    where = ""
    if r.signal == "robots" and r.agent:
        where = f" [the group for {r.agent}" + (
            ", inferred under the strict profile]" if (r.note or "").startswith("inferred")
            else "]")
    return f"{r.signal}{where}: {r.evidence}"


def _why(outcome: Outcome) -> str:
    if outcome.error is not None:
        return outcome.error
    assert outcome.decision is not None
    text = "; ".join(_reason(r) for r in outcome.decision.reasons if r.reserved)
    if outcome.decision.contacts:
        text += " (ask: " + ", ".join(outcome.decision.contacts) + ")"
    return text


def _where(seed: Seed) -> str:
    if seed.file and seed.line:
        return f"{seed.file}:{seed.line}"
    return seed.file or ""


def _counts(result: AuditResult) -> str:
    states = [state(o) for o in result.outcomes]
    return (f"{len(result.seeds)} seeds, {states.count('BLOCKED')} blocked, "
            f"{states.count('RESERVED')} reserved, {states.count('INVALID')} invalid")


def format_text(result: AuditResult) -> str:
    out = [f"tdm-guard audit of {result.kind} {result.path}: {_counts(result)}, "
           f"{sum(f.severity == 'error' for f in result.findings)} setting errors"]
    for finding in result.findings:
        where = f" ({finding.file}{':' + str(finding.line) if finding.line else ''})" \
            if finding.file else ""
        out.append(f"  {finding.severity.upper()}: {finding.message}{where}")
    for seed, outcome in zip(result.seeds, result.outcomes, strict=True):
        verdict = state(outcome)
        spider = f" [{seed.spider}]" if seed.spider else ""
        line = f"  {verdict:<8} {seed.url}{spider}"
        if verdict != "allowed":
            line += f"\n      {_why(outcome)}" + (f"\n      at {_where(seed)}" if seed.file else "")
        out.append(line)
    out.append("FAILED" if result.failed else "OK")
    return "\n".join(out)


def format_json(result: AuditResult) -> str:
    return json.dumps({
        "path": result.path, "kind": result.kind, "failed": result.failed,
        "findings": [f.__dict__ for f in result.findings],
        "seeds": [{"url": s.url, "file": s.file, "line": s.line, "spider": s.spider,
                   "state": state(o).lower(),
                   "decision": o.decision.to_dict() if o.decision else None, "error": o.error}
                  for s, o in zip(result.seeds, result.outcomes, strict=True)],
    }, ensure_ascii=False, indent=2)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_prop(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(level: str, title: str, message: str, file: str | None, line: int | None) -> str:
    props = []
    if file:
        props.append(f"file={_escape_prop(file)}")
        if line:
            props.append(f"line={line}")
    props.append(f"title={_escape_prop(title)}")
    return f"::{level} {','.join(props)}::{_escape_data(message)}"


def format_github(result: AuditResult) -> str:
    """GitHub Actions workflow commands: one annotation per finding and per reserved seed."""
    out = [_annotation("error" if f.severity == "error" else "warning", f"tdm-guard: {f.title}",
                       f.message, f.file, f.line) for f in result.findings]
    for seed, outcome in zip(result.seeds, result.outcomes, strict=True):
        verdict = state(outcome)
        if verdict == "allowed":
            continue
        title = f"tdm-guard: {verdict.lower()} seed"
        out.append(_annotation("error", title, f"{seed.url}: {_why(outcome)}", seed.file,
                               seed.line))
    out.append(f"tdm-guard audit: {_counts(result)}; {'FAILED' if result.failed else 'OK'}")
    return "\n".join(out)


def format_junit(result: AuditResult) -> str:
    suites = ET.Element("testsuites", name="tdm-guard audit")
    seeds = ET.SubElement(suites, "testsuite", name=f"seeds: {result.path}",
                          tests=str(len(result.seeds)),
                          failures=str(len(result.reserved)), errors=str(len(result.invalid)))
    for seed, outcome in zip(result.seeds, result.outcomes, strict=True):
        case = ET.SubElement(seeds, "testcase", classname=f"seeds.{seed.spider or 'list'}",
                             name=seed.url)
        if seed.file:
            case.set("file", seed.file)
            if seed.line:
                case.set("line", str(seed.line))
        if outcome.error is not None:
            ET.SubElement(case, "error", message=outcome.error)
        elif state(outcome) != "allowed":
            failure = ET.SubElement(case, "failure",
                                    message=f"{state(outcome).lower()}: {seed.url}")
            failure.text = _why(outcome)
    config = ET.SubElement(suites, "testsuite", name="configuration",
                           tests=str(max(1, len(result.findings))),
                           failures=str(sum(f.severity == "error" for f in result.findings)))
    if not result.findings:
        ET.SubElement(config, "testcase", classname="configuration", name="protection enabled")
    for finding in result.findings:
        case = ET.SubElement(config, "testcase", classname="configuration", name=finding.title)
        if finding.severity == "error":
            ET.SubElement(case, "failure", message=finding.message)
        else:
            ET.SubElement(case, "system-out").text = f"warning: {finding.message}"
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


FORMATS = {"text": format_text, "json": format_json, "github": format_github,
           "junit": format_junit}
