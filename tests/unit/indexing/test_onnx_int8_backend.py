"""`MMRAG_TEXT_BACKEND=onnx-int8` selects the ONNX encoder on its int8 copy; `onnx` keeps fp32."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.builders import build_text_encoder
from core.settings import Settings
from indexing.encoders.onnx_text_encoder import OnnxTextEncoder

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("backend", "quantized"), [("onnx", False), ("onnx-int8", True)])
def test_the_backend_name_picks_the_onnx_precision(tmp_path: Path, backend: str, quantized: bool) -> None:
    encoder = build_text_encoder(Settings(home=tmp_path, text_backend=backend))  # built, not loaded
    assert isinstance(encoder, OnnxTextEncoder)
    assert encoder.quantize is quantized
    assert str(encoder.folder).startswith(str(tmp_path / "onnx" / "text"))
