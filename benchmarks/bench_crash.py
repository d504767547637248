"""Crash safety: `mmrag index` killed with SIGKILL at random moments, then run to the end, must leave exactly
what one clean run leaves (same segment counts, every point present, no orphans).

    python -m benchmarks.bench_crash [--trials 50] [--kills 10] [--folder DIR] [--seed 0]

Each trial indexes the folder once cleanly (the reference), then on a fresh home starts `mmrag index` again and
again, killing it after a random delay once it has the store open (uniform over the clean run's time from
opening the store to its exit: extraction, encoding, writes, the index build on close), and finally lets one
run finish. It compares the two homes and writes lost / duplicated / orphaned point counts (target 0 / 0 / 0) to
`benchmarks/results/crash.json`. The slow test `tests/test_crash_safety.py` runs one trial.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MMRAG = [str(Path(sys.executable).with_name("mmrag"))]


def default_folder(target: Path, small: bool = False) -> Path:
    """A mixed folder from the repository's own files: PDFs, photos, Markdown.

    `small`: the six sample files and two PDFs (the slow test's size: a clean run is a few seconds of work).
    """
    target.mkdir(parents=True, exist_ok=True)
    pdfs = sorted((REPO / "tests" / "data" / "pdf").glob("*.pdf"))
    photos = sorted((REPO / "tests" / "data" / "photos").glob("*.jpg"))
    samples = sorted(p for p in (REPO / "samples" / "files").glob("*") if p.is_file())
    chosen = [*samples, *pdfs[:2]] if small else [*samples, *pdfs, *photos]
    for path in chosen:
        shutil.copy(path, target / path.name)
    return target


def index_env(home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of one `mmrag index` run on `home` (other MMRAG_* settings pass through)."""
    env = dict(base if base is not None else os.environ)
    env.update(MMRAG_HOME=str(home), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.setdefault("MMRAG_OCR", "false")
    return env


def store_opened(proc: subprocess.Popen[Any], home: Path, timeout: float = 900) -> float | None:
    """Wait until the process has the home's store open (models loaded, indexing begins); when, or None.

    Watches the process's open files (/proc/PID/fd); where there is no /proc, returns at once, so kill
    delays then count from the start (model loading included).
    """
    start = time.monotonic()
    fds = Path(f"/proc/{proc.pid}/fd")
    if not fds.parent.is_dir():
        return start
    store = str(home / "store")
    while time.monotonic() - start < timeout and proc.poll() is None:
        try:
            targets = [os.readlink(fd) for fd in fds.iterdir()]
        except OSError:  # a descriptor closed while we looked, or the process ended
            targets = []
        if any(t.startswith(store) for t in targets):
            return time.monotonic()
        time.sleep(0.02)
    return None


def start_index(folder: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*MMRAG, "index", str(folder), "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def index_once(folder: Path, env: dict[str, str], timeout: float = 900) -> tuple[int, dict[str, Any], float]:
    """Run `mmrag index FOLDER --json` to the end: exit code, report, and seconds of work with the store open."""
    proc = start_index(folder, env)
    opened = store_opened(proc, Path(env["MMRAG_HOME"]), timeout)
    stdout, stderr = proc.communicate(timeout=timeout)
    work = time.monotonic() - opened if opened is not None else 0.0
    if "Traceback" in stderr or not stdout.strip():
        raise RuntimeError(f"mmrag index crashed (exit {proc.returncode}):\n{stderr[-3000:]}")
    return proc.returncode, json.loads(stdout.strip().splitlines()[-1]), work


def manifest_rows(home: Path) -> list[tuple[str, str, str, int]]:
    """(source_id, uri, status, segments) of every manifest row, read straight from SQLite (no lock needed)."""
    db = home / "mmrag.db"
    if not db.exists():
        return []
    with sqlite3.connect(str(db), timeout=30) as conn:
        try:
            rows = conn.execute("SELECT source_id, uri, status, segments FROM sources").fetchall()
        except sqlite3.OperationalError:  # killed before the schema was written
            return []
    return [(str(a), str(b), str(c), int(d)) for a, b, c, d in rows]


@dataclass
class Kill:
    """One killed run: how long after opening the store, whether it was still running, the manifest after."""

    delay_s: float
    killed: bool
    rows_after: int
    indexing_after: int


@dataclass
class Comparison:
    """A home compared with the clean reference."""

    lost: int = 0  # reference points missing
    duplicated: int = 0  # points the reference does not have (stale or doubled content), extra manifest rows
    orphaned: int = 0  # points of no indexed source, or sources whose point count differs from the manifest
    segment_counts_equal: bool = True
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return self.lost == self.duplicated == self.orphaned == 0 and self.segment_counts_equal


@dataclass
class Snapshot:
    """What a home holds: manifest rows and every stored point (segment id, source id)."""

    rows: list[tuple[str, str, str, int]]
    points: list[tuple[str, str]]


def compare(reference: Snapshot, got: Snapshot) -> Comparison:
    ref_ids = {p for p, _ in reference.points}
    got_ids = Counter(p for p, _ in got.points)
    indexed = {sid: segs for sid, _, status, segs in got.rows if status == "indexed"}
    per_source = Counter(sid for _, sid in got.points)
    result = Comparison()
    result.lost = len(ref_ids - set(got_ids))
    result.duplicated = len(set(got_ids) - ref_ids) + sum(n - 1 for n in got_ids.values() if n > 1)
    result.duplicated += max(0, len(got.rows) - len(reference.rows))
    result.orphaned = sum(n for sid, n in per_source.items() if sid not in indexed)
    result.orphaned += sum(1 for sid, segs in indexed.items() if per_source.get(sid, 0) != segs)
    ref_counts = {uri: (status, segs) for _, uri, status, segs in reference.rows}
    got_counts = {uri: (status, segs) for _, uri, status, segs in got.rows}
    result.segment_counts_equal = ref_counts == got_counts
    if not result.clean:
        result.details = {
            "only_in_reference": sorted(set(ref_counts.items()) - set(got_counts.items()))[:20],
            "only_after_crashes": sorted(set(got_counts.items()) - set(ref_counts.items()))[:20],
        }
    return result


def crash_run(
    folder: Path, home: Path, env: dict[str, str], kills: int, window_s: float, rng: random.Random
) -> tuple[list[Kill], tuple[int, dict[str, Any], float]]:
    """Start `mmrag index` until it has been SIGKILLed `kills` times, each a random delay after it opened the
    store (while it extracts, encodes, writes or builds the index on close); then run it to the end.

    The delay is uniform up to `window_s`, the work of a clean run; when a run finishes first, the window
    shrinks to that run's work (what is left once most files are stored), so later kills still land inside.
    """
    record: list[Kill] = []
    for _ in range(kills * 4):
        if sum(k.killed for k in record) >= kills:
            break
        proc = start_index(folder, env)
        delay = rng.uniform(0.0, window_s)
        opened = store_opened(proc, home)
        killed = False
        if opened is not None:
            try:
                proc.wait(delay)
                window_s = max(0.05, min(window_s, time.monotonic() - opened))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                killed = True
        proc.communicate()
        rows = manifest_rows(home)
        record.append(Kill(round(delay, 2), killed, len(rows), sum(r[2] == "indexing" for r in rows)))
    return record, index_once(folder, env)


def trial(
    folder: Path,
    work: Path,
    snapshot: Callable[[Path], Snapshot],
    *,
    kills: int = 10,
    seed: int = 0,
    base_env: dict[str, str] | None = None,
    reference: tuple[Snapshot, int, float] | None = None,
) -> dict[str, Any]:
    """One trial: a clean reference (unless given), a killed-and-finished home, their comparison.

    Args:
        folder: what to index.
        work: a scratch folder for the homes.
        snapshot: reads a home (after every process on it is gone).
        kills: how many runs to kill.
        seed: the random kill delays.
        base_env: environment of the `mmrag` runs (default: this process's).
        reference: a previous trial's (snapshot, exit code, seconds of work with the store open) to reuse.
    """
    rng = random.Random(seed)
    if reference is None:
        ref_home = work / "reference"
        code, _, took = index_once(folder, index_env(ref_home, base_env))
        reference = (snapshot(ref_home), code, took)
    ref_snapshot, ref_code, clean_s = reference
    home = work / f"crashed-{seed}"
    record, (code, report, _) = crash_run(folder, home, index_env(home, base_env), kills, clean_s, rng)
    after = snapshot(home)
    result = compare(ref_snapshot, after)
    rows_before = [0] + [k.rows_after for k in record[:-1]]
    return {
        "seed": seed,
        "clean_work_s": round(clean_s, 2),
        "kills": [asdict(k) for k in record],
        "runs": len(record),
        "killed_runs": sum(k.killed for k in record),
        "kills_leaving_partial_state": sum(
            k.killed and (k.indexing_after > 0 or k.rows_after != before)
            for k, before in zip(record, rows_before, strict=True)
        ),
        "final_exit_code": code,
        "reference_exit_code": ref_code,
        "final_report": report,
        "reference_points": len(ref_snapshot.points),
        "points": len(after.points),
        "lost": result.lost,
        "duplicated": result.duplicated,
        "orphaned": result.orphaned,
        "segment_counts_equal": result.segment_counts_equal,
        "details": result.details,
    }


def container_snapshot(home: Path, inject: dict[str, Any] | None = None) -> Snapshot:
    """Open a home's store and manifest in this process (models given in `inject` are reused)."""
    from app.container import Container
    from core.settings import Settings

    container = Container(Settings(home=home))
    container.__dict__.update(inject or {})
    try:
        rows = [(r.source_id, r.uri, r.status, r.segments) for r in container.manifest.sources()]
        points = [(s.segment_id, s.source_id) for s in container.store.scroll()]
    finally:
        container.close()
    return Snapshot(rows=rows, points=points)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--folder", type=Path, default=None, help="What to index (default: repo test files).")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from app.builders import build_text_encoder
    from benchmarks.common import write_result
    from core.settings import Settings

    with tempfile.TemporaryDirectory(prefix="mmrag-crash-") as tmp:
        work = Path(tmp)
        folder = args.folder or default_folder(work / "files")
        encoder = build_text_encoder(Settings(home=work / "unused"))
        encoder.load()

        def snapshot(home: Path) -> Snapshot:
            return container_snapshot(home, {"text_encoder": encoder})

        ref_home = work / "reference"
        code, _, took = index_once(folder, index_env(ref_home))
        reference = (snapshot(ref_home), code, took)
        trials: list[dict[str, Any]] = []
        for i in range(args.trials):
            result = trial(folder, work, snapshot, kills=args.kills, seed=args.seed + i, reference=reference)
            shutil.rmtree(work / f"crashed-{args.seed + i}", ignore_errors=True)
            trials.append(result)
            print(
                f"trial {i + 1}/{args.trials}: killed {result['killed_runs']} "
                f"({result['kills_leaving_partial_state']} left partial state), lost {result['lost']}, "
                f"duplicated {result['duplicated']}, orphaned {result['orphaned']}",
                file=sys.stderr,
            )
        files = sorted(p.name for p in folder.iterdir())
    write_result(
        "crash",
        {
            "command": f"python -m benchmarks.bench_crash --trials {args.trials} --kills {args.kills}",
            "files": len(files),
            "trials": len(trials),
            "kills_per_trial": args.kills,
            "total_kills": sum(t["killed_runs"] for t in trials),
            "total_kills_leaving_partial_state": sum(t["kills_leaving_partial_state"] for t in trials),
            "lost": sum(t["lost"] for t in trials),
            "duplicated": sum(t["duplicated"] for t in trials),
            "orphaned": sum(t["orphaned"] for t in trials),
            "segment_counts_equal_in_every_trial": all(t["segment_counts_equal"] for t in trials),
            "trial_results": [{k: v for k, v in t.items() if k != "final_report"} for t in trials],
        },
    )


if __name__ == "__main__":
    main()
