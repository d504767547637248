"""Crash safety, proven: SIGKILL during `mmrag index` (ten random moments, then a run to the end) leaves what
one clean run leaves; a server killed during an upload job resumes it on restart, never loses it.

Slow tier: real subprocesses, the real embedded engine, the repository's own PDFs, photos and notes.
Set MMRAG_CRASH_SEED to replay one sequence of kill times; `python -m benchmarks.bench_crash` runs 50.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.bench_crash import Snapshot, compare, container_snapshot, default_folder, trial
from tests.fixtures.api_server import AUTH, PDF_DIR, ApiServer

pytestmark = pytest.mark.slow


def test_sigkill_loop_during_index_leaves_what_a_clean_run_leaves(
    mmrag_home: Path, tmp_path: Path, text_encoder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMRAG_OCR", "false")
    folder = default_folder(tmp_path / "files", small=True)
    assert len(list(folder.iterdir())) == 8

    def snapshot(home: Path) -> Snapshot:
        return container_snapshot(home, {"text_encoder": text_encoder})

    seed = int(os.environ.get("MMRAG_CRASH_SEED") or random.randrange(1_000_000))
    result = trial(folder, tmp_path / "work", snapshot, kills=10, seed=seed)
    summary = {
        k: result[k]
        for k in ("seed", "clean_work_s", "killed_runs", "kills_leaving_partial_state", "details")
    }
    print(summary)
    assert result["killed_runs"] >= 10, summary  # killed while extracting, encoding or writing
    assert result["reference_points"] > 20 and result["points"] == result["reference_points"], summary
    assert (result["lost"], result["duplicated"], result["orphaned"]) == (0, 0, 0), summary
    assert result["segment_counts_equal"], summary
    assert result["final_exit_code"] == result["reference_exit_code"], summary


def _upload(server: ApiServer, files: list[Path]) -> str:
    with server.client() as http:
        response = http.post(
            "/v1/sources",
            headers=AUTH,
            files=[("files", (p.name, p.read_bytes(), "application/pdf")) for p in files],
        )
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def _job(server: ApiServer, job_id: str) -> dict[str, Any]:
    with server.client() as http:
        return dict(http.get(f"/v1/jobs/{job_id}", headers=AUTH).json())


def test_server_killed_during_an_upload_job_resumes_it(
    tmp_path: Path, tiny_clip: str, text_encoder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMRAG_CLIP_MODEL", tiny_clip)  # the snapshot below opens the same spaces
    env = {
        "MMRAG_API_KEYS": '["test-key"]',
        "MMRAG_CLIP_MODEL": tiny_clip,
        "MMRAG_OCR": "false",
    }
    home = tmp_path / "home"
    pdfs = sorted(PDF_DIR.glob("*.pdf"))[:4]
    server = ApiServer(home, env)
    try:
        job_id = _upload(server, pdfs)
        deadline = time.monotonic() + 60
        while _job(server, job_id)["state"] == "queued":  # kill it while the job runs
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(random.uniform(0.0, 1.5))
        before = _job(server, job_id)
    finally:
        server.stop(signal.SIGKILL)
    assert before["state"] in ("running", "done")

    server = ApiServer(home, env)  # same home: the stale server.json is replaced, the job resumes
    try:
        job = server.wait_job(job_id)
        assert job["state"] == "done" and job["error"] is None, job
        assert [f["state"] for f in job["files"]] and all(
            f["state"] in ("indexed", "unchanged") for f in job["files"]
        )
        with server.client() as http:
            listed = http.get("/v1/sources", headers=AUTH).json()["sources"]
        assert sorted(s["uri"] for s in listed if s["status"] == "indexed") == sorted(p.name for p in pdfs)
    finally:
        server.stop()
    got = container_snapshot(home, {"text_encoder": text_encoder})
    consistent = compare(got, got)  # against itself: counts every point of no indexed source
    assert consistent.orphaned == 0 and got.points, consistent
    assert all(status == "indexed" for _, _, status, _ in got.rows)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{server.url}/healthz", timeout=1)
