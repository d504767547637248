"""The backend registry: names, typed configs from settings, validation, entry points, the example plugin."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.container import Container
from core.errors import ConfigError
from core.registry import (
    ROLES,
    SELECTING_SETTING,
    Components,
    Given,
    Registry,
    configure,
    default_registry,
    selected_name,
)
from core.settings import Settings
from tests.fixtures.rag import fact_hit

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "mmrag-quote"

BUILTINS = {
    "text_encoder": {"torch", "onnx"},
    "image_encoder": {"open_clip"},
    "store": {"embedded", "server", "memory"},
    "extractor": {"pdf", "docx", "html", "markdown", "image", "video", "audio", "text"},
    "ocr": {"rapidocr"},
    "asr": {"faster-whisper"},
    "router": {"trained", "llm", "all"},
    "reranker": {"embedding", "cross-encoder", "mllm", "none"},
    "generator": {"extractive", "openai", "gguf", "transformers"},
}


class SizeConfig(BaseModel):
    batch_size: int
    chunk_chars: int = 1


def _echo(config: BaseModel, components: Components) -> BaseModel:
    return config


@pytest.fixture
def fresh_registry() -> Iterator[None]:
    """Forget the process registry before and after (a test changes what is installed)."""
    default_registry.cache_clear()
    yield
    default_registry.cache_clear()


@pytest.mark.unit
class TestRegistry:
    def test_builtins_register_through_entry_points(self) -> None:
        registry = Registry()
        registry.load_entry_points()
        for role in ROLES:
            assert BUILTINS[role] <= set(registry.names(role)), role
            assert all(b.origin == "mmrag" for b in registry.backends(role) if b.name in BUILTINS[role])

    def test_every_selecting_setting_defaults_to_a_registered_backend(self) -> None:
        settings = Settings()
        for role in SELECTING_SETTING:
            assert selected_name(settings, role) in default_registry().names(role)

    def test_unknown_names_list_the_known_ones(self) -> None:
        registry = Registry()
        registry.add("reranker", "a", SizeConfig, _echo)
        with pytest.raises(ConfigError, match=r"unknown reranker 'b': use a"):
            registry.get("reranker", "b")
        with pytest.raises(ConfigError, match="no generator backends are registered"):
            registry.get("generator", "x")

    def test_a_name_is_taken_once_and_roles_are_fixed(self) -> None:
        registry = Registry()
        registry.add("store", "a", SizeConfig, _echo)
        with pytest.raises(ConfigError, match="registered twice"):
            registry.add("store", "a", SizeConfig, _echo)
        with pytest.raises(ConfigError, match="unknown backend role"):
            registry.add("vectoriser", "a", SizeConfig, _echo)  # type: ignore[arg-type]

    def test_config_fields_come_from_settings_of_the_same_name(self) -> None:
        registry = Registry()
        registry.add("store", "a", SizeConfig, _echo)
        built = registry.build("store", "a", Settings(batch_size=7, chunk_chars=900), Given())
        assert built == SizeConfig(batch_size=7, chunk_chars=900)

    def test_a_plugin_config_reads_its_own_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        class OwnConfig(BaseSettings):
            model_config = SettingsConfigDict(env_prefix="MMRAG_TESTPLUGIN_")
            depth: int = 1
            batch_size: int = 0

        monkeypatch.setenv("MMRAG_TESTPLUGIN_DEPTH", "3")
        registry = Registry()
        registry.add("router", "own", OwnConfig, _echo)
        config = configure(registry.get("router", "own"), Settings(batch_size=5))
        assert isinstance(config, OwnConfig) and (config.depth, config.batch_size) == (3, 5)

    def test_an_invalid_config_is_a_config_error(self) -> None:
        class Positive(BaseModel):
            batch_size: int = Field(gt=0)

        registry = Registry()
        registry.add("asr", "p", Positive, _echo)
        with pytest.raises(ConfigError, match="asr 'p': Input should be greater than 0"):
            registry.build("asr", "p", Settings(batch_size=0), Given())

    def test_extractors_come_highest_priority_first(self) -> None:
        registry = Registry()
        registry.add("extractor", "catch-all", SizeConfig, _echo, priority=-100)
        registry.add("extractor", "pdf", SizeConfig, _echo)
        registry.add("extractor", "epub", SizeConfig, _echo)
        registry.add("extractor", "first", SizeConfig, _echo, priority=10)
        assert [b.name for b in registry.backends("extractor")] == ["first", "pdf", "epub", "catch-all"]

    def test_store_auto_follows_the_url(self) -> None:
        assert selected_name(Settings(), "store") == "embedded"
        assert selected_name(Settings(qdrant_url="http://127.0.0.1:6333"), "store") == "server"
        assert selected_name(Settings(store="memory", qdrant_url="http://x:1"), "store") == "memory"

    def test_settings_reject_unregistered_names(self) -> None:
        with pytest.raises(
            ValidationError, match=r"(?s)generator.*unknown generator 'gpt-9': use extractive"
        ):
            Settings(generator="gpt-9")
        with pytest.raises(ValidationError, match="reranker"):
            Settings(reranker="bogus")

    def test_describe_lists_backends_and_where_they_come_from(self) -> None:
        registry = Registry()
        registry.load(lambda r: r.add("extractor", "epub", SizeConfig, _echo), origin="mmrag-epub")
        registry.add("extractor", "text", SizeConfig, _echo, priority=-100)
        described = registry.describe()
        assert set(described) == set(ROLES)
        assert described["extractor"] == [
            {"name": "epub", "origin": "mmrag-epub", "config": "SizeConfig"},
            {"name": "text", "origin": "mmrag", "config": "SizeConfig"},
        ]

    def test_given_components_say_what_is_missing(self) -> None:
        given = Given()
        assert given.image_encoder is None and given.ocr is None
        with pytest.raises(ConfigError, match="needs a text encoder"):
            _ = given.text_encoder

    def test_a_broken_plugin_is_skipped(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        dist = tmp_path / "broken_plugin-0.1.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
        (dist / "entry_points.txt").write_text("[mmrag.backends]\nbroken = no_such_module_xyz:register\n")
        monkeypatch.syspath_prepend(str(tmp_path))
        registry = Registry()
        registry.load_entry_points()
        assert "extractive" in registry.names("generator")  # the built-ins still load
        assert "broken-plugin" in caplog.text and "failed to load" in caplog.text


@pytest.mark.integration
def test_the_example_plugin_installs_and_the_container_builds_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry: None
) -> None:
    """pip-install examples/mmrag-quote into a folder, put it on sys.path: no other edit, a new generator."""
    source, target = tmp_path / "src", tmp_path / "site"
    shutil.copytree(
        EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info")
    )  # keep the tree clean
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    assert (target / "mmrag_quote.py").is_file()
    with pytest.raises(ValidationError, match="unknown generator 'quote'"):
        Settings(generator="quote")  # not installed yet
    monkeypatch.syspath_prepend(str(target))
    default_registry.cache_clear()
    monkeypatch.setenv("MMRAG_QUOTE_MAX_CHARS", "12")
    settings = Settings(generator="quote", home=tmp_path / "home")
    backend = default_registry().get("generator", "quote")
    assert backend.origin == "mmrag-quote"
    container = Container(settings)
    try:
        answer = container.generator.generate("when?", [fact_hit("bridge")])
    finally:
        container.close()
    assert type(container.generator).__name__ == "QuoteGenerator"
    assert answer.text.endswith(" [1]") and len(answer.text) == 12 + 4
    assert answer.citations[0].n == 1
