"""Hostile input: per kind of broken or hostile file, the outcome, the reason, the time and the peak memory.

Each kind from tests/fixtures/hostile.py is written alone into its own folder and indexed by one indexer
(the real MiniLM, the embedded engine, extraction in the isolated worker): the time is that file's, the
peak memory the summed RSS of this process and the extraction worker while it ran. Then the whole corpus
goes through one real `mmrag index --json` (wall time and peak memory of its process tree), and the cost
of isolation is measured on ordinary files (the same files extracted in-process and through the worker).

    python -m benchmarks.bench_hostile [--large]

writes benchmarks/results/hostile.json. `--large` adds the full-size kinds (a 1 GiB zip bomb, a 60 MB
one-line page, 20 MB of Markdown) with the default limits.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import write_result

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples" / "files"


@contextmanager
def tree_peak() -> Iterator[list[float]]:
    """Sample the summed RSS (MiB) of this process and its children every 20 ms; yields [peak]."""
    import psutil

    me = psutil.Process()
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    continue
            peak[0] = max(peak[0], total / 2**20)
            done.wait(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        done.set()
        thread.join()


def _outcome(report: Any, uri: str, manifest: Any) -> tuple[str, str]:
    for f in report.failed:
        if f.uri == uri:
            return "failed", f.error
    for f in report.skipped:
        if f.uri == uri:
            return "skipped", f.error
    rows = [r for r in manifest.sources() if r.uri == uri]
    if rows:
        return rows[0].status, rows[0].error or ""
    return "ignored", ""


def per_kind(root: Path, large: bool) -> list[dict[str, Any]]:
    """Index each kind alone; outcome, reason, seconds and peak MiB per kind."""
    from app.container import Container
    from core.settings import Settings
    from indexing.walk import readable, walk
    from tests.fixtures.hostile import CAPS, kind_names, write_kind

    caps = {k.removeprefix("MMRAG_").lower(): v for k, v in CAPS.items()}
    rows: list[dict[str, Any]] = []
    for large_run in [False, True] if large else [False]:
        settings = Settings(home=root / f"home-{large_run}", clip_model="", **({} if large_run else caps))
        container = Container(settings)
        indexer = container.indexer
        indexer.index_paths([SAMPLES / "field-notes.md"])  # load models and start the worker first
        names = kind_names(large=True)[len(kind_names()) :] if large_run else kind_names()
        for n, name in enumerate(names):
            folder = root / f"kind-{large_run}-{n}"
            kind = write_kind(folder, name)
            entries = list(walk([folder]))
            with tree_peak() as peak:
                started = time.perf_counter()
                report = indexer.index_entries(entries)
                seconds = time.perf_counter() - started
            uri = readable(os.path.join(os.path.realpath(folder), name))
            outcome, reason = _outcome(report, uri, container.manifest)
            rows.append(
                {
                    "kind": readable(name),
                    "expected": kind.outcome,
                    "outcome": outcome,
                    "reason": reason,
                    "seconds": round(seconds, 3),
                    "peak_mb": round(peak[0], 1),
                    "limits": "default" if large_run else "CAPS",
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr)
        container.close()
    return rows


def whole_corpus(root: Path) -> dict[str, Any]:
    """One real `mmrag index --json` over every kind plus the good files."""
    from tests.fixtures.hostile import CAPS, build_corpus, run_measured

    folder = root / "corpus"
    kinds = build_corpus(folder)
    env = {**os.environ, **CAPS, "MMRAG_HOME": str(root / "home-cli"), "MMRAG_CLIP_MODEL": ""}
    cmd = [sys.executable, "-c", "from app.cli.main import main; main()", "index", str(folder), "--json"]
    run = run_measured(cmd, env, timeout_s=900, cwd=REPO)
    report = json.loads(run.stdout.decode("utf-8").strip().splitlines()[-1])
    stderr = run.stderr.decode("utf-8", "replace")
    return {
        "command": "mmrag index CORPUS --json (limits from tests/fixtures/hostile.py CAPS)",
        "kinds": len(kinds),
        "exit_code": run.returncode,
        "seconds": round(run.seconds, 1),
        "peak_mb": round(run.peak_rss_mb, 1),
        "traceback": "Traceback" in stderr,
        "indexed": report["indexed"],
        "failed": len(report["failed"]),
        "skipped": len(report["skipped"]),
    }


def isolation_overhead(root: Path, rounds: int = 3) -> dict[str, Any]:
    """Extraction time of ordinary files in-process vs through the warm worker (same extractors)."""
    from app.builders import build_extraction, build_extractors
    from core.settings import Settings
    from indexing.extraction_worker import InlineExtraction
    from indexing.extractors.rapidocr_ocr import RapidOcr
    from indexing.sources import load_source

    settings = Settings(home=root / "home-overhead", clip_model="", extract_isolation="process")
    files = sorted(p for p in SAMPLES.iterdir() if p.is_file())
    inline = InlineExtraction(build_extractors(settings, RapidOcr()))
    isolated = build_extraction(settings, [])
    times: dict[str, list[float]] = {"inline": [], "isolated": []}
    try:
        for path in files:  # warm both (models, worker start)
            inline.extract(load_source(path), path)
            isolated.extract(load_source(path), path)
        for _ in range(rounds):
            for name, extraction in (("inline", inline), ("isolated", isolated)):
                started = time.perf_counter()
                for path in files:
                    extraction.extract(load_source(path), path)
                times[name].append((time.perf_counter() - started) / len(files))
    finally:
        isolated.close()
    inline_s, isolated_s = statistics.median(times["inline"]), statistics.median(times["isolated"])
    return {
        "files": [p.name for p in files],
        "inline_s_per_file": round(inline_s, 4),
        "isolated_s_per_file": round(isolated_s, 4),
        "overhead_ms_per_file": round((isolated_s - inline_s) * 1000, 1),
        "overhead_ratio": round(isolated_s / inline_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--large", action="store_true", help="also the full-size kinds (minutes, ~1 GiB disk)"
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        root = Path(tmp)
        kinds = per_kind(root, args.large)
        corpus = whole_corpus(root)
        overhead = isolation_overhead(root)
    mismatched = [k["kind"] for k in kinds if k["outcome"] != k["expected"]]
    write_result(
        "hostile",
        {
            "kinds": kinds,
            "mismatched": mismatched,
            "slowest_kind_s": max(k["seconds"] for k in kinds),
            "peak_mb_max": max(k["peak_mb"] for k in kinds),
            "whole_corpus": corpus,
            "isolation_overhead": overhead,
        },
    )


if __name__ == "__main__":
    main()
