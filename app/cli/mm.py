"""`mmrag reembed`: fill the `mm` space of an existing collection from stored segments and media.

Registered in app/cli.py as `app.command("reembed")(cli_mm.reembed)`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from core.errors import MmragError, ModelUnavailableError
from core.types import SearchFilter


def reembed(
    source: Annotated[list[str] | None, typer.Option(help="Only these source ids (repeatable).")] = None,
    batch: Annotated[int, typer.Option(min=1, max=4096, help="Segments per encoding round.")] = 64,
    json_out: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Embed every indexed segment into the `mm` space (MMRAG_MM_MODEL) without re-extracting files."""
    from rich.progress import Progress

    from app.backend import LocalBackend
    from app.backend_select import open_backend
    from app.cli.common import container_from_env
    from app.cli.output import emit_json, err, fail, out, waiting
    from indexing.encoders.mm_space import reembed_mm

    backend = open_backend("reembed", container_from_env, on_wait=waiting)
    if not isinstance(backend, LocalBackend):
        backend.close()
        raise fail("reembed opens the store itself: stop `mmrag serve` on this home first", 1)
    container = backend.container
    flt = SearchFilter(source_ids=tuple(source)) if source else None
    try:
        encoder = container.mm_encoder
        if encoder is None:
            reason = container.unavailable.get("mm", "no mm encoder (set MMRAG_MM_MODEL)")
            raise ModelUnavailableError(f"cannot re-embed into the mm space: {reason}")
        with Progress(console=err, transient=True, disable=json_out) as bar:
            task = bar.add_task("re-embedding", total=None)
            written = reembed_mm(
                encoder,
                container.store,
                container.media,
                flt=flt,
                batch=batch,
                progress=lambda done, n: bar.update(task, completed=done, total=n),
            )
    except MmragError as exc:
        raise fail(str(exc), 1) from exc
    finally:
        backend.close()
    if json_out:
        emit_json({"reembedded": written, "space": "mm"})
    else:
        out.print(f"re-embedded {written} segments into the mm space")
