"""`mmrag eval asr`: word error rate of the configured (or a given) Whisper model on a JSONL of utterances."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli.output import JsonOpt, emit_json, err, fail, out
from core.errors import MmragError


def eval_asr(
    file: Annotated[Path, typer.Argument(help='JSONL lines {"audio": path, "text": reference transcript}.')],
    model: Annotated[
        str | None, typer.Option(help="faster-whisper size or path; default MMRAG_ASR_MODEL ('packaged').")
    ] = None,
    compute_type: Annotated[
        str | None, typer.Option(help="int8, float16, ...; default MMRAG_ASR_COMPUTE_TYPE.")
    ] = None,
    beam_size: Annotated[
        int, typer.Option(min=1, help="Decoding beam (1 = greedy; 5 as indexing uses).")
    ] = 5,
    json_out: JsonOpt = False,
) -> None:
    """Transcribe each utterance and print the word error rate (lower is better)."""
    from core.settings import Settings
    from evaluation.asr import evaluate_asr
    from indexing.extractors.whisper_asr import WhisperAsr

    if not file.is_file():
        raise fail(f"{file}: no such file")
    settings = Settings()
    asr = WhisperAsr(
        model=model or settings.asr_model,
        compute_type=compute_type or settings.asr_compute_type,
        device=settings.device,
        beam_size=beam_size,
    )
    try:
        result = evaluate_asr(file, asr)
    except MmragError as exc:
        raise fail(str(exc), 2 if "expected" in str(exc) or "no utterances" in str(exc) else 1) from exc
    if json_out:
        emit_json(result.to_json())
        return
    for row in result.errors:
        err.print(f"{row.wer:.3f}  {Path(row.audio).name}: {row.hypothesis}", markup=False)
    out.print(
        f"WER {result.wer:.4f} over {result.utterances} utterances ({result.words} words: "
        f"{result.substitutions} sub, {result.deletions} del, {result.insertions} ins); "
        f"real-time factor {result.rtf}"
    )
