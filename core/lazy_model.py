"""One lazy loader for every model wrapper: cheap to build, loaded once, one device rule, one error shape.

A wrapper (reranker, generator, encoder) holds a `LazyModel` and calls `get()` where it needs the weights.
The first call resolves the device (`core.devices.resolve_device`), finds the weights without minutes of hub
retries when offline (`core.model_access.local_or_reachable`, or the wrapper's own `source`), loads them
under a lock, and turns any loader failure into one `ModelUnavailableError` line saying which model and why.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from core.devices import resolve_device
from core.errors import MmragError, ModelUnavailableError
from core.model_access import first_line, local_or_reachable

log = logging.getLogger(__name__)

M = TypeVar("M")


class LazyModel(Generic[M]):
    """Loads a model on first use.

    Args:
        name: The model setting (a folder or a hub id).
        device: The device setting ("auto", "cpu", "cuda", "cuda:N", "mps").
        role: What loads it, for messages ("mllm reranker", "generator model").
        setting: The MMRAG_* variable that names the model, for messages.
        loader: `loader(source, device) -> model`, where `source` is what `source` returned.
        source: Where the weights are: `source(name) -> str`; default: a local folder, a cached hub id, or a
            hub id while the hub is reachable (fails fast offline).
        hint: What the user can do, appended to the load error ("set MMRAG_X to a local folder").
    """

    def __init__(
        self,
        name: str,
        device: str = "auto",
        *,
        role: str,
        setting: str,
        loader: Callable[[str, str], M],
        source: Callable[[str], str] | None = None,
        hint: str = "",
    ) -> None:
        self.name = name
        self.device_setting = device
        self.role = role
        self.setting = setting
        self.device: str | None = None  # the resolved device, once loaded
        self._loader = loader
        self.hint = hint
        self._source = source or (lambda n: local_or_reachable(n, role, setting))
        self._model: M | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory."""
        return self._model is not None

    def describe(self) -> dict[str, str]:
        """What it loads and the device it runs on ("" until loaded): `core.protocols.Describable`."""
        return {"model": self.name, "device": self.device or ""}

    def get(self) -> M:
        """The loaded model (loading it on the first call).

        Raises:
            ModelUnavailableError: no model configured, weights not found, or the loader failed.
            ConfigError: the device setting names an accelerator that is not there.
        """
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> M:
        if not self.name:
            raise ModelUnavailableError(f"the {self.role} needs {self.setting} (a folder or hub id)")
        device = resolve_device(self.device_setting)
        source = self._source(self.name)
        try:
            model = self._loader(source, device)
        except MmragError:
            raise
        except Exception as exc:  # loaders raise anything: which model and why, in one line
            hint = f"; {self.hint}" if self.hint else ""
            raise ModelUnavailableError(
                f"{self.role} {self.name!r} could not be loaded: {type(exc).__name__}: {first_line(exc)}{hint}"
            ) from exc
        self.device = device
        log.info("%s %s loaded on %s", self.role, self.name, device)
        return model
