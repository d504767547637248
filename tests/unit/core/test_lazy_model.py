"""The one lazy loader of every model wrapper: once, under a lock, one device rule, one error shape."""

from __future__ import annotations

import threading
import time

import pytest

from core.errors import ConfigError, ModelUnavailableError, StoreError
from core.lazy_model import LazyModel

pytestmark = pytest.mark.unit


def _lazy(loader: object, name: str = "m", device: str = "cpu", **kw: object) -> LazyModel[object]:
    return LazyModel(name, device, role="test model", setting="MMRAG_TEST_MODEL", loader=loader, **kw)  # type: ignore[arg-type]


def test_loads_once_even_from_many_threads() -> None:
    calls: list[tuple[str, str]] = []

    def loader(source: str, device: str) -> object:
        calls.append((source, device))
        time.sleep(0.05)  # long enough for every thread to arrive while loading
        return object()

    lazy = _lazy(loader, source=lambda name: f"/models/{name}")
    assert not lazy.loaded and lazy.device is None
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(lazy.get())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [("/models/m", "cpu")] and len({id(g) for g in got}) == 1
    assert lazy.loaded and lazy.device == "cpu"


def test_errors_name_the_model_and_the_setting() -> None:
    with pytest.raises(ModelUnavailableError, match="the test model needs MMRAG_TEST_MODEL"):
        _lazy(lambda s, d: object(), name="").get()

    def broken(source: str, device: str) -> object:
        raise RuntimeError("weights are truncated\nstack details")

    with pytest.raises(
        ModelUnavailableError,
        match=r"^test model 'm' could not be loaded: RuntimeError: weights are truncated; try another$",
    ):
        _lazy(broken, source=str, hint="try another").get()


def test_our_own_errors_pass_through() -> None:
    def refuses(source: str, device: str) -> object:
        raise StoreError("not a model problem")

    with pytest.raises(StoreError):
        _lazy(refuses, source=str).get()


def test_an_unknown_device_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown device 'tpu'"):
        _lazy(lambda s, d: object(), device="tpu", source=str).get()


def test_an_uncached_hub_id_fails_fast_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(
        ModelUnavailableError, match="not in the local Hugging Face cache and offline mode is on"
    ):
        _lazy(lambda s, d: object(), name="no-such-org/no-such-model").get()
    assert time.perf_counter() - started < 10


def test_describe_says_the_model_and_the_device_once_loaded() -> None:
    from core.protocols import Describable

    lazy = _lazy(lambda source, device: object(), name="tiny", source=lambda name: name)
    assert isinstance(lazy, Describable)
    assert lazy.describe() == {"model": "tiny", "device": ""}  # nothing resolved before loading
    lazy.get()
    assert lazy.describe() == {"model": "tiny", "device": "cpu"}
