"""The CLI's output layer, shared by every `app/cli*.py` module (which import it, never each other).

Results go to stdout, progress, notes and errors to stderr. Nothing wraps: piped output has one line per
record, whatever the width. Everything user-provided (paths, source text) is escaped before Rich prints it,
so `[paragraph]` or a file named `a[/b].md` shows as written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from app.home import Holder

out = Console(soft_wrap=True)  # results on stdout
err = Console(stderr=True, soft_wrap=True)  # progress, warnings and errors on stderr

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.", metavar="")]


def emit_json(data: Any) -> None:
    """Print one JSON document to stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one error line to stderr; return the `typer.Exit` to raise (2: usage, 1: the work failed)."""
    err.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code)


def note(message: str) -> None:
    """One yellow note line on stderr."""
    err.print(f"[yellow]note:[/yellow] {escape(message)}")


def format_time(seconds: float) -> str:
    """mm:ss, or h:mm:ss past an hour."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def locate(uri: str, locator: dict[str, Any]) -> str:
    """A human locator from a hit's JSON: `uri @ mm:ss–mm:ss`, `uri p.3`, or the uri."""
    start = locator.get("start_s")
    if start is not None:
        end = locator.get("end_s")
        return f"{uri} @ {format_time(start)}" + (f"–{format_time(end)}" if end is not None else "")
    page = locator.get("page")
    if page is not None:
        page_end = locator.get("page_end")
        return f"{uri} p.{page}-{page_end}" if page_end and page_end != page else f"{uri} p.{page}"
    return uri


def print_hits(hits: list[dict[str, Any]], relevance_threshold: float | None = None) -> None:
    """Search hits for a person: rank, fused score, calibrated relevance (when known), granularity, where;
    then a one-line snippet. When no hit reaches `relevance_threshold` a note says there is no good match."""
    if not hits:
        out.print("no results")
    for rank, hit in enumerate(hits, start=1):
        where = escape(locate(hit["uri"], hit.get("locator") or {}))
        granularity = escape(f"[{hit['granularity']}]")
        relevance = hit.get("relevance")
        rel = f" rel {relevance:.2f}" if isinstance(relevance, int | float) else ""
        out.print(f"[bold]{rank:>2}.[/bold] {hit['score']:.4f}{rel} {granularity} [cyan]{where}[/cyan]")
        snippet = " ".join(str(hit.get("text") or "").split())[:160]
        if snippet:
            out.print(f"     {snippet}", markup=False, highlight=False)
    rated = [h["relevance"] for h in hits if isinstance(h.get("relevance"), int | float)]
    if relevance_threshold is not None and rated and max(rated) < relevance_threshold:
        note(f"no good match (best relevance {max(rated):.2f} < {relevance_threshold:.2f})")


def waiting(holder: Holder | None) -> None:
    """Say once that this command waits for another process that holds the home's store."""
    who = holder.describe() if holder is not None else "another process to finish"
    err.print(f"waiting for {escape(who)} …")


def readable_help() -> None:
    """Help without a type column where it says nothing: no `<bool>` after flags, no `<list[Path]>` after
    an argument that names its metavar (`PATH`), no type after an option with a metavar (`--k N`).

    Typer (0.29) prints that column for every parameter and offers no setting for it, so this narrows its
    `display_type_rich` once for the `mmrag` process.
    """
    from typer.core import TyperArgument, TyperOption

    if getattr(TyperOption, "_mmrag_readable", False):
        return
    option_type = TyperOption.display_type_rich
    argument_type = TyperArgument.display_type_rich

    def option_display(self: TyperOption, ctx: Any) -> str | None:
        if self.is_flag or self.count or self.metavar == "":
            return ""
        return option_type(self, ctx)

    def argument_display(self: TyperArgument, ctx: Any) -> str | None:
        return "" if self.metavar else argument_type(self, ctx)

    TyperOption.display_type_rich = option_display  # type: ignore[method-assign,assignment]
    TyperArgument.display_type_rich = argument_display  # type: ignore[method-assign,assignment]
    TyperOption._mmrag_readable = True  # type: ignore[attr-defined]


def notes_once(home: Path, unavailable: dict[str, str]) -> list[str]:
    """The notes about missing optional spaces that this home has not shown yet (then remembered as shown).

    A space switched off by a setting ("disabled ...") is the user's choice and no note; `mmrag doctor` lists
    every space whatever its state. The shown reasons live in `<home>/notices.json`.
    """
    import json

    path = home / "notices.json"
    try:
        shown = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        shown = {}
    fresh = {s: r for s, r in unavailable.items() if not r.startswith("disabled") and shown.get(s) != r}
    if fresh:
        try:
            home.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({**shown, **fresh}, indent=1), encoding="utf-8")
        except OSError:
            pass  # a read-only home: the note shows again next time, which is harmless
    return [
        f"no {space} space: {reason} (shown once; `mmrag doctor` lists it)" for space, reason in fresh.items()
    ]
