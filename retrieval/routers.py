"""Pick the router from settings: `trained` (default), `llm`, or `all` (search every route)."""

from __future__ import annotations

from core.errors import ConfigError
from core.protocols import Generator, Router, TextEncoder
from core.settings import Settings
from core.types import RouteDecision
from retrieval.route_selection import RETRIEVAL_ROUTES

USER_WEIGHTS = "router_weights.npz"
"""Weights `mmrag router train` writes into MMRAG_HOME by default; used instead of the shipped ones."""


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
        settings: Uses `router`, `router_path` (weights `.npz`; default `$MMRAG_HOME/router_weights.npz`
            when present, else the shipped weights) and `home`.
        text_encoder: The `text` space encoder (the trained router embeds queries with it).
        generator: The configured generator (the LLM router prompts it).

    Raises:
        ConfigError: unknown router name, or `router_path` does not exist.
    """
    if settings.router == "trained":
        from retrieval.trained_router import TrainedRouter

        path = settings.router_path
        if path is not None and not path.is_file():
            raise ConfigError(f"MMRAG_ROUTER_PATH {path}: no such weights file")
        if path is None and (settings.home / USER_WEIGHTS).is_file():
            path = settings.home / USER_WEIGHTS  # written by `mmrag router train` without --out
        return TrainedRouter(text_encoder, path)
    if settings.router == "llm":
        from retrieval.llm_router import LlmRouter

        return LlmRouter(generator)
    if settings.router == "all":
        return AllRoutesRouter()
    raise ConfigError(f"unknown router {settings.router!r}: use trained, llm or all")
