"""Routers: the shipped trained router on real labelled questions (router-dev.jsonl, UniversalRAG query sets),
retraining from a file, unsure → several routes, the LLM router's parsing and fallback, the CLI."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.builders import build_router
from core.settings import Settings
from core.types import Route
from generation.extractive_generator import ExtractiveGenerator
from retrieval.routing.backends import AllRoutesRouter
from retrieval.routing.llm_router import LlmRouter, parse_routes, routing_prompt
from retrieval.routing.route_selection import RETRIEVAL_ROUTES, select_routes
from retrieval.routing.router_model import RouterWeights
from retrieval.routing.trained_router import DEFAULT_WEIGHTS, TrainedRouter
from tests.conftest import DATA

pytestmark = pytest.mark.integration

DEV = DATA / "router-dev.jsonl"


def _sample(per_route: int, seed: int) -> list[dict[str, str]]:
    rows = [json.loads(line) for line in DEV.read_text().splitlines() if line.strip()]
    rng = random.Random(seed)
    out = []
    for route in sorted({r["route"] for r in rows}):
        out += rng.sample([r for r in rows if r["route"] == route], per_route)
    return out


@pytest.fixture(scope="module")
def router(text_encoder: Any) -> TrainedRouter:
    return TrainedRouter(text_encoder)


@pytest.mark.eval_data  # router-dev.jsonl
def test_shipped_weights_have_provenance_and_beat_bag_of_words() -> None:
    provenance = json.loads(DEFAULT_WEIGHTS.with_suffix(".json").read_text())
    assert provenance["data_sha256"] == hashlib.sha256(DEV.read_bytes()).hexdigest()
    cv = provenance["cross_validation"]
    assert cv["folds"] == 5 and cv["n"] == 1147
    assert cv["trained_router"]["accuracy"] >= 0.9
    assert cv["trained_router"]["macro_f1"] > cv["bag_of_words"]["macro_f1"] + 0.1
    weights = RouterWeights.load(DEFAULT_WEIGHTS)  # plain arrays: np.load(allow_pickle=False)
    assert set(weights.labels) == {r.value for r in Route} and weights.embedding_dim == 384
    assert DEFAULT_WEIGHTS.stat().st_size < 1_000_000


@pytest.mark.eval_data  # router-dev.jsonl
def test_trained_router_routes_real_questions(router: TrainedRouter) -> None:
    rows = _sample(8, seed=1)
    decisions = router.route_many([r["question"] for r in rows])
    top = [max(d.probabilities, key=d.probabilities.__getitem__).value for d in decisions]
    accuracy = sum(t == r["route"] for t, r in zip(top, rows, strict=True)) / len(rows)
    assert accuracy >= 0.85, accuracy
    for d in decisions:
        assert sum(d.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
        assert d.selected and d.selected[0] == max(d.probabilities, key=d.probabilities.__getitem__)


@pytest.mark.parametrize(
    ("question", "route"),
    [
        ("What are the steps to repot an orchid without damaging its roots?", Route.VIDEO),
        ("What colour is the roof of the Sydney Opera House and how many sails does it have?", Route.IMAGE),
        (
            "Which of the following is a prime number?\nChoices:\nA) 21\nB) 27\nC) 29\nD) 33",
            Route.NONE,
        ),
        (
            "In the 2021 cooking show finale, what does the winner put on the cake?\n(A) Berries\n(B) Mint"
            "\n(C) Gold leaf\n(D) Sugar flowers",
            Route.CLIP,
        ),
    ],
)
def test_trained_router_on_new_questions(router: TrainedRouter, question: str, route: Route) -> None:
    decision = router.route(question)
    assert route in decision.selected, decision.to_dict()


def test_unsure_router_selects_several_routes() -> None:
    sure = select_routes({Route.IMAGE: 0.9, Route.PARAGRAPH: 0.05, Route.DOCUMENT: 0.05}, router="t")
    assert sure.selected == (Route.IMAGE,)
    unsure = select_routes({Route.PARAGRAPH: 0.48, Route.DOCUMENT: 0.42, Route.IMAGE: 0.1}, router="t")
    assert unsure.selected == (Route.PARAGRAPH, Route.DOCUMENT)
    flat = select_routes({r: 1 / 6 for r in Route}, router="t", max_routes=3)
    assert len(flat.selected) == 3


@pytest.mark.eval_data  # router-dev.jsonl
def test_train_router_from_a_file(tmp_path: Path, text_encoder: Any) -> None:
    data = tmp_path / "mine.jsonl"
    rows = _sample(6, seed=2)
    data.write_text(
        "".join(json.dumps({"question": r["question"], "route": r["route"]}) + "\n" for r in rows)
    )
    from retrieval.routing.router_training import train_router

    out = tmp_path / "w.npz"
    provenance = train_router(data, text_encoder, out, seed=3, cv_folds=3, encoder_name="packaged")
    assert out.is_file() and json.loads(out.with_suffix(".json").read_text()) == provenance
    assert provenance["seed"] == 3 and provenance["examples"] == len(rows)
    assert provenance["data_sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert set(provenance["cross_validation"]) >= {"trained_router", "bag_of_words"}
    retrained = TrainedRouter(text_encoder, out)
    train_top = [
        max(d.probabilities, key=d.probabilities.__getitem__).value
        for d in retrained.route_many([r["question"] for r in rows])
    ]
    assert sum(t == r["route"] for t, r in zip(train_top, rows, strict=True)) >= 0.9 * len(rows)


class _ScriptedGenerator:
    """A fake LLM (no local chat model answers routing prompts here): returns a fixed completion."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.prompts: list[str] = []

    def complete(self, text: str, max_tokens: int = 32) -> str:
        self.prompts.append(text)
        return self.answer


def test_llm_router_parses_the_answer_and_falls_back() -> None:
    assert parse_routes("Option: Image, then paragraph.") == (Route.IMAGE, Route.PARAGRAPH)
    assert parse_routes("none") == (Route.NONE,) and parse_routes("No retrieval") == (Route.NONE,)
    assert parse_routes("no idea, maybe video") == (Route.VIDEO,)
    prompt = routing_prompt("How tall is it?")
    assert all(f"- {r.value}:" in prompt for r in Route) and prompt.rstrip().endswith("Option:")

    scripted = _ScriptedGenerator("video")
    decision = LlmRouter(scripted).route("How do I tie a bowline knot?")
    assert decision.selected == (Route.VIDEO,) and "How do I tie a bowline knot?" in scripted.prompts[0]
    assert LlmRouter(_ScriptedGenerator("no idea, sorry")).route("x").selected == RETRIEVAL_ROUTES
    # The extractive generator cannot complete prompts: every route is searched.
    assert LlmRouter(ExtractiveGenerator()).route("x").selected == RETRIEVAL_ROUTES


def test_build_router_by_name(text_encoder: Any, tmp_path: Path) -> None:
    gen = ExtractiveGenerator()
    assert isinstance(
        build_router(Settings(router="trained", home=tmp_path), text_encoder, gen), TrainedRouter
    )
    assert isinstance(build_router(Settings(router="llm", home=tmp_path), text_encoder, gen), LlmRouter)
    assert isinstance(build_router(Settings(router="all", home=tmp_path), text_encoder, gen), AllRoutesRouter)


@pytest.mark.eval_data  # router-dev.jsonl
def test_cli_route_and_eval_router(
    make_container: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from app.cli import rag as cli_rag
    from app.cli.main import app

    monkeypatch.setattr(cli_rag, "container_from_env", lambda: make_container())
    runner = CliRunner()
    result = runner.invoke(app, ["route", "What are the steps to make a paper crane?", "--json"])
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert decision["selected"][0] == "video" and decision["router"] == "trained"

    small = tmp_path / "eval.jsonl"
    small.write_text("".join(json.dumps(r) + "\n" for r in _sample(3, seed=4)))
    result = runner.invoke(app, ["eval", "router", str(small), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"accuracy", "macro_f1", "per_route"} <= set(report) and report["n"] == 18
    assert set(report["per_route"]) == {r.value for r in Route} and report["accuracy"] >= 0.7


@pytest.mark.eval_data  # router-dev.jsonl
def test_cli_router_train_writes_weights_the_router_then_uses(
    make_container: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from app.cli import rag as cli_rag
    from app.cli.main import app

    monkeypatch.setattr(cli_rag, "container_from_env", lambda: make_container(ocr=False))
    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _sample(4, seed=5)))
    result = CliRunner().invoke(app, ["router", "train", str(data), "--folds", "0", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    weights = Path(report["weights"])
    assert weights == make_container().settings.home / "router_weights.npz" and weights.is_file()
    assert report["examples"] == 24 and report["cross_validation"] == {}
    # Without MMRAG_ROUTER_PATH the user's retrained weights replace the shipped ones.
    router = build_router(make_container().settings, make_container().text_encoder, ExtractiveGenerator())
    assert isinstance(router, TrainedRouter) and router.weights_path == weights
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "x", "route": "podcast"}\n')
    result = CliRunner().invoke(app, ["router", "train", str(bad)])
    assert result.exit_code == 1 and "unknown route" in result.output
