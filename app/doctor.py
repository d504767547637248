"""`mmrag doctor`: what is configured, what loaded, on which device, and exactly why anything did not.

`diagnose(container)` loads every component the settings select (text, image and mm encoders, OCR, ASR,
router, reranker, generator, store), each guarded so that one failure never hides the others, and returns
one JSON-able report:

- `components`: name -> {model, device, status, reason, required, load_s}; status is `ok`, `off` (disabled by
  a setting), `unavailable` (an optional part whose weights or packages are missing) or `failed` (a required
  part, or a load that broke);
- `home`: the data folder, whether it exists, its size and the size of its parts;
- `ok`: False when a required component (the text encoder, the store) cannot load; `mmrag doctor` then exits 1;
- `problems`: one line per component that is not `ok` and not `off`;
- `backends`: every registered backend by role (built-in and plugins), what the settings can select;
- `unsearchable`: indexed files that no search can find ({uri, reason}; e.g. pictures without text indexed
  while CLIP weights were unavailable), also summed up in one `problems` line;
- `settings`, `spaces`, `store`, `packages`: the earlier report, kept for scripts that read it.
"""

from __future__ import annotations

import importlib.metadata
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.container import Container
from core.protocols import Describable

_PACKAGES = (
    "torch",
    "torchvision",
    "sentence-transformers",
    "open_clip_torch",
    "transformers",
    "qdrant-edge-py",
    "qdrant-client",
    "onnxruntime",
    "rapidocr-onnxruntime",
    "faster-whisper",
)
REQUIRED = ("text", "store")


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def folder_mb(path: Path) -> float:
    """Size of everything under `path` in MB (0 when it does not exist); files that vanish are skipped."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).lstat().st_size
            except OSError:
                continue
    return round(total / 1e6, 2)


def home_report(home: Path) -> dict[str, Any]:
    """The home folder: path, existence, total size and the size of each top-level part."""
    report: dict[str, Any] = {"path": str(home), "exists": home.is_dir(), "size_mb": folder_mb(home)}
    if home.is_dir():
        report["parts_mb"] = {p.name: folder_mb(p) if p.is_dir() else round(p.stat().st_size / 1e6, 2)
                              for p in sorted(home.iterdir())}  # fmt: skip
    return report


def device_of(component: Any) -> str:
    """The device a loaded component actually runs on, as the component reports it (not the setting).

    Model wrappers say it through `describe()` (`core.protocols.Describable`); the ONNX text encoder names its
    onnxruntime providers; anything else runs on the CPU.
    """
    from indexing.encoders.onnx_text_encoder import OnnxTextEncoder

    if component is None:
        return "-"
    if isinstance(component, Describable):
        return component.describe().get("device") or "cpu"
    if isinstance(component, OnnxTextEncoder) and component.providers:
        return "onnxruntime " + ",".join(component.providers)
    return "cpu"


def _entry(model: str, required: bool) -> dict[str, Any]:
    return {"model": model, "device": "-", "status": "ok", "reason": "", "required": required, "load_s": 0.0}


def _load(entry: dict[str, Any], build: Callable[[], Any]) -> Any:
    """Run `build` (which loads the component); fill `entry` with its device and status. Never raises."""
    started = time.perf_counter()
    try:
        component = build()
    except Exception as exc:  # a doctor reports every failure, whatever its type
        entry["status"] = "failed" if entry["required"] else "unavailable"
        entry["reason"] = f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc)
        component = None
    else:
        if component is not None:
            entry["device"] = device_of(component)
    entry["load_s"] = round(time.perf_counter() - started, 2)
    return component


def _loaded(component: Any) -> Any:
    """Call the component's `load()` (or `warm_up()`) when it has one, so a doctor sees real load errors."""
    for name in ("load", "warm_up"):
        method = getattr(component, name, None)
        if callable(method):
            method()
            break
    return component


def _optional_space(
    entry: dict[str, Any], container: Container, space: str, attribute: str
) -> dict[str, Any]:
    """An optional encoder that the container turns into None with a reason in `unavailable`."""
    encoder = _load(entry, lambda: getattr(container, attribute))
    if encoder is None and entry["status"] == "ok":
        reason = container.unavailable.get(space, "not configured")
        entry["status"] = "off" if reason.startswith(("disabled", "off")) else "unavailable"
        entry["reason"] = reason
    return entry


def components_report(container: Container) -> dict[str, dict[str, Any]]:
    """Load each component and report model, device, status and reason (see the module docstring)."""
    s = container.settings
    out: dict[str, dict[str, Any]] = {}

    out["text"] = entry = _entry(s.text_model, required=True)
    _load(entry, lambda: container.text_encoder)
    out["image"] = _optional_space(
        _entry(s.clip_model or "(none)", False), container, "image", "image_encoder"
    )
    out["mm"] = _optional_space(_entry(s.mm_model or "(none)", False), container, "mm", "mm_encoder")

    out["ocr"] = entry = _entry(s.ocr_backend, required=False)
    if s.ocr:
        _load(entry, lambda: _loaded(container.ocr))
    else:
        entry.update(status="off", reason="disabled (MMRAG_OCR=false): pictures and scans are not read")

    out["asr"] = entry = _entry(s.asr_model, required=False)
    _load(entry, lambda: _loaded(container.asr))
    if entry["status"] != "ok":
        entry["reason"] += " (recordings and videos are indexed without speech)"

    router_model = s.router if not s.router_path else f"{s.router} ({s.router_path})"
    out["router"] = entry = _entry(router_model, required=False)
    router = _load(entry, lambda: container.router)
    from retrieval.routing.trained_router import TrainedRouter

    if isinstance(router, TrainedRouter):
        entry["model"] = f"{s.router} ({router.weights_path})"

    out["reranker"] = entry = _entry(
        s.reranker + (f" ({s.reranker_model})" if s.reranker_model else ""), False
    )
    _load(entry, lambda: _loaded(container.reranker))

    out["generator"] = entry = _entry(
        s.generator + (f" ({s.generator_model})" if s.generator_model else ""), required=False
    )
    _load(entry, lambda: _loaded(container.generator))

    store_model = s.qdrant_url or f"embedded qdrant-edge at {s.store_dir / s.collection}"
    out["store"] = entry = _entry(store_model, required=True)
    _load(entry, lambda: container.store)
    entry["device"] = "-"
    return out


def diagnose(container: Container) -> dict[str, Any]:
    """The full `mmrag doctor` report (see the module docstring). Never raises; closes `container`."""
    s = container.settings
    report: dict[str, Any] = {"ok": True, "problems": [], "home": home_report(s.home)}
    try:
        components = components_report(container)
        report["components"] = components
        report["settings"] = {
            "home": str(s.home),
            "store": components["store"]["model"],
            "collection": s.collection,
            "text_model": s.text_model,
            "clip_model": s.clip_model or "(disabled)",
            "mm_model": s.mm_model or "(disabled)",
            "device": s.device,
            "fusion": s.fusion,
            "router": s.router,
            "reranker": s.reranker,
            "generator": s.generator,
        }
        report["spaces"] = _spaces(container, components)
        report["store"] = _store_counts(container, components["store"])
        report["packages"] = {p: _version(p) for p in _PACKAGES}
        report["backends"] = _backends(container)
        report["problems"] = [
            f"{name}: {c['status']}: {c['reason']}"
            for name, c in components.items()
            if c["status"] not in ("ok", "off")
        ]
        report["unsearchable"] = _unsearchable(container, components["store"])
        report["problems"] += unsearchable_lines(report["unsearchable"])
        report["ok"] = all(components[name]["status"] == "ok" for name in REQUIRED)
    finally:
        try:
            container.close()
        except Exception as exc:  # the store failing to flush is a problem to report, not a crash
            report["problems"].append(f"store: closing failed: {exc}")
            report["ok"] = False
        report["home"] = home_report(s.home)  # after loading: the store may have created files
    return report


def _spaces(container: Container, components: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The earlier `spaces` section: each vector space with its dimension or why it is missing."""
    spaces: dict[str, str] = {}
    for space, attribute in (("text", "text_encoder"), ("image", "image_encoder"), ("mm", "mm_encoder")):
        c = components[space]
        if c["status"] == "ok":
            spaces[space] = f"ok ({getattr(container, attribute).dim}-d)"
        else:
            spaces[space] = f"{'off' if c['status'] == 'off' else 'UNAVAILABLE'}: {c['reason']}"
    spaces["lexical"] = "ok (BM25 term weights, Qdrant IDF)"
    return spaces


def _backends(container: Container) -> dict[str, list[str]]:
    """Every registered backend by role (plugins named with their distribution): what the settings can pick."""
    return {
        role: [b["name"] if b["origin"] == "mmrag" else f"{b['name']} ({b['origin']})" for b in backends]
        for role, backends in container.registry.describe().items()
    }


def _store_counts(container: Container, entry: dict[str, Any]) -> dict[str, Any]:
    if entry["status"] != "ok":
        return {"error": entry["reason"]}
    try:
        return {"points": container.store.count(), "sources": len(container.manifest.sources())}
    except Exception as exc:  # counted after a successful open: still report rather than raise
        entry.update(status="failed", reason=str(exc))
        return {"error": str(exc)}


def _unsearchable(container: Container, store: dict[str, Any]) -> list[dict[str, str]]:
    """Indexed files recorded in the manifest as having no searchable vector."""
    if store["status"] != "ok":
        return []
    try:
        rows = container.manifest.unsearchable()
    except Exception:  # an old or broken manifest: the store line already says what is wrong
        return []
    return [{"uri": r.uri, "reason": r.reason or "no searchable vectors"} for r in rows]


def unsearchable_lines(items: list[dict[str, str]], names: int = 5) -> list[str]:
    """One line per reason: how many indexed files have no searchable vectors, and a few of their names."""
    by_reason: dict[str, list[str]] = {}
    for item in items:
        by_reason.setdefault(item["reason"], []).append(Path(item["uri"]).name or item["uri"])
    lines = []
    for reason, files in by_reason.items():
        shown = ", ".join(files[:names]) + (f", … ({len(files) - names} more)" if len(files) > names else "")
        noun = "file has" if len(files) == 1 else "files have"
        lines.append(f"{len(files)} indexed {noun} no searchable vectors ({reason}): {shown}")
    return lines


def render(report: dict[str, Any]) -> list[str]:
    """The report for a person: one line per component, then the home, then any problems."""
    lines = []
    components = report.get("components", {})
    name_w = max((len(n) for n in components), default=5)
    device_w = max((len(str(c["device"])) for c in components.values()), default=3)
    for name, c in components.items():
        flag = "*" if c.get("required") else " "
        detail = f" ({c['reason']})" if c.get("reason") else ""
        lines.append(
            f"{flag}{name:<{name_w}}  {c['status']:<11} {c['device']:<{device_w}}  {c['model']}{detail}"
        )
    home = report.get("home", {})
    if home:
        state = f"{home['size_mb']} MB" if home.get("exists") else "not created yet"
        lines.append(f"home: {home['path']} ({state})")
    store = report.get("store", {})
    if "points" in store:
        lines.append(f"store: {store['points']} points from {store['sources']} sources")
    for problem in report.get("problems", []):
        lines.append(f"problem: {problem}")
    lines.append("ok" if report.get("ok") else "NOT OK: a required component (* above) cannot load")
    return lines
