"""Routers from the registry; the LLM router asks for the `Completer` protocol, not for an attribute."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.protocols import Completer
from core.registry import Given, default_registry
from core.settings import Settings
from core.types import Route
from retrieval.routing.backends import AllRoutesRouter
from retrieval.routing.llm_router import LlmRouter
from retrieval.routing.route_selection import RETRIEVAL_ROUTES
from tests.unit.fakes import FakeCompletingGenerator, FakeWordsOnlyGenerator, HashingTextEncoder

pytestmark = pytest.mark.unit


def test_the_llm_router_uses_a_completer() -> None:
    generator = FakeCompletingGenerator("video")
    assert isinstance(generator, Completer)
    decision = LlmRouter(generator).route("how do I tie a bowline?")
    assert decision.selected == (Route.VIDEO,) and "bowline" in generator.prompts[0]


def test_without_completion_every_route_is_searched() -> None:
    generator = FakeWordsOnlyGenerator()
    assert not isinstance(generator, Completer)
    decision = LlmRouter(generator).route("x")
    assert decision.selected == RETRIEVAL_ROUTES and "cannot complete" in decision.router


def test_routers_come_from_the_registry(tmp_path: Path) -> None:
    registry = default_registry()
    given = Given(text_encoder=HashingTextEncoder(), generator=FakeCompletingGenerator("image"))
    settings = Settings(home=tmp_path)
    assert isinstance(registry.build("router", "all", settings, given), AllRoutesRouter)
    llm = registry.build("router", "llm", settings, given)
    assert llm.route("a photo of a cat").selected == (Route.IMAGE,)
    trained = registry.build("router", "trained", settings, given)
    assert type(trained).__name__ == "TrainedRouter"
    missing = Settings(home=tmp_path, router_path=tmp_path / "nope.npz")
    with pytest.raises(ConfigError, match="no such weights file"):
        registry.build("router", "trained", missing, given)
