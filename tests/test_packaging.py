"""The lean install: `pip install .` brings what the CLI, API and UI need, and nothing only tests, lint,
benchmarks or optional engines use; the code imports those optional packages only where they are used."""

from __future__ import annotations

import ast
import re
import tomllib

import pytest

from tests.fixtures.data import REPO

pytestmark = pytest.mark.unit

PACKAGES = ("core", "indexing", "retrieval", "rerank", "generation", "evaluation", "app", "ui")
# Distributions that must stay out of the core dependencies, and the modules they provide.
OPTIONAL = {
    "pytest": "pytest",
    "playwright": "playwright",
    "schemathesis": "schemathesis",
    "ruff": "ruff",
    "mypy": "mypy",
    "ray": "ray",
    "matplotlib": "matplotlib",
    "langchain-core": "langchain_core",
    "gguf": "gguf",
    "scikit-video": "skvideo",
}
# Modules whose whole purpose is an optional package (installed with its extra).
ALLOWED_TOP_LEVEL = {"app/langchain_retriever.py": {"langchain_core"}}


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()


def test_core_dependencies_leave_out_test_lint_bench_and_engines() -> None:
    core = {_name(r) for r in _project()["dependencies"]}
    assert not core & set(OPTIONAL), f"move to an extra: {sorted(core & set(OPTIONAL))}"
    extras = {name: {_name(r) for r in reqs} for name, reqs in _project()["optional-dependencies"].items()}
    assert {"pytest", "playwright", "schemathesis"} <= extras["test"]
    assert {"ruff", "mypy"} <= extras["lint"] and "matplotlib" in extras["bench"]
    assert "ray" in extras["ray"] and "langchain-core" in extras["langchain"]


def test_optional_packages_are_imported_only_where_they_are_used() -> None:
    """A module-level import of an optional package would make `mmrag` fail on a lean install."""
    optional_modules = set(OPTIONAL.values())
    offenders = []
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            relative = path.relative_to(REPO).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:  # module level only: imports inside functions load on use
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names = [node.module]
                for name in names:
                    root = name.split(".")[0]
                    if root in optional_modules and root not in ALLOWED_TOP_LEVEL.get(relative, set()):
                        offenders.append(f"{relative}: import {name}")
    assert not offenders, offenders
