"""The `mmrag` command line: thin wrappers over library calls. `--json` prints machine-readable output.

Exit codes: 0 success, 1 some work failed (e.g. some files could not be indexed), 2 usage error.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from core.errors import MmragError
from core.types import Granularity, Hit, Modality, SearchFilter

if TYPE_CHECKING:
    from app.container import Container

# Model-loading progress bars would interleave with our own output; rich shows progress instead.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

app = typer.Typer(
    name="mmrag",
    help="Multimodal retrieval and RAG over your files: index, search, ask, serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
eval_app = typer.Typer(
    help="Evaluate retrieval, routing, ASR and image search; prints JSON.", no_args_is_help=True
)
app.add_typer(eval_app, name="eval")

out = Console()  # results on stdout
err = Console(stderr=True)  # progress, warnings and errors on stderr

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def container_from_env() -> Container:
    """Build the composition root from MMRAG_* settings (and the optional TOML file)."""
    from app.container import Container

    return Container()


def emit_json(data: Any) -> None:
    """Print one JSON document to stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def format_time(seconds: float) -> str:
    """mm:ss, or h:mm:ss past an hour."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def where(hit: Hit) -> str:
    """A human locator: `uri @ mm:ss–mm:ss`, `uri p.3`, or the uri."""
    seg = hit.segment
    loc = seg.locator
    if loc.start_s is not None:
        end = f"–{format_time(loc.end_s)}" if loc.end_s is not None else ""
        return f"{seg.uri} @ {format_time(loc.start_s)}{end}"
    if loc.page is not None:
        pages = f"{loc.page}-{loc.page_end}" if loc.page_end and loc.page_end != loc.page else f"{loc.page}"
        return f"{seg.uri} p.{pages}"
    return seg.uri


@app.callback()
def _setup(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details to stderr.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


@app.command()
def index(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders (recursive) to index.")],
    engine: Annotated[
        str, typer.Option(help="local (default), or ray: extraction and encoding as Ray Data stages.")
    ] = "local",
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address for --engine ray; unset = private local cluster.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Index files and folders. Unchanged files are skipped; bad files are reported, the rest indexed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise fail(f"no such file or folder: {', '.join(missing)}")
    if engine not in ("local", "ray"):
        raise fail(f"unknown engine {engine!r}: use local or ray")
    container = container_from_env()
    try:
        with Progress(
            TextColumn("[bold]indexing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=err,
            transient=True,
            disable=json_out or not err.is_terminal,
        ) as bar:
            task = bar.add_task("", total=None)

            def progress(done: int, total: int, uri: str) -> None:
                bar.update(task, completed=done, total=total, description=Path(uri).name)

            if engine == "ray":
                from app.ray_components import ray_indexer

                report = ray_indexer(container, address).index_paths(paths, progress)
            else:
                report = container.indexer.index_paths(paths, progress)
    finally:
        container.close()
    if json_out:
        emit_json(report.to_dict())
    else:
        for failure in report.failed:
            err.print(f"[red]failed[/red] {failure.uri}: {failure.error}")
        out.print(
            f"indexed {report.indexed}, unchanged {report.unchanged}, failed {len(report.failed)}, "
            f"{report.segments} segments"
        )
        for space, reason in container.unavailable.items():
            err.print(f"[yellow]note:[/yellow] no {space} space: {reason}")
    raise typer.Exit(1 if report.failed else 0)


def _filter(
    modality: list[str] | None, granularity: list[str] | None, source: list[str] | None
) -> SearchFilter:
    try:
        return SearchFilter(
            modalities=tuple(Modality(m) for m in modality or ()),
            granularities=tuple(Granularity(g) for g in granularity or ()),
            source_ids=tuple(source or ()),
        )
    except ValueError as exc:
        raise fail(
            f"{exc}; modality is one of {[m.value for m in Modality]}, "
            f"granularity one of {[g.value for g in Granularity]}"
        ) from exc


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for (may be empty with --image).")] = "",
    k: Annotated[int, typer.Option("--k", min=1, max=1000, help="How many hits.")] = 10,
    modality: Annotated[
        list[str] | None, typer.Option(help="text, image, video or audio (repeatable).")
    ] = None,
    granularity: Annotated[
        list[str] | None, typer.Option(help="paragraph, document, image, frame, clip, video (repeatable).")
    ] = None,
    source: Annotated[list[str] | None, typer.Option(help="Only these source ids (repeatable).")] = None,
    image: Annotated[
        Path | None, typer.Option(help="Query image (alone, or composed with the text).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Search the index (hybrid dense + lexical, plus the image space for text queries)."""
    flt = _filter(modality, granularity, source)
    if not query.strip() and image is None:
        raise fail("give a query, an --image, or both")
    container = container_from_env()
    method = "hybrid"
    try:
        if image is not None:
            hits, method = _search_with_image(container, query, image, k, flt)
        else:
            hits = container.retriever.search(query, k=k, flt=None if flt.is_empty() else flt)
    except MmragError as exc:
        raise fail(str(exc), 1) from exc
    finally:
        container.close()
    if json_out:
        emit_json({"hits": [h.to_dict() for h in hits], "method": method})
        return
    if not hits:
        out.print("no results")
    for rank, hit in enumerate(hits, start=1):
        snippet = " ".join(hit.segment.text.split())[:160]
        out.print(
            f"[bold]{rank:>2}.[/bold] {hit.score:.4f} [{hit.segment.granularity}] [cyan]{where(hit)}[/cyan]"
        )
        if snippet:
            out.print(f"     {snippet}", markup=False)


def _search_with_image(
    container: Container, query: str, image_path: Path, k: int, flt: SearchFilter
) -> tuple[list[Hit], str]:
    from PIL import Image, UnidentifiedImageError

    from retrieval.composed_query import search_composed

    try:
        with Image.open(image_path) as img:
            picture = img.convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        raise fail(f"{image_path}: not a readable image ({exc})") from exc
    return search_composed(container, query or None, picture, k, None if flt.is_empty() else flt)


@app.command()
def sources(json_out: JsonOpt = False) -> None:
    """List indexed (and failed) sources."""
    container = container_from_env()
    records = container.manifest.sources()
    if json_out:
        emit_json({"sources": [r.to_dict() for r in records]})
        return
    if not records:
        out.print("no sources yet: run `mmrag index PATH`")
    for r in records:
        status = r.status if r.status != "failed" else f"[red]failed[/red]: {r.error}"
        out.print(f"{r.source_id[:12]}  {r.segments:>5} seg  {status}  {r.uri}")


@app.command()
def delete(
    source: Annotated[str, typer.Argument(help="Source id (or a unique prefix of 8+ chars) or its uri.")],
    json_out: JsonOpt = False,
) -> None:
    """Delete a source: its points, media and manifest entry."""
    container = container_from_env()
    try:
        record = container.manifest.resolve(source)
        if record is None:
            raise fail(f"no such source: {source}", 1)
        deleted = container.delete_source(record.source_id)
    finally:
        container.close()
    if json_out:
        emit_json({"deleted": record.source_id, "uri": record.uri, "points": deleted})
    else:
        out.print(f"deleted {record.uri} ({deleted} points)")


@app.command()
def doctor(json_out: JsonOpt = False) -> None:
    """Show active settings, which encoders and store loaded, and why anything could not load."""
    from app.doctor import diagnose

    report = diagnose(container_from_env())
    if json_out:
        emit_json(report)
        return
    for section, items in report.items():
        out.print(f"[bold]{section}[/bold]")
        for key, value in items.items():
            out.print(f"  {key}: {value}", markup=False)


@eval_app.command("beir")
def eval_beir(
    directory: Annotated[
        Path, typer.Argument(help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/test.tsv.")
    ],
    fusion: Annotated[str | None, typer.Option(help="Override fusion: rrf or weighted.")] = None,
    json_out: JsonOpt = True,
) -> None:
    """Index a BEIR corpus into a throwaway collection and print nDCG@10 and Recall@100."""
    from app.eval_beir import evaluate_beir

    if not (directory / "corpus.jsonl").is_file():
        raise fail(f"{directory}: no corpus.jsonl (expected BEIR layout)")
    result = evaluate_beir(directory, fusion=fusion, progress=None if json_out else err)
    emit_json(result)


@app.command("export-onnx")
def export_onnx(
    out_dir: Annotated[Path | None, typer.Option(help="Export root (default: $MMRAG_HOME/onnx).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Export the text encoder (and CLIP towers, when loadable) to ONNX for MMRAG_TEXT_BACKEND=onnx."""
    from core.settings import Settings
    from indexing.onnx_export import export_onnx as export

    try:
        written = export(Settings(), out_dir)
    except MmragError as exc:
        raise fail(str(exc), 1) from exc
    if json_out:
        emit_json({"exported": [str(p) for p in written]})
    else:
        for path in written:
            out.print(f"exported {path}")


def main() -> None:
    """Console-script entry point."""
    app()


# --- commands registered by area modules ----------------------------------------------------------------
from app import cli_serve  # noqa: E402

app.command("serve")(cli_serve.serve)
app.command("ui")(cli_serve.ui)
from app import cli_media  # noqa: E402

eval_app.command("asr")(cli_media.eval_asr)
from app import cli_rag  # noqa: E402

app.command("ask")(cli_rag.ask)
app.command("route")(cli_rag.route)
app.add_typer(cli_rag.router_app, name="router")
eval_app.command("router")(cli_rag.eval_router)
eval_app.command("images")(cli_rag.eval_images)
from app import cli_mm  # noqa: E402

app.command("reembed")(cli_mm.reembed)
