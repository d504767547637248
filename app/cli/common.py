"""What every command module shares: the composition root from the environment, the backend for a
command, and printing helpers. Imports no other command module, so the CLI has no import circle."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.backend import Backend
from app.backend_select import open_backend
from app.cli.output import out, waiting

if TYPE_CHECKING:
    from app.container import Container


def container_from_env() -> Container:
    """Build the composition root from MMRAG_* settings (and the optional TOML file)."""
    from app.container import Container

    return Container()


def backend_for(purpose: str, *, wait: bool = True, store: bool = True) -> Backend:
    """The backend for a command: the server that owns the home, or the store opened here (see app.backend)."""
    return open_backend(purpose, container_from_env, wait=wait, on_wait=waiting, store=store)


def one_line(text: str) -> str:
    """`text` with every run of whitespace (newlines included) made one space."""
    return " ".join(str(text).split())


def print_result(result: dict[str, Any]) -> None:
    """An evaluation result for a person: `key: value` lines (nested dicts indented)."""

    def show(data: dict[str, Any], indent: str) -> None:
        for key, value in data.items():
            if isinstance(value, dict):
                out.print(f"{indent}{key}:", markup=False)
                show(value, indent + "  ")
            else:
                out.print(f"{indent}{key}: {value}", markup=False)

    show(result, "")
