"""The typed results of `evaluation/`: deterministic inputs, FAKE components (no model loads), and the exact
JSON each `mmrag eval ...` command prints (key order included: the CLI output is byte-compatible)."""

from __future__ import annotations

import json
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.protocols import Extracted
from core.types import Answer, Citation, Hit, Route, RouteDecision
from evaluation.asr import AsrResult, evaluate_asr
from evaluation.beir import BeirResult, evaluate_beir, ndcg_at, recall_at
from evaluation.images import evaluate_images
from evaluation.qa import QaItem, QaOutcome, evaluate_qa, metrics, summarize
from evaluation.router import evaluate_router, score_decisions
from tests.fixtures.rag import fact_hit
from tests.unit.fakes import FakeAsr, FakeClipEncoder

pytestmark = pytest.mark.unit


# --- beir ----------------------------------------------------------------------------------------------------
class FakeBeirIndex:
    """FAKE indexer + retriever: remembers the indexed segments; each query returns a scripted ranking."""

    def __init__(self, rankings: dict[str, list[str]]) -> None:
        self.rankings = rankings
        self.segments: dict[str, Extracted] = {}

    def index_extracted(self, items: Sequence[Extracted]) -> int:
        self.segments.update({item.segment.uri.removeprefix("beir:"): item for item in items})
        return len(items)

    def search(self, query: str, k: int = 10) -> list[Hit]:
        return [Hit(self.segments[doc].segment, 1.0) for doc in self.rankings[query][:k]]


def test_beir_result_scores_the_rankings_and_keeps_the_json_keys() -> None:
    corpus = [{"_id": d, "title": d.upper(), "text": f"text {d}"} for d in ("d1", "d2", "d3")]
    queries = {"q1": "first", "q2": "second"}
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 2, "d3": 1}}
    fake = FakeBeirIndex({"first": ["d1", "d2"], "second": ["d3", "d1"]})
    said: list[str] = []
    result = evaluate_beir(corpus, queries, qrels, fake, fake, fusion="rrf", progress=said.append)

    assert len(fake.segments) == 3 and said and said[0].startswith("indexed 3 documents in ")
    q2 = (1 / 1) / (2 / 1 + 1 / np.log2(3))  # d3 (grade 1) first, d2 (grade 2) missing
    assert (
        result.ndcg_at_10
        == round((1.0 + q2) / 2, 4)
        == round((ndcg_at(["d1", "d2"], qrels["q1"]) + q2) / 2, 4)
    )
    assert result.recall_at_100 == 0.75 == (recall_at(["d1"], qrels["q1"]) + 0.5) / 2
    assert (result.queries, result.documents, result.fusion) == (2, 3, "rrf")
    data = result.to_json()
    assert list(data) == [
        "ndcg@10",
        "recall@100",
        "queries",
        "documents",
        "fusion",
        "index_seconds",
        "query_p50_ms",
    ]
    assert data["ndcg@10"] == result.ndcg_at_10 and data["query_p50_ms"] >= 0.0


def test_beir_result_without_queries_is_zero() -> None:
    empty = evaluate_beir([], {}, {}, FakeBeirIndex({}), FakeBeirIndex({}), fusion="weighted")
    assert empty == BeirResult(0.0, 0.0, 0, 0, "weighted", empty.index_seconds, 0.0)


# --- router --------------------------------------------------------------------------------------------------
def _decision(top: Route, *others: Route) -> RouteDecision:
    probabilities = {top: 0.6, **{r: 0.4 / len(others) for r in others}}
    return RouteDecision(probabilities, (top, *others), router="fake")


class FakeRouter:
    """FAKE router: a scripted decision per question (not a `BatchRouter`: routes one by one)."""

    def __init__(self, decisions: dict[str, RouteDecision]) -> None:
        self.decisions = decisions

    def route(self, query: str) -> RouteDecision:
        return self.decisions[query]


def test_router_result_matches_the_eval_router_json() -> None:
    router = FakeRouter(
        {
            "a": _decision(Route.PARAGRAPH),
            "b": _decision(Route.PARAGRAPH, Route.IMAGE),
            "c": _decision(Route.IMAGE),
        }
    )
    result = evaluate_router(router, ["a", "b", "c"], ["paragraph", "image", "image"])
    assert json.dumps(result.to_json()) == json.dumps(
        {
            "accuracy": 0.6667,
            "macro_f1": 0.6667,
            "per_route": {
                "image": {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2},
                "paragraph": {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1},
            },
            "n": 3,
            "router": "fake",
            "selected_recall": 1.0,  # "b" searched the image route too
            "mean_routes_searched": 1.333,
        }
    )
    with pytest.raises(ValueError):
        score_decisions(["image"], [])


# --- images --------------------------------------------------------------------------------------------------
def test_images_result_recalls_with_the_fake_clip(tmp_path: Path) -> None:
    colours = {
        "r.png": (200, 10, 10),
        "g.png": (10, 200, 10),
        "b.png": (10, 10, 200),
        "r2.png": (180, 30, 30),
    }
    for name, colour in colours.items():
        Image.new("RGB", (8, 8), colour).save(tmp_path / name)
    captions = [(0, "a red square"), (1, "green"), (2, "blue thing"), (2, "sky"), (3, "red again")]
    (tmp_path / "captions.json").write_text(
        json.dumps(
            {
                "images": [{"id": i, "file_name": n} for i, n in enumerate(colours)],
                "annotations": [{"image_id": i, "caption": c} for i, c in captions],
            }
        )
    )
    result = evaluate_images(FakeClipEncoder(), tmp_path, tmp_path / "captions.json", clip_model="fake-clip")
    data = result.to_json()
    assert data.pop("seconds") >= 0.0
    # the two red pictures look alike to the fake CLIP: one of them ranks the other's caption first
    assert json.dumps(data) == json.dumps(
        {
            "images": 4,
            "captions": 5,
            "text_to_image": {"R@1": 1.0, "R@5": 1.0, "R@10": 1.0},
            "image_to_text": {"R@1": 0.5, "R@5": 1.0, "R@10": 1.0},
            "chance_R@1_text_to_image": 0.25,
            "clip_model": "fake-clip",
        }
    )
    limited = evaluate_images(FakeClipEncoder(), tmp_path, tmp_path / "captions.json", limit=2)
    assert limited.images == 2 and "clip_model" not in limited.to_json()


# --- asr -----------------------------------------------------------------------------------------------------
def _tone(path: Path, seconds: float) -> None:
    rate = 16000
    t = np.arange(int(rate * seconds)) / rate
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2").tobytes())


def test_asr_result_counts_the_edits(tmp_path: Path) -> None:
    _tone(tmp_path / "a.wav", 2.0)
    rows = [
        {"audio": "a.wav", "text": "Mr. Smith went to the market"},
        {"audio": "a.wav", "text": "hello world"},
    ]
    (tmp_path / "u.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = evaluate_asr(tmp_path / "u.jsonl", FakeAsr(["mister smith went to a market", "today"]))
    assert isinstance(result, AsrResult)
    data = result.to_json()
    assert data.pop("seconds") >= 0.0 and data.pop("rtf") is not None
    audio = str(tmp_path / "a.wav")
    heard = "mister smith went to a market today"
    assert json.dumps(data) == json.dumps(
        {
            "wer": 1.125,  # (1 sub + 1 ins) + (2 sub + 5 ins) over 6 + 2 words
            "utterances": 2,
            "words": 8,
            "substitutions": 3,
            "deletions": 0,
            "insertions": 6,
            "audio_s": 4.0,
            "model": "fake",
            "errors": [
                {"audio": audio, "reference": rows[0]["text"], "hypothesis": heard, "wer": 0.3333},
                {"audio": audio, "reference": "hello world", "hypothesis": heard, "wer": 3.5},
            ],
        }
    )


# --- qa ------------------------------------------------------------------------------------------------------
def test_qa_result_is_the_metrics_json() -> None:
    items = [
        QaItem("q1", ("1911",), uri="a.txt"),
        QaItem("q2", (), impossible=True),
        QaItem("q3", ("x",), uri="b.txt"),
    ]
    cited = Answer(text="1911 [1].", citations=(Citation(1, fact_hit("bridge").segment),))
    idk = Answer(text="I don't know.", abstained=True)
    outcomes = [QaOutcome(items[0], cited, 0.1), QaOutcome(items[1], idk, 0.2), QaOutcome(items[2], idk, 0.3)]
    expected = {
        "questions": 3,
        "answerable": 2,
        "unanswerable": 1,
        "contains_gold": 0.5,
        "cites_gold": 0.0,  # bridge.txt is not a.txt
        "abstain_unanswerable": 1.0,
        "abstain_answerable": 0.5,
        "score": 0.6667,
        "latency_s": {"p50": 0.2, "p95": 0.3},
    }
    assert json.dumps(summarize(outcomes).to_json()) == json.dumps(expected) == json.dumps(metrics(outcomes))
    answers = {"q1": cited, "q2": idk, "q3": idk}
    ran = evaluate_qa(lambda q: answers[q], items)
    assert (ran.questions, ran.contains_gold, ran.score) == (3, 0.5, 0.6667)
    assert summarize([]).to_json()["contains_gold"] is None and summarize([]).latency_p50_s == 0.0
