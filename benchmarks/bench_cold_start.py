"""Wall time of each CLI command from a cold start, and of the same command while `mmrag serve` owns the home.

A new process per command, as a user types it: `sources`, `search`, `doctor`, `delete` (and `index` of one
small file), each with `--json`, and `--help` as the floor (starting Python and importing the CLI), on a
temporary MMRAG_HOME that already holds samples/files. Each command runs `--repeat` times (default 3) and the
median is kept. Then `mmrag serve` starts on the same home and the same commands run again: the CLI finds
the server's `server.json` and goes through the API, so they pay no model load. Both columns are in the JSON
and in benchmarks/RESULTS.md.

Offline, with the packaged MiniLM and no CLIP weights (MMRAG_CLIP_MODEL empty, as on a machine without
them), OCR off. Usage: python -m benchmarks.bench_cold_start [--repeat N] [--no-server]
Writes benchmarks/results/cold_start.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import write_result

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples" / "files"
MMRAG = [sys.executable, "-c", "from app.cli.main import main; main()"]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMRAG_")}
    env.update(
        {
            "MMRAG_HOME": str(home),
            "MMRAG_CLIP_MODEL": "",
            "MMRAG_OCR": "false",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
        }
    )
    return env


def timed(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run `mmrag ARGS`; (seconds, exit code, stdout)."""
    started = time.perf_counter()
    done = subprocess.run([*MMRAG, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    return time.perf_counter() - started, done.returncode, done.stdout


def last_json(stdout: str) -> Any:
    lines = [line for line in stdout.splitlines() if line.startswith(("{", "["))]
    return json.loads(lines[-1]) if lines else None


def commands(work: Path) -> dict[str, list[str]]:
    """The measured commands. `delete` removes a copy indexed for it, so each repeat has one to delete."""
    return {
        "sources": ["sources", "--json"],
        "search": ["search", "a cup of coffee", "--json"],
        "doctor": ["doctor", "--json"],
        "index (1 new file)": ["index", str(work / "fresh.md"), "--json"],
        "delete": ["delete", str(work / "fresh.md"), "--json"],
    }


def measure(work: Path, env: dict[str, str], repeat: int) -> dict[str, dict[str, Any]]:
    """Median wall seconds (and every run) per command; index+delete alternate so both always have work.

    Each entry also has the mean 1-minute load average over its runs: on a shared machine it says how much of
    the time was waiting for a CPU.
    """
    runs: dict[str, list[float]] = {}
    codes: dict[str, set[int]] = {}
    loads: dict[str, list[float]] = {}
    named = {"--help (start-up floor)": ["--help"], **commands(work)}
    for i in range(repeat):
        (work / "fresh.md").write_text(f"# Note {i}\n\nA fresh note about tide pools, written for run {i}.\n")
        for name, args in named.items():
            seconds, code, _ = timed(args, env)
            runs.setdefault(name, []).append(round(seconds, 2))
            codes.setdefault(name, set()).add(code)
            loads.setdefault(name, []).append(os.getloadavg()[0])
    return {
        name: {
            "median_s": round(statistics.median(values), 2),
            "runs_s": values,
            "exit_codes": sorted(codes[name]),
            "load_average_1m": round(statistics.mean(loads[name]), 2),
        }
        for name, values in runs.items()
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    home: Path, env: dict[str, str], timeout: float = 300
) -> tuple[subprocess.Popen[bytes], float]:
    """`mmrag serve` on `home`; returns (process, seconds until its server.json appeared)."""
    port = free_port()
    log = (home.parent / "serve.log").open("wb")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*MMRAG, "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"mmrag serve exited: {(home.parent / 'serve.log').read_text()[-2000:]}")
        if (home / "server.json").is_file():
            return proc, time.perf_counter() - started
        time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError("mmrag serve did not publish server.json in time")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group; SIGKILL it if it is still there after 30 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-server", action="store_true", help="skip the column against a running server")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mmrag-cold-"))
    home = work / "home"
    env = _env(home)
    try:
        seconds, code, out = timed(["index", str(SAMPLES), "--json"], env)
        if code not in (0, 1):
            raise SystemExit(f"indexing the samples failed ({code}): {out[-2000:]}")
        result: dict[str, Any] = {
            "setup": {"index_samples_s": round(seconds, 2), "samples": len(list(SAMPLES.iterdir()))},
            "settings": {"clip_model": "", "ocr": False, "text_model": "packaged MiniLM-L6-v2"},
            "repeat": args.repeat,
            "load_average_before": [round(x, 2) for x in os.getloadavg()],  # other work on the machine
            "cold": measure(work, env, args.repeat),
        }
        if not args.no_server:
            proc, ready_s = start_server(home, env)
            try:
                result["server_ready_s"] = round(ready_s, 2)
                result["with_server"] = measure(work, env, args.repeat)
            finally:
                stop_server(proc)
        write_result("cold_start", result)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
