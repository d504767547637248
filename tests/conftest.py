"""Test-wide setup: offline model hubs, no network beyond loopback, a private home, shared models loaded once.

Every test runs with HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE set and with outbound connections to anything but
loopback refused, so an accidental hub download fails loudly instead of hanging or passing by luck.

Data: the default run reads only the repository (tests/data/, samples/files/). Tests that need the big
evaluation sets carry the `eval_data` marker; without the folder ($MMRAG_EVAL_DATA, else ../shared/data)
they are deselected and the reason is printed once at the end.

Home: before any test module is imported, MMRAG_HOME and HOME point at a temporary folder, so no test can
read or write the user's ~/.mmrag (or the caller's MMRAG_HOME); the session fails if either changed.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tests.fixtures.data import EVAL_DATA, REPO, SAMPLES, TEST_DATA, eval_data_missing

DATA = EVAL_DATA  # the evaluation sets; only tests marked `eval_data` may read them
__all__ = ["DATA", "EVAL_DATA", "REPO", "SAMPLES", "TEST_DATA"]  # what test modules import from here

_EVAL_DATA_REASON = pytest.StashKey[tuple[str, int]]()
_ISOLATION = pytest.StashKey[dict[str, Any]]()
# Caches that live under HOME: kept where they are, so pointing HOME elsewhere does not hide installed tools.
_PINNED_UNDER_HOME = {"PYENV_ROOT": ".pyenv", "HF_HOME": ".cache/huggingface", "TORCH_HOME": ".cache/torch"}


def _home_state(path: Path) -> tuple[tuple[str, int, int], ...]:
    """Name, mtime and size of the home and of everything in its top two levels (the manifest database, the
    store and media folders and their direct entries): what a test that opened the home would change. Shallow,
    so a large real home costs nothing to check."""
    if not path.exists():
        return ()
    entries = [path, *path.iterdir()]
    entries += [child for entry in entries[1:] if entry.is_dir() for child in entry.iterdir()]
    state = []
    for entry in entries:
        try:
            info = entry.lstat()
        except OSError:  # removed while we looked
            continue
        state.append((str(entry.relative_to(path.parent)), info.st_mtime_ns, info.st_size))
    return tuple(sorted(state))


def pytest_configure(config: pytest.Config) -> None:
    """Point MMRAG_HOME and HOME at a temporary folder before any test module (or Settings) is imported."""
    real_home = Path.home()
    guarded = {real_home / ".mmrag"}
    if os.environ.get("MMRAG_HOME"):
        guarded.add(Path(os.environ["MMRAG_HOME"]).expanduser())
    base = Path(tempfile.mkdtemp(prefix="mmrag-tests-"))
    for name, relative in _PINNED_UNDER_HOME.items():
        if name not in os.environ and (real_home / relative).exists():
            os.environ[name] = str(real_home / relative)
    saved = {name: os.environ.get(name) for name in ("HOME", "MMRAG_HOME")}
    (base / "home").mkdir()
    os.environ["HOME"] = str(base / "home")
    os.environ["MMRAG_HOME"] = str(base / "home" / ".mmrag")
    config.stash[_ISOLATION] = {
        "base": base,
        "saved": saved,
        "guarded": {path: _home_state(path) for path in guarded},
    }


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_ISOLATION, None)
    if state is None:
        return
    for name, value in state["saved"].items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    shutil.rmtree(state["base"], ignore_errors=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any test touched the user's own home (the default ~/.mmrag or the caller's MMRAG_HOME)."""
    state = session.config.stash.get(_ISOLATION, None)
    if state is None:
        return
    touched = [str(path) for path, before in state["guarded"].items() if _home_state(path) != before]
    if touched:
        session.config.stash[_ISOLATION]["touched"] = touched
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect `eval_data` tests when the evaluation data is missing (reported once, in the summary)."""
    reason = eval_data_missing()
    if reason is None:
        return
    deselected = [item for item in items if item.get_closest_marker("eval_data")]
    if not deselected:
        return
    config.hook.pytest_deselected(items=deselected)
    items[:] = [item for item in items if not item.get_closest_marker("eval_data")]
    config.stash[_EVAL_DATA_REASON] = (reason, len(deselected))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    deselected = config.stash.get(_EVAL_DATA_REASON, None)
    if deselected is not None:
        reason, count = deselected
        terminalreporter.write_line(f"{count} eval_data tests deselected: {reason}", yellow=True)
    touched = config.stash.get(_ISOLATION, {}).get("touched")
    if touched:
        terminalreporter.write_line(
            f"FAILED: the user's home changed during the tests: {', '.join(touched)} "
            "(a test opened it, or another process wrote there meanwhile)",
            red=True,
        )


@pytest.fixture(scope="session")
def isolated_home(pytestconfig: pytest.Config) -> Path:
    """The temporary HOME every test runs under (MMRAG_HOME defaults to its .mmrag)."""
    return Path(pytestconfig.stash[_ISOLATION]["base"]) / "home"


@pytest.fixture(scope="session")
def guarded_homes(pytestconfig: pytest.Config) -> list[Path]:
    """The user's own homes no test may open: ~/.mmrag of the real HOME, and the caller's MMRAG_HOME."""
    return list(pytestconfig.stash[_ISOLATION]["guarded"])


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
    from indexing.encoders.sentence_transformers_text_encoder import SentenceTransformersTextEncoder

    encoder = SentenceTransformersTextEncoder()
    encoder.load()
    return encoder


@pytest.fixture(scope="session")
def ocr() -> Any:
    """One RapidOCR engine (bundled ONNX models) for the session."""
    from indexing.extractors.rapidocr_ocr import RapidOcr

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
