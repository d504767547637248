"""The sections of benchmarks/RESULTS.md about using mmrag: how fast and how good `ask` is, what install
costs, what hostile input does."""

from __future__ import annotations

from typing import Any

from benchmarks.report_format import Results, cell, plot, reproduce, table


# --- how fast is ask (rendered in the speed section) ---------------------------------------------------
def ask_latency(r: Results) -> list[str]:
    """`mmrag ask` seconds per stage with the extractive generator."""
    lines: list[str] = []
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
            *table(["stage", "p50 s", "p95 s"], rows),
            "",
            reproduce("ask"),
        ]
    return lines


def ask_api_latency(a: dict[str, Any] | None) -> list[str]:
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
        *table(["mode", "requests", "p50 s", "p95 s", "answered"], rows),
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
            *table(["route", "precision", "recall", "F1", "questions"], rows),
            *plot("router_confusion.png", "router confusion matrix"),
            "",
            reproduce("router"),
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
            *table(["generator", "questions", "abstained", "p50 s"], rows),
            "",
            reproduce("ask"),
        ]
    conflicts = r.get("conflicts")
    if conflicts:
        lines += [
            "",
            f"Conflicting evidence ({conflicts.get('pairs')} passage pairs from {conflicts.get('data')}): the",
            f"detector flags a real conflict with precision {conflicts.get('precision')} and recall {conflicts.get('recall')}.",
            "",
            reproduce("conflicts"),
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
        *table(["step", "seconds", "venv MB"], rows),
        "",
        f"Largest packages (MB): {biggest}. On x86_64, PyPI's only torchvision that works here is built",
        "against the CUDA torch, so its nvidia-* libraries and triton come along even without a GPU.",
        "",
        *note,
        reproduce("install"),
    ]


def hostile(r: Results) -> list[str]:
    """Per kind of broken or hostile file: outcome, reason, time and peak memory (bench_hostile)."""
    h = r.get("hostile")
    if not h:
        return []
    corpus, overhead = h.get("whole_corpus", {}), h.get("isolation_overhead", {})
    rows = [
        [f"`{cell(k['kind'])[:40]}`", k["outcome"], cell(k["reason"])[:90], k["seconds"], k["peak_mb"]]
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
        *table(["kind", "outcome", "reason", "seconds", "peak MB"], rows),
        "",
        reproduce("hostile"),
    ]
