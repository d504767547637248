"""One home, many processes: the CLI goes through a running `mmrag serve`, falls back when it dies, and two
CLI writers take turns on the store lock. Real subprocesses, the real embedded engine, real files.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.home import LOCK_FILE, SERVER_FILE, StoreLock, read_server_file
from tests.conftest import SAMPLES
from tests.fixtures.api_server import ApiServer

pytestmark = pytest.mark.integration

MMRAG = [str(Path(sys.executable).with_name("mmrag"))]
QUESTION = "When was the lighthouse on Gull Point built?"


def cli_env(home: Path, tiny_clip: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMRAG_")}
    env.update(
        MMRAG_HOME=str(home),
        MMRAG_CLIP_MODEL=tiny_clip,
        MMRAG_OCR="false",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        COLUMNS="80",
    )
    return env


def mmrag(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the installed `mmrag` console script, output piped."""
    return subprocess.run([*MMRAG, *args], env=env, capture_output=True, text=True, timeout=timeout)


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two good files and a truncated JPEG (fails: exit code 1, one `failed` entry)."""
    folder = tmp_path_factory.mktemp("files")
    shutil.copy(SAMPLES / "field-notes.md", folder)
    shutil.copy(SAMPLES / "coffee.jpg", folder)
    (folder / "corrupt.jpg").write_bytes((SAMPLES / "coffee.jpg").read_bytes()[:300])
    return folder


def session_of_commands(run: Callable[..., tuple[int, Any]], folder: Path) -> dict[str, Any]:
    """index, search, ask, sources, delete: each command's exit code and JSON."""
    results: dict[str, Any] = {}
    results["index"] = run("index", str(folder), "--json")
    results["search"] = run("search", "lighthouse lens", "--k", "3", "--json")
    results["ask"] = run("ask", QUESTION, "--json")
    results["sources"] = run("sources", "--json")
    notes = next(s for s in results["sources"][1]["sources"] if s["uri"].endswith("field-notes.md"))
    results["delete"] = run("delete", notes["source_id"][:10], "--json")
    results["after"] = run("search", "lighthouse lens", "--k", "3", "--json")
    return results


def comparable(results: dict[str, Any]) -> dict[str, Any]:
    """The JSON minus what differs between two runs of the same thing (times, scores' last digits)."""
    out: dict[str, Any] = {}
    for name, (code, data) in results.items():
        data = json.loads(json.dumps(data))
        if name in ("search", "after"):  # scores are compared apart, with a tolerance
            for hit in data["hits"]:
                hit.pop("score")
        if name == "ask":
            data.pop("timings")
        if name == "sources":
            for s in data["sources"]:
                s.pop("indexed_at")
        out[name] = (code, data)
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_clip: str) -> Iterator[ApiServer]:
    home = tmp_path_factory.mktemp("served") / "home"
    api = ApiServer(home, {"MMRAG_CLIP_MODEL": tiny_clip, "MMRAG_OCR": "false"})
    yield api
    api.stop()


def test_cli_goes_through_the_server_with_the_same_json(
    server: ApiServer,
    folder: Path,
    tiny_clip: str,
    mmrag_home: Path,
) -> None:
    # Without a server: the console script opens the store itself. A separate process, like the served side,
    # so nothing an earlier test left in this process (shared models, caches) can tell the two apart.
    alone_env = cli_env(mmrag_home, tiny_clip)

    def run_here(*args: str) -> tuple[int, Any]:
        result = mmrag(alone_env, *args)
        return result.returncode, as_json(result)

    alone = session_of_commands(run_here, folder)
    assert not (mmrag_home / SERVER_FILE).exists()

    # With `mmrag serve` on another home: the console script on that home goes through the API.
    info = read_server_file(server.home)
    assert info is not None and info.pid == server.proc.pid and info.url == server.url
    assert (server.home / SERVER_FILE).stat().st_mode & 0o777 == 0o600
    env = cli_env(server.home, tiny_clip)

    def run_there(*args: str) -> tuple[int, Any]:
        result = mmrag(env, *args)
        return result.returncode, as_json(result)

    served = session_of_commands(run_there, folder)
    assert comparable(served) == comparable(alone)
    for name in ("search", "after"):
        scores = [h["score"] for h in served[name][1]["hits"]]
        assert scores == pytest.approx([h["score"] for h in alone[name][1]["hits"]], abs=1e-3), name
    assert served["index"][0] == 1 and served["index"][1]["indexed"] == 2  # corrupt.jpg failed: exit 1
    assert served["search"][1]["hits"] and "Fresnel" in served["search"][1]["hits"][0]["text"]
    assert "1871" in served["ask"][1]["text"]
    assert all(not h["uri"].endswith("field-notes.md") for h in served["after"][1]["hits"])

    doctor = as_json(mmrag(env, "doctor", "--json"))
    assert doctor["server"]["pid"] == server.proc.pid  # answered by the server, not a local store
    # The store lock stays with the server the whole time: nothing else opened the store.
    assert json.loads((server.home / LOCK_FILE).read_text())["pid"] == server.proc.pid


def test_local_paths_need_the_local_token(server: ApiServer, folder: Path) -> None:
    """An API client cannot make the server read its disk, with or without a (would-be) key."""
    with server.client() as http:
        body = {"paths": [str(folder)]}
        assert http.post("/v1/local/index", json=body).status_code == 403
        assert http.post("/v1/local/index", json=body, headers={"X-API-Key": "guess"}).status_code == 403
        assert http.get("/v1/local/doctor").status_code == 403


def test_a_killed_server_leaves_a_stale_file_the_cli_ignores(server: ApiServer, tiny_clip: str) -> None:
    env = cli_env(server.home, tiny_clip)
    server.stop(signal.SIGKILL)
    assert (server.home / SERVER_FILE).exists(), "SIGKILL leaves the file behind"
    result = mmrag(env, "search", "coffee", "--k", "2", "--json")
    assert result.returncode == 0, result.stderr
    assert as_json(result)["hits"], "the CLI opened the store itself"
    assert not (server.home / SERVER_FILE).exists(), "the stale file was removed"
    listed = as_json(mmrag(env, "sources", "--json"))
    assert {Path(s["uri"]).name for s in listed["sources"] if s["status"] == "indexed"} == {"coffee.jpg"}


def test_two_indexers_take_turns(mmrag_home: Path, tmp_path: Path, tiny_clip: str) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    shutil.copy(SAMPLES / "field-notes.md", first)
    shutil.copy(SAMPLES / "coffee.jpg", second)
    env = cli_env(mmrag_home, tiny_clip)
    one = subprocess.Popen(
        [*MMRAG, "index", str(first), "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lock = StoreLock(mmrag_home)
    deadline = time.monotonic() + 120
    while (holder := lock.holder()) is None or holder.pid != one.pid:
        assert time.monotonic() < deadline and one.poll() is None, "the first indexer never took the lock"
        time.sleep(0.1)
    two = mmrag(env, "index", str(second), "--json")
    out_one, err_one = one.communicate(timeout=300)
    assert one.returncode == 0 and two.returncode == 0, (err_one, two.stderr)
    assert f"waiting for {one.pid} to finish indexing" in two.stderr
    assert "Traceback" not in err_one + two.stderr
    assert json.loads(out_one.splitlines()[-1])["indexed"] == 1 and as_json(two)["indexed"] == 1
    listed = as_json(mmrag(env, "sources", "--json"))
    assert {Path(s["uri"]).name: s["status"] for s in listed["sources"]} == {
        "field-notes.md": "indexed",
        "coffee.jpg": "indexed",
    }


def test_no_wait_fails_at_once_with_one_line(mmrag_home: Path, tiny_clip: str) -> None:
    env = cli_env(mmrag_home, tiny_clip)
    with StoreLock(mmrag_home) as lock:
        assert lock.acquire("index", wait=False)
        start = time.monotonic()
        result = mmrag(env, "index", str(SAMPLES / "field-notes.md"), "--no-wait")
        took = time.monotonic() - start
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "busy" in lines[0] and f"{os.getpid()} to finish indexing" in lines[0], lines
    assert took < 60, "no model was loaded: it failed before opening anything"


@pytest.mark.unit
def test_server_file_is_private_and_a_dead_pid_makes_it_stale(tmp_path: Path) -> None:
    from app.home import discover, publish, unpublish

    info = publish(tmp_path, "http://127.0.0.1:9", "secret-token")
    assert (tmp_path / SERVER_FILE).stat().st_mode & 0o777 == 0o600
    assert read_server_file(tmp_path) == info
    assert discover(tmp_path) is None, "this pid is the caller's own: never a server to talk to"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    record = json.loads((tmp_path / SERVER_FILE).read_text())
    (tmp_path / SERVER_FILE).write_text(json.dumps({**record, "pid": int(dead.stdout)}))
    assert discover(tmp_path) is None and not (tmp_path / SERVER_FILE).exists(), "stale: removed"
    publish(tmp_path, "http://127.0.0.1:9", "newer-token")
    unpublish(tmp_path, "secret-token")  # not ours any more: left alone
    assert read_server_file(tmp_path) is not None


@pytest.mark.unit
def test_store_lock_says_who_holds_it_and_is_freed_when_the_holder_dies(tmp_path: Path) -> None:
    from app.home import StoreBusyError

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from app.home import StoreLock; "
            "lock = StoreLock(Path(sys.argv[1])); lock.acquire('index'); print('held', flush=True); time.sleep(600)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        lock = StoreLock(tmp_path)
        with pytest.raises(StoreBusyError, match=f"{holder.pid} to finish indexing"):
            lock.acquire("search", wait=False)
        told: list[Any] = []
        assert not lock.acquire("search", on_wait=told.append, give_up=lambda: True)
        assert told and told[0].pid == holder.pid and told[0].purpose == "index"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert lock.acquire("search", wait=False) and lock.holder() is not None  # the kernel freed it
    lock.release()


@pytest.mark.unit
def test_ui_forwards_signals_to_its_child(tmp_path: Path) -> None:
    """`mmrag ui` runs Streamlit as a child: stopping the parent must stop the child too."""
    pid_file = tmp_path / "child.pid"
    child = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(600)"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys; from app.cli.serve import run_forwarding_signals; "
            f"sys.exit(run_forwarding_signals([sys.executable, '-c', {child!r}], dict(os.environ)))",
        ]
    )
    deadline = time.monotonic() + 60
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline and parent.poll() is None
        time.sleep(0.05)
    child_pid = int(pid_file.read_text())
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(30) == 128 + signal.SIGTERM
    with pytest.raises(ProcessLookupError):
        os.kill(child_pid, 0)
