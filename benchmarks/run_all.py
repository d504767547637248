"""Run every benchmark script in benchmarks/ (`bench_*.py`), one subprocess each, and summarise.

Each script writes `benchmarks/results/<name>.json`; a failing script is reported and the others still run.
Afterwards `benchmarks/RESULTS.md` is regenerated from every result file (`benchmarks.report`).
Exit status 1 if any failed. Usage: python -m benchmarks.run_all [--only NAME ...] [--list]
(`make bench` runs them all but bench_install, which runs only with `--only install`; NAME is the script name with or without `bench_`, e.g. `--only scale`.)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def discover() -> list[str]:
    """Benchmark module names, e.g. `bench_scale`, sorted."""
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


# Run only when named with --only: bench_install builds a new multi-GB virtualenv from scratch.
ON_REQUEST = frozenset({"bench_install"})


def select(names: list[str], only: list[str] | None) -> list[str]:
    """The benchmarks to run: all but ON_REQUEST, or those named in `only` (with or without `bench_`)."""
    if not only:
        return [n for n in names if n not in ON_REQUEST]
    wanted = {n if n.startswith("bench_") else f"bench_{n}" for n in only}
    unknown = wanted - set(names)
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(sorted(unknown))}; have: {', '.join(names)}")
    return [n for n in names if n in wanted]


def run(name: str) -> tuple[int, float]:
    """Run one benchmark module from the repo root; returns (exit code, seconds)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    t0 = time.perf_counter()
    code = subprocess.call([sys.executable, "-m", f"benchmarks.{name}"], cwd=HERE.parent, env=env)
    return code, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", action="append", help="run only this benchmark (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args()
    names = discover()
    if args.list:
        print("\n".join(names))
        return
    outcomes = []
    for name in select(names, args.only):
        print(f"=== {name}", flush=True)
        code, seconds = run(name)
        outcomes.append((name, code, seconds))
    from benchmarks.report import main as write_report

    write_report()  # RESULTS.md from whatever results exist, this run's and earlier ones
    print("\n=== summary")
    for name, code, seconds in outcomes:
        print(f"{'ok    ' if code == 0 else 'FAILED'} {name:<28} {seconds:8.1f} s")
    sys.exit(1 if any(code for _, code, _ in outcomes) else 0)


if __name__ == "__main__":
    main()
