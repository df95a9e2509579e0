"""The core's shape: no import circle, no import of the built-in plugins, no EK80 words.

The core (``src/ts_toolkit``) is instrument-agnostic and knows its plugins only through
the plugin manager; these tests read the source (``ast``, text) and fail on a violation.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ts_toolkit"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute module name of a (possibly relative) import in ``module``."""
    if level == 0:
        return name or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, module_level_only: bool) -> set[str]:
    """Modules ``path`` imports (``from x import y`` counts ``x.y`` when that is a module)."""
    tree = ast.parse(path.read_text())
    module = _module_name(path)
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(nodes: list[ast.AST], top: bool) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, is_package, node.level, node.module)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If) and _is_type_checking(node):
                continue  # type-only imports do not run
            inner_top = top and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            if module_level_only and not inner_top:
                continue  # a function's imports run when it is called, not at import
            for field in ("body", "orelse", "finalbody", "handlers"):
                children = getattr(node, field, None)
                if isinstance(children, list):
                    visit(children, inner_top)

    visit(tree.body, True)
    return found


def _graph(module_level_only: bool) -> dict[str, set[str]]:
    files = sorted(SRC.rglob("*.py"))
    names = {_module_name(p) for p in files}
    graph: dict[str, set[str]] = {}
    for path in files:
        me = _module_name(path)
        deps = {d for d in _imports(path, module_level_only) if d in names and d != me}
        # importing a.b.c runs the packages a and a.b first
        graph[me] = deps | {
            ".".join(d.split(".")[:k]) for d in deps for k in range(1, d.count(".") + 1)
        } - {me}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep) :] + [dep]
            if dep not in state and (found := visit(dep)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


@pytest.mark.parametrize("module_level_only", [True, False], ids=["at-import", "anywhere"])
def test_no_import_circle_between_core_modules(module_level_only):
    """Neither the imports that run at import time nor those inside functions form a
    circle (a package importing its own submodules, e.g. ts_toolkit.cli its command
    modules, is not one)."""
    graph = _graph(module_level_only)
    cycle = _cycle({m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()})
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_core_never_imports_the_builtin_plugins():
    offenders = {
        _module_name(p): sorted(d for d in _imports(p, False) if d.startswith("ts_toolkit_plugins"))
        for p in SRC.rglob("*.py")
    }
    assert {m: d for m, d in offenders.items() if d} == {}


def _code_without_docstrings(path: Path) -> str:
    """The source of ``path`` without docstrings and comments (string literals stay)."""
    text = path.read_text()
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    drop: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                drop.update(range(body[0].lineno, body[0].end_lineno + 1))
    kept = "".join(line for i, line in enumerate(lines, 1) if i not in drop)
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(kept).readline):
        if tok.type != tokenize.COMMENT:
            out.append(tok.string)
    return " ".join(out)


@pytest.mark.parametrize("word", ["ek80", "EK80"])
def test_the_core_does_not_name_the_ek80_outside_docstrings(word):
    hits = [
        str(p.relative_to(SRC.parent))
        for p in sorted(SRC.rglob("*.py"))
        if word.lower() in _code_without_docstrings(p).lower()
    ]
    assert hits == []


def test_the_docstring_filter_keeps_code():
    sample = SRC.parent / "ts_toolkit" / "plugins.py"
    code = _code_without_docstrings(sample)
    assert "ENTRY_POINT_GROUP" in code and "The plugin manager" not in code
