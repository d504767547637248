"""`Retriever.search`, the one query path: every mode (text, image-only, composed, mm space) and its method.

Real: the retriever, fusion, the BM25 encoder, qdrant-client's in-memory store. Fake (tests/unit/fakes.py):
the text encoder (hashed words), CLIP (a picture is the word of its dominant colour) and the MLLM embedder.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from PIL import Image

from core.errors import InvalidRequestError, ModelUnavailableError
from core.protocols import Record
from core.types import (
    LEXICAL_BONUS,
    Granularity,
    Locator,
    Modality,
    SearchFilter,
    Segment,
    Vector,
    segment_id,
)
from retrieval.bm25_lexical_encoder import BM25LexicalEncoder
from retrieval.query import CLIP_FUSION, CLIP_IMAGE, HYBRID, MM_IMAGE, MM_JOINT, Query, SearchResult
from retrieval.retriever import Retriever
from retrieval.stores.qdrant_client_store import QdrantClientStore
from tests.fixtures.rag import FACTS, fact_hit
from tests.unit.fakes import FakeClipEncoder, FakeMmEncoder, HashingTextEncoder

pytestmark = pytest.mark.unit

DIM = 256
PHOTOS = {"red": "a barn in a field", "blue": "waves on the open sea"}


class CountingEncoder(HashingTextEncoder):
    """FAKE text encoder that counts its query encodings."""

    def __init__(self) -> None:
        super().__init__(DIM)
        self.query_calls = 0

    def encode_queries(self, texts: Sequence[str]) -> Vector:
        self.query_calls += 1
        return super().encode_queries(texts)


def picture(colour: str) -> Image.Image:
    return Image.new("RGB", (8, 8), colour)


def photo_segment(colour: str) -> Segment:
    source = colour.encode().hex().ljust(64, "0")
    loc = Locator(index=0)
    return Segment(
        segment_id=segment_id(source, Granularity.IMAGE, loc),
        source_id=source,
        uri=f"{colour}.png",
        modality=Modality.IMAGE,
        granularity=Granularity.IMAGE,
        text=PHOTOS[colour],
        locator=loc,
    )


def build_store(mm: FakeMmEncoder | None) -> QdrantClientStore:
    """FACTS as paragraphs (text, lexical, mm) and two photos (image, lexical caption, mm pair)."""
    text, clip, lexical = HashingTextEncoder(DIM), FakeClipEncoder(DIM), BM25LexicalEncoder()
    store = QdrantClientStore("unit")  # no url, no path: in memory
    store.ensure({"text": DIM, "image": DIM, **({"mm": DIM} if mm else {})})
    records = []
    for key, body in FACTS.items():
        dense = {"text": text.encode_documents([body])[0]}
        if mm is not None:
            dense["mm"] = mm.encode_documents([body])[0]
        records.append(Record(fact_hit(key).segment, dense=dense, sparse=lexical.encode_documents([body])[0]))
    for colour in PHOTOS:
        segment, pixels = photo_segment(colour), picture(colour)
        dense = {"text": text.encode_documents([segment.text])[0], "image": clip.encode_images([pixels])[0]}
        if mm is not None:
            dense["mm"] = mm.encode_pairs([pixels], [segment.text])[0]
        records.append(Record(segment, dense=dense, sparse=lexical.encode_documents([segment.text])[0]))
    store.upsert(records)
    return store


@pytest.fixture
def store() -> Iterator[QdrantClientStore]:
    s = build_store(None)
    yield s
    s.close()


def retriever(store: Any, clip: bool = True, mm: FakeMmEncoder | None = None, **kw: Any) -> Retriever:
    return Retriever(
        store=store,
        text_encoder=kw.pop("text_encoder", HashingTextEncoder(DIM)),
        image_encoder=FakeClipEncoder(DIM) if clip else None,
        lexical=BM25LexicalEncoder(),
        mm_encoder=mm,
        candidates=20,
        **kw,
    )


def uris(hits: Sequence[Any]) -> list[str]:
    return [h.segment.uri for h in hits]


def test_text_query_is_hybrid_over_every_space(store: QdrantClientStore) -> None:
    r = retriever(store)
    result = r.search("glass frogs translucent skin", k=3)
    assert isinstance(result, SearchResult) and result.method == HYBRID and len(result) == 3
    assert result[0].segment.uri == "frogs.txt"
    assert {"text", "lexical", "fused"} <= set(result[0].scores) and result[0].relevance is not None
    # The same search as a Query: same hits.
    again = r.search(Query(text="glass frogs translucent skin", k=3))
    assert uris(again) == uris(result) and again.method == HYBRID
    # The CLIP text tower reaches the photos from a text query ("red" is the red photo's colour word).
    assert "red.png" in uris(r.search("red", k=7))


def test_filters_and_spaces_restrict_the_search(store: QdrantClientStore) -> None:
    r = retriever(store)
    photos = r.search(Query(text="field barn sea", filters=SearchFilter(modalities=(Modality.IMAGE,))))
    assert set(uris(photos)) == {"red.png", "blue.png"}
    lexical_only = r.search(Query(text="glass frogs", spaces=("lexical",), k=5))
    assert uris(lexical_only) == ["frogs.txt"]  # BM25 matches one fact only
    assert all(set(h.scores) == {"lexical", "fused", LEXICAL_BONUS} for h in lexical_only)


def test_an_encoded_query_is_not_encoded_again(store: QdrantClientStore) -> None:
    encoder = CountingEncoder()
    r = retriever(store, text_encoder=encoder)
    encoded = r.encode("when was the Zorblat bridge completed")
    assert encoder.query_calls == 1
    first = r.search(encoded, k=2)
    second = r.search(Query(text=encoded.text, encoded=encoded, k=2, filters=SearchFilter()))
    assert encoder.query_calls == 1 and uris(first) == uris(second) and first[0].segment.uri == "bridge.txt"
    r.search("when was the Zorblat bridge completed", k=2)  # a string is encoded
    assert encoder.query_calls == 2


def test_picture_alone_without_mm_is_clip_image(store: QdrantClientStore) -> None:
    result = retriever(store).search(Query(image=picture("blue"), k=2))
    assert result.method == CLIP_IMAGE and uris(result)[0] == "blue.png"


def test_picture_and_text_without_mm_is_clip_fusion(store: QdrantClientStore) -> None:
    r = retriever(store)
    result = r.search(Query(text="river regatta rowers", image=picture("red"), k=4))
    assert result.method == CLIP_FUSION
    # The picture finds the red photo in the image space; the text finds the regatta in text and lexical.
    assert {"red.png", "regatta.txt"} <= set(uris(result))
    assert any("image" in h.scores for h in result) and any("lexical" in h.scores for h in result)
    # The image list follows `image_weight`: the picture alone at 1.0, the text's CLIP vector alone at 0.0.
    photos = SearchFilter(modalities=(Modality.IMAGE,))
    by_picture = r.search(Query(text="blue", image=picture("red"), k=1, filters=photos, image_weight=1.0))
    by_text = r.search(Query(text="blue", image=picture("red"), k=1, filters=photos, image_weight=0.0))
    assert uris(by_picture) == ["red.png"] and uris(by_text) == ["blue.png"]


def test_without_mm_or_clip_a_picture_query_says_why(store: QdrantClientStore) -> None:
    r = retriever(store, clip=False, unavailable={"image": "disabled (MMRAG_CLIP_MODEL is empty)"})
    with pytest.raises(ModelUnavailableError, match="MMRAG_CLIP_MODEL is empty"):
        r.search(Query(image=picture("red")))
    assert r.search("glass frogs", k=1)[0].segment.uri == "frogs.txt"  # text still works


def test_mm_space_modes() -> None:
    mm = FakeMmEncoder(DIM)
    s = build_store(mm)
    try:
        r = retriever(s, mm=mm)
        joint = r.search(Query(text="a barn", image=picture("red"), k=3))
        assert joint.method == MM_JOINT
        # Per modality, fused: the best photo and the best text share the top two (no modality crowds out).
        assert {h.segment.modality for h in joint[:2]} == {Modality.IMAGE, Modality.TEXT}
        assert next(h for h in joint if h.segment.modality is Modality.IMAGE).segment.uri == "red.png"
        assert all(h.space == "mm" for h in joint) and mm.tasks[-1] == "composed"
        alone = r.search(
            Query(image=picture("blue"), k=1, filters=SearchFilter(modalities=(Modality.IMAGE,)))
        )
        assert alone.method == MM_IMAGE and uris(alone) == ["blue.png"] and mm.tasks[-1] == "image_query"
        # A text query adds the mm space, searched per modality with each modality's instruction.
        mm.tasks.clear()
        text = r.search("glass frogs translucent", k=3)
        assert text.method == HYBRID and text[0].segment.uri == "frogs.txt"
        assert mm.tasks == ["text", "image"]
        # Without the mm space in `spaces`, a picture query uses CLIP.
        assert r.search(Query(image=picture("blue"), spaces=("image",))).method == CLIP_IMAGE
    finally:
        s.close()


def test_mm_enabled_but_never_filled_falls_back_to_clip(store: QdrantClientStore) -> None:
    r = retriever(store, mm=FakeMmEncoder(DIM))  # the store has no mm space: indexed before mm was set
    result = r.search(Query(text="waves", image=picture("blue"), k=3))
    assert result.method == CLIP_FUSION and "blue.png" in uris(result)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "empty"),
        ({"text": "  "}, "empty"),
        ({"text": "x", "k": 0}, "k must be"),
        ({"text": "x", "spaces": ("text", "audio")}, "unknown spaces"),
        ({"text": "x", "image_weight": 1.5}, "image_weight"),
    ],
)
def test_bad_queries_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        Query(**kwargs)


def test_an_encoding_of_another_text_is_refused(store: QdrantClientStore) -> None:
    encoded = retriever(store).encode("frogs")
    with pytest.raises(InvalidRequestError, match="another text"):
        Query(text="bridges", encoded=encoded)
    assert Query(encoded=encoded).text == "frogs"
    assert Query(text="x", filters=SearchFilter()).filters is None  # an empty filter is no filter
