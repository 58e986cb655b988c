"""The layering rules, checked on the source (ast): the library never imports ``api``, no project
module is imported by a string, no import cycles among project modules (module-level imports),
and no SQL outside ``gridmap/store/``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("gridmap", "api")
#: statements, not prose: a keyword pair with SQL shape (upper case, as the store writes them)
SQL = re.compile(
    r"\bSELECT\b[\s\S]*\bFROM\b|\bINSERT INTO\b|\bCREATE (?:TABLE|INDEX|SCHEMA)\b|\bUPDATE\b\s+\S+\s+\bSET\b"
    r"|\bDELETE FROM\b|\bDROP TABLE\b|\bALTER TABLE\b"
)


def _modules() -> dict[str, Path]:
    out = {}
    for package in PROJECT:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(encoding="utf-8"), str(path)) for name, path in MODULES.items()}


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    is_package = MODULES[module].name == "__init__.py"
    base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _imports(module: str, top_level_only: bool) -> set[str]:
    """Project modules ``module`` imports (``from pkg import sub`` counts as ``pkg.sub`` when it is a module)."""
    tree = TREES[module]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            submodules = {f"{target}.{alias.name}" for alias in node.names} & set(MODULES)
            found.update(submodules)
            if len(submodules) < len(node.names):  # some name is an attribute of the package itself
                found.add(target)
        elif top_level_only and isinstance(node, (ast.If, ast.Try)):
            # module-level conditional imports still run at import time (TYPE_CHECKING blocks do not)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                return
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    visit(child)
                elif isinstance(child, ast.ExceptHandler):
                    for grandchild in child.body:
                        visit(grandchild)

    for node in nodes:
        visit(node)
    return {m for m in found if m in MODULES}


def test_the_library_never_imports_api():
    offenders = sorted(
        f"{m} imports {', '.join(sorted(i for i in _imports(m, False) if i.split('.')[0] == 'api'))}"
        for m in MODULES
        if m.startswith("gridmap") and any(i.split(".")[0] == "api" for i in _imports(m, False))
    )
    assert not offenders, "\n".join(offenders)


def test_no_project_module_is_imported_by_a_string():
    offenders = []
    for module, tree in TREES.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = ast.unparse(node.func)
            if func.endswith(("import_module", "__import__")) or func == "capability":
                arg = ast.unparse(node.args[0]) if node.args else ""
                if func == "capability" or any(p in arg for p in PROJECT) or not arg.startswith(("'", '"')):
                    offenders.append(f"{module}:{node.lineno} {ast.unparse(node)}")
    assert not offenders, "\n".join(offenders)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _graph(top_level_only: bool = True) -> dict[str, set[str]]:
    graph = {m: _imports(m, top_level_only) - {m} for m in MODULES}
    # importing a.b.c from outside package a.b runs a.b's __init__ first (inside it, it is already running)
    for importer, targets in graph.items():
        for module in list(targets):
            parts = module.split(".")
            for i in range(2, len(parts)):
                parent = ".".join(parts[:i])
                if parent in MODULES and importer != parent and not importer.startswith(parent + "."):
                    targets.add(parent)
    return graph


def test_no_import_cycles():
    cycle = _cycle(_graph())
    assert cycle is None, " → ".join(cycle or [])


def test_no_cycle_hidden_behind_an_import_inside_a_function():
    cycle = _cycle(_graph(top_level_only=False))
    assert cycle is None, " → ".join(cycle or [])


def test_the_cycle_check_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def _sql_literals(tree: ast.AST) -> list[tuple[int, str]]:
    out = []
    docstrings = {
        id(n.body[0].value)
        for n in ast.walk(tree)
        if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and n.body
        and isinstance(n.body[0], ast.Expr)
        and isinstance(n.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if SQL.search(node.value):
                out.append((node.lineno, node.value.strip()[:60]))
        elif isinstance(node, ast.JoinedStr):
            text = "".join(
                v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
            if SQL.search(text):
                out.append((node.lineno, text.strip()[:60]))
    return out


def test_no_sql_outside_the_store():
    offenders = [
        f"{m}:{line} {text!r}"
        for m, tree in TREES.items()
        if not m.startswith("gridmap.store")
        for line, text in _sql_literals(tree)
    ]
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize(
    "text, is_sql",
    [
        ("SELECT code FROM grids WHERE plan_id = %s", True),
        ("INSERT INTO cases VALUES (?)", True),
        ('UPDATE "jobs" SET state = ?', True),
        ("select the grids from the list", False),
        ("Update the plan, then set it active", False),
    ],
)
def test_the_sql_pattern(text, is_sql):
    assert bool(SQL.search(text)) is is_sql


def test_domain_module_exists():
    assert "gridmap.domain" in MODULES and "gridmap.spatial" in MODULES
