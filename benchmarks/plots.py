"""PNG plots for benchmarks/RESULTS.md, drawn from benchmarks/results/*.json where a curve says more than a table.

- `search_latency.png`: p50/p95 search latency and recall@10 against `hnsw_ef`, one line per collection size
  and quantization (search.json);
- `scale.png`: ingest and total (ingest + HNSW build) seconds against collection size (scale.json);
- `router_confusion.png`: the trained router's cross-validated confusion matrix (router.json).

Needs matplotlib (`pip install -e '.[bench]'`). Usage: python -m benchmarks.plots (also run by benchmarks.report).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PLOTS = HERE / "plots"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def search_latency(data: dict[str, Any], out: Path) -> Path:
    """Latency (p50, p95) and recall@10 against hnsw_ef for each size x quantization."""
    plt = _pyplot()
    fig, (lat, rec) = plt.subplots(1, 2, figsize=(11, 4.2))
    for row in data["results"]:
        by_ef = sorted(row["by_hnsw_ef"].items(), key=lambda kv: int(kv[0]))
        efs = [int(ef) for ef, _ in by_ef]
        label = f"{row['size']:,} vectors, {row['quantization']}"
        (line,) = lat.plot(efs, [m["p50_ms"] for _, m in by_ef], marker="o", label=f"{label} p50")
        lat.plot(efs, [m["p95_ms"] for _, m in by_ef], marker="x", linestyle="--", color=line.get_color())
        rec.plot(efs, [m["recall@10"] for _, m in by_ef], marker="o", label=label, color=line.get_color())
    lat.set(xlabel="hnsw_ef", ylabel="ms per query (solid p50, dashed p95)", yscale="log")
    lat.set_title("Search latency (no query encoding, k=10)")
    rec.set(xlabel="hnsw_ef", ylabel="recall@10 vs exact search")
    rec.set_title("Recall of the HNSW index")
    for axis in (lat, rec):
        axis.set_xscale("log", base=2)
        axis.minorticks_off()
        axis.set_xticks([64, 128, 256], labels=["64", "128", "256"])
        axis.grid(alpha=0.3)
    rec.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def scale(data: dict[str, Any], out: Path) -> Path:
    """Ingest and total seconds against the number of items, log-log."""
    plt = _pyplot()
    points = data["points"]
    items = [p["items"] for p in points]
    fig, axis = plt.subplots(figsize=(6, 4.2))
    axis.plot(items, [p["ingest_s"] for p in points], marker="o", label="ingest (encode + BM25 + upsert)")
    axis.plot(items, [p["total_s"] for p in points], marker="o", label="total (+ HNSW build)")
    axis.set(xscale="log", yscale="log", xlabel="items in the collection", ylabel="seconds")
    axis.set_title("Indexing time against collection size")
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def router_confusion(data: dict[str, Any], out: Path) -> Path:
    """Row-normalised confusion matrix (true route in rows), with counts in the cells."""
    plt = _pyplot()
    labels: list[str] = data["labels"]
    counts: list[list[int]] = data["confusion"]
    fig, axis = plt.subplots(figsize=(5.6, 4.8))
    shares = [[c / max(1, sum(row)) for c in row] for row in counts]
    axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    axis.set_xticks(range(len(labels)), labels=labels, rotation=45, ha="right")
    axis.set_yticks(range(len(labels)), labels=labels)
    for i, row in enumerate(counts):
        for j, count in enumerate(row):
            axis.text(
                j, i, str(count), ha="center", va="center", color="white" if shares[i][j] > 0.5 else "black"
            )
    axis.set(xlabel="predicted route", ylabel="true route")
    axis.set_title(f"Router, {data.get('folds', 5)}-fold CV (accuracy {data.get('accuracy')})")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


PLOTTERS: dict[str, tuple[str, Callable[[dict[str, Any], Path], Path]]] = {
    "search": ("search_latency.png", search_latency),
    "scale": ("scale.png", scale),
    "router": ("router_confusion.png", router_confusion),
}


def write_plots(results: Path = RESULTS, out_dir: Path = PLOTS) -> dict[str, Path]:
    """Draw every plot whose result file exists; returns result name -> PNG path. Needs matplotlib."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, (filename, plot) in PLOTTERS.items():
        path = results / f"{name}.json"
        if path.is_file():
            written[name] = plot(json.loads(path.read_text()), out_dir / filename)
    return written


def main() -> None:
    for name, path in write_plots().items():
        print(f"{name}: wrote {path}")


if __name__ == "__main__":
    main()
