"""Hostile input (issue 13): no file can abort a batch, exhaust memory, run forever or read outside its folder.

The corpus (tests/fixtures/hostile.py) is generated here: 38 kinds of broken and hostile files plus good
ones. One `mmrag index --json` over all of them runs as a real subprocess (the real CLI, the isolated
extraction worker, the real MiniLM and embedded Qdrant) and must finish in bounded time and memory with one
report line per bad file, nothing read outside the folder, and the good files searchable after.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.errors import ExtractionError
from core.protocols import Extracted, Record
from core.settings import Settings
from core.types import Granularity, Locator, Modality, SearchFilter, Segment, Source, segment_id
from indexing.index_report import IndexReport
from indexing.pipeline import PendingFile
from indexing.walk import readable, walk
from retrieval.stores.qdrant_common import clean_payload
from tests.conftest import REPO
from tests.fixtures.hostile import CAPS, GOOD_WORDS, Kind, build_corpus, run_measured, write_kind

pytestmark = pytest.mark.integration

MAX_SECONDS = 300.0
MAX_PEAK_MB = 4096.0
CLI = [sys.executable, "-c", "from app.cli.main import main; main()"]


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, **CAPS, "MMRAG_EXTRACT_ISOLATION": "process", **extra}


def _cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, Any, str]:
    run = run_measured([*CLI, *args], env or _env(), timeout_s=MAX_SECONDS, cwd=REPO)
    stdout = run.stdout.decode("utf-8")  # strict: the output must be valid UTF-8
    stderr = run.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr, stderr[-3000:]
    data = json.loads(stdout.strip().splitlines()[-1]) if "--json" in args and stdout.strip() else stdout
    return run.returncode, data, stderr


def _name(uri: str, folder: Path) -> str:
    return os.path.relpath(uri, readable(str(folder)))


# --- one run over every kind ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory: pytest.TempPathFactory, tiny_clip: str) -> dict[str, Any]:
    """Index the whole corpus once with the real CLI; keep the report, sources, time and peak memory."""
    root = tmp_path_factory.mktemp("hostile")
    folder = root / "corpus"
    kinds = build_corpus(folder)
    env = _env(MMRAG_HOME=str(root / "home"), MMRAG_CLIP_MODEL=tiny_clip)
    run = run_measured([*CLI, "index", str(folder), "--json"], env, timeout_s=MAX_SECONDS, cwd=REPO)
    code, listed, _ = _cli("sources", "--json", env=env)
    assert code == 0
    return {"folder": folder, "kinds": kinds, "run": run, "env": env, "sources": listed["sources"]}


def test_every_kind_gets_its_outcome_in_one_run(corpus_run: dict[str, Any]) -> None:
    run, folder, kinds = corpus_run["run"], corpus_run["folder"], corpus_run["kinds"]
    stderr = run.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr, stderr[-3000:]
    report = json.loads(run.stdout.decode("utf-8").strip().splitlines()[-1])
    assert run.returncode == 1, "some files failed: exit code 1"
    assert len(kinds) >= 35
    failed = {_name(f["uri"], folder): f["error"] for f in report["failed"]}
    skipped = {_name(f["uri"], folder): f["reason"] for f in report["skipped"]}
    assert len(failed) == len(report["failed"]) and len(skipped) == len(report["skipped"]), (
        "one line per file"
    )
    for kind in kinds:
        if kind.outcome == "failed":
            assert kind.name in failed, (kind, failed)
            assert kind.reason in failed[kind.name], (kind, failed[kind.name])
        elif kind.outcome == "skipped":
            assert kind.name in skipped, (kind, skipped)
            assert kind.reason in skipped[kind.name], (kind, skipped[kind.name])
        else:
            assert kind.name not in failed and kind.name not in skipped, kind
    bad = {k.name for k in kinds if k.outcome in ("failed", "skipped")}
    assert set(failed) | set(skipped) == bad, "a report line for each bad file and for nothing else"
    assert all("\n" not in reason for reason in [*failed.values(), *skipped.values()])


def test_the_run_is_bounded_in_time_and_memory(corpus_run: dict[str, Any]) -> None:
    run = corpus_run["run"]
    assert run.seconds < MAX_SECONDS, run.seconds
    assert run.peak_rss_mb < MAX_PEAK_MB, run.peak_rss_mb


def test_nothing_outside_the_folder_is_read(corpus_run: dict[str, Any]) -> None:
    folder = readable(os.path.realpath(corpus_run["folder"]))
    uris = [s["uri"] for s in corpus_run["sources"]]
    assert uris and all(u.startswith(folder + os.sep) for u in uris), uris
    indexed = [s for s in corpus_run["sources"] if s["status"] == "indexed"]
    code, found, _ = _cli("search", "root:x:0:0 /bin/bash nologin", "--json", env=corpus_run["env"])
    assert code == 0
    assert all("root:x:0:0" not in h["text"] for h in found["hits"]), "the /etc/passwd link was read"
    assert {Path(s["uri"]).name for s in indexed} >= {"notes.md", "recipe.txt", "page.html", "nan-gps.jpg"}


def test_sources_list_every_failed_path_and_both_copies(corpus_run: dict[str, Any]) -> None:
    folder = corpus_run["folder"]
    rows = {_name(s["uri"], folder): s for s in corpus_run["sources"]}
    for kind in corpus_run["kinds"]:
        if kind.outcome in ("failed", "skipped"):
            assert rows[kind.name]["status"] == kind.outcome, rows.get(kind.name)
            assert kind.reason in rows[kind.name]["error"]
    # Failures found before hashing are listed too, without a content hash.
    assert rows["empty.txt"]["source_id"] == "" and rows["named-pipe"]["status"] == "failed"
    # Same bytes at two paths: both listed.
    assert rows["copies/notes.md"]["status"] == "duplicate" and rows["notes.md"]["status"] == "indexed"
    assert rows["copies/notes.md"]["source_id"] == rows["notes.md"]["source_id"]
    assert rows["corrupt.pdf"]["status"] == rows["corrupt-copy.pdf"]["status"] == "failed"
    assert len({s["uri"] for s in corpus_run["sources"]}) == len(corpus_run["sources"]), "one row per path"


def test_good_files_are_searchable_after(corpus_run: dict[str, Any]) -> None:
    folder = corpus_run["folder"]
    for name, word in GOOD_WORDS.items():
        code, found, _ = _cli("search", word, "--k", "3", "--json", env=corpus_run["env"])
        assert code == 0 and found["hits"], word
        top = found["hits"][0]
        assert _name(top["uri"], folder) == readable(name) and word in top["text"], (word, top["uri"])
    # The file name that is not UTF-8 is shown readably, the same in the report and in search hits.
    assert readable("caf\udce9-menu.txt") == "caf\\xe9-menu.txt"


def test_plain_text_output_survives_markup_and_odd_names(corpus_run: dict[str, Any]) -> None:
    code, text, stderr = _cli("index", str(corpus_run["folder"]), env=corpus_run["env"])
    assert code == 1 and "unchanged" in text
    assert "[red]markup[/b].txt" not in stderr, "indexed files are not reported as failures"
    lines = [line for line in stderr.splitlines() if line.startswith(("failed", "skipped"))]
    bad = [k.name for k in corpus_run["kinds"] if k.outcome in ("failed", "skipped")]
    missing = [name for name in bad if not any(name.replace("\n", " ") in line for line in lines)]
    assert len(lines) == len(bad) and not missing, ("one line per bad file", missing, lines)
    code, listing, _ = _cli("sources", env=corpus_run["env"])
    assert code == 0 and "[red]markup[/b].txt" in listing and "caf\\xe9-menu.txt" in listing


# --- the store: payloads and failed writes ----------------------------------------------------------------


def _segment(source_id: str, text: str, metadata: dict[str, Any] | None = None) -> Segment:
    locator = Locator(index=0)
    return Segment(
        segment_id=segment_id(source_id, Granularity.PARAGRAPH, locator),
        source_id=source_id,
        uri=f"/files/{source_id}.txt",
        modality=Modality.TEXT,
        granularity=Granularity.PARAGRAPH,
        text=text,
        locator=locator,
        metadata=metadata or {},
    )


@pytest.mark.unit
def test_clean_payload_makes_every_value_storable() -> None:
    from fractions import Fraction

    from PIL.TiffImagePlugin import IFDRational

    dirty = {
        "nan": float("nan"),
        "inf": -math.inf,
        "rational": IFDRational(3, 0),
        "huge": 10**40,
        "int64": 2**63 - 1,
        "name": "caf\udce9.txt",
        "bytes": b"\xff\xfeok",
        "nested": {"t": (1, Fraction(1, 3), np.float32("nan")), 5: np.int64(7)},
        "deep": {"a": {"a": {"a": {}}}},
        "object": Kind("x", "y"),
    }
    clean = clean_payload(dirty)
    assert clean["nan"] is None and clean["inf"] is None and clean["rational"] is None
    assert clean["huge"] == str(10**40) and clean["int64"] == 2**63 - 1
    assert clean["name"] == "caf\\xe9.txt" and clean["bytes"] == "\\xff\\xfeok"
    assert clean["nested"] == {"t": [1, 1 / 3, None], "5": 7}
    assert clean["object"] == str(Kind("x", "y"))
    json.dumps(clean, allow_nan=False).encode("utf-8")  # strict JSON, valid UTF-8


def test_the_engine_stores_sanitized_payloads(tmp_path: Path) -> None:
    from retrieval.stores.qdrant_edge_store import QdrantEdgeStore

    store = QdrantEdgeStore(tmp_path / "store")
    store.ensure({"text": 4})
    meta = {"gps_lat": float("nan"), "counter": 10**30, "camera": "Cam\udcff", "exif": {"x": math.inf}}
    seg = _segment("a" * 64, "odd payload", meta)
    store.upsert([Record(segment=seg, dense={"text": np.ones(4, np.float32)})])
    [back] = store.get([seg.segment_id])
    assert back.metadata == {
        "gps_lat": None,
        "counter": str(10**30),
        "camera": "Cam\\xff",
        "exif": {"x": None},
    }
    store.close()


def test_a_refused_write_fails_only_its_file(make_container: Any, tmp_path: Path) -> None:
    """A record the engine refuses (a vector of the wrong size) fails its file; the other files are stored."""
    c = make_container()
    c.store.ensure({"text": 384})
    report = IndexReport()
    pending, records = [], []
    for n in range(5):
        sid = f"{n:064x}"
        source = Source(source_id=sid, uri=str(tmp_path / f"f{n}.txt"), mime="text/plain", size=10)
        seg = _segment(sid, f"file number {n}")
        item = PendingFile(source, [Extracted(segment=seg)], [])
        c.indexer.begin_source(item)
        pending.append(item)
        dim = 7 if n == 3 else 384  # the engine refuses a 7-d vector in the 384-d space
        records.append(Record(segment=seg, dense={"text": np.ones(dim, np.float32) / math.sqrt(dim)}))
    c.indexer.write(pending, records, report)
    assert report.indexed == 4 and [Path(f.uri).name for f in report.failed] == ["f3.txt"]
    assert "store write failed" in report.failed[0].error
    assert c.store.count() == 4
    assert c.manifest.get(f"{3:064x}") is None and c.manifest.get(f"{4:064x}").status == "indexed"
    assert c.store.count(SearchFilter(source_ids=(f"{3:064x}",))) == 0


# --- the walk -----------------------------------------------------------------------------------------------


def test_links_out_of_the_folder_are_skipped_unless_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    os.symlink(outside / "secret.txt", folder / "secret-link.txt")
    os.symlink(outside, folder / "outside-link")
    os.symlink(folder, folder / "sub" / "back-to-root")  # a loop through a link inside the folder
    os.symlink(folder / "a.txt", folder / "inner-link.txt")

    entries = {os.path.relpath(e.path, folder): e.skip for e in walk([folder])}
    assert entries["a.txt"] is None and entries["inner-link.txt"] is None
    assert "outside the indexed folder" in entries["secret-link.txt"]
    assert "outside the indexed folder" in entries["outside-link"]
    assert not any(name.startswith("sub") for name in entries), "a link back to the root is not walked"

    followed = {os.path.relpath(e.path, folder): e.skip for e in walk([folder], follow_links=True)}
    assert followed["secret-link.txt"] is None and followed["outside-link/secret.txt"] is None
    assert all(skip is None for skip in followed.values())
    assert len(followed) == 4, "each real folder walked once: the loop ends"


def test_follow_links_flag_indexes_a_link_out_of_the_folder(mmrag_home: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "far.txt").write_text("The far away file mentions the okapi.")
    folder = tmp_path / "folder"
    folder.mkdir()
    os.symlink(outside / "far.txt", folder / "far-link.txt")
    code, report, _ = _cli("index", str(folder), "--json")
    assert code == 0 and report["indexed"] == 0 and report["skipped"][0]["uri"].endswith("far-link.txt")
    code, report, _ = _cli("index", str(folder), "--follow-links", "--json")
    assert code == 0 and report["indexed"] == 1, report
    code, listed, _ = _cli("sources", "--json")
    assert [s["uri"] for s in listed["sources"] if s["status"] == "indexed"] == [
        str(folder.resolve() / "far-link.txt")
    ], "a link is named by where it is, not by its target"


# --- isolation: time and memory budgets -------------------------------------------------------------------


def _extract(extraction: Any, path: Path) -> list[Extracted]:
    from indexing.sources import load_source

    return extraction.extract(load_source(path), path)


def test_a_file_over_the_time_budget_fails_and_the_next_one_works(tmp_path: Path) -> None:
    from app.builders import build_extraction

    write_kind(tmp_path, "scanned-over-ocr-limit.pdf")
    good = tmp_path / "good.txt"
    good.write_text("A short and ordinary text file.")
    settings = Settings(home=tmp_path / "home", extract_isolation="process", extract_timeout_s=0.3)
    extraction = build_extraction(settings, [])  # the worker process, as the container builds it
    try:
        _extract(extraction, good)  # starts the worker (imports) outside the budget under test
        with pytest.raises(ExtractionError, match="longer than 0.3 s"):
            _extract(extraction, tmp_path / "scanned-over-ocr-limit.pdf")  # OCR takes seconds
        assert [i.segment.text for i in _extract(extraction, good)] != []
    finally:
        extraction.close()


def test_a_file_over_the_memory_budget_fails_and_the_next_one_works(tmp_path: Path) -> None:
    from PIL import Image

    from app.builders import build_extraction

    big = tmp_path / "big.png"
    Image.new("RGB", (12000, 8000), (10, 200, 30)).save(big, compress_level=1)  # 96 MP: under the pixel cap
    good = tmp_path / "good.txt"
    good.write_text("A short and ordinary text file.")
    settings = Settings(home=tmp_path / "home", ocr=False, extract_isolation="process", extract_memory_mb=700)
    extraction = build_extraction(settings, [])  # the worker process, as the container builds it
    try:
        with pytest.raises(ExtractionError, match="memory"):
            _extract(extraction, big)
        assert _extract(extraction, good)
    finally:
        extraction.close()


# --- the largest kinds (slow tier) ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", ["zip-bomb-1GiB.docx", "one-line-60MB.html", "huge-20MB.md"])
def test_large_hostile_files_fail_fast_with_their_limit(name: str, tmp_path: Path, tiny_clip: str) -> None:
    folder = tmp_path / "corpus"
    kind: Kind = write_kind(folder, name)
    (folder / "ok.txt").write_text("An ordinary file about the narwhal.")
    env = {**os.environ, "MMRAG_HOME": str(tmp_path / "home"), "MMRAG_CLIP_MODEL": tiny_clip}
    run = run_measured([*CLI, "index", str(folder), "--json"], env, timeout_s=MAX_SECONDS, cwd=REPO)
    assert "Traceback" not in run.stderr.decode("utf-8", "replace")
    report = json.loads(run.stdout.decode("utf-8").strip().splitlines()[-1])
    assert report["indexed"] == 1 and [Path(f["uri"]).name for f in report["failed"]] == [name]
    assert kind.reason in report["failed"][0]["error"]
    assert run.seconds < 120 and run.peak_rss_mb < MAX_PEAK_MB, (run.seconds, run.peak_rss_mb)


# --- the API: a body limit on every endpoint -----------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/search", "/v1/ask", "/v1/local/index"])
def test_every_endpoint_refuses_a_huge_body_before_reading_it(path: str, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from app.api.main import create_app

    app = create_app(Settings(home=tmp_path / "home", max_body_kb=64))
    client = TestClient(app)  # no lifespan: nothing is loaded, the limit answers before any route
    big = b'{"query": "' + b"x" * (200 * 1024) + b'"}'
    response = client.post(path, content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413, response.text
    assert "MMRAG_MAX_BODY_KB" in response.json()["error"]["message"]

    def chunks() -> Any:  # no Content-Length: counted as it arrives
        yield b'{"query": "'
        for _ in range(100):
            yield b"x" * 4096
        yield b'"}'

    response = client.post(path, content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413, response.text


# --- the API: a file that keeps taking the server down is not retried forever -----------------------------


def test_a_job_file_that_keeps_stopping_the_server_fails_after_bounded_attempts(tmp_path: Path) -> None:
    from app.api.jobs import MAX_ATTEMPTS, JobRunner, JobStore
    from app.api.uploads import UploadStore

    uploads = UploadStore(tmp_path / "uploads")
    (tmp_path / "x.txt").write_text("a file whose indexing stopped the server")
    with (tmp_path / "x.txt").open("rb") as f:
        stored = uploads.save(f, "x.txt")
    jobs = JobStore(tmp_path / "mmrag.db")
    job_id = jobs.create([stored])
    jobs.set_job(job_id, "running")

    def no_indexing() -> Any:
        raise AssertionError("a file over its attempts must not be indexed again")

    runner = JobRunner(jobs, uploads, no_indexing)
    # The server stopped while the file was on its last attempt: the restart gives up on it.
    jobs.set_file(job_id, 0, "running", error=f"attempt {MAX_ATTEMPTS}")
    runner.run(job_id)
    job = jobs.get(job_id).to_dict()
    assert job["state"] == "failed" and job["files"][0]["state"] == "failed"
    assert f"stopped {MAX_ATTEMPTS} times" in job["files"][0]["error"]


# --- the corpus through POST /v1/sources ------------------------------------------------------------------


def test_the_corpus_uploaded_through_the_api(tmp_path: Path, tiny_clip: str) -> None:
    """Every regular file of the corpus uploaded: each bad one named failed with its reason in the job, the
    good ones indexed, no 5xx, and nothing written outside the server's home."""
    from tests.fixtures.api_server import API_KEY, AUTH, ApiServer

    folder = tmp_path / "corpus"
    kinds = {k.name: k for k in build_corpus(folder)}
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and not p.is_symlink() and os.path.getsize(p) < 4_000_000
    )
    home = tmp_path / "home"
    env = {
        **CAPS,
        "MMRAG_API_KEYS": f'["{API_KEY}"]',
        "MMRAG_CLIP_MODEL": tiny_clip,
        "MMRAG_MAX_UPLOAD_FILES": "60",
    }
    outside_before = sorted(p.name for p in tmp_path.iterdir())
    server = ApiServer(home, env)
    try:
        with server.client() as http:
            body = [
                ("files", (f"f{i:02d}", p.read_bytes(), "application/octet-stream"))
                for i, p in enumerate(files)
            ]
            accepted = http.post("/v1/sources", files=body, headers=AUTH)
            assert accepted.status_code == 202, accepted.text
        job = server.wait_job(accepted.json()["job_id"], timeout=MAX_SECONDS)
        with server.client() as http:
            statuses = [http.get(p, headers=AUTH).status_code for p in ("/v1/sources", "/v1/health")]
    finally:
        server.stop()
    assert all(s < 500 for s in statuses), statuses
    by_name = {files[int(f["name"][1:])]: f for f in job["files"]}
    for path, result in by_name.items():
        name = os.path.relpath(path, folder)
        kind = kinds.get(name)
        if kind is not None and kind.outcome in ("failed", "skipped"):
            assert result["state"] == "failed", (name, result)
            assert kind.reason in result["error"] or kind.outcome == "skipped", (name, result)
            assert str(tmp_path) not in result["error"], "no server path in an error"
        elif kind is None or kind.outcome == "indexed":
            assert result["state"] in ("indexed", "unchanged"), (name, result)
    written = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("api-"))  # the server's log
    assert written == sorted([*outside_before, "home"]), "only the server's home was written"
