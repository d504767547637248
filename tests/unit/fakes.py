"""Deterministic stand-ins for the unit tier: FAKE components, named as such, for what needs model weights.

`HashingTextEncoder` replaces a sentence-transformers model: words (minus a few stop words) hashed into a
fixed number of buckets (a bag of words), L2-normalised. Texts that share words are near, others far; nothing is learned. It is
registered as the `text_encoder` backend `fake-hash` by the `fake_backends` fixture, the same way a plugin
registers one.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL.Image import Image as PILImage
from pydantic import BaseModel

from core.registry import Registry
from core.types import Answer, Hit, Vector

FAKE_TEXT_BACKEND = "fake-hash"
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "by",
        "did",
        "do",
        "does",
        "for",
        "from",
        "how",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "over",
        "the",
        "to",
        "was",
        "were",
        "what",
        "when",
    ]
)


class HashingTextEncoder:
    """FAKE text encoder: hashed bag of words, L2-normalised float32 (n, dim). Deterministic."""

    space = "text"

    def __init__(self, dim: int = 256) -> None:
        self._dim = dim
        self.loads = 0

    @property
    def dim(self) -> int:
        return self._dim

    def load(self) -> None:
        self.loads += 1

    def encode_queries(self, texts: Sequence[str]) -> Vector:
        return self._encode(texts)

    def encode_documents(self, texts: Sequence[str]) -> Vector:
        return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> Vector:
        out = np.zeros((len(texts), self._dim), np.float32)
        out[:, 0] = 0.01  # no zero vector for a text without words: cosine needs a direction
        for row, text in enumerate(texts):
            for word in set(re.findall(r"\w+", text.lower())) - STOP_WORDS:
                out[row, 1 + zlib.crc32(word.encode()) % (self._dim - 1)] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


class FakeTextConfig(BaseModel):
    """The fake encoder's one option, filled from the `batch_size` setting only to show the mechanism."""

    batch_size: int = 32


def register_fakes(registry: Registry) -> None:
    """Register the fake backends like a plugin would."""
    registry.add("text_encoder", FAKE_TEXT_BACKEND, FakeTextConfig, lambda _c, _d: HashingTextEncoder())


class FakeCompletingGenerator:
    """FAKE generator that completes every prompt with a fixed text."""

    needs_evidence = False

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.prompts: list[str] = []

    def generate(self, query: str, evidence: Sequence[Hit]) -> Answer:
        return Answer(self.reply)

    def stream(self, query: str, evidence: Sequence[Hit]) -> Iterator[str]:
        yield self.reply

    def complete(self, text: str, max_tokens: int = 32) -> str:
        self.prompts.append(text)
        return self.reply


class FakeWordsOnlyGenerator:
    """FAKE generator without `complete`: it cannot serve the LLM router."""

    needs_evidence = False

    def generate(self, query: str, evidence: Sequence[Hit]) -> Answer:
        return Answer("")

    def stream(self, query: str, evidence: Sequence[Hit]) -> Iterator[str]:
        yield ""


class FakeOcr:
    """FAKE OCR: "reads" a fixed text in every picture that has any dark pixel ("" in a blank one).

    Drives the image and recording extractors in the unit tier; the real RapidOCR runs the OCR contract in
    the integration tier (tests/test_model_contracts.py).
    """

    def __init__(self, text: str = "TRAIL SIGN 12 KM") -> None:
        self.text = text
        self.calls = 0

    def read(self, image: PILImage) -> str:
        return "\n".join(line.text for line in self.read_lines(image))

    def read_lines(self, image: PILImage) -> list[FakeOcrLine]:
        self.calls += 1
        if int(np.asarray(image.convert("L")).min()) > 128:
            return []
        return [FakeOcrLine(self.text, (0.0, 0.0, float(image.width), float(image.height)), 0.99)]


@dataclass(frozen=True)
class FakeOcrLine:
    """One line of `FakeOcr` (the `OcrLine` protocol)."""

    text: str
    bbox: tuple[float, float, float, float]
    score: float


@dataclass(frozen=True)
class FakeSpeech:
    """One stretch of `FakeAsr` speech (the `Speech` protocol)."""

    start_s: float
    end_s: float
    text: str
    language: str = "en"


class FakeAsr:
    """FAKE ASR: consumes the audio (so the decoder runs) and "hears" a scripted transcript, one sentence per
    `seconds_each` from the start. Real faster-whisper runs the ASR contract in the integration tier."""

    name = "fake"

    def __init__(self, sentences: Sequence[str], seconds_each: float = 1.0) -> None:
        self.sentences = list(sentences)
        self.seconds_each = seconds_each

    def transcribe(self, audio: object) -> list[FakeSpeech]:
        return list(self.iter_transcribe(audio))

    def iter_transcribe(self, audio: object) -> Iterator[FakeSpeech]:
        if isinstance(audio, str | Path):
            loud = True  # a file: not decoded here
        elif isinstance(audio, np.ndarray):
            loud = _loud(audio)
        else:  # chunks: drain them like a real model would
            loud = any([_loud(np.asarray(chunk)) for chunk in audio])  # type: ignore[attr-defined]
        if not loud:
            return  # silence: nothing heard
        for i, sentence in enumerate(self.sentences):
            yield FakeSpeech(i * self.seconds_each, (i + 1) * self.seconds_each, sentence)


def _loud(samples: np.ndarray) -> bool:
    return bool(samples.size) and float(np.abs(samples).max()) > 1e-3


def colour_word(picture: PILImage) -> str:
    """The name of a picture's dominant channel: 'red', 'green' or 'blue' (what the fake CLIP 'sees')."""
    means = np.asarray(picture.convert("RGB"), np.float32).reshape(-1, 3).mean(axis=0)
    return ("red", "green", "blue")[int(np.argmax(means))]


class FakeClipEncoder(HashingTextEncoder):
    """FAKE CLIP: a picture is embedded as the hashed word of its dominant colour, text as hashed words.

    So a red picture is near the query "red" and far from "blue": pictures and text share one space.
    """

    space = "image"

    def __init__(self, dim: int = 64) -> None:
        super().__init__(dim)
        self.image_calls = 0

    def encode_images(self, images: Sequence[PILImage]) -> Vector:
        self.image_calls += 1
        return self._encode([colour_word(p) for p in images])


class FakeMmEncoder(HashingTextEncoder):
    """FAKE MLLM embedder (`mm` space): a picture + text pair is embedded as its colour word plus the text."""

    space = "mm"

    def __init__(self, dim: int = 64) -> None:
        super().__init__(dim)
        self.tasks: list[str | None] = []

    def encode_queries(self, texts: Sequence[str], task: str = "default") -> Vector:
        self.tasks.append(task)
        return self._encode(texts)

    def encode_query_tasks(self, query: str, tasks: Sequence[str]) -> Vector:
        self.tasks.extend(tasks)
        return self._encode([query] * len(tasks))

    def encode_images(self, images: Sequence[PILImage]) -> Vector:
        return self._encode([colour_word(p) for p in images])

    def encode_pairs(
        self, images: Sequence[PILImage], texts: Sequence[str], task: str | None = None
    ) -> Vector:
        self.tasks.append(task)
        return self._encode([f"{colour_word(p)} {t}" for p, t in zip(images, texts, strict=True)])
