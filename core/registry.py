"""The backend registry: for each role, the backend names, their typed config and how to build them.

Built-in backends register the same way third-party ones do: through the Python entry point group
`mmrag.backends`. Each entry point names a function `register(registry: Registry) -> None` that calls
`registry.add(role, name, config_model, factory)`; mmrag's own are declared in its `pyproject.toml`, a plugin
declares its own (see docs/plugins.md). The composition root builds every component from here, and the
settings validate each backend name (`MMRAG_GENERATOR`, `MMRAG_RERANKER`, ...) against it.

A factory gets its config (a pydantic model whose fields are filled from the settings fields of the same
name; a `pydantic_settings.BaseSettings` config also reads its own environment variables) and the
`Components` it may depend on, built on first use. It returns the component; image encoder and OCR
factories may return None for "disabled".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, distributions
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, get_args

from pydantic import BaseModel, ValidationError

from core.errors import ConfigError

if TYPE_CHECKING:
    from core.protocols import Asr, Generator, ImageEncoder, MediaResolver, Ocr, TextEncoder, VectorStore
    from core.settings import Settings

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "mmrag.backends"
_T = TypeVar("_T")

Role = Literal[
    "text_encoder", "image_encoder", "store", "extractor", "ocr", "asr", "router", "reranker", "generator"
]
ROLES: tuple[Role, ...] = get_args(Role)

SELECTING_SETTING: dict[Role, str] = {
    "text_encoder": "text_backend",
    "image_encoder": "image_backend",
    "store": "store",
    "ocr": "ocr_backend",
    "asr": "asr_backend",
    "router": "router",
    "reranker": "reranker",
    "generator": "generator",
}
"""The setting that names the backend of each role. Every registered extractor is used (no setting)."""


class Components(Protocol):
    """What a factory may ask the composition root for; each is built on first access."""

    @property
    def text_encoder(self) -> TextEncoder: ...

    @property
    def image_encoder(self) -> ImageEncoder | None: ...

    @property
    def generator(self) -> Generator: ...

    @property
    def media(self) -> MediaResolver: ...

    @property
    def ocr(self) -> Ocr | None: ...

    @property
    def asr(self) -> Asr: ...

    @property
    def store(self) -> VectorStore | None:
        """The vector store (the embedding reranker reads clips' GRAM vectors from it), or None."""
        ...


Factory = Callable[[Any, Components], Any]
"""`factory(config, components) -> component`; `config` is an instance of the backend's config model."""


@dataclass(frozen=True)
class Backend:
    """One registered backend.

    Attributes:
        role: What it is (`generator`, `store`, ...).
        name: The value of the role's setting that selects it.
        config: Its pydantic config model.
        factory: Builds it from a config and the components.
        priority: Extractors are tried from the highest priority down (catch-alls register below 0).
        origin: The distribution that registered it ("mmrag" for the built-ins).
    """

    role: Role
    name: str
    config: type[BaseModel]
    factory: Factory
    priority: int = 0
    origin: str = "mmrag"


class Registry:
    """Backends by role and name."""

    def __init__(self) -> None:
        self._backends: dict[Role, dict[str, Backend]] = {role: {} for role in ROLES}
        self._origin = "mmrag"

    def add(
        self, role: Role, name: str, config: type[BaseModel], factory: Factory, *, priority: int = 0
    ) -> None:
        """Register a backend.

        Raises:
            ConfigError: unknown role, or the name is already taken for that role.
        """
        if role not in self._backends:
            raise ConfigError(f"unknown backend role {role!r}: use one of {', '.join(ROLES)}")
        taken = self._backends[role].get(name)
        if taken is not None:
            raise ConfigError(f"{role} backend {name!r} is registered twice ({taken.origin}, {self._origin})")
        self._backends[role][name] = Backend(role, name, config, factory, priority, self._origin)

    def names(self, role: Role) -> tuple[str, ...]:
        """The registered names of a role, in registration order."""
        return tuple(self._backends[role])

    def backends(self, role: Role) -> list[Backend]:
        """The backends of a role, highest priority first (registration order among equals)."""
        return sorted(self._backends[role].values(), key=lambda b: -b.priority)

    def get(self, role: Role, name: str) -> Backend:
        """The backend registered under `name`.

        Raises:
            ConfigError: no such backend; the message lists the ones there are.
        """
        backend = self._backends[role].get(name)
        if backend is None:
            raise ConfigError(unknown_message(role, name, self.names(role)))
        return backend

    def build(self, role: Role, name: str, settings: Settings, components: Components) -> Any:
        """Build the backend `name` of `role` from the settings and components."""
        backend = self.get(role, name)
        return backend.factory(configure(backend, settings), components)

    def build_all(self, role: Role, settings: Settings, components: Components) -> list[Any]:
        """Build every backend of a role (extractors), highest priority first."""
        return [b.factory(configure(b, settings), components) for b in self.backends(role)]

    def describe(self) -> dict[str, list[dict[str, str]]]:
        """What is registered, JSON-ready: role -> [{"name", "origin", "config"}] (for `doctor`, `plugins`)."""
        return {
            role: [
                {"name": b.name, "origin": b.origin, "config": b.config.__name__} for b in self.backends(role)
            ]
            for role in ROLES
        }

    def load(self, register: Callable[[Registry], None], origin: str) -> None:
        """Run one plugin's `register` function, recording `origin` on what it adds."""
        self._origin = origin
        try:
            register(self)
        finally:
            self._origin = "mmrag"

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Register the backends of every installed distribution that declares entry points in `group`.

        A plugin that fails to import is logged and skipped, so one broken plugin does not stop mmrag.
        """
        for origin, ep in _declared(group):
            try:
                self.load(ep.load(), origin)
            except Exception as exc:  # a third-party plugin can fail in any way; say which and go on
                if origin == "mmrag":
                    raise
                log.warning("mmrag plugin %s (%s) failed to load: %s", ep.name, origin, exc)


def _declared(group: str) -> list[tuple[str, EntryPoint]]:
    """(distribution, entry point) for every entry point in `group`, mmrag's own first.

    Every installed distribution is read, not only the first of each name: a stale `mmrag.egg-info` left in
    the source folder (on `sys.path` when running from the checkout) would otherwise hide the real metadata.
    """
    seen: set[tuple[str, str]] = set()
    found: list[tuple[str, EntryPoint]] = []
    for dist in distributions():
        origin = dist.metadata["Name"] or "?"
        for ep in dist.entry_points.select(group=group):
            if (ep.name, ep.value) not in seen:
                seen.add((ep.name, ep.value))
                found.append((origin, ep))
    return sorted(found, key=lambda item: (item[0] != "mmrag", item[0], item[1].name))


def unknown_message(role: Role, name: str, known: tuple[str, ...]) -> str:
    """The one-line error for a backend name nobody registered."""
    if not known:
        return f"no {role} backends are registered: is mmrag installed (pip install -e .)?"
    return f"unknown {role} {name!r}: use {', '.join(known)}"


def configure(backend: Backend, settings: Settings) -> BaseModel:
    """The backend's config, its fields taken from the settings fields of the same name.

    Raises:
        ConfigError: a value does not validate against the config model.
    """
    fields = set(backend.config.model_fields)
    values = settings.model_dump(include=fields)
    try:
        return backend.config(**values)
    except ValidationError as exc:
        raise ConfigError(f"{backend.role} {backend.name!r}: {exc.errors()[0]['msg']}") from exc


def selected_name(settings: Settings, role: Role) -> str:
    """The backend name the settings select for a role (`store = "auto"`: server when a URL is set)."""
    names: dict[Role, str] = {
        "text_encoder": settings.text_backend,
        "image_encoder": settings.image_backend,
        "store": settings.store,
        "ocr": settings.ocr_backend,
        "asr": settings.asr_backend,
        "router": settings.router,
        "reranker": settings.reranker,
        "generator": settings.generator,
    }
    if role not in names:
        raise ConfigError(f"no setting selects the {role} backend")
    name = names[role]
    if role == "store" and name == "auto":
        return "server" if settings.qdrant_url else "embedded"
    return name


@cache
def default_registry() -> Registry:
    """The registry of this process: every backend the installed distributions declare (built once)."""
    registry = Registry()
    registry.load_entry_points()
    return registry


def check_name(role: Role, name: str) -> str:
    """Validate a backend name against the default registry (used by the settings validators).

    Raises:
        ValueError: unknown name (pydantic reports it as a validation error of that setting).
    """
    known = default_registry().names(role)
    if name not in known and not (role == "store" and name == "auto"):
        raise ValueError(unknown_message(role, name, known))
    return name


class Given:
    """Components handed over directly (scripts, tests, the `build_*` helpers) instead of a container.

    Asking for a component that was not given raises `ConfigError`; the optional ones (image encoder, OCR)
    are None instead.
    """

    def __init__(
        self,
        *,
        text_encoder: TextEncoder | None = None,
        image_encoder: ImageEncoder | None = None,
        generator: Generator | None = None,
        media: MediaResolver | None = None,
        ocr: Ocr | None = None,
        asr: Asr | None = None,
        store: VectorStore | None = None,
    ) -> None:
        self._store = store
        self._text_encoder = text_encoder
        self._image_encoder = image_encoder
        self._generator = generator
        self._media = media
        self._ocr = ocr
        self._asr = asr

    @property
    def text_encoder(self) -> TextEncoder:
        return _needed(self._text_encoder, "a text encoder")

    @property
    def image_encoder(self) -> ImageEncoder | None:
        return self._image_encoder

    @property
    def generator(self) -> Generator:
        return _needed(self._generator, "a generator")

    @property
    def media(self) -> MediaResolver:
        return _needed(self._media, "a media store")

    @property
    def ocr(self) -> Ocr | None:
        return self._ocr

    @property
    def asr(self) -> Asr:
        return _needed(self._asr, "an ASR model")

    @property
    def store(self) -> VectorStore | None:
        return self._store


def _needed(component: _T | None, what: str) -> _T:
    if component is None:
        raise ConfigError(f"this backend needs {what}, and none was given")
    return component
