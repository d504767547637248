"""The router backends for the registry: `trained` (default), `llm`, or `all` (search every route)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from core.errors import ConfigError
from core.protocols import Router
from core.registry import Components, Registry
from core.types import RouteDecision
from retrieval.routing.route_selection import RETRIEVAL_ROUTES

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


class TrainedRouterConfig(BaseModel):
    """The shipped router weights, or `router_path`, or what `mmrag router train` wrote into `home`."""

    home: Path
    router_path: Path | None = None


class NoConfig(BaseModel):
    """No options."""


def _trained(cfg: TrainedRouterConfig, components: Components) -> Router:
    from retrieval.routing.trained_router import TrainedRouter

    path = cfg.router_path
    if path is not None and not path.is_file():
        raise ConfigError(f"MMRAG_ROUTER_PATH {path}: no such weights file")
    if path is None and (cfg.home / USER_WEIGHTS).is_file():
        path = cfg.home / USER_WEIGHTS  # written by `mmrag router train` without --out
    return TrainedRouter(components.text_encoder, path)


def _llm(_: NoConfig, components: Components) -> Router:
    from retrieval.routing.llm_router import LlmRouter

    return LlmRouter(components.generator)


def _all(_: NoConfig, __: Components) -> Router:
    return AllRoutesRouter()


def register(registry: Registry) -> None:
    """Entry point `mmrag.backends`: the built-in routers."""
    registry.add("router", "trained", TrainedRouterConfig, _trained)
    registry.add("router", "llm", NoConfig, _llm)
    registry.add("router", "all", NoConfig, _all)
