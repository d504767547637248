"""`mmrag watch`: a real watcher subprocess on a temporary folder and home. After each change (create, modify,
rename, delete; a text file, a photo, a PDF) `mmrag sources --json` and `mmrag search` must show it within a
few seconds; then the watcher is stopped, files change, and a restart catches up.

`sources` reads the manifest alone, so it runs while the watcher works; `search` takes the home's store lock,
which the watcher holds only while a batch is written (see app/watch.py)."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import REPO, SAMPLES

pytestmark = pytest.mark.integration

STEP_S = 30.0  # generous for a loaded 2-core machine; typical steps take 1-3 s


class Watcher:
    """`mmrag watch FOLDER --json` in a subprocess; its JSON lines are collected by a reader thread."""

    def __init__(self, folder: Path, sigint_ignored: bool = False) -> None:
        env = {**os.environ, "MMRAG_OCR": "false"}
        # A background job of a shell starts with SIGINT ignored, and so does any child of a process that
        # ignores it (a pytest session where some library did): the watcher must still stop on SIGINT.
        ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None
        command = ["watch", str(folder), "--json", "--debounce", "0.5"]
        # a pipe nobody reads could fill and block the child: its stderr goes to a file
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from app.cli.main import main; main()", *command],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            preexec_fn=ignore,  # noqa: PLW1509 - only resets one signal disposition before exec
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.events.put(json.loads(line))

    def wait_event(self, kind: str, timeout: float = 180.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=1.0)
            except queue.Empty:
                if self.proc.poll() is not None:
                    self.log.seek(0)
                    raise AssertionError(f"the watcher exited: {self.log.read()[-3000:]}") from None
                continue
            self.seen.append(event)
            if event["event"] == kind:
                return event
        raise AssertionError(f"no {kind} event in {timeout} s; saw {self.seen}")

    def stop(self, sig: int = signal.SIGINT) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                # A clean stop lets a running batch finish (FolderWatcher.stop joins it for up to 60 s) and
                # then closes the store: wait beyond that bound before calling it a hang.
                self.proc.wait(timeout=150)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        assert self.proc.returncode in (0, 130), f"{sig}: exit {self.proc.returncode}, not a clean stop"


@pytest.fixture
def cli(make_container: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Runs `mmrag ...` in this process (sharing the session's text model), returning its JSON."""
    from app.cli import common
    from app.cli.main import app

    monkeypatch.setattr(common, "container_from_env", lambda: make_container(ocr=False))

    def run(*args: str) -> Any:
        result = CliRunner().invoke(app, [*args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads([line for line in result.stdout.splitlines() if line.startswith("{")][-1])

    return run


def _sources(cli: Callable[..., Any]) -> dict[str, dict[str, Any]]:
    return {Path(s["uri"]).name: s for s in cli("sources")["sources"] if s["status"] == "indexed"}


def _until(cli: Callable[..., Any], check: Callable[[dict[str, dict[str, Any]]], bool]) -> dict[str, Any]:
    """Poll `mmrag sources --json` until `check` holds; returns the sources by file name."""
    start = time.monotonic()
    while True:
        found = _sources(cli)
        if check(found):
            return found
        assert time.monotonic() - start < STEP_S, f"not within {STEP_S} s: {sorted(found)}"
        time.sleep(0.3)


def _search(cli: Callable[..., Any], query: str, *extra: str) -> list[str]:
    return [Path(h["uri"]).name for h in cli("search", query, "--k", "3", *extra)["hits"]]


def _pdf(path: Path, text: str) -> Path:
    import pymupdf

    doc = pymupdf.open()
    doc.new_page(width=300, height=200).insert_text((20, 60), text, fontsize=11)
    doc.save(path)
    doc.close()
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "watched"
    root.mkdir()
    (root / "notes.txt").write_text(
        "The Linden Street library opens at nine on weekdays.\n", encoding="utf-8"
    )
    yield root


def test_watch_follows_every_change_and_catches_up(folder: Path, cli: Callable[..., Any]) -> None:
    watcher = Watcher(folder)
    try:
        catch_up = watcher.wait_event("catch-up")
        assert catch_up["indexed"] == 1
        watcher.wait_event("ready")
        assert set(_sources(cli)) == {"notes.txt"}

        # create a text file
        (folder / "ferry.txt").write_text(
            "The Quell ferry leaves the north pier at 7:15.\n", encoding="utf-8"
        )
        first = _until(cli, lambda s: "ferry.txt" in s)["ferry.txt"]
        assert _search(cli, "ferry north pier")[0] == "ferry.txt"

        # modify it: a new source replaces the old one at the same uri
        (folder / "ferry.txt").write_text(
            "The Quell ferry now leaves the harbour steps at 8:30.\n", encoding="utf-8"
        )
        changed = _until(cli, lambda s: s.get("ferry.txt", first)["source_id"] != first["source_id"])
        hits = cli("search", "ferry harbour steps", "--k", "3")["hits"]
        assert Path(hits[0]["uri"]).name == "ferry.txt" and "8:30" in hits[0]["text"]
        assert hits[0]["source_id"] == changed["ferry.txt"]["source_id"]

        # a photo and a PDF
        shutil.copy(SAMPLES / "coffee.jpg", folder / "coffee.jpg")
        _pdf(folder / "minutes.pdf", "Minutes: the orchard committee approved eleven new pear trees.")
        _until(cli, lambda s: {"coffee.jpg", "minutes.pdf"} <= set(s))
        assert _search(cli, "coffee", "--modality", "image") == ["coffee.jpg"]
        assert _search(cli, "orchard committee pear trees")[0] == "minutes.pdf"

        # rename: same source, new uri, nothing re-extracted
        ferry_id = changed["ferry.txt"]["source_id"]
        (folder / "ferry.txt").rename(folder / "boat.txt")
        renamed = _until(cli, lambda s: "boat.txt" in s and "ferry.txt" not in s)
        assert renamed["boat.txt"]["source_id"] == ferry_id
        assert _search(cli, "ferry harbour steps")[0] == "boat.txt"

        # delete the photo
        (folder / "coffee.jpg").unlink()
        _until(cli, lambda s: "coffee.jpg" not in s)
        assert "coffee.jpg" not in _search(cli, "coffee", "--modality", "image")
    finally:
        watcher.stop(signal.SIGTERM)  # as systemd or `kill` would

    # changes while nothing watches: a new file, a deletion, a move into a subfolder
    pdf_id = _sources(cli)["minutes.pdf"]["source_id"]
    (folder / "late.txt").write_text(
        "The bakery on Elm Row sells rye bread on Saturdays.\n", encoding="utf-8"
    )
    (folder / "boat.txt").unlink()
    (folder / "archive").mkdir()
    (folder / "minutes.pdf").rename(folder / "archive" / "minutes-2026.pdf")

    watcher = Watcher(folder)
    try:
        caught = watcher.wait_event("catch-up")
        watcher.wait_event("ready")
        assert caught["indexed"] == 1 and [Path(r["to"]).name for r in caught["renamed"]] == [
            "minutes-2026.pdf"
        ]
        assert [Path(u).name for u in caught["removed"]] == ["boat.txt"]
        after = _sources(cli)
        assert set(after) == {"notes.txt", "late.txt", "minutes-2026.pdf"}
        assert after["minutes-2026.pdf"]["source_id"] == pdf_id
        assert _search(cli, "bakery rye bread")[0] == "late.txt"
    finally:
        watcher.stop()


def test_watch_stops_on_sigint_even_when_started_with_sigint_ignored(folder: Path) -> None:
    watcher = Watcher(folder, sigint_ignored=True)
    try:
        assert watcher.wait_event("catch-up")["indexed"] == 1
        watcher.wait_event("ready")
    finally:
        watcher.stop(signal.SIGINT)  # asserts a clean exit (0 or 130), not a kill after the wait


def test_serve_watches_the_folders_of_its_setting(folder: Path, mmrag_home: Path) -> None:
    """`mmrag serve` with MMRAG_WATCH: the folder is caught up, listed in GET /v1/sources, and followed."""
    from tests.fixtures.api_server import ApiServer

    env = {"MMRAG_WATCH": json.dumps([str(folder)]), "MMRAG_OCR": "false"}
    env["MMRAG_CLIP_MODEL"] = os.environ["MMRAG_CLIP_MODEL"]
    server = ApiServer(mmrag_home, env=env)
    try:
        with server.client() as http:

            def listed() -> dict[str, Any]:
                body = http.get("/v1/sources").json()
                return {"watched": body["watched"], "names": {Path(s["uri"]).name for s in body["sources"]}}

            start = time.monotonic()
            while "notes.txt" not in listed()["names"]:  # the catch-up runs after the server is ready
                assert time.monotonic() - start < STEP_S * 2
                time.sleep(0.5)
            assert listed()["watched"] == [str(folder)]
            from ui.client import ApiClient  # the UI's Library shows them through its client

            assert ApiClient(server.url).watched() == [str(folder)]

            (folder / "ferry.txt").write_text(
                "The Quell ferry leaves the north pier at 7:15.\n", encoding="utf-8"
            )
            start = time.monotonic()
            while "ferry.txt" not in listed()["names"]:
                assert time.monotonic() - start < STEP_S
                time.sleep(0.3)
            hits = http.post("/v1/search", json={"query": "ferry north pier", "k": 1}).json()["hits"]
            assert Path(hits[0]["uri"]).name == "ferry.txt"
    finally:
        server.stop()
