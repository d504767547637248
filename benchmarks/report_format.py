"""Markdown helpers shared by the sections of benchmarks/RESULTS.md (benchmarks/report.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

Results = dict[str, dict[str, Any]]
"""Every result file of benchmarks/results/, by name."""


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A Markdown table (None cells left empty)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return lines


def reproduce(*names: str) -> str:
    """The reproduce line for the benchmark scripts that wrote these result files."""
    commands = " and ".join(f"`python -m benchmarks.bench_{n}`" for n in names)
    return f"Reproduce: {commands}."


def plot(name: str, caption: str) -> list[str]:
    """The plot benchmarks.plots drew, when it is there."""
    path = HERE / "plots" / name
    return ["", f"![{caption}](plots/{name})"] if path.is_file() else []


def pct(x: float | None) -> str:
    """A score with three decimals (empty when missing)."""
    return "" if x is None else f"{x:.3f}"


def cell(text: str) -> str:
    """Text safe in one Markdown table cell (file names may hold newlines and pipes)."""
    return " ".join(text.split()).replace("|", "/")
