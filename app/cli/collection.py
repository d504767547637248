"""The commands on the collection itself: `index`, `search`, `sources`, `delete`, `doctor`, `eval beir`,
`export-onnx`. Registered by `app.cli.main`; this module never imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from app.backend import resolve_filter_sources, resolve_source
from app.cli.common import backend_for, one_line, print_result
from app.cli.output import JsonOpt, emit_json, err, fail, note, notes_once, out, print_hits
from core.errors import MmragError
from core.types import Granularity, Modality, SearchFilter


def print_index_report(report: dict[str, Any]) -> None:
    """One line per failed (and skipped) file on stderr, then the totals on stdout."""
    for failure in report.get("failed", []):
        err.print(
            f"[red]failed[/red] {escape(one_line(failure['uri']))}: {escape(one_line(failure['error']))}"
        )
    skipped = report.get("skipped", [])
    for item in skipped if isinstance(skipped, list) else []:
        if isinstance(item, dict):
            reason = one_line(item.get("reason") or item.get("error") or "")
            err.print(f"[yellow]skipped[/yellow] {escape(one_line(item.get('uri', '')))}: {escape(reason)}")
    for item in report.get("unsearchable", []):
        err.print(
            f"[yellow]not searchable[/yellow] {escape(one_line(item['uri']))}: {escape(item['reason'])}"
        )
    n_skipped = len(skipped) if isinstance(skipped, list) else int(skipped or 0)
    parts = [f"indexed {report.get('indexed', 0)}", f"unchanged {report.get('unchanged', 0)}"]
    if "skipped" in report:
        parts.append(f"skipped {n_skipped}")
    parts.append(f"failed {len(report.get('failed', []))}")
    out.print(", ".join(parts) + f", {report.get('segments', 0)} segments", highlight=False)


def index(
    paths: Annotated[
        list[Path], typer.Argument(help="Files and folders (recursive) to index.", metavar="PATH")
    ],
    engine: Annotated[
        str,
        typer.Option(
            help="local (default), or ray: extraction and encoding as Ray Data stages.", metavar="NAME"
        ),
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(
            help="Ray cluster address for --engine ray; unset = private local cluster.", metavar="URL"
        ),
    ] = None,
    no_wait: Annotated[
        bool,
        typer.Option("--no-wait", help="Fail at once if another process is using this home.", metavar=""),
    ] = False,
    follow_links: Annotated[
        bool,
        typer.Option(
            "--follow-links", help="Follow symbolic links that lead outside the indexed folders.", metavar=""
        ),
    ] = False,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune", help="Remove indexed sources under these folders whose files are gone.", metavar=""
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Index files and folders. Unchanged files are skipped; bad files are reported, the rest indexed.

    Renamed or moved files keep their segments (their uri is updated). Exit code 0 when every file was
    indexed, unchanged or skipped on purpose (unsupported type, link out of the folder); 1 when a file failed.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise fail(f"no such file or folder: {', '.join(missing)}")
    if engine not in ("local", "ray"):
        raise fail(f"unknown engine {engine!r}: use local or ray")
    backend = backend_for("index", wait=not no_wait)
    try:
        if engine == "ray" and backend.kind != "local":
            raise fail("--engine ray opens the store itself: stop `mmrag serve` on this home first", 1)
        with Progress(
            TextColumn("[bold]indexing" + (" (server)" if backend.kind == "server" else "")),
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
                bar.update(task, completed=done, total=total, description=escape(Path(uri).name))

            if engine == "ray":
                report = backend.index_ray(paths, progress, address)  # type: ignore[attr-defined]
            else:
                report = backend.index(paths, progress, follow_links=follow_links, prune=prune)
        unavailable = backend.unavailable()
    finally:
        backend.close()
    if json_out:
        emit_json(report)
    else:
        print_index_report(report)
        from core.settings import Settings

        for line in notes_once(Settings().home, unavailable):
            note(line)
    raise typer.Exit(1 if report.get("failed") else 0)


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


def _read_image(path: Path) -> bytes:
    """The bytes of a query image, checked to be a readable picture (a usage error otherwise)."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise fail(f"{path}: not a readable image ({exc})") from exc
    return data


def search(
    query: Annotated[
        str, typer.Argument(help="What to look for (may be empty with --image).", metavar="QUERY")
    ] = "",
    k: Annotated[int, typer.Option("--k", min=1, max=1000, help="How many hits.", metavar="N")] = 10,
    modality: Annotated[
        list[str] | None, typer.Option(help="text, image, video or audio (repeatable).", metavar="NAME")
    ] = None,
    granularity: Annotated[
        list[str] | None,
        typer.Option(help="paragraph, document, image, frame, clip, video (repeatable).", metavar="NAME"),
    ] = None,
    source: Annotated[
        list[str] | None,
        typer.Option(help="Only this source: id, 8+ char id prefix or uri (repeatable).", metavar="ID"),
    ] = None,
    image: Annotated[
        Path | None, typer.Option(help="Query image (alone, or composed with the text).", metavar="FILE")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Search the index (hybrid dense + lexical, plus the image space for text queries)."""
    flt = _filter(modality, granularity, source)
    if not query.strip() and image is None:
        raise fail("give a query, an --image, or both")
    picture = _read_image(image) if image is not None else None
    backend = backend_for("search")
    try:
        flt = resolve_filter_sources(backend, flt)
        result = backend.search(query, k, flt, picture)
    finally:
        backend.close()
    if json_out:
        emit_json(result)
    else:
        from core.settings import Settings
        from retrieval.relevance import default_calibration

        threshold = Settings().relevance_threshold
        print_hits(result["hits"], default_calibration().threshold if threshold is None else threshold)


def sources(json_out: JsonOpt = False) -> None:
    """List indexed (and failed) sources."""
    backend = backend_for("sources", store=False)
    try:
        records = backend.sources()
    finally:
        backend.close()
    if json_out:
        emit_json({"sources": records})
        return
    if not records:
        out.print("no sources yet: run `mmrag index PATH`")
    for r in records:
        status = escape(r["status"])
        if r["status"] == "failed":
            status = f"[red]failed[/red]: {escape(one_line(r.get('error') or ''))}"
        elif r["status"] == "indexed" and r.get("searchable") is False:
            reason = escape(one_line(r.get("reason") or "no searchable vectors"))
            status = f"indexed, [yellow]not searchable[/yellow] ({reason})"
        out.print(
            f"{r['source_id'][:12]}  {r['segments']:>5} seg  {status}  {escape(r['uri'])}", highlight=False
        )


def delete(
    source: Annotated[
        str, typer.Argument(help="Source id (or a unique prefix of 8+ chars) or its uri.", metavar="SOURCE")
    ],
    json_out: JsonOpt = False,
) -> None:
    """Delete a source: its points, media and manifest entry."""
    backend = backend_for("delete")
    try:  # an unknown or ambiguous source is a usage error (2): MmragGroup turns it into one line
        record = resolve_source(backend.sources(), source)
        deleted = backend.delete(record["source_id"])
    finally:
        backend.close()
    if json_out:
        emit_json({"deleted": record["source_id"], "uri": record["uri"], "points": deleted})
    else:
        out.print(f"deleted {escape(record['uri'])} ({deleted} points)", highlight=False)


def doctor(json_out: JsonOpt = False) -> None:
    """Show active settings, which encoders and store loaded, and why anything could not load."""
    backend = backend_for("doctor")
    try:
        report = backend.doctor()
    finally:
        backend.close()
    if json_out:
        emit_json(report)
    else:
        from app.doctor import render

        for line in render(report):
            out.print(line, markup=False)
    if not report.get("ok", True):
        raise typer.Exit(1)  # a required component (text encoder, store) cannot load


def eval_beir(
    directory: Annotated[
        Path, typer.Argument(help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/test.tsv.", metavar="DIR")
    ],
    fusion: Annotated[
        str | None, typer.Option(help="Override fusion: rrf or weighted.", metavar="NAME")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Index a BEIR corpus into a throwaway collection and print nDCG@10 and Recall@100."""
    import tempfile

    from app.container import Container
    from core.settings import Settings
    from evaluation.beir import evaluate_beir, load_beir

    if not (directory / "corpus.jsonl").is_file():
        raise fail(f"{directory}: no corpus.jsonl (expected BEIR layout)")
    corpus, queries, qrels = load_beir(directory)
    base = Settings()
    with tempfile.TemporaryDirectory(prefix="mmrag-beir-") as tmp:  # the configured text encoder, no CLIP/OCR
        overrides: dict[str, Any] = {"home": Path(tmp), "qdrant_url": None, "clip_model": "", "ocr": False}
        if fusion:
            overrides["fusion"] = fusion
        container = Container(base.model_copy(update=overrides))
        try:
            result = evaluate_beir(
                corpus,
                queries,
                qrels,
                container.indexer,
                container.retriever,
                fusion=container.settings.fusion,
                progress=None if json_out else err.print,
            )
        finally:
            container.close()
    if json_out:
        emit_json(result.to_json())
    else:
        print_result(result.to_json())


def export_onnx(
    out_dir: Annotated[
        Path | None, typer.Option(help="Export root (default: $MMRAG_HOME/onnx).", metavar="DIR")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Export the text encoder (and CLIP towers, when loadable) to ONNX for MMRAG_TEXT_BACKEND=onnx."""
    from core.settings import Settings
    from indexing.encoders.onnx_export import export_onnx as export

    try:
        s = Settings()
        written = export(out_dir or s.home / "onnx", s.text_model, s.clip_model, s.clip_pretrained)
    except MmragError as exc:
        raise fail(str(exc), 1) from exc
    if json_out:
        emit_json({"exported": [str(p) for p in written]})
    else:
        for path in written:
            out.print(f"exported {escape(str(path))}", highlight=False)
