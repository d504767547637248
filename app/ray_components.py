"""Wiring for the Ray engine: Ray actors build their extractors and encoders through the composition root.

`ContainerStageComponents` is the factory handed to `indexing.ray_engine.RayIndexer`; it is pickled by
reference and instantiated inside each actor, so every actor loads its models once, with exactly the
classes and settings the local engine uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from core.settings import Settings

if TYPE_CHECKING:
    from app.container import Container
    from core.protocols import Extractor, ImageEncoder, LexicalEncoder, TextEncoder
    from indexing.ray_engine import RayIndexer
    from indexing.record_encoding import RecordHook


class ContainerStageComponents:
    """`indexing.ray_engine.StageComponents` from a `Container`; only what a stage touches gets loaded."""

    def __init__(self, config: dict[str, Any]) -> None:
        from app.container import Container

        self.container = Container(Settings(**config))

    @property
    def extractors(self) -> Sequence[Extractor]:
        return self.container.extractors

    @property
    def text_encoder(self) -> TextEncoder:
        return self.container.text_encoder

    @property
    def image_encoder(self) -> ImageEncoder | None:
        return self.container.image_encoder

    @property
    def lexical(self) -> LexicalEncoder:
        return self.container.lexical

    @property
    def hooks(self) -> Sequence[RecordHook]:
        # The same hooks the local indexer gets (GRAM vectors, optional spaces).
        return self.container.record_hooks()


def ray_indexer(container: Container, address: str | None = None, actors: int = 2) -> RayIndexer:
    """A `RayIndexer` writing to the container's store, manifest and media store.

    Args:
        container: the driver's composition root.
        address: Ray cluster address, or None for a private local cluster (all local CPUs).
        actors: actor pool size per stage.
    """
    from indexing.ray_engine import RayIndexer

    settings = container.settings
    return RayIndexer(
        container.indexer,
        settings.model_dump(),
        ContainerStageComponents,
        batch_size=settings.batch_size,
        address=address,
        actors=actors,
    )
