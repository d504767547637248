"""`mmrag ask`, `mmrag route`, `mmrag router train`, `mmrag eval router`, `mmrag eval images`, `mmrag eval qa`.

Registered by `app.cli.main`; shares only `app.cli.output` and `app.cli.common`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli.common import container_from_env, print_result
from app.cli.output import JsonOpt, emit_json, err, fail, locate, out, waiting
from core.errors import InvalidRequestError, MmragError


def _print(text: str, stderr: bool = False, markup: bool = True) -> None:
    (err if stderr else out).print(text, markup=markup, highlight=False)


router_app = typer.Typer(help="Train the query router on your own labelled questions.", no_args_is_help=True)


def ask(
    question: Annotated[
        str, typer.Argument(help="The question to answer from the index.", metavar="QUESTION")
    ],
    json_out: JsonOpt = False,
) -> None:
    """Answer a question from the indexed files, with numbered sources.

    `--json` prints the same fields as the API's `POST /v1/ask`: text (also as `answer`), citations, route,
    timings, abstained, conflicts.
    """
    from app.backend_select import open_backend

    if not question.strip():
        raise fail("the question is empty")
    backend = open_backend("ask", container_from_env, on_wait=waiting)
    try:
        answer = backend.ask(question)
    finally:
        backend.close()
    if json_out:
        emit_json(answer)
        return
    _print(answer["text"], markup=False)
    if answer.get("citations"):
        _print("\n[bold]Sources[/bold]")
    for c in answer.get("citations", []):
        _print(f"  [{c['n']}] {locate(c['uri'], c.get('locator') or {})}", markup=False)
    route = answer.get("route")
    if route:
        _print(
            stderr=True,
            text=f"route: {', '.join(route.get('selected', []))} ({route.get('router', '')})",
            markup=False,
        )


def route(
    question: Annotated[str, typer.Argument(help="The question to route.")],
    json_out: JsonOpt = False,
) -> None:
    """Show which corpora (routes) the router picks for a question, with probabilities."""
    if not question.strip():
        raise fail("the question is empty")
    container = container_from_env()
    try:
        decision = container.router.route(question)
    except MmragError as exc:
        raise fail(str(exc), 1) from exc
    if json_out:
        emit_json(decision.to_dict())
        return
    _print(f"search: {', '.join(r.value for r in decision.selected)}  ({decision.router})")
    for r, p in sorted(decision.probabilities.items(), key=lambda kv: -kv[1]):
        _print(f"  {r.value:<10} {p:.3f}")


@router_app.command("train")
def router_train(
    file: Annotated[Path, typer.Argument(help='JSON lines {"question": ..., "route": ...}.')],
    out_path: Annotated[
        Path | None,
        typer.Option("--out", help="Weights file (.npz); default $MMRAG_HOME/router_weights.npz."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Fold shuffling and solver seed.")] = 0,
    folds: Annotated[int, typer.Option(min=0, help="Cross-validation folds for the report (0: none).")] = 5,
    json_out: JsonOpt = False,
) -> None:
    """Train the router on labelled questions; writes the weights and a provenance JSON beside them."""
    from retrieval.routing.router_training import train_router

    if not file.is_file():
        raise fail(f"{file}: no such file")
    container = container_from_env()
    target = out_path or container.settings.home / "router_weights.npz"
    try:
        provenance = train_router(
            file,
            container.text_encoder,
            target,
            seed=seed,
            cv_folds=folds,
            encoder_name=container.settings.text_model,
            progress=None if json_out else (lambda msg: _print(msg, stderr=True)),
        )
    except MmragError as exc:
        raise fail(str(exc), 1) from exc
    if json_out:
        emit_json({"weights": str(target), **provenance})
        return
    cv = provenance.get("cross_validation") or {}
    if cv:
        ours, bow = cv["trained_router"], cv["bag_of_words"]
        _print(
            f"{cv['folds']}-fold CV: accuracy {ours['accuracy']:.3f}, macro-F1 {ours['macro_f1']:.3f} "
            f"(bag of words: {bow['accuracy']:.3f} / {bow['macro_f1']:.3f})"
        )
    _print(f"wrote {target} (+ {target.with_suffix('.json').name})")
    if out_path is not None:
        _print(f"use it with MMRAG_ROUTER_PATH={target}")


def eval_router(
    file: Annotated[Path, typer.Argument(help='JSON lines {"question": ..., "route": ...}.', metavar="FILE")],
    json_out: JsonOpt = False,
) -> None:
    """Accuracy, macro-F1 and per-route scores of the configured router (top route vs the label)."""
    from evaluation.router import evaluate_router
    from retrieval.routing.router_training import load_labelled

    if not file.is_file():
        raise fail(f"{file}: no such file")
    container = container_from_env()
    try:
        questions, labels = load_labelled(file)
        result = evaluate_router(container.router, questions, labels)
    except MmragError as exc:
        raise fail(str(exc), 1) from exc
    _emit(result.to_json(), json_out)


def eval_images(
    images: Annotated[Path, typer.Option("--images", help="Folder of images.")],
    captions: Annotated[Path, typer.Option("--captions", help="COCO captions JSON for those images.")],
    limit: Annotated[int, typer.Option(min=0, help="Only the first N images (0: all).", metavar="N")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Text→image and image→text Recall@1/5/10 with the configured CLIP model."""
    from evaluation.images import evaluate_images

    if not images.is_dir() or not captions.is_file():
        raise fail("--images must be a folder and --captions a COCO captions file")
    container = container_from_env()
    encoder = container.image_encoder
    if encoder is None:
        raise fail(f"no CLIP model: {container.unavailable.get('image', 'disabled')}", 1)
    try:
        result = evaluate_images(encoder, images, captions, limit, clip_model=container.settings.clip_model)
    except MmragError as exc:
        raise fail(str(exc), 1) from exc
    _emit(result.to_json(), json_out)


def eval_qa(
    file: Annotated[
        Path, typer.Argument(help="JSON lines: question, answers, impossible, uri.", metavar="FILE")
    ],
    limit: Annotated[int, typer.Option(help="Only the first N questions (0: all).")] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="Accepted for symmetry: always JSON.")] = True,
) -> None:
    """Measure `ask` on the indexed collection with your own questions; prints the metrics as JSON."""
    from app.container import Container
    from evaluation.qa import evaluate_qa, load_qa

    if not file.is_file():
        raise fail(f"{file}: no such file")
    try:
        items = load_qa(file)
    except InvalidRequestError as exc:
        raise fail(str(exc)) from exc
    if limit > 0:
        items = items[:limit]
    container = Container()
    try:
        result = evaluate_qa(container.rag.ask, items)
    except MmragError as exc:
        raise fail(str(exc), 1) from exc
    finally:
        container.close()
    emit_json({"file": str(file), **result.to_json()})


def _emit(result: dict[str, Any], json_out: bool) -> None:
    if json_out:
        emit_json(result)
    else:
        print_result(result)
