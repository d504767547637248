"""Settings: MMRAG_ environment variables, the optional TOML file, list parsing, fail-fast validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import Settings

pytestmark = pytest.mark.unit


def test_environment_and_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('collection = "from-toml"\nfusion = "rrf"\ncandidates = 42\n')
    monkeypatch.setenv("MMRAG_CONFIG", str(config))
    monkeypatch.setenv("MMRAG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MMRAG_FUSION", "weighted")  # the environment wins over the file
    s = Settings()
    assert (s.collection, s.fusion, s.candidates) == ("from-toml", "weighted", 42)
    assert s.home == tmp_path / "home" and s.db_path.parent == s.home


def test_list_settings_accept_json_or_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMRAG_API_KEYS", "alpha, beta")
    monkeypatch.setenv("MMRAG_CORS_ORIGINS", '["http://localhost:8501"]')
    s = Settings()
    assert s.api_keys == ["alpha", "beta"] and s.cors_origins == ["http://localhost:8501"]


def test_bad_values_fail_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMRAG_FUSION", "average")
    with pytest.raises(ValidationError, match="fusion"):
        Settings()


def test_tests_never_open_the_users_home(isolated_home: Path, guarded_homes: list[Path]) -> None:
    """The session runs under a temporary HOME and MMRAG_HOME: the default home resolves there, not to ~/.mmrag.

    (tests/conftest.py also fails the whole run if the user's ~/.mmrag or the caller's MMRAG_HOME changed.)
    """
    import os

    assert Path.home() == isolated_home and Path("~").expanduser() == isolated_home
    home = Settings().home.resolve()
    assert home.is_relative_to(isolated_home.resolve()), home
    for guarded in guarded_homes:
        assert not home.is_relative_to(guarded.expanduser().resolve()), (home, guarded)
    assert os.environ["MMRAG_HOME"] == str(isolated_home / ".mmrag")
