"""Text encoder on onnxruntime: a sentence-transformers model exported by `indexing.encoders.onnx_export`.

No torch at query or index time: `tokenizers` + onnxruntime only (CPUExecutionProvider here,
CUDAExecutionProvider when onnxruntime-gpu sees a GPU). The exported graph already pools (mean pooling for
MiniLM) and normalises; rows are normalised again here so every backend returns unit vectors.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import ModelUnavailableError
from core.model_access import first_line
from core.types import Vector
from indexing.encoders.token_batches import most_tokens_first

if TYPE_CHECKING:
    from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

META = "mmrag_onnx.json"


class OnnxTextEncoder:
    """Embeds queries and documents into the `text` space with an ONNX export of a sentence-transformers model.

    Args:
        path: Export folder (model.onnx, tokenizer.json, mmrag_onnx.json) or the model.onnx file in it.
        tokenizer: tokenizer.json to use instead of the one next to the model.
        device: "auto" (CUDA provider when onnxruntime has one, else CPU), "cpu", "cuda" or "cuda:N".
        batch_size: Texts per run; texts are sorted by token count first so batches pad little.
        source_model: A `text_model` setting to export into `path` on first load when `path` holds no export.
        quantize: Run an int8 copy of the model (dynamic quantisation of the weight MatMuls, written once
            beside the export as model.int8-<recipe>.onnx). CPU only; benchmarks/bench_onnx.py measures its
            speed, its cosine to torch and its nDCG@10.
        threads: onnxruntime intra-op threads; 0 = onnxruntime's default (one per physical core).
        spinning: Let idle intra-op threads spin-wait for work (onnxruntime's default). Off gives the cores
            back to other processes between ops, which helps on a shared, oversubscribed machine.
    """

    space = "text"

    def __init__(
        self,
        path: str | Path,
        tokenizer: str | Path | None = None,
        device: str = "auto",
        batch_size: int = 32,
        source_model: str | None = None,
        quantize: bool = False,
        threads: int = 0,
        spinning: bool = True,
    ) -> None:
        path = Path(path).expanduser()
        self.folder = path.parent if path.suffix == ".onnx" else path
        self.model_file = path if path.suffix == ".onnx" else path / "model.onnx"
        self.tokenizer_file = Path(tokenizer).expanduser() if tokenizer else self.folder / "tokenizer.json"
        self.device = device
        self.batch_size = batch_size
        self.source_model = source_model
        self.quantize = quantize
        self.threads = threads
        self.spinning = spinning
        self._session: Any = None
        self._tokenizer: Tokenizer | None = None
        self._meta: dict[str, Any] = {}

    @property
    def dim(self) -> int:
        """Embedding width; loads the model on first access."""
        self.load()
        return int(self._meta["dim"])

    @property
    def loaded(self) -> bool:
        """Whether the ONNX session is open."""
        return self._session is not None

    @property
    def providers(self) -> list[str]:
        """The onnxruntime execution providers in use (after load)."""
        return list(self._session.get_providers()) if self._session is not None else []

    def load(self) -> None:
        """Open the ONNX session once, exporting the model first when allowed and needed.

        Raises:
            ModelUnavailableError: no export and no source model to make one, a missing tokenizer, or a
                missing onnxruntime/tokenizers package; the message says which.
        """
        if self._session is not None:
            return
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelUnavailableError(
                f"ONNX text backend needs onnxruntime and tokenizers (pip install onnxruntime tokenizers): "
                f"{first_line(exc)}"
            ) from exc
        self._ensure_export()
        self._meta = self._read_meta()
        tokenizer = Tokenizer.from_file(str(self.tokenizer_file))
        tokenizer.enable_truncation(max_length=int(self._meta["max_seq_length"]))
        tokenizer.enable_padding(pad_id=int(self._meta["pad_id"]), pad_token=str(self._meta["pad_token"]))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if self.threads > 0:
            options.intra_op_num_threads = self.threads
        if not self.spinning:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        model_file = self._quantized() if self.quantize else self.model_file
        try:
            session = ort.InferenceSession(str(model_file), options, providers=self._pick_providers(ort))
        except Exception as exc:
            raise ModelUnavailableError(
                f"ONNX model {self.model_file} cannot be opened: {first_line(exc)}"
            ) from exc
        self._tokenizer, self._session = tokenizer, session
        logger.info("ONNX text encoder %s on %s (dim %d)", self.folder, session.get_providers()[0], self.dim)

    def _ensure_export(self) -> None:
        if self.model_file.is_file() and (self.folder / META).is_file():
            return
        if not self.source_model:
            raise ModelUnavailableError(
                f"no ONNX text model at {self.model_file}; run `mmrag export-onnx` first"
            )
        from indexing.encoders.onnx_export import export_text_encoder

        logger.info("exporting text model %s to ONNX in %s (once)", self.source_model, self.folder)
        export_text_encoder(self.source_model, self.folder)

    def _quantized(self) -> Path:
        """The int8 copy of the export, made once (`indexing.encoders.onnx_export.quantize_text_model`)."""
        from indexing.encoders.onnx_export import INT8_RECIPE, quantize_text_model

        target = self.model_file.with_name(f"{self.model_file.stem}.{INT8_RECIPE}.onnx")
        if target.is_file():
            return target
        logger.info("quantising %s to int8 (once)", self.model_file)
        return quantize_text_model(self.model_file, target)

    def _read_meta(self) -> dict[str, Any]:
        meta_file = self.folder / META
        if not meta_file.is_file():
            raise ModelUnavailableError(f"ONNX text model {self.folder}: {META} is missing; re-export it")
        if not self.tokenizer_file.is_file():
            raise ModelUnavailableError(
                f"ONNX text model {self.folder}: tokenizer {self.tokenizer_file} is missing"
            )
        return json.loads(meta_file.read_text(encoding="utf-8"))

    def _pick_providers(self, ort: Any) -> list[Any]:
        available = ort.get_available_providers()
        wanted = (self.device or "auto").lower()
        if wanted.startswith("cuda") and "CUDAExecutionProvider" not in available:
            raise ModelUnavailableError(
                f"device {self.device!r} requested but onnxruntime has no CUDA provider (pip install onnxruntime-gpu)"
            )
        if (wanted == "auto" or wanted.startswith("cuda")) and "CUDAExecutionProvider" in available:
            device_id = int(wanted.partition(":")[2] or 0)
            return [("CUDAExecutionProvider", {"device_id": device_id}), "CPUExecutionProvider"]
        return ["CPUExecutionProvider"]

    def encode_queries(self, texts: Sequence[str]) -> Vector:
        """Embed search queries (with the model's query prompt, if any) as float32 (n, dim)."""
        return self._encode(texts, prompt=self._prompt("query"))

    def encode_documents(self, texts: Sequence[str]) -> Vector:
        """Embed passages (with the model's document prompt, if any) as float32 (n, dim)."""
        return self._encode(texts, prompt=self._prompt("document"))

    def _prompt(self, name: str) -> str:
        self.load()
        return str(self._meta.get("prompts", {}).get(name, ""))

    def _encode(self, texts: Sequence[str], *, prompt: str) -> Vector:
        self.load()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        tokenizer = self._tokenizer
        assert tokenizer is not None
        prompted = [prompt + text for text in texts]
        order = most_tokens_first(
            prompted, lambda part: [sum(e.attention_mask) for e in tokenizer.encode_batch(part)]
        )
        names = list(self._meta["inputs"])
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            encodings = tokenizer.encode_batch([prompted[i] for i in rows])
            feed = {name: np.asarray([_field(e, name) for e in encodings], dtype=np.int64) for name in names}
            out[rows] = self._session.run(None, feed)[0]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


def _field(encoding: Any, name: str) -> list[int]:
    if name == "input_ids":
        return encoding.ids
    if name == "attention_mask":
        return encoding.attention_mask
    if name == "token_type_ids":
        return encoding.type_ids
    raise ModelUnavailableError(f"ONNX text model needs input {name!r}, which the tokenizer does not produce")
