"""`tdm-guard audit PATH`: check a crawl configuration before the crawl runs.

PATH is a Scrapy project (a folder with scrapy.cfg) or a seed list (one URL a line). Every
seed is checked with the same engine as `tdm-guard check`; settings that switch protection
off are flagged; `allowed_domains` covered by a published declaration are flagged too.
Findings come out as text, JSON, GitHub workflow annotations or JUnit XML.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checker import Checker, Outcome, url_lines
from .declarations import DeclarationSet
from .scrapy_settings import crawl_agent, tdm_guard_enabled

INSPECT_TIMEOUT = 120


class AuditError(Exception):
    """The configuration could not be read; the message says what and where."""


@dataclass
class Finding:
    severity: str  # error | warning
    title: str
    message: str
    file: str | None = None
    line: int | None = None


@dataclass
class Seed:
    url: str
    file: str | None = None
    line: int | None = None
    spider: str | None = None


@dataclass
class AuditResult:
    path: str
    kind: str  # "scrapy project" | "seed list"
    seeds: list[Seed] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def reserved(self) -> list[tuple[Seed, Outcome]]:
        return [(s, o) for s, o in zip(self.seeds, self.outcomes, strict=True)
                if o.decision is not None and not o.decision.allowed]

    @property
    def invalid(self) -> list[tuple[Seed, Outcome]]:
        return [(s, o) for s, o in zip(self.seeds, self.outcomes, strict=True)
                if o.error is not None]

    @property
    def failed(self) -> bool:
        return bool(self.reserved) or any(f.severity == "error" for f in self.findings)


def read_seed_list(path: Path) -> list[Seed]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise AuditError(f"{path}: cannot read seed list: {exc}") from exc
    return [Seed(line, str(path), number) for number, line in url_lines(text.splitlines())]


def inspect_project(path: Path) -> dict[str, Any]:
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "tdm_guard._scrapy_inspect", str(path)],
            capture_output=True, text=True, timeout=INSPECT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise AuditError(f"{path}: loading the Scrapy project took over {INSPECT_TIMEOUT} s") \
            from exc
    try:
        data = json.loads(proc.stdout)
    except ValueError as exc:
        detail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise AuditError(f"{path}: could not load the Scrapy project: {detail}") from exc
    if "error" in data:
        raise AuditError(f"{path}: could not load the Scrapy project: {data['error']}")
    return data


def settings_findings(data: dict[str, Any]) -> list[Finding]:
    findings = []
    settings_file, lines = data.get("settings_file"), data.get("settings_lines", {})
    scopes = [("project settings", data["settings"], settings_file, None)]
    for spider in data["spiders"]:
        if spider["custom_settings"]:
            merged = {**data["settings"], **spider["custom_settings"]}
            scopes.append((f"spider {spider['name']}", merged, spider["file"], spider))
    for scope, settings, file, spider in scopes:
        def line(key: str, spider=spider) -> int | None:
            return None if spider else lines.get(key)

        if spider and not any(k in spider["custom_settings"] for k in (
                "ADDONS", "DOWNLOADER_MIDDLEWARES", "TDM_GUARD_ENABLED", "ROBOTSTXT_OBEY",
                "TDM_GUARD_MODE")):
            continue
        protected = tdm_guard_enabled(settings)
        if not protected:
            key = "TDM_GUARD_ENABLED" if settings.get("TDM_GUARD_ENABLED") is False else "ADDONS"
            findings.append(Finding(
                "error", "tdm-guard not enabled",
                f"{scope}: tdm-guard is not enabled; add "
                'ADDONS = {"scrapy_tdm_guard.TdmGuardAddon": 0} to settings.py',
                file, line(key)))
            if not settings.get("ROBOTSTXT_OBEY"):
                findings.append(Finding(
                    "error", "robots.txt not obeyed",
                    f"{scope}: ROBOTSTXT_OBEY is off and tdm-guard is not enabled: nothing "
                    "checks robots.txt", file, line("ROBOTSTXT_OBEY")))
        elif str(settings.get("TDM_GUARD_MODE", "block")).lower() == "tag":
            findings.append(Finding(
                "warning", "tag mode",
                f"{scope}: TDM_GUARD_MODE = 'tag' delivers reserved content to the spider; "
                "make sure a pipeline routes it", file, line("TDM_GUARD_MODE")))
    for spider in data["spiders"]:
        if spider["dynamic_start"]:
            findings.append(Finding(
                "warning", "seeds not listed",
                f"spider {spider['name']} builds its own start requests (start() or "
                "start_requests()); only its start_urls could be checked", spider["file"]))
    return findings


def domain_findings(data: dict[str, Any], declarations: DeclarationSet) -> list[Finding]:
    findings = []
    for spider in data["spiders"]:
        for domain in spider["allowed_domains"]:
            for reason in declarations.reasons(f"https://{domain}/"):
                if reason.reserved:
                    findings.append(Finding(
                        "error", "reserved domain",
                        f"spider {spider['name']}: allowed_domains includes {domain}: "
                        f"{reason.evidence}", spider["file"]))
    return findings


def run_audit(path: Path, make_checker: Callable[[dict[str, Any]], Checker],
              declarations: DeclarationSet) -> AuditResult:
    """Audit `path`; `make_checker(project_settings)` builds the checker for its seeds."""
    if path.is_dir():
        if not (path / "scrapy.cfg").is_file():
            raise AuditError(f"{path}: a folder without scrapy.cfg is not a Scrapy project")
        data = inspect_project(path)
        result = AuditResult(str(path), "scrapy project", settings=data["settings"])
        for spider in data["spiders"]:
            result.seeds += [Seed(s["url"], spider["file"], s["line"], spider["name"])
                             for s in spider["start_urls"]]
        result.findings += settings_findings(data)
        result.findings += domain_findings(data, declarations)
    elif path.is_file():
        result = AuditResult(str(path), "seed list", seeds=read_seed_list(path))
    else:
        raise AuditError(f"{path}: no such file or folder")
    checker = make_checker(result.settings)
    try:
        result.outcomes = list(checker.check_many([s.url for s in result.seeds]))
    finally:
        checker.close()
    return result


def evaluator_settings(result_settings: dict[str, Any]) -> dict[str, str]:
    """Agent, purpose and profile as the project's crawl would use them."""
    return {
        "agent": crawl_agent(result_settings.get("TDM_GUARD_AGENT"),
                             result_settings.get("ROBOTSTXT_USER_AGENT"),
                             result_settings.get("USER_AGENT")),
        "purpose": str(result_settings.get("TDM_GUARD_PURPOSE") or "train"),
        "profile": str(result_settings.get("TDM_GUARD_PROFILE") or "strict"),
    }


# -- output formats ---------------------------------------------------------------------
def _why(outcome: Outcome) -> str:
    if outcome.error is not None:
        return outcome.error
    assert outcome.decision is not None
    reasons = [f"{r.signal}: {r.evidence}" for r in outcome.decision.reasons if r.reserved]
    text = "; ".join(reasons)
    if outcome.decision.contacts:
        text += " (ask: " + ", ".join(outcome.decision.contacts) + ")"
    return text


def _where(seed: Seed) -> str:
    if seed.file and seed.line:
        return f"{seed.file}:{seed.line}"
    return seed.file or ""


def format_text(result: AuditResult) -> str:
    out = [f"tdm-guard audit of {result.kind} {result.path}: {len(result.seeds)} seeds, "
           f"{len(result.reserved)} reserved, {len(result.invalid)} invalid, "
           f"{sum(f.severity == 'error' for f in result.findings)} setting errors"]
    for finding in result.findings:
        where = f" ({finding.file}{':' + str(finding.line) if finding.line else ''})" \
            if finding.file else ""
        out.append(f"  {finding.severity.upper()}: {finding.message}{where}")
    for seed, outcome in zip(result.seeds, result.outcomes, strict=True):
        if outcome.error is not None:
            state = "INVALID "
        elif outcome.decision is not None and not outcome.decision.allowed:
            state = "RESERVED"
        else:
            state = "allowed "
        spider = f" [{seed.spider}]" if seed.spider else ""
        line = f"  {state} {seed.url}{spider}"
        if state != "allowed ":
            line += f"\n      {_why(outcome)}" + (f"\n      at {_where(seed)}" if seed.file else "")
        out.append(line)
    out.append("FAILED" if result.failed else "OK")
    return "\n".join(out)


def format_json(result: AuditResult) -> str:
    return json.dumps({
        "path": result.path, "kind": result.kind, "failed": result.failed,
        "findings": [f.__dict__ for f in result.findings],
        "seeds": [{"url": s.url, "file": s.file, "line": s.line, "spider": s.spider,
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
    for seed, outcome in result.reserved + result.invalid:
        title = "tdm-guard: invalid seed" if outcome.error else "tdm-guard: reserved seed"
        out.append(_annotation("error", title, f"{seed.url}: {_why(outcome)}", seed.file,
                               seed.line))
    out.append(f"tdm-guard audit: {len(result.seeds)} seeds, {len(result.reserved)} reserved, "
               f"{len(result.invalid)} invalid; {'FAILED' if result.failed else 'OK'}")
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
        elif outcome.decision is not None and not outcome.decision.allowed:
            failure = ET.SubElement(case, "failure", message=f"reserved: {seed.url}")
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
