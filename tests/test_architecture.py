"""The layout's rules, checked on the source (docs/architecture.md explains them).

Every module's imports are read with `ast` (no import is executed), resolved to absolute
module names, and checked against the layers: the core is sans-IO, only `cli/` parses
arguments or prints, the Scrapy plugin uses only the public API and the core, no import
cycles, and no public name is defined in two modules.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"tdm_guard": ROOT / "src" / "tdm_guard",
            "scrapy_tdm_guard": ROOT / "scrapy_plugin" / "scrapy_tdm_guard"}

# The sans-IO core, from the bottom layer up: a module may import its own layer and the
# layers below it, never one above.
LAYERS = [
    ["tdm_guard.model", "tdm_guard.codings", "tdm_guard.fetched", "tdm_guard.stored",
     "tdm_guard.freshness"],
    ["tdm_guard.signals"],
    ["tdm_guard.urls", "tdm_guard.scrapy_settings"],
    ["tdm_guard.declarations"],
    ["tdm_guard.decide"],
]
OUTER = ("tdm_guard.fetching", "tdm_guard.stores", "tdm_guard.cli", "tdm_guard.scan",
         "tdm_guard.report", "tdm_guard.engines")
# The scan engines' libraries: imported by `tdm_guard.engines` alone (optional extras).
ENGINE_LIBRARIES = ("dask", "distributed", "pyspark", "datatrove")
# Libraries that do I/O or belong to an outer part: never imported by the core.
IO_LIBRARIES = ("requests", "urllib3", "urllib.request", "http.client", "socket", "sqlite3",
                "scrapy", "twisted", "redis", "platformdirs", "tqdm", "subprocess", "argparse",
                "asyncio", "fastwarc", "pyarrow", "dask", "pyspark", "datatrove")


def _module_name(package: str, path: Path) -> str:
    rel = path.relative_to(PACKAGES[package]).with_suffix("")
    parts = [package, *rel.parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, tuple[Path, ast.Module]]:
    out = {}
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            out[_module_name(package, path)] = (path, ast.parse(path.read_text(), str(path)))
    return out


MODULES = _modules()


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    """ids of nodes inside `if TYPE_CHECKING:` blocks (not imported at run time)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                skip.update(id(n) for n in ast.walk(inner))
    return skip


def imports_of(name: str) -> set[str]:
    """Absolute names of every module `name` imports at run time (also inside functions)."""
    path, tree = MODULES[name]
    is_package = path.name == "__init__.py"
    skip = _type_checking_nodes(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # `from . import signals` imports a module, not a name
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                if candidate in MODULES:
                    found.add(candidate)
    return found


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _layer(name: str) -> int | None:
    for index, prefixes in enumerate(LAYERS):
        if any(_within(name, p) for p in prefixes):
            return index
    return None


CORE = sorted(n for n in MODULES if _layer(n) is not None)


def test_the_core_is_what_the_layers_say():
    assert "tdm_guard.decide" in CORE and "tdm_guard.signals.robots" in CORE
    assert "tdm_guard.declarations.matching" in CORE and "tdm_guard.urls" in CORE
    assert not any(_within(n, p) for n in CORE for p in OUTER)


@pytest.mark.parametrize("name", CORE)
def test_core_module_is_sans_io(name):
    bad = sorted(i for i in imports_of(name)
                 if any(_within(i, p) for p in OUTER + IO_LIBRARIES) or i == "tdm_guard")
    assert not bad, f"{name} (core) imports {bad}"


@pytest.mark.parametrize("name", CORE)
def test_core_imports_run_one_way(name):
    own = _layer(name)
    upward = sorted(i for i in imports_of(name)
                    if i.startswith("tdm_guard.") and (_layer(i) or -1) > own)
    assert not upward, f"{name} (layer {own}) imports from a layer above: {upward}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_only_the_cli_parses_arguments_or_prints(name):
    if _within(name, "tdm_guard.cli"):
        return
    path, tree = MODULES[name]
    problems = []
    if "argparse" in imports_of(name):
        problems.append("imports argparse")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id == "print":
            problems.append(f"line {node.lineno}: print()")
        if isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr") \
                and isinstance(node.value, ast.Name) and node.value.id == "sys":
            problems.append(f"line {node.lineno}: sys.{node.attr}")
    assert not problems, f"{path}: {problems}"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("scrapy_tdm_guard")))
def test_scrapy_plugin_uses_only_the_public_api_and_the_core(name):
    bad = sorted(i for i in imports_of(name)
                 if _within(i, "tdm_guard") and i != "tdm_guard" and _layer(i) is None)
    assert not bad, f"{name} imports outer parts of tdm_guard: {bad}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_only_the_engines_import_engine_libraries(name):
    """dask, distributed, pyspark and datatrove are optional extras: nothing but
    `tdm_guard.engines` imports them, and nothing imports `tdm_guard.engines` (an outer part
    the scan core, the CLI and the public API never load)."""
    if _within(name, "tdm_guard.engines"):
        return
    bad = sorted(i for i in imports_of(name)
                 if any(_within(i, p) for p in ENGINE_LIBRARIES + ("tdm_guard.engines",)))
    assert not bad, f"{name} imports {bad} (only tdm_guard.engines may)"


def test_the_engines_package_loads_no_engine():
    """`import tdm_guard.engines` loads no engine library and no engine module: each engine
    is imported by name (`tdm_guard.engines.dask`), so one missing extra breaks no other."""
    assert "tdm_guard.engines" in MODULES
    bad = sorted(i for i in imports_of("tdm_guard.engines")
                 if any(_within(i, p) for p in ENGINE_LIBRARIES)
                 or i.startswith("tdm_guard.engines."))
    assert not bad, f"tdm_guard/engines/__init__.py imports {bad}"


def test_no_import_cycles():
    graph = {n: {i for i in imports_of(n) if i in MODULES and i != n} for n in MODULES}
    # a package's __init__ importing its own submodules is how re-exports work: not a cycle
    for n, deps in graph.items():
        graph[n] = {d for d in deps if not _within(n, d) or MODULES[d][0].name != "__init__.py"}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_no_public_name_is_defined_twice():
    where: dict[str, list[str]] = defaultdict(list)
    for name, (_, tree) in MODULES.items():
        if name.endswith("__main__"):
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined = [node.name]
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                defined = [t.id for t in targets if isinstance(t, ast.Name)]
            else:
                continue
            for item in defined:
                if not item.startswith("_") and item not in ("logger",):
                    where[item].append(name)
    twice = {k: v for k, v in where.items() if len(v) > 1}
    assert not twice, f"defined in more than one module: {twice}"


def test_import_graph_sees_violations():
    """The checks above can fail: a planted import is found and resolved."""
    tree = ast.parse("from ..stores.sqlite import PolicyCache\nimport requests\n")
    MODULES["tdm_guard.signals._planted"] = (Path("signals/_planted.py"), tree)
    try:
        found = imports_of("tdm_guard.signals._planted")
        assert "tdm_guard.stores.sqlite" in found and "requests" in found
    finally:
        del MODULES["tdm_guard.signals._planted"]
