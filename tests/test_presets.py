"""The quality preset: `MMRAG_TEXT_MODEL=all-mpnet-base-v2` resolves to the packaged all-mpnet-base-v2, and a
collection built with the 384-d MiniLM refuses the 768-d model with a clear error.

The mpnet packages are the `quality` extra, which CI does not install, so its resolution is tested on
stand-in pieces: the real packaged MiniLM folder, zipped and split into five pieces the way the mpnet
packages split theirs (FAKE pieces, real weights, real unpack and real sentence-transformers load).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.errors import ConfigError, ModelUnavailableError
from core.settings import Settings
from indexing.encoders import packaged_text_models as ptm


def _built_text_encoder(settings: Settings) -> Any:
    """The text encoder the registry builds for these settings (what the container builds, unloaded)."""
    from core.registry import Given, default_registry, selected_name

    return default_registry().build(
        "text_encoder", selected_name(settings, "text_encoder"), settings, Given()
    )


@pytest.mark.unit
def test_the_quality_preset_selects_the_mpnet_encoder() -> None:
    assert ptm.is_packaged_mpnet("all-mpnet-base-v2")
    assert ptm.is_packaged_mpnet("sentence-transformers/all-mpnet-base-v2")
    assert not ptm.is_packaged_mpnet("packaged")
    encoder = _built_text_encoder(Settings(text_model="all-mpnet-base-v2", text_backend="torch"))
    assert type(encoder).__name__ == "SentenceTransformersTextEncoder"
    assert encoder.model == "all-mpnet-base-v2"
    assert not encoder.loaded  # building it loads nothing
    assert _built_text_encoder(Settings(text_backend="torch")).model == "packaged"  # the fast default
    assert Settings().text_model == "packaged"


@pytest.mark.unit
def test_without_the_quality_extra_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from indexing.encoders.sentence_transformers_text_encoder import SentenceTransformersTextEncoder

    # As on a machine without the extra: the five distributions are not installed.
    monkeypatch.setattr(ptm, "MPNET_DISTS", tuple(f"mmrag-test-not-installed-{i}" for i in range(5)))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not ptm.mpnet_installed()
    with pytest.raises(ModelUnavailableError, match=r"mmrag\[quality\]"):
        ptm.packaged_mpnet_path()
    with pytest.raises(ModelUnavailableError, match=r"mmrag\[quality\]"):
        SentenceTransformersTextEncoder("all-mpnet-base-v2", device="cpu").load()


def _fake_pieces(root: Path) -> list[Path]:
    """FAKE mpnet pieces: the packaged MiniLM folder zipped as `all-mpnet-base-v2/` and split in five."""
    from indexing.encoders.sentence_transformers_text_encoder import packaged_minilm_path

    source = packaged_minilm_path()
    root.mkdir(parents=True)
    joined = root / "joined.zip"
    with zipfile.ZipFile(joined, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(source.rglob("*")):
            if path.is_file() and "onnx" not in path.parts and "openvino" not in path.parts:
                zf.write(path, f"all-mpnet-base-v2/{path.relative_to(source)}")
    data = joined.read_bytes()
    joined.unlink()
    step = len(data) // 5 + 1
    pieces = []
    for i in range(5):
        piece = root / f"part_{i + 1:03d}" / "input" / f"all-mpnet-base-v2.zip.{i + 1:03d}"
        piece.parent.mkdir(parents=True)
        piece.write_bytes(data[i * step : (i + 1) * step])
        pieces.append(piece)
    return pieces


@pytest.mark.integration
def test_the_packaged_pieces_are_unpacked_once_and_load_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text_encoder: Any
) -> None:
    from indexing.encoders.sentence_transformers_text_encoder import SentenceTransformersTextEncoder

    pieces = _fake_pieces(tmp_path / "site")
    monkeypatch.setattr(ptm, "_mpnet_pieces", lambda: pieces)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = ptm.packaged_mpnet_path(home=tmp_path / "home")
    assert folder == tmp_path / "site" / "part_001" / "model" / "all-mpnet-base-v2"
    assert (folder / "modules.json").is_file()
    assert not list(folder.parent.glob(".unpack-*"))  # the scratch folder is gone
    stamp = (folder / "config.json").stat().st_mtime_ns
    assert ptm.packaged_mpnet_path(home=tmp_path / "home") == folder  # reused, not unpacked again
    assert (folder / "config.json").stat().st_mtime_ns == stamp

    encoder = SentenceTransformersTextEncoder("all-mpnet-base-v2", device="cpu")
    vectors = encoder.encode_queries(["how do wings produce lift"])
    assert vectors.shape == (1, encoder.dim)
    reference = text_encoder.encode_queries(["how do wings produce lift"])  # the weights inside the pieces
    assert float(np.dot(vectors[0], reference[0])) > 0.999


@pytest.mark.integration
def test_a_read_only_package_folder_unpacks_into_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pieces = _fake_pieces(tmp_path / "site")
    monkeypatch.setattr(ptm, "_mpnet_pieces", lambda: pieces)
    blocked = tmp_path / "site" / "part_001" / "model"
    blocked.write_text("not a folder")  # mkdir there fails like a read-only site-packages would
    folder = ptm.packaged_mpnet_path(home=tmp_path / "home")
    assert folder == tmp_path / "home" / "models" / "all-mpnet-base-v2"
    assert (folder / "config.json").is_file()


class Fake768Encoder:
    """FAKE text encoder: only its width matters (768, like all-mpnet-base-v2); nothing is encoded."""

    space = "text"
    dim = 768
    loaded = True

    def load(self) -> None:
        return None


@pytest.mark.integration
def test_a_minilm_collection_refuses_the_768_d_preset_with_a_clear_error(make_container: Any) -> None:
    from evaluation.beir import corpus_segments

    built = make_container(clip_model="")
    built.indexer.index_extracted(
        corpus_segments([{"_id": "d1", "title": "", "text": "Wings produce lift."}])
    )
    assert built.store.count() == 1
    built.close()

    switched = make_container(clip_model="", text_model="all-mpnet-base-v2")
    switched.__dict__["text_encoder"] = Fake768Encoder()
    with pytest.raises(ConfigError) as err:
        _ = switched.store
    message = str(err.value)
    assert "384-d" in message and "768-d" in message
    assert "MMRAG_TEXT_MODEL='all-mpnet-base-v2'" in message
    assert "MMRAG_HOME=" in message  # the re-index path

    again = make_container(clip_model="")  # the model it was built with still opens it
    hits = again.retriever.search("lift", k=1)
    assert [h.segment.uri for h in hits] == ["beir:d1"]
