"""Bounded load test of the REST API on loopback: concurrent searches, then searches during uploads.

Starts `mmrag serve` (real MiniLM text encoder; the tiny random CLIP for the image space, since no CLIP
weights can be downloaded here) on a fresh MMRAG_HOME, seeds it with the docling PDFs and COCO photos
through the API, then measures:
  1. search only: `--workers` threads sending `POST /v1/search` for `--seconds`;
  2. mixed: the same searches while `--uploaders` threads upload COCO photos one per request, with the
     background indexer running; upload accept latency and time until each job is done.
Reports p50/p95/p99 latency, throughput and errors per phase to benchmarks/results/load.json.

    python benchmarks/bench_load.py [--workers 8 --uploaders 2 --seconds 30]
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
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fixtures.api_server import AUTH, COCO, PDF_DIR, ApiServer  # noqa: E402
from tests.fixtures.tiny_clip import build_tiny_clip  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "load.json"


def _queries() -> list[str]:
    captions = json.loads((COCO.parent / "captions.json").read_text())["annotations"]
    texts = [a["caption"].strip() for a in captions[:60]]
    return texts + ["history of the word processor", "insurance premium calculation", "table of results"]


def _summary(latencies: list[float], errors: int, seconds: float) -> dict[str, Any]:
    ordered = sorted(latencies)

    def pct(p: float) -> float | None:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1) if ordered else None

    return {
        "requests": len(latencies) + errors,
        "ok": len(latencies),
        "errors": errors,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 1) if ordered else None,
        "throughput_rps": round(len(latencies) / seconds, 2),
    }


class Phase:
    """Runs worker functions in threads until a deadline; collects latencies and errors by kind."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = {}
        self.errors: dict[str, list[str]] = {}

    def record(self, kind: str, elapsed: float | None, error: str | None = None) -> None:
        with self.lock:
            if error is None:
                self.latency.setdefault(kind, []).append(elapsed or 0.0)
            else:
                self.errors.setdefault(kind, []).append(error)

    def run(self, workers: list[threading.Thread]) -> None:
        for w in workers:
            w.start()
        for w in workers:
            w.join()


def searcher(url: str, phase: Phase, queries: list[str], offset: int) -> None:
    with httpx.Client(base_url=url, timeout=60) as http:
        i = offset
        while time.monotonic() < phase.deadline:
            body = {"query": queries[i % len(queries)], "k": 10}
            i += 1
            start = time.perf_counter()
            try:
                r = http.post("/v1/search", json=body)
                ok = r.status_code == 200
                phase.record("search", time.perf_counter() - start, None if ok else f"HTTP {r.status_code}")
            except httpx.HTTPError as exc:
                phase.record("search", None, type(exc).__name__)


def uploader(url: str, phase: Phase, files: list[Path], jobs: list[tuple[str, float]]) -> None:
    with httpx.Client(base_url=url, timeout=120, headers=AUTH) as http:
        while time.monotonic() < phase.deadline:
            with phase.lock:
                if not files:
                    return
                path = files.pop()
            start = time.perf_counter()
            try:
                r = http.post("/v1/sources", files=[("files", (path.name, path.read_bytes()))])
                if r.status_code == 202:
                    phase.record("upload", time.perf_counter() - start)
                    with phase.lock:
                        jobs.append((r.json()["job_id"], time.monotonic()))
                else:
                    phase.record("upload", None, f"HTTP {r.status_code}")
            except httpx.HTTPError as exc:
                phase.record("upload", None, type(exc).__name__)


def wait_jobs(server: ApiServer, jobs: list[tuple[str, float]], timeout: float = 600) -> dict[str, Any]:
    """Time from accept to done for each job; states counted."""
    durations, states = [], {}
    for job_id, _accepted in jobs:
        job = server.wait_job(job_id, timeout=timeout)
        states[job["state"]] = states.get(job["state"], 0) + 1
        durations.append(job["updated_at"] - job["created_at"])
    return {
        "jobs": len(jobs),
        "states": states,
        "p50_accept_to_done_s": round(statistics.median(durations), 2) if durations else None,
        "max_accept_to_done_s": round(max(durations), 2) if durations else None,
    }


def seed(server: ApiServer, photos: list[Path]) -> dict[str, Any]:
    start = time.perf_counter()
    files = sorted(PDF_DIR.glob("*.pdf")) + photos
    with httpx.Client(base_url=server.url, timeout=300, headers=AUTH) as http:
        r = http.post("/v1/sources", files=[("files", (p.name, p.read_bytes())) for p in files])
        r.raise_for_status()
    job = server.wait_job(r.json()["job_id"], timeout=1200)
    return {"files": len(files), "state": job["state"], "seconds": round(time.perf_counter() - start, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--uploaders", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--seed-photos", type=int, default=20)
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    photos = sorted(COCO.glob("*.jpg"))
    with tempfile.TemporaryDirectory() as tmp:
        clip = build_tiny_clip(Path(tmp) / "clip")
        env = {"MMRAG_API_KEYS": f'["{AUTH["X-API-Key"]}"]', "MMRAG_CLIP_MODEL": clip, "MMRAG_OCR": "false"}
        started = time.perf_counter()
        server = ApiServer(Path(tmp) / "home", env)
        startup = time.perf_counter() - started
        try:
            seeded = seed(server, photos[: args.seed_photos])
            queries = _queries()

            only = Phase(args.seconds)
            only.run([threading.Thread(target=searcher, args=(server.url, only, queries, i * 7))
                      for i in range(args.workers)])  # fmt: skip

            mixed = Phase(args.seconds)
            pending = list(photos[args.seed_photos :])
            jobs: list[tuple[str, float]] = []
            threads = [threading.Thread(target=searcher, args=(server.url, mixed, queries, i * 11))
                       for i in range(args.workers)]  # fmt: skip
            threads += [threading.Thread(target=uploader, args=(server.url, mixed, pending, jobs))
                        for _ in range(args.uploaders)]  # fmt: skip
            mixed.run(threads)
            ingest = wait_jobs(server, jobs)
        finally:
            server.stop()

    result = {
        "benchmark": "api_load",
        "machine": {"cpus": os.cpu_count()},
        "config": {
            **vars(args),
            "ocr": False,
            "clip": "tiny random (no weights offline)",
            "text": "MiniLM-L6-v2",
        },
        "startup_s": round(startup, 1),
        "seed": seeded,
        "search_only": _summary(
            only.latency.get("search", []), len(only.errors.get("search", [])), args.seconds
        ),
        "mixed": {
            "search": _summary(
                mixed.latency.get("search", []), len(mixed.errors.get("search", [])), args.seconds
            ),
            "upload": _summary(
                mixed.latency.get("upload", []), len(mixed.errors.get("upload", [])), args.seconds
            ),
            "ingest": ingest,
        },
        "error_samples": {k: v[:5] for k, v in {**only.errors, **mixed.errors}.items()},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
