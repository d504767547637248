"""The one query model: a `Query` in, a `SearchResult` (hits plus the method used) out of `Retriever.search`.

A query has text, a picture, or both, and the mode follows from what it has:

| query | method | how |
|---|---|---|
| text | `hybrid` | dense `text` + `lexical` + CLIP `image` (+ `mm` per modality when enabled), fused |
| image + text | `mm-joint` | the pair embedded jointly in the `mm` space (MLLM embedder) |
| image | `mm-image` | the picture alone in the `mm` space |
| image + text | `clip-fusion` | without the `mm` space: CLIP image+text vector in `image`, the text in `text`/`lexical`, fused |
| image | `clip-image` | without the `mm` space: the CLIP picture vector in `image` |

`EncodedQuery` is a text encoded once for every space (`Retriever.encode`); a `Query` may carry it so that a
caller that already encoded the question (the RAG pipeline) does not encode it again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.errors import InvalidRequestError
from core.types import Hit, SearchFilter, SparseVector, Vector

if TYPE_CHECKING:
    from PIL.Image import Image

HYBRID = "hybrid"
MM_JOINT = "mm-joint"
MM_IMAGE = "mm-image"
CLIP_FUSION = "clip-fusion"
CLIP_IMAGE = "clip-image"

SPACES = ("text", "lexical", "image", "mm")
"""Every space a query can search; `Query.spaces` picks among them."""

DEFAULT_IMAGE_WEIGHT = 0.5
"""Weight of the reference image against the modification text in the CLIP fallback."""


@dataclass(frozen=True)
class EncodedQuery:
    """A text query encoded once for every space; pass it to `search` to skip re-encoding.

    Attributes:
        text: the query text.
        dense: the `text`-space query vector (d,); reusable by the router, reranker and generator.
        lexical: the sparse query of the `lexical` space.
        image: the CLIP text-tower vector for the `image` space, when CLIP is loaded.
    """

    text: str
    dense: Vector
    lexical: SparseVector
    image: Vector | None = None

    @property
    def terms(self) -> int:
        """Distinct lexical terms (stemmed, stopwords removed)."""
        return len(self.lexical.indices)


@dataclass(frozen=True)
class Query:
    """One search request in any mode (see the module docstring).

    Attributes:
        text: What to look for; may be empty when `image` is given.
        image: A query picture (alone: query by example; with text: a composed query).
        filters: Restricts the search (modalities, granularities, sources); an empty filter is no filter.
        k: Hits to return.
        spaces: Only these spaces (a subset of `SPACES`); None: every space available.
        encoded: `text` already encoded (`Retriever.encode`); its text must be the query's.
        image_weight: CLIP fallback of a composed query: the picture's weight in [0, 1]; the text gets the rest.

    Raises:
        InvalidRequestError: neither text nor image, k < 1, an unknown space, or an `encoded` of another text.
    """

    text: str = ""
    image: Image | None = field(default=None, compare=False)
    filters: SearchFilter | None = None
    k: int = 10
    spaces: tuple[str, ...] | None = None
    encoded: EncodedQuery | None = field(default=None, compare=False)
    image_weight: float = DEFAULT_IMAGE_WEIGHT

    def __post_init__(self) -> None:
        if self.encoded is not None and not self.text:
            object.__setattr__(self, "text", self.encoded.text)
        if self.encoded is not None and self.encoded.text != self.text:
            raise InvalidRequestError("the encoded query is of another text")
        if not self.text.strip() and self.image is None:
            raise InvalidRequestError("the query is empty: give a text, an image, or both")
        if self.k < 1:
            raise InvalidRequestError(f"k must be at least 1, not {self.k}")
        unknown = sorted(set(self.spaces or ()) - set(SPACES))
        if unknown:
            raise InvalidRequestError(f"unknown spaces {unknown}; spaces are {list(SPACES)}")
        if not 0.0 <= self.image_weight <= 1.0:
            raise InvalidRequestError(f"image_weight must be in [0, 1], not {self.image_weight}")
        if self.filters is not None and self.filters.is_empty():
            object.__setattr__(self, "filters", None)

    @classmethod
    def of(cls, query: str | EncodedQuery, k: int = 10, flt: SearchFilter | None = None) -> Query:
        """A text query from a string or an already encoded text."""
        if isinstance(query, EncodedQuery):
            return cls(text=query.text, encoded=query, k=k, filters=flt)
        return cls(text=query, k=k, filters=flt)

    def searches(self, space: str) -> bool:
        """Whether this query may search `space`."""
        return self.spaces is None or space in self.spaces


class SearchResult(list[Hit]):
    """Hits best first (it is a list of them), and `method`: how they were found (the module's table)."""

    def __init__(self, hits: Iterable[Hit] = (), method: str = HYBRID) -> None:
        super().__init__(hits)
        self.method = method
