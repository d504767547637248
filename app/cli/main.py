"""The `mmrag` command line: thin wrappers over a `Backend` (app.backend). `--json` prints machine JSON.

When a `mmrag serve` owns the home, commands go through its API; otherwise they open the store themselves,
one process at a time (a second one waits: `waiting for <pid> to finish indexing …`).

Exit codes: 0 success; 1 the work failed (some files could not be indexed, the store is busy with
`--no-wait`, a model or the server failed); 2 usage error (bad arguments, unknown or ambiguous source).
Files `index` skips on purpose (an unsupported type, a link out of the folder) are listed as `skipped`
and do not make the exit code 1.

This module builds the Typer app and registers every command; the command modules (collection, rag,
serve, media, mm, and app.mcp_server / app.watch) import only `app.cli.output` and `app.cli.common`,
never this module, so the CLI has no import circle.
"""

from __future__ import annotations

import logging
import os
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from app import mcp_server
from app import watch as folder_watch
from app.cli import collection, media, mm, rag, serve
from app.cli.output import err, fail, readable_help
from core.errors import InvalidRequestError, MmragError

# Model-loading progress bars would interleave with our own output; rich shows progress instead.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
readable_help()


class MmragGroup(TyperGroup):
    """Every command: an `MmragError` (a busy store included) becomes one line on stderr and an exit code."""

    def invoke(self, ctx: Any) -> Any:  # typer's own (vendored) click Context
        try:
            return super().invoke(ctx)
        except InvalidRequestError as exc:
            raise fail(str(exc), 2) from exc
        except ValidationError as exc:  # MMRAG_* settings that do not validate: one line, not a traceback
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
            )
            raise fail(f"invalid settings: {problems}", 2) from exc
        except MmragError as exc:
            raise fail(_readable(exc), 1) from exc
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None


def _readable(exc: MmragError) -> str:
    """The error's line; the embedded engine's own lock error said in words."""
    message = str(exc)
    if "WouldBlock" in message:
        return (
            "the store is in use by another process that is not an mmrag command (an embedded store "
            f"allows one process at a time); stop it and try again ({message.splitlines()[0][:200]})"
        )
    return " ".join(message.split())


app = typer.Typer(
    name="mmrag",
    help="Multimodal retrieval and RAG over your files: index, search, ask, serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=MmragGroup,
)
eval_app = typer.Typer(
    help="Evaluate retrieval, routing, ASR and image search (JSON with --json).", no_args_is_help=True
)
app.add_typer(eval_app, name="eval")


@app.callback()
def _setup(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log details to stderr.", metavar="")
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


# The commands, in the order `mmrag --help` lists them.
app.command("index")(collection.index)
app.command("search")(collection.search)
app.command("sources")(collection.sources)
app.command("delete")(collection.delete)
app.command("doctor")(collection.doctor)
eval_app.command("beir")(collection.eval_beir)
app.command("export-onnx")(collection.export_onnx)
app.command("serve")(serve.serve)
app.command("ui")(serve.ui)
eval_app.command("asr")(media.eval_asr)
app.command("ask")(rag.ask)
app.command("route")(rag.route)
app.add_typer(rag.router_app, name="router")
eval_app.command("router")(rag.eval_router)
eval_app.command("images")(rag.eval_images)
eval_app.command("qa")(rag.eval_qa)
app.command("reembed")(mm.reembed)
app.command("mcp")(mcp_server.mcp)
app.command("watch")(folder_watch.watch)


def main() -> None:
    """Console-script entry point."""
    app()
