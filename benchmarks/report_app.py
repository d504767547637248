"""The sections of benchmarks/RESULTS.md about using mmrag: how good is `ask`, what install costs, what
hostile input does."""

from __future__ import annotations

from benchmarks.report_format import Results, cell, plot, reproduce, table


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
