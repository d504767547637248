"""Test-wide setup: offline model hubs, no network beyond loopback, shared models loaded once.

Every test runs with HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE set and with outbound connections to anything but
loopback refused, so an accidental hub download fails loudly instead of hanging or passing by luck.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
SAMPLES = REPO / "samples" / "files"

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            allowed = ipaddress.ip_address(host).is_loopback
        except ValueError:
            allowed = host == "localhost"
        if not allowed:
            raise ConnectionRefusedError(f"tests may not reach the network ({host}); use local files")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


@pytest.fixture(scope="session")
def text_encoder() -> Any:
    """The packaged all-MiniLM-L6-v2, loaded once per session."""
    from indexing.sentence_transformers_text_encoder import SentenceTransformersTextEncoder

    encoder = SentenceTransformersTextEncoder()
    encoder.load()
    return encoder


@pytest.fixture(scope="session")
def ocr() -> Any:
    """One RapidOCR engine (bundled ONNX models) for the session."""
    from indexing.rapidocr_ocr import RapidOcr

    return RapidOcr()


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny open_clip model with random weights, as a `local-dir:` setting value (built once)."""
    from tests.fixtures.tiny_clip import build_tiny_clip

    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture
def mmrag_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_clip: str) -> Path:
    """A fresh MMRAG_HOME with the tiny CLIP model configured, for CLI subprocesses and containers."""
    home = tmp_path / "home"
    monkeypatch.setenv("MMRAG_HOME", str(home))
    monkeypatch.setenv("MMRAG_CLIP_MODEL", tiny_clip)
    monkeypatch.delenv("MMRAG_QDRANT_URL", raising=False)
    return home


@pytest.fixture
def make_container(mmrag_home: Path, text_encoder: Any, ocr: Any) -> Iterator[Callable[..., Any]]:
    """Build Containers on `mmrag_home` that share the session's text encoder and OCR; closed after the test."""
    from app.container import Container
    from core.settings import Settings

    made: list[Any] = []

    def make(**overrides: Any) -> Any:
        container = Container(Settings(**overrides))
        # Reuse the loaded models (cached_property slots) instead of loading them per test.
        container.__dict__["text_encoder"] = text_encoder
        if container.settings.ocr:
            container.__dict__["ocr"] = ocr
        made.append(container)
        return container

    yield make
    for container in made:
        container.close()
