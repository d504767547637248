"""The REST API through real HTTP: `mmrag serve` in a subprocess on loopback, real models and files.

The image space uses the tiny random-weight CLIP (no CLIP weights can be downloaded here), so image hits
are checked for shape and plumbing, not for relevance; text relevance uses the real MiniLM.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from app.api.jobs import JobStore
from app.api.uploads import UploadStore
from tests.fixtures.api_server import (
    AUTH,
    COCO,
    PDF_DIR,
    ApiServer,
    mmrag_cmd,
    shared_api_fixture,  # noqa: F401  (registers `shared_api`)
)

pytestmark = pytest.mark.integration

IMAGES = sorted(COCO.glob("*.jpg"))[:2]
PDF = PDF_DIR / "multi_page.pdf"


def _files(*paths: Path, names: list[str] | None = None) -> list[tuple[str, tuple[str, bytes, str]]]:
    names = names or [p.name for p in paths]
    return [
        ("files", (n, p.read_bytes(), "application/octet-stream")) for n, p in zip(names, paths, strict=True)
    ]


def _upload(api: ApiServer, *paths: Path, names: list[str] | None = None) -> dict:
    with api.client() as http:
        r = http.post("/v1/sources", files=_files(*paths, names=names), headers=AUTH)
    assert r.status_code == 202, r.text
    return r.json()


def _assert_error(r: httpx.Response, status: int, code: str | None = None) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code


def test_health_readiness_and_openapi(shared_api: ApiServer) -> None:
    with shared_api.client() as http:
        assert http.get("/healthz").json() == {
            "status": "ok", "points": None, "unavailable": {}, "auth": None, "error": None,
        }  # fmt: skip
        ready = http.get("/readyz").json()
        spec = http.get("/openapi.json").json()
    assert ready["status"] == "ready" and ready["auth"] == "enabled"
    expected = {"/v1/sources", "/v1/sources/{source_id}", "/v1/sources/{source_id}/file", "/v1/jobs/{job_id}",
                "/v1/search", "/v1/ask", "/v1/media/{segment_id}", "/healthz", "/readyz"}  # fmt: skip
    assert expected <= set(spec["paths"])
    assert spec["components"]["schemas"]["SearchRequest"]["examples"]
    assert "413" in spec["paths"]["/v1/sources"]["post"]["responses"]


def test_upload_index_search_media_file_delete(shared_api: ApiServer) -> None:
    accepted = _upload(shared_api, PDF, *IMAGES)
    assert accepted["url"] == f"/v1/jobs/{accepted['job_id']}" and len(accepted["files"]) == 3
    job = shared_api.wait_job(accepted["job_id"])
    assert job["state"] == "done" and job["progress"] == 1.0, job
    assert [f["state"] for f in job["files"]] == ["indexed"] * 3, job
    pdf_id = hashlib.sha256(PDF.read_bytes()).hexdigest()
    assert job["files"][0]["source_id"] == pdf_id and job["files"][0]["segments"] > 3

    with shared_api.client() as http:
        listed = {s["source_id"]: s for s in http.get("/v1/sources").json()["sources"]}
        assert listed[pdf_id]["uri"] == "multi_page.pdf" and listed[pdf_id]["status"] == "indexed"

        r = http.post("/v1/search", json={"query": "history of the word processor", "k": 5})
        hits = r.json()["hits"]
        assert hits and hits[0]["uri"] == "multi_page.pdf", hits
        assert set(hits[0]) >= {"segment_id", "source_id", "uri", "modality", "granularity", "score", "text",
                                "locator", "media_url"}  # fmt: skip
        assert "word processor" in " ".join(h["text"].lower() for h in hits)

        images = http.post("/v1/search", json={"query": "a photo", "k": 5, "modality": ["image"]}).json()[
            "hits"
        ]
        assert {h["uri"] for h in images} == {p.name for p in IMAGES}
        media = http.get(images[0]["media_url"])
        assert media.status_code == 200 and media.headers["content-type"] == "image/jpeg"
        assert media.content[:3] == b"\xff\xd8\xff"
        original = http.get(images[0]["file_url"])
        assert original.content == (COCO / images[0]["uri"]).read_bytes()

        # the same bytes again: nothing re-indexed
        again = shared_api.wait_job(_upload(shared_api, PDF)["job_id"])
        assert again["files"][0]["state"] == "unchanged"

        deleted = http.delete(f"/v1/sources/{pdf_id}", headers=AUTH)
        assert deleted.status_code == 200 and deleted.json()["deleted_points"] == job["files"][0]["segments"]
        assert pdf_id not in {s["source_id"] for s in http.get("/v1/sources").json()["sources"]}
        after = http.post("/v1/search", json={"query": "history of the word processor", "k": 5}).json()[
            "hits"
        ]
        assert all(h["source_id"] != pdf_id for h in after)
        _assert_error(http.get(f"/v1/sources/{pdf_id}/file"), 404, "not_found")
        _assert_error(http.delete(f"/v1/sources/{pdf_id}", headers=AUTH), 404, "not_found")
    assert not list((shared_api.home / "uploads").glob(f"{pdf_id}*")), "the upload of a deleted source stays"


def test_auth_required_on_mutating_endpoints_only(shared_api: ApiServer) -> None:
    with shared_api.client() as http:
        _assert_error(http.post("/v1/sources", files=_files(IMAGES[0])), 401, "unauthorized")
        wrong = http.post("/v1/sources", files=_files(IMAGES[0]), headers={"X-API-Key": "nope"})
        _assert_error(wrong, 401, "unauthorized")
        _assert_error(http.delete("/v1/sources/" + "0" * 64), 401, "unauthorized")
        bearer = http.post(
            "/v1/sources", files=_files(IMAGES[0]), headers={"Authorization": "Bearer test-key"}
        )
        assert bearer.status_code == 202
        assert http.get("/v1/sources").status_code == 200  # reads are open unless MMRAG_AUTH_ALL
        assert http.post("/v1/search", json={"query": "x"}).status_code == 200
    shared_api.wait_job(bearer.json()["job_id"])


def test_upload_names_cannot_escape_the_uploads_folder(shared_api: ApiServer) -> None:
    names = ["../../../../tmp/evil.jpg", "..\\..\\windows\\system.ini", "/etc/passwd", "\x00\n..jpg"]
    srcs = [IMAGES[0], IMAGES[1], PDF_DIR / "normal_4pages.pdf", IMAGES[0]]
    job = shared_api.wait_job(_upload(shared_api, *srcs, names=names)["job_id"])
    shown = [f["name"] for f in job["files"]]
    assert shown[:3] == ["evil.jpg", "system.ini", "passwd"], shown
    assert all(not set(n) & set("/\\\x00\n") and not n.startswith(".") for n in shown), shown
    uploads = shared_api.home / "uploads"
    for f in uploads.iterdir():
        assert f.parent == uploads and f.stem == hashlib.sha256(f.read_bytes()).hexdigest(), f
    assert not Path("/tmp/evil.jpg").exists()
    # `system.ini` and `passwd` hold an image and a PDF: judged by content, not by name
    assert job["files"][1]["state"] in ("indexed", "unchanged") and job["files"][2]["state"] == "indexed", job


def test_nameless_uploads_get_distinct_names_and_failed_uploads_leave_no_file(
    shared_api: ApiServer, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01 not a format anyone reads " * 64)
    srcs = [IMAGES[0], IMAGES[1], junk]
    job = shared_api.wait_job(_upload(shared_api, *srcs, names=["..", "...", "junk.bin"])["job_id"])
    shown = [f["name"] for f in job["files"]]
    assert shown[0] != shown[1] and all(n.startswith("upload-") for n in shown[:2]), shown
    assert job["files"][2]["state"] == "failed", job
    stored = {p.stem for p in (shared_api.home / "uploads").iterdir()}
    assert hashlib.sha256(junk.read_bytes()).hexdigest() not in stored, "a failed upload's file stays"


def test_oversize_and_too_many_files_give_413(shared_api: ApiServer, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(6 * 1024 * 1024))
    before = sorted(p.name for p in (shared_api.home / "uploads").iterdir())
    with shared_api.client() as http:
        _assert_error(http.post("/v1/sources", files=_files(big), headers=AUTH), 413, "payload_too_large")

        def chunks():  # no Content-Length: the limit must hold while the body streams in
            yield b'--b\r\nContent-Disposition: form-data; name="files"; filename="x.bin"\r\n\r\n'
            for _ in range(7):
                yield os.urandom(1024 * 1024)

        streamed = http.post(
            "/v1/sources",
            content=chunks(),
            headers={**AUTH, "Content-Type": "multipart/form-data; boundary=b"},
        )
        _assert_error(streamed, 413, "payload_too_large")
        five = _files(*([IMAGES[0]] * 5))
        _assert_error(http.post("/v1/sources", files=five, headers=AUTH), 413, "too_many_files")
    assert sorted(p.name for p in (shared_api.home / "uploads").iterdir()) == before


def test_errors_are_json_with_fitting_status(shared_api: ApiServer) -> None:
    with shared_api.client() as http:
        _assert_error(http.get("/v1/jobs/nope"), 404, "not_found")
        _assert_error(http.get("/v1/media/not-a-uuid"), 404, "not_found")
        _assert_error(http.get("/v1/media/6f1c2b0e-7d7a-4c1e-9a51-2f7d3c0b9e11"), 404, "not_found")
        _assert_error(http.get("/v1/sources/../../etc/passwd/file"), 404)
        _assert_error(http.post("/v1/search", json={"query": "  "}), 400, "invalid_request")
        _assert_error(http.post("/v1/search", json={"query": "x", "k": 0}), 422, "invalid_request")
        _assert_error(http.post("/v1/search", json={"query": "x", "modality": ["smell"]}), 422)
        _assert_error(
            http.post("/v1/search", content=b"{not json", headers={"Content-Type": "application/json"}), 422
        )
        _assert_error(http.post("/v1/search", json={"query": "x", "image": "%%%"}), 400, "invalid_request")
        _assert_error(http.post("/v1/sources", headers=AUTH), 422)  # no files
        _assert_error(http.get("/v1/nothing-here"), 404)


def test_cors_preflight_allows_configured_origin_only(shared_api: ApiServer) -> None:
    pre = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-api-key"}
    with shared_api.client() as http:
        ok = http.options("/v1/sources", headers={"Origin": "http://ui.example", **pre})
        bad = http.options("/v1/sources", headers={"Origin": "http://evil.example", **pre})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "http://ui.example"
    assert "access-control-allow-origin" not in bad.headers


def test_restart_resumes_interrupted_job_and_fails_lost_uploads(tmp_path: Path, tiny_clip: str) -> None:
    """A job left `running` by a killed server: on restart its stored file is indexed, the lost one failed."""
    home = tmp_path / "home"
    uploads = UploadStore(home / "uploads")
    with IMAGES[0].open("rb") as f:
        kept = uploads.save(f, "kept.jpg")
    with IMAGES[1].open("rb") as f:
        lost = uploads.save(f, "lost.jpg")
    uploads.delete(lost.stored)
    jobs = JobStore(home / "mmrag.db")
    job_id = jobs.create([kept, lost])
    jobs.set_job(job_id, "running")
    jobs.set_file(job_id, 0, "running")

    env = {
        "MMRAG_API_KEYS": '["k"]',
        "MMRAG_AUTH_ALL": "true",
        "MMRAG_CLIP_MODEL": tiny_clip,
        "MMRAG_OCR": "false",
    }
    server = ApiServer(home, env)
    try:
        with server.client() as http:
            _assert_error(http.get(f"/v1/jobs/{job_id}"), 401, "unauthorized")  # MMRAG_AUTH_ALL
            _assert_error(http.post("/v1/search", json={"query": "x"}), 401, "unauthorized")
        job = server.wait_job(job_id, headers={"X-API-Key": "k"})
        with server.client(headers={"X-API-Key": "k"}) as http:
            sources = http.get("/v1/sources").json()["sources"]
    finally:
        server.stop()
    assert job["state"] == "done" and job["error"] == "1 of 2 files failed", job
    assert job["files"][0]["state"] == "indexed" and job["files"][1]["state"] == "failed"
    assert "upload lost" in job["files"][1]["error"]
    assert [s["uri"] for s in sources] == ["kept.jpg"]


def test_serve_refuses_public_interface_without_keys(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMRAG_")} | {"MMRAG_HOME": str(tmp_path)}
    done = subprocess.run(
        [*mmrag_cmd(), "serve", "--host", "0.0.0.0"], env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 2 and b"MMRAG_API_KEYS" in done.stderr


def _sse_events(response: httpx.Response) -> list[tuple[str, object]]:
    events, event = [], "message"
    for line in response.iter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            events.append((event, json.loads(line[5:])))
    return events


def test_ask_answers_with_citations_as_json_and_as_sse(shared_api: ApiServer) -> None:
    shared_api.wait_job(_upload(shared_api, PDF_DIR / "multi_page.pdf")["job_id"])
    question = "How did word processors change writing?"
    with shared_api.client() as http:
        answer = http.post("/v1/ask", json={"question": question})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["text"] and body["citations"], body
        assert body["answer"] == body["text"], "the CLI's old name for the answer is kept"
        first = body["citations"][0]
        assert first["n"] == 1 and first["uri"] == "multi_page.pdf" and first["text"]
        assert http.get(f"/v1/sources/{first['source_id']}/file").status_code == 200

        with http.stream("POST", "/v1/ask", json={"question": question, "stream": True}) as streamed:
            assert streamed.status_code == 200
            assert streamed.headers["content-type"].startswith("text/event-stream")
            events = _sse_events(streamed)
        with http.stream(
            "POST", "/v1/ask", json={"question": question}, headers={"Accept": "text/event-stream"}
        ) as negotiated:
            assert negotiated.headers["content-type"].startswith("text/event-stream")
    names = [e for e, _ in events]
    assert names[0] == "route" and names[1] == "evidence" and names[-1] == "done" and "token" in names, names
    evidence = dict(events)["evidence"]
    assert evidence and all("media_url" in item and "file_url" in item for item in evidence)
    done = events[-1][1]
    assert "".join(d for e, d in events if e == "token") == done["text"]
    assert done["citations"] and set(done["citations"][0]) >= set(first)
    assert done["citations"][0]["locator"] == first["locator"], "the stream cites another place than the JSON"
