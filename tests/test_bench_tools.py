"""The benchmark runner, the RESULTS.md renderer and the scale benchmark's fit (no models, no timing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import report, run_all
from benchmarks.bench_scale import HashingTextEncoder, linear_fit

pytestmark = pytest.mark.unit


def test_run_all_discovers_and_selects_benchmarks() -> None:
    names = run_all.discover()
    assert {"bench_scale", "bench_indexing", "bench_matryoshka", "bench_install"} <= set(names)
    assert run_all.select(names, ["scale", "bench_indexing"]) == ["bench_indexing", "bench_scale"]
    assert "bench_install" not in run_all.select(names, None), "the multi-GB install runs only on request"
    assert run_all.select(names, ["install"]) == ["bench_install"]
    with pytest.raises(SystemExit, match="unknown benchmark"):
        run_all.select(names, ["nope"])


def test_linear_fit_recovers_slope_and_r2() -> None:
    fit = linear_fit([1000, 2000, 4000], [2.0, 4.0, 8.0])
    assert fit["s_per_1k"] == pytest.approx(2.0) and fit["r2"] == pytest.approx(1.0)
    assert linear_fit([1000, 2000, 3000, 4000], [1.0, 9.0, 2.0, 8.0])["r2"] < 0.5


def test_stand_in_encoder_is_normalised_and_deterministic() -> None:
    enc = HashingTextEncoder(dim=64)
    a = enc.encode_documents(["shock waves in supersonic flow", ""])
    assert a.shape == (2, 64) and a[0] @ a[0] == pytest.approx(1.0) and not a[1].any()
    assert (enc.encode_documents(["shock waves in supersonic flow"])[0] == a[0]).all()


def test_report_renders_known_and_unknown_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "indexing.json").write_text(
        json.dumps(
            {"documents": 1400, "bare_encoder_docs_per_s": 11.0, "pipeline_docs_per_s": 10.8, "ratio": 0.98}
        )
    )
    (tmp_path / "cold_start.json").write_text(
        json.dumps(
            {
                "cold": {"sources": {"median_s": 3.1}, "search": {"median_s": 9.5}},
                "with_server": {"sources": {"median_s": 0.9}},
                "load_average_before": [1.0, 1.0, 1.0],
            }
        )
    )
    (tmp_path / "scale.json").write_text(json.dumps({"points": "a changed shape"}))
    (tmp_path / "other.json").write_text(
        json.dumps({"when": "x", "nested": {"p50_ms": 1.23456}, "s": "text"})
    )
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    text = report.render(notes=tmp_path / "no-notes.md")
    assert "## How fast is it?" in text
    assert "| 1,400 Cranfield abstracts | 10.8 docs/s | 0.98 x the bare encoder | `bench_indexing` |" in text
    assert "| `mmrag sources` | 3.1 | 0.9 |" in text and "| `mmrag search` | 9.5 | not measured |" in text
    assert "Reproduce: `python -m benchmarks.bench_cold_start`." in text
    assert "## How big can it get?" in text and "could not be rendered" in text, "a bad shape is reported"
    assert "### other" in text and "| nested.p50_ms | 1.2346 |" in text
    assert "Reproduce: `python -m benchmarks.bench_other`." in text
    assert "## How good is search?" not in text, "no section without its results"


def _qa_metrics(contains: float, p50: float) -> dict[str, object]:
    return {
        "questions": 10,
        "contains_gold": contains,
        "cites_gold": 0.61,
        "abstain_unanswerable": 0.42,
        "abstain_answerable": 0.1,
        "score": 0.55,
        "latency_s": {"p50": p50, "p95": p50},
    }


def test_report_renders_peers_qa_and_appends_the_notes(tmp_path: Path) -> None:
    ndcg = {"ndcg@10": 0.41, "recall@100": 0.7}
    peers = {
        "sets": {
            "cranfield": {
                "documents": 1400,
                "queries": 225,
                "mmrag": {
                    "ndcg@10": 0.4354,
                    "recall@100": 0.8198,
                    "p50_ms": 21.28,
                    "index_s": 54.4,
                    "stage_p50_ms": {"encode_dense": 14.09},
                },
                "txtai": {"ndcg@10": 0.4097, "recall@100": 0.7702, "p50_ms": 30.73, "index_s": 52.3},
                "bm25": ndcg,
                "dense": ndcg,
                "rrf": {"ndcg@10": 0.4218, "recall@100": 0.79},
                "bare_encoder_index_s": 52.1,
                "ratio_index_vs_bare": 1.044,
                "ratio_p50": 0.692,
                "load_avg_1m_at_start": 0.18,
            }
        }
    }
    rounds = {"index_rounds_s": {"mmrag": [113.1, 110.0, 111.0], "bare": [105.1, 108.0, 109.0]}}
    ratios = {
        "ratio_index_vs_bare": 1.019,
        "ratio_index_vs_bare_median": 1.018,
    }  # median round; of median times
    peers["sets"]["vaswani"] = peers["sets"]["cranfield"] | rounds | ratios
    qa = {
        "index": {"files": 87, "segments": 182, "seconds": 21.2},
        "split": {
            "tune Normans -> report Complexity": {
                "tuned": {"score": 0.5, "min_score": 0.45},
                "held_out": _qa_metrics(0.5888, 0.0),
                "curve": [{"min_score": 0.2, "contains_gold": 0.6345, "abstain_unanswerable": 0.3032}],
            }
        },
        "shipped_generator": {"name": "shipped", **_qa_metrics(0.7713, 0.0)},
        "baseline": {"name": "best sentence", **_qa_metrics(0.5904, 0.4088)},
        "default": {"name": "mmrag ask", **_qa_metrics(0.8612, 0.2345), "per_article": {}},
    }
    notes = tmp_path / "notes.md"
    notes.write_text("<!-- hand-written; covers: presets -->\n## Hand notes\n\nmpnet costs 13x.\n")
    results = {"peers": peers, "qa": qa, "presets": {"sets": {"med": {"ndcg@10": 0.8372}}}}
    text = report.render(results, notes=notes)
    assert "could not be rendered" not in text
    assert "## Search against a peer (txtai hybrid, same MiniLM)" in text
    assert "| cranfield (1,400 docs, 225 queries) | 0.4354 | 0.4097 | 0.4218 (RRF) |" in text
    assert "| 21.28 / 30.73 | 0.692 | 54.4 / 52.3 / 52.1 | 1.044 | 0.18 |" in text
    assert "| 1.019 (median of 3 rounds: 1.076, 1.019, 1.018; ratio of median times 1.018) |" in text
    assert "`python -m benchmarks.bench_peers --sets cranfield vaswani med --bare --index-rounds 3`" in text
    assert "## How good is `ask`?" in text
    assert "| `mmrag ask` defaults, end to end | 10 | 0.8612 | 0.61 | 0.42 | 0.1 | 0.55 | 0.2345 |" in text
    assert "| baseline: best sentence | 10 | 0.5904 |" in text and "| 0.4088 |" in text
    assert "tuned on Normans, reported on Complexity (min_score 0.45) | 10 | 0.5888 |" in text
    assert "| 0.2 | 0.6345 / 0.3032 |" in text, "the held-out trade-off curve"
    assert "contains-gold >= 0.85, cites-gold >= 0.90, abstain-unanswerable >= 0.5" in text
    assert "contains-gold 0.8612 (met)" in text and "cites-gold 0.61 (not met)" in text
    assert "Reproduce: `python benchmarks/bench_qa.py`." in text
    assert text.rstrip().endswith("## Hand notes\n\nmpnet costs 13x."), "the notes come last"
    assert "<!--" not in text and "### presets" not in text, "covered by the notes: not listed again"
    without = report.render(results, notes=tmp_path / "missing.md")
    assert "Hand notes" not in without and "### presets" in without


def test_readme_block_is_replaced_between_its_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{report.README_BEGIN}\nold numbers\n{report.README_END}\n\n## next\n")
    results = {
        "install": {
            "torch": "2.14.1",
            "make_demo_from_scratch_s": 300.0,
            "venv_mb": 6100.0,
            "venv_with_test_mb": 7000.0,
        },
        "cold_start": {"cold": {"sources": {"median_s": 3.1}}, "with_server": {"sources": {"median_s": 0.9}}},
    }
    assert report.update_readme(results, readme)
    text = readme.read_text()
    assert "old numbers" not in text and text.startswith("# x\n") and text.endswith("\n\n## next\n")
    assert "took 5 min and leaves a 6.1 GB" in text and "`make test` adds 0.9 GB" in text
    assert "| `mmrag sources` | 3.1 | 0.9 |" in text
    assert report.update_readme(results, readme) and readme.read_text() == text, "idempotent"
    plain = tmp_path / "plain.md"
    plain.write_text("no markers\n")
    assert not report.update_readme(results, plain) and plain.read_text() == "no markers\n"
