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
    lines += squad_qa(r.get("qa"))
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


QA_TARGETS = {"contains_gold": 0.85, "cites_gold": 0.90, "abstain_unanswerable": 0.5}
"""Issue 16's targets for `ask` on SQuAD 2.0."""


def _qa_row(label: str, m: dict[str, Any]) -> list[Any]:
    """One configuration's SQuAD metrics; a p50 of 0 (answers replayed from a sweep) is left empty."""
    p50 = (m.get("latency_s") or {}).get("p50")
    return [
        label,
        m.get("questions"),
        *(m.get(k) for k in ("contains_gold", "cites_gold", "abstain_unanswerable", "abstain_answerable")),
        m.get("score"),
        p50 or None,
    ]


def _split_label(key: str, knobs: dict[str, Any]) -> str:
    """`tune A -> report B` as a row label with the knobs chosen on A."""
    tune, _, held = key.removeprefix("tune ").partition(" -> report ")
    chosen = ", ".join(f"{k} {v}" for k, v in knobs.items() if k != "score")
    where = f"tuned on {tune}, reported on {held}" if held else key
    return f"held out: {where} ({chosen})"


def squad_qa(qa: dict[str, Any] | None) -> list[str]:
    """`ask` on SQuAD 2.0 with abstention (bench_qa): baseline, shipped generator, defaults, held-out splits."""
    if not qa:
        return []
    rows = []
    if "baseline" in qa:
        rows.append(_qa_row(f"baseline: {qa['baseline'].get('name', '')}", qa["baseline"]))
    if "shipped_generator" in qa:
        g = qa["shipped_generator"]
        knobs = ", ".join(f"{k} {g[k]}" for k in ("type_penalty", "entity_penalty", "min_score") if k in g)
        rows.append(_qa_row(f"shipped generator on ask's evidence ({knobs})", g))
    default = qa.get("default")
    if default:
        rows.append(_qa_row("`mmrag ask` defaults, end to end", default))
        for article, m in default.get("per_article", {}).items():
            rows.append(_qa_row(f"`mmrag ask` defaults, {article} only", m))
    splits = qa.get("split", {})
    for key, s in splits.items():
        rows.append(_qa_row(_split_label(key, s.get("tuned", {})), s["held_out"]))
    index = qa.get("index", {})
    lines = [
        "",
        f"Question answering with abstention on SQuAD 2.0 ({qa.get('data')}; {qa.get('settings')}).",
        f"Each paragraph is indexed as its own file ({index.get('files')} files, {index.get('segments')}"
        f" segments, {index.get('seconds')} s), so a citation can be checked against the gold paragraph.",
        "contains-gold: answerable questions whose answer contains a gold answer; cites-gold: answerable",
        "questions citing the gold paragraph; abstain-unanswerable / -answerable: share of those questions",
        "`ask` declines; score = (answerable answered correctly + unanswerable abstained) / all. Held-out",
        "rows: the extractive generator's answerability knobs chosen on one article, reported on the other.",
        "",
        *table(
            [
                "configuration",
                "questions",
                "contains-gold",
                "cites-gold",
                "abstain-unanswerable",
                "abstain-answerable",
                "score",
                "p50 s",
            ],
            rows,
        ),
        "",
        "Targets: contains-gold >= 0.85, cites-gold >= 0.90, abstain-unanswerable >= 0.5.",
    ]
    reference = default or qa.get("shipped_generator")
    if reference:
        met = [
            f"{k.replace('_', '-')} {reference.get(k)} ({'met' if (reference.get(k) or 0) >= v else 'not met'})"
            for k, v in QA_TARGETS.items()
        ]
        who = "`mmrag ask` defaults" if default else "the shipped generator"
        lines += [f"Against them, {who}: {', '.join(met)}."]
    curves = {key: s.get("curve") for key, s in splits.items() if s.get("curve")}
    if curves:
        thresholds = sorted({p["min_score"] for c in curves.values() for p in c})
        by = {key: {p["min_score"]: p for p in c} for key, c in curves.items()}
        header = [
            "min_score",
            *(f"{k.partition(' -> report ')[2] or k}: contains-gold / abstain-unanswerable" for k in curves),
        ]
        cells = [
            [
                t,
                *(
                    f"{by[k][t]['contains_gold']} / {by[k][t]['abstain_unanswerable']}"
                    if t in by[k]
                    else None
                    for k in curves
                ),
            ]
            for t in thresholds
        ]
        lines += [
            "",
            "The trade-off on each held-out article as min_score moves (the other knobs as tuned):",
            "",
            *table(header, cells),
        ]
    ev = qa.get("evidence_latency")
    if ev:
        p50 = ev.get("p50_s", {})
        lines += [
            "",
            f"Gathering ask's evidence ({ev.get('questions')} questions), p50 s: router as a prior "
            f"{p50.get('prior')}, as a gate {p50.get('gate')} (prior / gate {ev.get('ratio')}x).",
        ]
    return [*lines, "", "Reproduce: `python benchmarks/bench_qa.py`."]


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
