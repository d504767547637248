"""Render benchmarks/RESULTS.md from benchmarks/results/*.json (run by `run_all` after the benchmarks).

The report answers the questions a user asks, one section each: how good is search, how fast is it, how big
can it get, how good is `ask`, and what does it cost to install. Every table says which command reproduces
it. Plots (benchmarks/plots/*.png, drawn by `benchmarks.plots` when matplotlib is installed) go where a curve
says more than a table. Result files no section knows are listed at the end with their scalar numbers, so a
new benchmark shows up without touching this file.
Usage: python -m benchmarks.report
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
OUT = HERE / "RESULTS.md"
GENERIC_ROWS = 12

Results = dict[str, dict[str, Any]]


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return lines


def _cmd(*names: str) -> str:
    """The reproduce line for the benchmark scripts that wrote these result files."""
    commands = " and ".join(f"`python -m benchmarks.bench_{n}`" for n in names)
    return f"Reproduce: {commands}."


def _plot(name: str, caption: str) -> list[str]:
    path = HERE / "plots" / name
    return ["", f"![{caption}](plots/{name})"] if path.is_file() else []


def _pct(x: float | None) -> str:
    return "" if x is None else f"{x:.3f}"


# --- how good is search ---------------------------------------------------------------------------------
def search_quality(r: Results) -> list[str]:
    lines: list[str] = []
    retrieval = r.get("retrieval")
    if retrieval:
        rows = []
        for name, s in retrieval["sets"].items():
            rows.append(
                [
                    f"{name} ({s['documents']:,} docs, {s['queries']} queries)",
                    *(s[m]["ndcg@10"] for m in ("text", "lexical", "rrf", "weighted")),
                    s["weighted"]["recall@100"],
                ]
            )
        lines += [
            "Text retrieval on classic test collections, nDCG@10 (higher is better). The default is the",
            "hybrid with weighted fusion of the dense MiniLM space and the BM25 lexical space.",
            "",
            *_table(
                [
                    "collection",
                    "dense only",
                    "lexical only",
                    "hybrid RRF",
                    "hybrid weighted (default)",
                    "recall@100",
                ],
                rows,
            ),
        ]
        ref = retrieval.get("reference", {})
        if ref:
            lines += [
                "",
                "Published references on Cranfield: " + ", ".join(f"{k} {v}" for k, v in ref.items()) + ".",
            ]
        lines += ["", _cmd("retrieval") + " Single collection: `mmrag eval beir PATH`."]
    matryoshka = r.get("matryoshka")
    if matryoshka:
        rows = []
        for row in matryoshka["rows"]:
            if "two_stage_ndcg@10" in row:
                rows.append(
                    [
                        row["dim"],
                        row["truncated_only_ndcg@10"],
                        row["two_stage_ndcg@10"],
                        row["two_stage_p50_ms"],
                    ]
                )
            else:
                rows.append([f"{row['dim']} (full)", row["ndcg@10"], row["ndcg@10"], None])
        lines += [
            "",
            "Smaller vectors (`MMRAG_MRL_DIM`): Cranfield nDCG@10 with the dense space truncated, alone and",
            "with the full vectors rescoring 100 truncated candidates.",
            "",
            *_table(["dims", "truncated only", "truncated + rescoring", "p50 ms"], rows),
            "",
            "MiniLM is not Matryoshka-trained, so truncation alone loses quality; rescoring recovers it from",
            "128 dimensions up. " + _cmd("matryoshka"),
        ]
    gram = r.get("gram")
    if gram and "minilm_speech_ocr" in gram:
        g = gram["minilm_speech_ocr"]
        rows = [
            [k.replace("_", " "), v["r@1"], v["r@5"], v["mrr"]] for k, v in g.items() if isinstance(v, dict)
        ]
        lines += [
            "",
            f"Finding the right video clip ({gram.get('clips')} clips built from COCO photos with spoken",
            "and written captions): how the evidence of each modality is combined.",
            "",
            *_table(["combination", "R@1", "R@5", "MRR"], rows),
            "",
            _cmd("gram"),
        ]
    media = r.get("media")
    if media and "asr_librivox" in media:
        rows = [
            [k.replace("_", " "), v["wer"], v["words"], v["wall_rtf"]]
            for k, v in media["asr_librivox"].items()
        ]
        lines += [
            "",
            "Speech in recordings (what search can find in audio and video): word error rate of the packaged",
            "Whisper tiny.en on LibriVox utterances.",
            "",
            *_table(["decoding", "WER", "words", "wall time / audio time"], rows),
            "",
            _cmd("media"),
        ]
    if not lines:
        return lines
    lines += [
        "",
        "Image search quality needs CLIP weights, which are not available offline on the measuring machine;",
        "run `mmrag eval images --images DIR --captions captions.json` where they are.",
    ]
    return lines


# --- how fast is it ---------------------------------------------------------------------------------------
def speed(r: Results) -> list[str]:
    lines: list[str] = []
    cold = r.get("cold_start")
    if cold:
        server = cold.get("with_server", {})
        rows = [
            [
                f"`mmrag {name}`",
                c["median_s"],
                server.get(name, {}).get("median_s", "not measured"),
                c.get("load_average_1m", ""),
            ]
            for name, c in cold["cold"].items()
        ]
        lines += [
            "Each CLI command, a new process each time (median wall seconds): from a cold start (the command",
            "opens the store and loads the models it needs), and while `mmrag serve` owns the home (the",
            "command goes through the server, which has everything loaded).",
            "",
            *_table(["command", "cold start s", "with a running server s", "load average (2 cores)"], rows),
            "",
            f"Machine load average when measured: {cold.get('load_average_before')} (2 cores). "
            + _cmd("cold_start"),
        ]
    search = r.get("search")
    if search:
        rows = []
        for row in search["results"]:
            for ef, m in sorted(row["by_hnsw_ef"].items(), key=lambda kv: int(kv[0])):
                rows.append(
                    [f"{row['size']:,}", row["quantization"], ef, m["p50_ms"], m["p95_ms"], m["recall@10"]]
                )
        lines += [
            "",
            "Search in the store alone (query already encoded, k=10, one query at a time): latency and recall",
            "against exact search, by collection size, quantization and `hnsw_ef`.",
            "",
            *_table(["vectors", "quantization", "hnsw_ef", "p50 ms", "p95 ms", "recall@10"], rows),
            *_plot("search_latency.png", "search latency and recall against hnsw_ef"),
            "",
            _cmd("search"),
        ]
    ask = r.get("ask")
    if ask and "ask_extractive" in ask:
        a = ask["ask_extractive"]
        stages = [s for s in ("route", "retrieve", "rerank", "generate", "total") if s in a]
        rows = [[s, a[s]["p50"], a[s]["p95"]] for s in stages]
        lines += [
            "",
            f"`mmrag ask` with the default extractive generator ({a.get('questions')} questions over "
            f"{ask.get('corpus')}), seconds per stage:",
            "",
            *_table(["stage", "p50 s", "p95 s"], rows),
            "",
            _cmd("ask"),
        ]
    lines += _ask_api(r.get("ask_api"))
    load = r.get("load")
    if load:
        s, mixed = load.get("search_only", {}), load.get("mixed", {})
        rows = [
            [
                "search only",
                s.get("requests"),
                s.get("errors"),
                s.get("p50_ms"),
                s.get("p95_ms"),
                s.get("throughput_rps"),
            ]
        ]
        for kind in ("search", "upload"):
            m = mixed.get(kind, {})
            if m:
                rows.append(
                    [
                        f"mixed: {kind}",
                        m.get("requests"),
                        m.get("errors"),
                        m.get("p50_ms"),
                        m.get("p95_ms"),
                        m.get("throughput_rps"),
                    ]
                )
        lines += [
            "",
            f"The REST API under load ({load.get('config', {}).get('workers')} concurrent clients on loopback):",
            "",
            *_table(["traffic", "requests", "errors", "p50 ms", "p95 ms", "requests/s"], rows),
            "",
            _cmd("load"),
        ]
    rows = []
    indexing = r.get("indexing")
    if indexing:
        rows.append(
            [
                f"{indexing['documents']:,} Cranfield abstracts",
                f"{indexing['pipeline_docs_per_s']} docs/s",
                f"{indexing['ratio']} x the bare encoder",
                "indexing",
            ]
        )
    encoders = r.get("encoders")
    if encoders:
        d = encoders["docs_per_s"]
        rows.append(
            [
                "text encoder, torch vs ONNX",
                f"{d.get('torch')} / {d.get('onnx')} docs/s",
                "ONNX: MMRAG_TEXT_BACKEND=onnx",
                "encoders",
            ]
        )
    media = r.get("media")
    if media:
        for name, m in media.items():
            if isinstance(m, dict) and "s_per_video_min" in m:
                rows.append(
                    [
                        name.replace("_", " "),
                        f"{m['s_per_video_min']} s per video minute",
                        f"peak RSS {m['peak_rss_mb']} MB",
                        "media",
                    ]
                )
    extraction = r.get("extraction")
    if extraction and "ocr" in extraction:
        o = extraction["ocr"]
        rows.append(
            [
                "OCR of a photo (median)",
                f"{o.get('coco_median_s')} s",
                f"p95 {o.get('coco_p95_s')} s",
                "extraction",
            ]
        )
    if rows:
        lines += [
            "",
            "Indexing speed:",
            "",
            *_table(
                ["what", "speed", "note", "benchmark"], [row[:3] + [f"`bench_{row[3]}`"] for row in rows]
            ),
            "",
            "Reproduce: `python -m benchmarks.bench_NAME` with NAME from the last column.",
        ]
    return lines


# --- how big can it get -----------------------------------------------------------------------------------
def size(r: Results) -> list[str]:
    lines: list[str] = []
    scale = r.get("scale")
    if scale:
        rows = [
            [f"{p['items']:,}", p["ingest_s"], p["index_build_s"], p["total_s"], p["total_s_per_1k"]]
            for p in scale["points"]
        ]
        lines += [
            f"Indexing time against collection size ({scale.get('encoder')}):",
            "",
            *_table(["items", "ingest s", "HNSW build s", "total s", "total s per 1k"], rows),
            *_plot("scale.png", "indexing time against collection size"),
        ]
        fit = scale.get("fit_total", {})
        if fit:
            lines += ["", f"Linear fit: {fit.get('s_per_1k')} s per 1,000 items (R² {fit.get('r2')})."]
        real = scale.get("real_encoder_1k")
        if real:
            lines += [
                f"With the real MiniLM encoder: {real['total_s_per_1k']} s per 1,000 Cranfield abstracts."
            ]
        lines += [
            "",
            "Ingest (encode + BM25 + upsert) grows linearly; the HNSW build starts past the engine's indexing",
            "threshold (about 10,000 points) and grows slightly faster (graph insertion is about n log n).",
            "The curve uses a stand-in hashed encoder so that the store, not the encoder, is measured.",
            "",
            _cmd("scale"),
        ]
    search = r.get("search")
    if search:
        rows = [
            [
                f"{row['size']:,}",
                row["quantization"],
                round(row.get("rss_bytes_per_vector", 0)),
                round(row.get("disk_bytes_per_vector", 0)),
                row.get("index_build_s"),
            ]
            for row in search["results"]
        ]
        lines += [
            "",
            "Memory and disk per stored 384-d vector (payload and HNSW graph included):",
            "",
            *_table(
                ["vectors", "quantization", "RAM bytes/vector", "disk bytes/vector", "HNSW build s"], rows
            ),
            "",
            _cmd("search"),
        ]
    return lines


def _ask_api(a: dict[str, Any] | None) -> list[str]:
    """`POST /v1/ask` latency, the router as a prior (what ask does) against the router as a gate."""
    if not a or "prior" not in a or "gate" not in a:
        return []
    modes = (
        ("prior", "router as a prior (default: every granularity)"),
        ("gate", "router as a gate (earlier)"),
    )
    rows = [
        [label, a[m]["requests"], a[m]["http_s"]["p50"], a[m]["http_s"]["p95"], a[m].get("answered")]
        for m, label in modes
    ]
    corpus = a.get("corpus", {})
    return [
        "",
        f"`POST /v1/ask` through the API ({a.get('client')}), default settings, extractive generator; "
        f"{len(corpus.get('files', []))} sample files + {corpus.get('cranfield_abstracts')} Cranfield abstracts, "
        f"{a.get('index', {}).get('segments')} segments; seconds per request:",
        "",
        *_table(["mode", "requests", "p50 s", "p95 s", "answered"], rows),
        "",
        f"Prior / gate p50: {a.get('prior_vs_gate_p50')}x. Stage p50s (s): prior {a['prior'].get('stages_p50_s')}, "
        f"gate {a['gate'].get('stages_p50_s')}.",
        "",
        "Reproduce: `python benchmarks/bench_ask.py --api`.",
    ]


# --- how good is ask ----------------------------------------------------------------------------------------
def ask_quality(r: Results) -> list[str]:
    lines: list[str] = []
    router = r.get("router")
    if router:
        rows = [
            [route, m["precision"], m["recall"], m["f1"], m["support"]]
            for route, m in router["per_route"].items()
        ]
        lines += [
            f"The router picks which corpus answers a question ({router.get('data')}, {router.get('folds')}-fold",
            f"cross-validation): accuracy {router['accuracy']}, macro-F1 {router['macro_f1']}.",
            "",
            *_table(["route", "precision", "recall", "F1", "questions"], rows),
            *_plot("router_confusion.png", "router confusion matrix"),
            "",
            _cmd("router"),
        ]
    ask = r.get("ask")
    if ask and "ask_extractive" in ask:
        rows = []
        for key, label in (("ask_extractive", "extractive (default)"), ("ask_gguf", "GGUF model")):
            a = ask.get(key)
            if a:
                rows.append([label, a.get("questions"), a.get("abstained"), a.get("total", {}).get("p50")])
        lines += [
            "",
            f"Answers over {ask.get('corpus')}: how often `ask` abstains (no supported answer) and how long it takes.",
            "",
            *_table(["generator", "questions", "abstained", "p50 s"], rows),
            "",
            _cmd("ask"),
        ]
    conflicts = r.get("conflicts")
    if conflicts:
        lines += [
            "",
            f"Conflicting evidence ({conflicts.get('pairs')} passage pairs from {conflicts.get('data')}): the",
            f"detector flags a real conflict with precision {conflicts.get('precision')} and recall {conflicts.get('recall')}.",
            "",
            _cmd("conflicts"),
        ]
    return lines


# --- install -------------------------------------------------------------------------------------------------
def install(r: Results) -> list[str]:
    inst = r.get("install")
    if not inst:
        return []
    rows = [
        ["`make install` (new venv, lean: CLI, API, UI)", inst.get("make_install_s"), inst.get("venv_mb")],
        [
            "`make demo` from scratch (install + index + 2 searches)",
            inst.get("make_demo_from_scratch_s"),
            inst.get("venv_mb"),
        ],
    ]
    if "venv_with_test_mb" in inst:
        rows.append(
            [
                "+ `make install-test` (test and lint extras)",
                inst.get("make_install_test_extra_s"),
                inst.get("venv_with_test_mb"),
            ]
        )
    biggest = ", ".join(f"{k} {v:.0f}" for k, v in list(inst.get("largest_packages_mb", {}).items())[:6])
    note = [f"Note: {inst['note']}", ""] if inst.get("note") else []
    return [
        f"From a fresh copy of the repository, torch {inst.get('torch')}:",
        "",
        *_table(["step", "seconds", "venv MB"], rows),
        "",
        f"Largest packages (MB): {biggest}. On x86_64, PyPI's only torchvision that works here is built",
        "against the CUDA torch, so its nvidia-* libraries and triton come along even without a GPU.",
        "",
        *note,
        _cmd("install"),
    ]


def _cell(text: str) -> str:
    """Text safe in one Markdown table cell (file names may hold newlines and pipes)."""
    return " ".join(text.split()).replace("|", "/")


def hostile(r: Results) -> list[str]:
    """Per kind of broken or hostile file: outcome, reason, time and peak memory (bench_hostile)."""
    h = r.get("hostile")
    if not h:
        return []
    corpus, overhead = h.get("whole_corpus", {}), h.get("isolation_overhead", {})
    rows = [
        [f"`{_cell(k['kind'])[:40]}`", k["outcome"], _cell(k["reason"])[:90], k["seconds"], k["peak_mb"]]
        for k in h.get("kinds", [])
    ]
    return [
        f"One `mmrag index` over all {corpus.get('kinds')} kinds plus good files: {corpus.get('seconds')} s, "
        f"peak memory of the process tree {corpus.get('peak_mb')} MB, exit code {corpus.get('exit_code')}, "
        f"traceback: {corpus.get('traceback')}; {corpus.get('failed')} failed, {corpus.get('skipped')} "
        f"skipped, {corpus.get('indexed')} indexed. Kinds whose outcome differs from the expected one: "
        f"{h.get('mismatched') or 'none'}.",
        "",
        f"Extraction in the isolated worker costs {overhead.get('overhead_ms_per_file')} ms per ordinary file "
        f"({overhead.get('inline_s_per_file')} s in-process vs {overhead.get('isolated_s_per_file')} s through "
        "the worker, median per file).",
        "",
        "Each kind alone (time of that file; peak memory of this process plus the extraction worker):",
        "",
        *_table(["kind", "outcome", "reason", "seconds", "peak MB"], rows),
        "",
        _cmd("hostile"),
    ]


SECTIONS: list[tuple[str, Callable[[Results], list[str]], set[str]]] = [
    ("How good is search?", search_quality, {"retrieval", "matryoshka", "gram", "media"}),
    (
        "How fast is it?",
        speed,
        {"cold_start", "search", "ask", "ask_api", "load", "indexing", "encoders", "extraction"},
    ),
    ("How big can it get?", size, {"scale"}),
    ("How good is `ask`?", ask_quality, {"router", "conflicts"}),
    ("What does it cost to install?", install, {"install"}),
    ("What does hostile input do?", hostile, {"hostile"}),
]


def _leaves(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:4]):
            yield from _leaves(v, f"{prefix}[{i}]")
    elif isinstance(value, float):
        yield prefix, round(value, 4)
    elif isinstance(value, int | bool):
        yield prefix, value


def _generic(d: dict[str, Any]) -> list[str]:
    leaves = list(_leaves({k: v for k, v in d.items() if k not in ("machine", "when", "benchmark")}))
    lines = _table(["metric", "value"], [[k, v] for k, v in leaves[:GENERIC_ROWS]])
    if len(leaves) > GENERIC_ROWS:
        lines.append(f"\n({len(leaves) - GENERIC_ROWS} more numbers in the JSON file)")
    return lines


def load_results(folder: Path | None = None) -> Results:
    """Every result file in `folder` (default benchmarks/results/), by name."""
    folder = RESULTS if folder is None else folder
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}


def render(results: Results | None = None) -> str:
    """The RESULTS.md text for every result file present."""
    results = load_results() if results is None else results
    parts = [
        "# Benchmark results",
        "",
        "What mmrag does on a small machine: 2 shared CPU cores, no GPU, offline. Other work often ran at the",
        "same time, so wall times are upper bounds (each JSON file in `benchmarks/results/` records the load",
        "where it was measured); quality numbers do not depend on the load. Generated by",
        "`python -m benchmarks.report` from those files; `make bench` reruns every benchmark.",
    ]
    covered: set[str] = set()
    for title, section, names in SECTIONS:
        try:
            body = section(results)
        except (
            KeyError,
            TypeError,
            ValueError,
            AttributeError,
        ) as exc:  # a changed shape must not hide the rest
            body = [f"(this section could not be rendered from the current results: {exc!r})"]
        covered |= names & set(results)
        while body and not body[0]:
            body = body[1:]
        if body:
            parts += ["", f"## {title}", "", *body]
    others = [name for name in results if name not in covered]
    if others:
        parts += ["", "## Other measurements", ""]
        for name in others:
            data = results[name]
            parts += [f"### {name}", "", *_generic(data), "", _cmd(name), ""]
            if data.get("note"):
                parts += [f"Note: {data['note']}", ""]
    return "\n".join(parts).rstrip() + "\n"


README = HERE.parent / "README.md"
README_BEGIN = "<!-- generated by benchmarks.report: install and cold start -->"
README_END = "<!-- end of generated block -->"


def readme_block(results: Results) -> list[str]:
    """The README's measured start-up costs: install size and time, and each command's cold-start time."""
    lines = [README_BEGIN]
    inst, cold = results.get("install"), results.get("cold_start")
    if inst:
        venv_gb = inst.get("venv_mb", 0) / 1000
        big = inst.get("largest_packages_mb", {})
        torch_gb = sum(big.get(name, 0) for name in ("nvidia", "torch", "triton")) / 1000
        load = inst.get("load_average", {}).get("after", [None])[0]
        lines += [
            f"`make demo` from scratch took {inst.get('make_demo_from_scratch_s', 0) / 60:.0f} min and leaves a {venv_gb:.1f} GB",
            f"virtualenv, {torch_gb:.1f} GB of it torch (torch {inst.get('torch')}, see Install below)"
            + (
                f"; `make test` adds {inst['venv_with_test_mb'] / 1000 - venv_gb:.1f} GB of test and lint extras."
                if "venv_with_test_mb" in inst
                else "."
            ),
            "Measured by `python -m benchmarks.bench_install` on 2 CPU cores"
            + (
                f" shared with other work (load average {load}): the time is an upper bound." if load else "."
            ),
        ]
    if cold:
        server = cold.get("with_server", {})
        rows = [
            [f"`mmrag {name}`", c["median_s"], server.get(name, {}).get("median_s", "")]
            for name, c in cold["cold"].items()
        ]
        lines += [
            "",
            "Wall time of each command (median seconds, `python -m benchmarks.bench_cold_start`): on its own,",
            "and while `mmrag serve` owns the home and the command goes through it. Measured on 2 CPU cores",
            f"shared with other work (load average {(cold.get('load_average_before') or ['?'])[0]} at the start):"
            " upper bounds.",
            "",
            *_table(["command", "on its own", "with `mmrag serve` running"], rows),
        ]
    return [*lines, README_END]


def update_readme(results: Results, readme: Path = README) -> bool:
    """Replace the generated block in the README (between its markers); False when there are no markers."""
    text = readme.read_text()
    if README_BEGIN not in text or README_END not in text:
        return False
    head, rest = text.split(README_BEGIN, 1)
    tail = rest.split(README_END, 1)[1]
    readme.write_text(head + "\n".join(readme_block(results)) + tail)
    return True


def main() -> None:
    try:
        from benchmarks.plots import write_plots

        write_plots()
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'): RESULTS.md without plots")
    results = load_results()
    OUT.write_text(render(results))
    print(f"wrote {OUT}")
    if update_readme(results):
        print(f"updated the measured block in {README}")


if __name__ == "__main__":
    main()
