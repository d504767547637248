"""A LangChain retriever over mmrag, so it drops into existing LangChain chains and agents.

    from app.container import Container
    from app.langchain_retriever import MmragRetriever

    retriever = MmragRetriever(container=Container(), k=5)
    docs = retriever.invoke("when was the bridge finished?")

Each `Document` carries the segment text as `page_content` and in `metadata` the segment id, source id, uri,
modality, granularity, locator (page, timestamps), score, and `media_ref` / `media_path` for the stored
picture (page render, photo, keyframe) when there is one, so a multimodal chain can load the pixels.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from core.errors import NotFoundError
from core.protocols import MediaResolver
from core.types import Granularity, Hit, SearchFilter
from retrieval.query import Query


def hit_to_document(hit: Hit, media: MediaResolver | None = None) -> Document:
    """A LangChain `Document` for one hit; `media` (the media store) resolves `media_path` when given."""
    seg = hit.segment
    metadata: dict[str, Any] = {
        "segment_id": seg.segment_id,
        "source_id": seg.source_id,
        "uri": seg.uri,
        "modality": seg.modality.value,
        "granularity": seg.granularity.value,
        "locator": seg.locator.to_dict(),
        "score": hit.score,
        "media_ref": seg.media_ref,
    }
    if media is not None and seg.media_ref:
        try:
            metadata["media_path"] = str(media.path(seg.source_id, seg.media_ref))
        except NotFoundError:
            metadata["media_path"] = None
    return Document(page_content=seg.text, metadata=metadata, id=seg.segment_id)


class MmragRetriever(BaseRetriever):
    """LangChain `BaseRetriever` backed by an mmrag `Container` (hybrid search; optionally routed).

    Attributes:
        container: The composition root (its retriever, RAG pipeline and media store are used).
        k: Documents returned per query.
        granularities: Only these granularities (e.g. ["paragraph"]); empty: all.
        routed: Rank as `mmrag ask` does (overrides `granularities`): every granularity is searched, the
            candidates are reranked, and the router's route probability is a prior, not a filter.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    container: Any
    k: int = 5
    granularities: list[str] = []
    routed: bool = False

    def _filter(self) -> SearchFilter | None:
        if self.granularities:
            return SearchFilter(granularities=tuple(Granularity(g) for g in self.granularities))
        return None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        if self.routed:
            hits = self.container.rag.search(query, k=self.k)
        else:
            hits = self.container.retriever.search(Query(text=query, k=self.k, filters=self._filter()))
        return [hit_to_document(h, self.container.media) for h in hits]
