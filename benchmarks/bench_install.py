"""What a new user pays to get started: `make demo` from scratch (a copy of the tracked files, a new venv).

Measures, in a temporary copy of the repository (`git archive HEAD`, so only what a clone has):
1. `make install`: a new virtualenv with torch and the lean install (`pip install -e .`): seconds and MB;
2. the rest of `make demo` (index samples/files, two searches): seconds, offline, on a temporary MMRAG_HOME;
3. with `--with-test`: `make install-test` on top (the test and lint extras): extra seconds and MB.
The biggest packages of the venv are listed, so a regression in size says where it comes from.

Usage: python -m benchmarks.bench_install [--with-test] [--keep]
Writes benchmarks/results/install.json. It installs several GB: minutes, most of it unpacking torch.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import write_result

REPO = Path(__file__).resolve().parents[1]


def tree_mb(path: Path) -> float:
    """Disk use of a folder in MB (sum of file sizes, symlinks not followed)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            file = Path(root) / name
            if not file.is_symlink():
                total += file.stat().st_size
    return round(total / 1e6, 1)


def biggest_packages(venv: Path, n: int = 12) -> dict[str, float]:
    """The n largest top-level entries of the venv's site-packages, in MB."""
    site = next(venv.glob("lib/python3*/site-packages"))
    sizes = {p.name: tree_mb(p) if p.is_dir() else round(p.stat().st_size / 1e6, 1) for p in site.iterdir()}
    return dict(sorted(sizes.items(), key=lambda kv: -kv[1])[:n])


def copy_committed(dest: Path) -> None:
    """Unpack the committed tree (`git archive HEAD`: what a fresh clone has) into `dest`."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)


def timed_make(target: str, cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(["make", target], cwd=cwd, env=env, check=True)
    return round(time.perf_counter() - started, 1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--with-test", action="store_true", help="also measure `make install-test`")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy (prints where)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mmrag-install-"))
    clone = work / "mmrag"
    copy_committed(clone)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MMRAG_", "VIRTUAL_ENV", "PYTHONPATH"))}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "MMRAG_HOME": str(work / "home")})
    load_before = [round(x, 2) for x in os.getloadavg()]
    try:
        install_s = timed_make("install", clone, env)
        venv = clone / ".venv"
        result: dict[str, Any] = {
            "make_install_s": install_s,
            "venv_mb": tree_mb(venv),
            "largest_packages_mb": biggest_packages(venv),
            "torch": subprocess.run(
                [str(venv / "bin/python"), "-c", "import torch; print(torch.__version__)"],
                capture_output=True,
                text=True,
                env=env,
            ).stdout.strip(),
        }
        result["demo_after_install_s"] = timed_make("demo", clone, env)
        result["make_demo_from_scratch_s"] = round(install_s + result["demo_after_install_s"], 1)
        if args.with_test:
            result["make_install_test_extra_s"] = timed_make("install-test", clone, env)
            result["venv_with_test_mb"] = tree_mb(venv)
        # Other work on the machine stretches every step: record how busy it was.
        result["load_average"] = {"before": load_before, "after": [round(x, 2) for x in os.getloadavg()]}
        write_result("install", result)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
