"""Settings: environment variables with the `MMRAG_` prefix, then an optional TOML file, then defaults.

The TOML file is `$MMRAG_CONFIG` or `$MMRAG_HOME/config.toml`, with the same keys as the fields below
(lower case, no prefix), e.g. `text_model = "BAAI/bge-small-en-v1.5"`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from core.registry import SELECTING_SETTING as SELECTING_FIELDS
from core.registry import Role

_ROLE_OF: dict[str, Role] = {field: role for role, field in SELECTING_FIELDS.items()}

PACKAGED = "packaged"
"""Model setting value meaning "the model that ships inside a Python package" (works offline)."""


def _default_home() -> Path:
    return Path(os.environ.get("MMRAG_HOME", "~/.mmrag")).expanduser()


def _config_file() -> Path:
    explicit = os.environ.get("MMRAG_CONFIG")
    return Path(explicit).expanduser() if explicit else _default_home() / "config.toml"


class Settings(BaseSettings):
    """Everything configurable. Every field is `MMRAG_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="MMRAG_", extra="ignore")

    # Storage
    home: Path = Field(default_factory=_default_home, description="Data directory (store, media, manifest).")
    collection: str = "mmrag"
    qdrant_url: str | None = Field(
        None, description="Qdrant server URL; unset = embedded engine in MMRAG_HOME."
    )
    qdrant_api_key: str | None = None
    shard_number: int = 1
    replication_factor: int = 1
    write_consistency_factor: int = 1
    quantization: Literal["none", "int8", "binary"] = "none"
    store: str = Field(
        "auto",
        description="Store backend: embedded, server, a plugin's; auto = server when qdrant_url is set.",
    )
    # HNSW search breadth. recall@10 at 1M MiniLM-shaped vectors, three builds of the same data: 0.951-0.971 at
    # 128, 0.969-0.976 at 256, 0.983 at 512 with p95 1.2 ms (benchmarks/bench_hnsw_build.py); collections too
    # small for a graph are searched exactly whatever this says.
    hnsw_ef: int = 512

    # Encoders
    device: str = Field("auto", description="auto, cpu, cuda, cuda:N, mps")
    text_model: str = Field(
        PACKAGED,
        description="sentence-transformers id or path; 'packaged' = MiniLM-L6-v2 (fast default); "
        "'all-mpnet-base-v2' = the quality preset (768-d, packaged in the `quality` extra).",
    )
    text_backend: str = Field(
        "torch",
        description="Text encoder backend: torch, onnx, onnx-int8 (faster, slightly less exact), or a plugin's.",
    )
    image_backend: str = Field("open_clip", description="Image encoder backend: open_clip, or a plugin's.")
    clip_model: str = Field(
        "ViT-B-32", description="open_clip model name, or 'local-dir:DIR'; empty disables."
    )
    clip_pretrained: str = Field(
        "laion2b_s34b_b79k", description="open_clip pretrained tag or checkpoint path."
    )
    mm_model: str = Field("", description="MLLM embedder id or path for the `mm` space; empty disables.")
    mrl_dim: int = Field(
        0,
        ge=0,
        description="Matryoshka first stage: also store the first N dims of text vectors (`text_mrl`) and "
        "search them first, rescoring with the full vectors; 0 = off. Only for MRL-trained text models.",
    )
    batch_size: int = 32

    # Extraction
    ocr: bool = True
    ocr_backend: str = Field("rapidocr", description="OCR backend: rapidocr, or a plugin's.")
    max_image_pixels: int = 100_000_000
    chunk_chars: int = 1000
    chunk_overlap: int = 150
    asr_model: str = Field(PACKAGED, description="faster-whisper size or path; 'packaged' = tiny.en.")
    asr_compute_type: str = "int8"
    asr_backend: str = Field("faster-whisper", description="ASR backend: faster-whisper, or a plugin's.")
    keyframe_min_interval_s: float = 2.0
    keyframe_max_interval_s: float = 30.0
    clip_window_s: float = 30.0
    # Limits on hostile or huge files (each file over a limit is reported failed with the limit's name)
    extract_isolation: Literal["process", "none"] = Field(
        "process", description="process: extract in a worker process with the time and memory budget below."
    )
    extract_timeout_s: float = Field(900.0, gt=0, description="Seconds one file's extraction may take.")
    extract_memory_mb: int = Field(
        4096, ge=0, description="Address-space limit of the extraction worker; 0 = none."
    )
    follow_links: bool = Field(False, description="Follow symbolic links out of the indexed folders.")
    max_text_chars: int = Field(5_000_000, gt=0, description="Characters per text, Markdown or HTML file.")
    max_pdf_pages: int = Field(5000, gt=0, description="Pages per PDF.")
    max_ocr_pages: int = Field(
        100, ge=0, description="Scanned pages read with OCR per PDF; later ones keep no text."
    )
    max_archive_mb: int = Field(256, gt=0, description="Decompressed size of a DOCX (all zip members), MiB.")
    max_archive_ratio: int = Field(
        100, gt=0, description="Decompressed/compressed size ratio of a DOCX member."
    )
    max_image_frames: int = Field(10_000, gt=0, description="Frames of an animated picture.")
    max_media_s: float = Field(
        6 * 3600.0, gt=0, description="Duration of a video or audio recording, seconds."
    )

    # Retrieval and RAG
    # Fusion defaults: chosen leave-one-collection-out on Cranfield, Vaswani and Medline
    # (benchmarks/bench_fusion_loco.py, results/fusion_loco.json): every left-out set beats the old default.
    fusion: Literal["rrf", "weighted", "zscore"] = "zscore"
    candidates: int = 200
    fusion_lexical_weight: float = Field(0.7, ge=0, description="Weight of the lexical list (dense = 1).")
    fusion_length_alpha: float = Field(
        0.5, ge=0, description="Long queries: lexical weight * (reference / terms) ** alpha; 0 = off."
    )
    fusion_length_reference: int = Field(8, ge=1, description="Query terms above which alpha applies.")
    fusion_feedback_docs: int = Field(
        3, ge=0, description="Dense pseudo-relevance feedback from the fused top N (Rocchio); 0 = off."
    )
    fusion_feedback_beta: float = Field(1.0, ge=0, description="Weight of the feedback mean vector.")
    bm25_k1: float = Field(0.9, ge=0, description="BM25 term-frequency saturation (index time).")
    bm25_b: float = Field(0.5, ge=0, le=1, description="BM25 length normalisation (index time).")
    relevance_threshold: float | None = Field(
        0.03,
        ge=0,
        le=1,
        description="'No good match' when the best hit's calibrated relevance is below this; unset = the "
        "packaged calibration's BEIR cut (0.14). 0.03 was chosen on a set the calibration never saw (short "
        "SQuAD questions over their own passages vs off-topic BEIR queries, benchmarks/bench_no_match.py): "
        "0% of answerable questions flagged, 99% of off-topic ones (0.14 flags 11.5% of answerable ones).",
    )
    router: str = Field("trained", description="trained, llm, all, or a plugin's router.")
    router_path: Path | None = None
    reranker: str = Field("embedding", description="embedding, cross-encoder, mllm, none, or a plugin's.")
    reranker_model: str = ""
    clip_fusion: Literal["gram", "mean"] = Field(
        "gram", description="How a clip's frame/speech/on-screen-text vectors meet the query (reranker)."
    )
    rerank_threshold: float = 0.7
    rerank_min_k: int = 1
    rerank_max_k: int = 5
    generator: str = Field(
        "extractive", description="extractive, openai, gguf, transformers, or a plugin's generator."
    )
    generator_model: str = ""
    answerability: Literal["rules", "llm"] = Field(
        "rules",
        description="How the extractive generator decides the evidence answers: rules (answer types, "
        "entities; no model) or llm (rules, then the packaged Qwen 0.5B judges yes/no; mmrag[llm]).",
    )
    answerability_threshold: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="Least P(yes) of the llm answerability judge to answer (0.3: chosen on one SQuAD 2.0 "
        "article, reported on the other, benchmarks/bench_qa_llm.py).",
    )
    openai_base_url: str = "http://localhost:11434/v1"
    openai_api_key: str = "none"

    # API
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Keys accepted on mutating endpoints: a JSON list or comma-separated.",
    )
    auth_all: bool = False
    max_upload_mb: int = 200
    max_upload_files: int = 50
    max_body_kb: int = Field(16384, gt=0, description="Request body limit of every endpoint but uploads, KB.")
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    watch: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Folders `mmrag serve` keeps indexed (like `mmrag watch`): a JSON list or comma-separated.",
    )
    api_url: str = "http://127.0.0.1:8000"

    @field_validator("api_keys", "cors_origins", "watch", mode="before")
    @classmethod
    def _list_from_env(cls, v: Any) -> Any:
        """Accept `["a", "b"]` (JSON) or `a,b` from the environment."""
        if isinstance(v, str):
            text = v.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return v

    @field_validator(*SELECTING_FIELDS.values(), mode="after")
    @classmethod
    def _registered(cls, v: str, info: ValidationInfo) -> str:
        """A backend name must be registered (built-in or installed plugin): fail fast, listing the names."""
        from core.registry import check_name

        return check_name(_ROLE_OF[str(info.field_name)], v)

    @field_validator("home", mode="after")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)

    @property
    def store_dir(self) -> Path:
        return self.home / "store"

    @property
    def media_dir(self) -> Path:
        return self.home / "media"

    @property
    def db_path(self) -> Path:
        """SQLite file for the ingestion manifest and API jobs."""
        return self.home / "mmrag.db"
