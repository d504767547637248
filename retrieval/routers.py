"""Pick the router from settings: `trained` (default), `llm`, or `all` (search every route)."""

from __future__ import annotations

from core.errors import ConfigError
from core.protocols import Generator, Router, TextEncoder
from core.settings import Settings
from core.types import RouteDecision
from retrieval.route_selection import RETRIEVAL_ROUTES


class AllRoutesRouter:
    """Searches every retrieval route; the reranker decides (the baseline without routing)."""

    name = "all"

    def route(self, query: str) -> RouteDecision:
        share = 1.0 / len(RETRIEVAL_ROUTES)
        return RouteDecision(
            probabilities={r: share for r in RETRIEVAL_ROUTES}, selected=RETRIEVAL_ROUTES, router=self.name
        )


def build_router(settings: Settings, text_encoder: TextEncoder, generator: Generator) -> Router:
    """The router named by `settings.router`.

    Args:
        settings: Uses `router` and `router_path` (weights `.npz`; default the shipped weights).
        text_encoder: The `text` space encoder (the trained router embeds queries with it).
        generator: The configured generator (the LLM router prompts it).

    Raises:
        ConfigError: unknown router name, or `router_path` does not exist.
    """
    if settings.router == "trained":
        from retrieval.trained_router import TrainedRouter

        if settings.router_path is not None and not settings.router_path.is_file():
            raise ConfigError(f"MMRAG_ROUTER_PATH {settings.router_path}: no such weights file")
        return TrainedRouter(text_encoder, settings.router_path)
    if settings.router == "llm":
        from retrieval.llm_router import LlmRouter

        return LlmRouter(generator)
    if settings.router == "all":
        return AllRoutesRouter()
    raise ConfigError(f"unknown router {settings.router!r}: use trained, llm or all")
