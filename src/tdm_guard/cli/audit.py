"""`tdm-guard audit PATH`: check a crawl configuration before the crawl runs.

PATH is a Scrapy project (a folder with scrapy.cfg) or a seed list (one URL a line). Every
seed is checked with the same engine as `tdm-guard check`; settings that switch protection
off are flagged; `allowed_domains` covered by a published declaration are flagged too.
Findings come out as text, JSON, GitHub workflow annotations or JUnit XML.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..decide import Evaluator
from ..declarations import DeclarationSet
from ..fetching.checker import Checker, Outcome
from ..scrapy_settings import (
    SettingError,
    crawl_agent,
    setting_bool,
    switched_on,
    tdm_guard_installed,
)
from .audit_formats import FORMATS
from .common import (
    EXIT_ALLOWED,
    EXIT_RESERVED,
    EXIT_USAGE,
    bad_network_options,
    make_checker,
    write_atomically,
)
from .common import declarations as load_declarations
from .inputs import url_lines

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


def load_project(path: Path) -> dict[str, Any]:
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "tdm_guard.cli.scrapy_inspect", str(path)],
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


SWITCHES = ("ADDONS", "DOWNLOADER_MIDDLEWARES", "TDM_GUARD_ENABLED", "ROBOTSTXT_OBEY",
            "TDM_GUARD_MODE")


def settings_findings(data: dict[str, Any]) -> list[Finding]:
    """Settings that switch protection off, read as the crawl reads them (Scrapy's bool
    semantics, scrapy_settings), each pointing at the line that sets it."""
    findings = []
    project_file, project_lines = data.get("settings_file"), data.get("settings_lines", {})
    scopes = [("project settings", data["settings"], None)]
    scopes += [(f"spider {spider['name']}", {**data["settings"], **spider["custom_settings"]},
                spider) for spider in data["spiders"]
               if any(k in spider["custom_settings"] for k in SWITCHES)]
    for scope, settings, spider in scopes:
        def where(key: str, spider=spider) -> tuple[str | None, int | None]:
            if spider is None:
                return project_file, project_lines.get(key)
            return spider["file"], spider.get("custom_settings_lines", {}).get(key)

        def error(title: str, message: str, key: str, scope=scope) -> None:
            findings.append(Finding("error", title, f"{scope}: {message}", *where(key)))

        try:
            obeyed = setting_bool("ROBOTSTXT_OBEY", settings.get("ROBOTSTXT_OBEY"), False)
        except SettingError as exc:  # Scrapy's RobotsTxtMiddleware raises on it
            error("invalid setting", str(exc), "ROBOTSTXT_OBEY")
            obeyed = True  # reported; nothing else can be said about robots.txt
        if not tdm_guard_installed(settings):
            error("tdm-guard not enabled", "tdm-guard is not enabled; add "
                  'ADDONS = {"scrapy_tdm_guard.TdmGuardAddon": 0} to settings.py', "ADDONS")
        else:
            try:
                on = switched_on(settings)
            except SettingError as exc:
                error("invalid setting", f"{exc}: the crawl will not start",
                      "TDM_GUARD_ENABLED")
                continue
            if on:
                if str(settings.get("TDM_GUARD_MODE", "block")).lower() == "tag":
                    findings.append(Finding(
                        "warning", "tag mode",
                        f"{scope}: TDM_GUARD_MODE = 'tag' delivers reserved content to the "
                        "spider; make sure a pipeline routes it", *where("TDM_GUARD_MODE")))
                continue
            error("tdm-guard switched off",
                  f"TDM_GUARD_ENABLED = {settings.get('TDM_GUARD_ENABLED')!r} switches "
                  "tdm-guard off: TDMRep, AI-agent groups, Content-Usage and declarations "
                  "are not checked" + ("" if not obeyed else
                                       " (Scrapy's RobotsTxtMiddleware still obeys robots.txt)"),
                  "TDM_GUARD_ENABLED")
        if not obeyed:
            error("robots.txt not obeyed", "ROBOTSTXT_OBEY is off and tdm-guard is not "
                  "enabled: nothing checks robots.txt", "ROBOTSTXT_OBEY")
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
    """Audit `path`; `make_checker(settings)` builds the checker for seeds crawled with those
    settings (the project's, merged with a spider's custom_settings for its seeds)."""
    crawl_settings: list[dict[str, Any]] = []  # per seed
    if path.is_dir():
        if not (path / "scrapy.cfg").is_file():
            raise AuditError(f"{path}: a folder without scrapy.cfg is not a Scrapy project")
        data = load_project(path)
        result = AuditResult(str(path), "scrapy project", settings=data["settings"])
        for spider in data["spiders"]:
            result.seeds += [Seed(s["url"], spider["file"], s["line"], spider["name"])
                             for s in spider["start_urls"]]
            merged = {**data["settings"], **spider["custom_settings"]}
            crawl_settings += [merged] * len(spider["start_urls"])
        result.findings += settings_findings(data)
        result.findings += domain_findings(data, declarations)
    elif path.is_file():
        result = AuditResult(str(path), "seed list", seeds=read_seed_list(path))
        crawl_settings = [result.settings] * len(result.seeds)
    else:
        raise AuditError(f"{path}: no such file or folder")
    # One checker per distinct agent/purpose/profile, so each seed is decided as its
    # spider's crawl decides it; answers keep the seeds' order.
    groups: dict[tuple[tuple[str, str], ...], tuple[dict[str, Any], list[int]]] = {}
    for index, settings in enumerate(crawl_settings):
        key = tuple(evaluator_settings(settings).items())
        groups.setdefault(key, (settings, []))[1].append(index)
    outcomes: dict[int, Outcome] = {}
    for settings, indexes in groups.values() or [(result.settings, [])]:
        checker = make_checker(settings)  # also checks the settings when there is no seed
        try:
            answers = checker.check_many([result.seeds[i].url for i in indexes])
            outcomes.update(zip(indexes, answers, strict=True))
        finally:
            checker.close()
    result.outcomes = [outcomes[i] for i in range(len(result.seeds))]
    _relative_to_repository(result, path)
    return result


def repository_root(path: Path) -> Path:
    """The git work tree that holds `path` (where CI annotations are anchored), else the
    current folder."""
    folder = path if path.is_dir() else path.parent
    try:
        proc = subprocess.run(["git", "-C", str(folder.resolve()), "rev-parse",
                               "--show-toplevel"], capture_output=True, text=True, timeout=30,
                              check=False)
        if proc.returncode == 0 and proc.stdout.strip():
            return Path(proc.stdout.strip()).resolve()
    except (OSError, subprocess.SubprocessError):
        pass
    return Path.cwd().resolve()


def _relative_to_repository(result: AuditResult, path: Path) -> None:
    """Every file a finding or seed names, relative to the repository root (GitHub anchors
    annotations there; the same paths in every format)."""
    root = repository_root(path)

    def rel(name: str | None) -> str | None:
        if not name:
            return name
        full = Path(name).resolve()
        try:
            return full.relative_to(root).as_posix()
        except ValueError:
            return str(full)  # outside the repository: kept whole

    for seed in result.seeds:
        seed.file = rel(seed.file)
    for finding in result.findings:
        finding.file = rel(finding.file)


def evaluator_settings(result_settings: dict[str, Any]) -> dict[str, str]:
    """Agent, purpose and profile as the project's crawl would use them."""
    return {
        "agent": crawl_agent(result_settings.get("TDM_GUARD_AGENT"),
                             result_settings.get("ROBOTSTXT_USER_AGENT"),
                             result_settings.get("USER_AGENT")),
        "purpose": str(result_settings.get("TDM_GUARD_PURPOSE") or "train"),
        "profile": str(result_settings.get("TDM_GUARD_PROFILE") or "strict"),
    }


def cmd_audit(args: argparse.Namespace) -> int:
    if bad_network_options(args):
        return EXIT_USAGE
    declarations = load_declarations(args)

    def checker_for(project_settings: dict[str, Any]) -> Checker:
        derived = evaluator_settings(project_settings)
        evaluator = Evaluator(args.agent or derived["agent"], args.purpose or derived["purpose"],
                              args.profile or derived["profile"], declarations,
                              fail_closed=args.fail_closed)
        return make_checker(args, evaluator, fetch_pages=args.fetch)

    if len(args.paths) > 1 and args.format in ("json", "junit"):
        print(f"tdm-guard audit: --format {args.format} takes one PATH", file=sys.stderr)
        return EXIT_USAGE
    if args.output:
        problem = _unwritable(Path(args.output))
        if problem:
            print(f"tdm-guard audit: --output {args.output}: {problem}", file=sys.stderr)
            return EXIT_USAGE
    codes, reports = [], []
    for path in args.paths:
        try:
            result = run_audit(Path(path), checker_for, declarations)
        except AuditError as exc:
            print(f"tdm-guard audit: {exc}", file=sys.stderr)
            codes.append(EXIT_USAGE)
            continue
        except ValueError as exc:  # an invalid purpose/profile in the project's settings
            print(f"tdm-guard audit: {path}: {exc}", file=sys.stderr)
            codes.append(EXIT_USAGE)
            continue
        reports.append((result, FORMATS[args.format](result)))
        codes.append(EXIT_USAGE if result.invalid else
                     EXIT_RESERVED if result.failed else EXIT_ALLOWED)
    text = "\n".join(report for _, report in reports)
    if args.output:
        try:
            write_atomically(Path(args.output), text + "\n")
        except OSError as exc:
            print(f"tdm-guard audit: --output {args.output}: cannot be written: "
                  f"{exc.strerror or exc}", file=sys.stderr)
            return EXIT_USAGE
        if args.format != "text":
            print("\n".join(FORMATS["text"](result) for result, _ in reports))
    elif text:
        print(text)
    return max(codes)


def _unwritable(path: Path) -> str | None:
    """Why a report cannot be written to `path`, found before the audit runs."""
    if path.is_dir():
        return "is a folder"
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        return f"the folder {folder} does not exist"
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return "not writable"
    return None
