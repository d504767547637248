"""The import graph keeps ARCHITECTURE.md's shape: layers point one way, no module circles, no capability probes.

Read with `ast` from the source (nothing is imported), so the test is fast and sees imports inside functions
and `TYPE_CHECKING` blocks too. The two ratchet lists at the bottom name what issue 11 has not cleaned up yet;
they may only shrink.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "indexing", "retrieval", "rerank", "generation", "evaluation", "app", "ui")

ALLOWED: dict[str, set[str]] = {
    "core": {"core"},  # nothing of ours: domain types, protocols, settings, errors, registry
    "indexing": {"core", "indexing"},
    "retrieval": {"core", "indexing", "retrieval"},
    "rerank": {"core", "rerank"},
    "generation": {"core", "generation"},
    # scores the components it is given; the app builds them
    "evaluation": {"core", "indexing", "retrieval", "rerank", "generation", "evaluation"},
    "app": set(PACKAGES),  # the composition root, CLI and API wire everything
    "ui": {"ui"},  # talks to the API over HTTP only
}
"""Which of our packages each package may import (ARCHITECTURE.md, "Packages")."""


@dataclass(frozen=True)
class Import:
    """One import statement of one of our modules."""

    module: str  # the importing module, dotted
    path: Path
    line: int
    targets: tuple[str, ...]  # dotted names it may refer to (module, or module.name for `from m import name`)
    top_level: bool  # executed at import time (not inside a function)
    type_only: bool  # inside `if TYPE_CHECKING:`


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, top: bool, type_only: bool) -> Iterator[tuple[ast.AST, bool, bool]]:
    for child in ast.iter_child_nodes(node):
        yield child, top, type_only
        inner_top = top and not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        inner_type = type_only or (isinstance(child, ast.If) and _is_type_checking(child))
        yield from _walk(child, inner_top, inner_type)


def imports_of(path: Path) -> Iterator[Import]:
    """Every absolute import in a file, with where it runs."""
    module = _module_name(path)
    for node, top, type_only in _walk(ast.parse(path.read_text(encoding="utf-8")), True, False):
        if isinstance(node, ast.Import):
            targets = tuple(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            targets = (node.module, *(f"{node.module}.{alias.name}" for alias in node.names))
        else:
            continue
        yield Import(module, path, node.lineno, targets, top, type_only)


def our_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py"))


def all_imports() -> list[Import]:
    return [imp for path in our_files() for imp in imports_of(path)]


def test_each_package_imports_only_the_layers_it_may() -> None:
    wrong = []
    for imp in all_imports():
        package = imp.module.split(".")[0]
        target = imp.targets[0].split(".")[0]
        if target in PACKAGES and target not in ALLOWED[package]:
            wrong.append(f"{imp.path.relative_to(REPO)}:{imp.line} {package} -> {imp.targets[0]}")
    assert not wrong, "imports against the layers of ARCHITECTURE.md:\n" + "\n".join(wrong)


def _graph(imports: list[Import]) -> dict[str, set[str]]:
    modules = {_module_name(p) for p in our_files()}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for imp in imports:
        graph[imp.module] |= {t for t in imp.targets if t in modules and t != imp.module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_circle_at_import_time() -> None:
    """Module-level imports (what runs on `import`) form no circle anywhere, the CLI included."""
    runtime = [imp for imp in all_imports() if imp.top_level and not imp.type_only]
    assert cycles(_graph(runtime)) == []


def test_no_circle_even_through_deferred_imports() -> None:
    """Counting imports inside functions too, no circle anywhere (the CLI package included)."""
    runtime = [imp for imp in all_imports() if not imp.type_only]
    assert cycles(_graph(runtime)) == [], "import circles"


def _literal_attribute_calls(path: Path) -> Iterator[tuple[int, str, str]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            yield node.lineno, "__getattr__", ""
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
        ):
            yield node.lineno, node.func.id, str(node.args[1].value)


def our_members() -> set[str]:
    """Every method and attribute name our own classes define (Settings fields included)."""
    names: set[str] = set()
    for path in our_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        names.add(item.name)
                    elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        names.add(item.target.id)
                    elif isinstance(item, ast.Assign):
                        names |= {t.id for t in item.targets if isinstance(t, ast.Name)}
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
            ):
                names.add(node.attr)
    return names


def test_the_probe_finder_sees_a_probe(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('finish = getattr(generator, "finish", None)\nok = getattr(frame, "rotation", 0)\n')
    assert list(_literal_attribute_calls(sample)) == [(1, "getattr", "finish"), (2, "getattr", "rotation")]
    assert "finish" in our_members()  # a member of our generators: a probe, unlike a third-party name


def test_no_capability_probes() -> None:
    """No `__getattr__` forwarding, and no `getattr`/`hasattr` asking one of our components for a member.

    A capability of one of our components is a protocol (core/protocols.py) the type checker sees. Names our
    classes never define are third-party attributes (a PyAV frame's `rotation`) and pass; the few third-party
    reads whose name collides with one of ours are listed in THIRD_PARTY_READS.
    """
    members = our_members()
    found = []
    for path in our_files():
        rel = str(path.relative_to(REPO))
        for line, kind, attr in _literal_attribute_calls(path):
            known = (rel, attr) in THIRD_PARTY_READS or (rel, attr) in PROBES_LEFT
            if kind == "__getattr__" or (attr in members and not known):
                found.append(f"{rel}:{line} {kind}({attr!r})")
    assert not found, "capability probes (declare a protocol instead):\n" + "\n".join(found)


def test_settings_are_read_only_by_core_and_the_app() -> None:
    readers = {
        str(imp.path.relative_to(REPO))
        for imp in all_imports()
        if "core.settings.Settings" in imp.targets and imp.module.split(".")[0] not in ("core", "app")
    }
    assert readers <= SETTINGS_READERS_LEFT, (
        f"new Settings readers: {sorted(readers - SETTINGS_READERS_LEFT)}"
    )


THIRD_PARTY_READS = {
    # reads of third-party objects whose attribute name one of our classes also uses
    ("core/mllm_loading.py", "model"),  # transformers wraps the decoder in `.model`
    ("indexing/media/av_decoder.py", "rotation"),  # PyAV frames
    (
        "retrieval/stores/qdrant_retry.py",
        "source",
    ),  # qdrant-client exceptions (the retry module reads them now)
    ("app/api/deps.py", "container"),  # Starlette's app.state
    ("app/api/errors.py", "code"),  # exceptions
    ("app/mcp_server.py", "http"),  # the MCP SDK
}

PROBES_LEFT: set[tuple[str, str]] = set()
"""Capability probes on our own components not removed yet: none (issue 11)."""

SETTINGS_READERS_LEFT: set[str] = set()
