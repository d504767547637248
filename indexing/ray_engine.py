"""Batch indexing on Ray: extraction and encoding run as Ray Data `map_batches` stages in actor pools.

The work is the local pipeline's, cut at its stage functions (`indexing.pipeline`): the driver hashes files
and checks the manifest (`Indexer.plan_file`), actors extract (`extract_source`) and encode
(`encode_records`), and the driver saves media, writes the store and the manifest (`Indexer.begin_source`,
`Indexer.write`). Segment ids are deterministic, so both engines produce the same points.

Actors build their components from the run's config (the settings, JSON-able) through a picklable factory
(the composition root's, see `app.ray_components`); encoder actors ask for a GPU each when the cluster has GPUs. On a remote cluster
every node needs mmrag installed and the files reachable at the same paths.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from core.errors import UnsupportedTypeError
from core.protocols import Extracted, Extractor, ImageEncoder, LexicalEncoder, Record, TextEncoder
from indexing.extraction_worker import extract_source
from indexing.extractors.backends import extractor_for
from indexing.index_report import IndexReport, failure_message
from indexing.pipeline import FLUSH_SEGMENTS, Indexer, PendingFile, Progress
from indexing.record_encoding import RecordHook, encode_records
from indexing.walk import walk

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]


class StageComponents(Protocol):
    """What the actors need, built inside each actor (so models load once per actor, never on the driver)."""

    @property
    def extractors(self) -> Sequence[Extractor]: ...

    @property
    def text_encoder(self) -> TextEncoder: ...

    @property
    def image_encoder(self) -> ImageEncoder | None: ...

    @property
    def lexical(self) -> LexicalEncoder: ...

    @property
    def hooks(self) -> Sequence[RecordHook]: ...


ComponentFactory = Callable[[dict[str, Any]], StageComponents]
"""A module-level callable (pickled by reference) that builds the components from the run's config."""


class ExtractStage:
    """Ray actor: one row per input file in, one row per segment (or one error row) out."""

    def __init__(self, factory: ComponentFactory, config: dict[str, Any]) -> None:
        self.components = factory(config)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {"source_id": [], "total": [], "error": [], "blob": []}
        for source_blob, path in zip(batch["source"], batch["path"], strict=True):
            source = pickle.loads(source_blob)
            try:
                blobs = [
                    pickle.dumps(item) for item in extract_source(self.components.extractors, source, path)
                ]
                error = ""
            except Exception as exc:  # one bad file is reported, never stops the run
                blobs, error = [b""], failure_message(exc)
            for blob in blobs:
                out["source_id"].append(source.source_id)
                out["total"].append(0 if error else len(blobs))
                out["error"].append(error)
                out["blob"].append(blob)
        return out


class EncodeStage:
    """Ray actor: encodes a batch of segments; each row leaves as a pickled (record, media) pair."""

    def __init__(self, factory: ComponentFactory, config: dict[str, Any]) -> None:
        self.components = factory(config)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        rows = [i for i, error in enumerate(batch["error"]) if not error]
        items: list[Extracted] = [pickle.loads(batch["blob"][i]) for i in rows]
        c = self.components
        records = encode_records(
            items,
            text_encoder=c.text_encoder,
            image_encoder=c.image_encoder,
            lexical=c.lexical,
            hooks=c.hooks,
        )
        encoded = {i: pickle.dumps((r, item.media)) for i, r, item in zip(rows, records, items, strict=True)}
        return {
            "source_id": list(batch["source_id"]),
            "total": list(batch["total"]),
            "error": list(batch["error"]),
            "blob": [encoded.get(i, b"") for i in range(len(batch["error"]))],
        }


@dataclass
class _Run:
    """Driver-side state of one run: planned files, segments received so far, the write buffer."""

    report: IndexReport
    planned: dict[str, tuple[PendingFile, str]]  # source_id -> (pending, path)
    total_files: int
    done: int = 0
    received: dict[str, list[tuple[Record, dict[str, Any]]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    buffer: list[tuple[PendingFile, list[Record]]] = field(default_factory=list)


class RayIndexer:
    """Indexes files with Ray Data; same results as `Indexer.index_paths`/`index_files`.

    Args:
        indexer: the local indexer; its store, manifest and media store are written on the driver.
        config: what every actor builds its components from (JSON-able; the composition root's settings).
        components: picklable factory building the actors' extractors and encoders from `config`.
        batch_size: segments per encoder call.
        address: a Ray cluster to join ("auto", "ray://host:10001", "host:6379"); None starts a private
            local cluster for the run (reused if Ray is already initialised in this process).
        actors: actor pool size of each stage (encoder pools get one GPU per actor when GPUs exist and
            then as many actors as GPUs).
        num_cpus: CPUs reserved per actor; keep actors x stages x num_cpus <= cluster CPUs, or the pools
            deadlock waiting for each other.
        local_cpus: CPUs of the private local cluster.
    """

    def __init__(
        self,
        indexer: Indexer,
        config: dict[str, Any],
        components: ComponentFactory,
        *,
        batch_size: int = 32,
        address: str | None = None,
        actors: int = 2,
        num_cpus: float = 0.5,
        local_cpus: int | None = None,
    ) -> None:
        self.indexer = indexer
        self.config = config
        self.batch_size = batch_size
        self.components = components
        self.address = address
        self.actors = actors
        self.num_cpus = num_cpus
        self.local_cpus = local_cpus

    def index_paths(self, paths: Sequence[Path], progress: Progress | None = None) -> IndexReport:
        """Index files and folders (recursively); the uri of each file is its absolute path.

        Links out of the folders are skipped as in `Indexer.index_paths` (the local engine's walk)."""
        entries = list(walk(paths, follow_links=self.indexer.follow_links))
        report = self.index_files([(e.path, e.uri) for e in entries if e.skip is None], progress)
        for e in entries:
            if e.skip is not None:
                self.indexer.record_skip(None, e.uri, e.skip, report)
        return report

    def index_files(self, files: Sequence[tuple[Path, str]], progress: Progress | None = None) -> IndexReport:
        """Index (path on disk, uri to record) pairs. Bad files are reported and never stop the run."""
        run = _Run(IndexReport(), {}, len(files))
        for path, uri in files:
            self._plan(run, path, uri, progress)
        if run.planned:
            with ray_session(self.address, self.local_cpus):
                self._execute(run, progress)
        return run.report

    # --- driver steps -----------------------------------------------------------------------------------
    def _plan(self, run: _Run, path: Path, uri: str, progress: Progress | None) -> None:
        try:
            pending = self.indexer.plan_file(path, uri, run.planned.__contains__, run.report)
            if pending is not None:
                extractor_for(self.indexer.extractors, pending.source)
        except UnsupportedTypeError as exc:
            self.indexer.record_skip(None, uri, exc.reason, run.report)
            self._tick(run, uri, progress)
            return
        except Exception as exc:
            self.indexer.record_failure(None, uri, failure_message(exc), run.report)
            self._tick(run, uri, progress)
            return
        if pending is None:
            run.report.unchanged += 1
            self._tick(run, uri, progress)
        else:
            run.planned[pending.source.source_id] = (pending, str(path))

    def _execute(self, run: _Run, progress: Progress | None) -> None:
        try:
            for batch in self._dataset(run).iter_batches(batch_size=None, batch_format="numpy"):
                for sid, total, error, blob in zip(
                    batch["source_id"], batch["total"], batch["error"], batch["blob"], strict=True
                ):
                    self._receive(run, str(sid), int(total), str(error), blob, progress)
        except Exception as exc:  # a lost actor or cluster: every unfinished file is reported
            log.exception("the Ray pipeline failed")
            for sid in list(run.planned):
                self._fail(run, sid, f"ray pipeline failed: {failure_message(exc)}", progress)
        self._flush(run)
        for sid in list(run.planned):  # rows that never arrived: should not happen, never hide it
            self._fail(run, sid, "ray pipeline lost this file's segments", progress)

    def _receive(
        self, run: _Run, sid: str, total: int, error: str, blob: bytes, progress: Progress | None
    ) -> None:
        if sid not in run.planned:
            return  # already failed
        if error:
            self._fail(run, sid, error, progress)
            return
        run.received[sid].append(pickle.loads(blob))
        if len(run.received[sid]) < total:
            return
        pending, _ = run.planned.pop(sid)
        parts = run.received.pop(sid)
        pending.items = [Extracted(segment=r.segment, media=media) for r, media in parts]
        self.indexer.begin_source(pending)
        run.buffer.append((pending, [r for r, _ in parts]))
        self._tick(run, pending.source.uri, progress)
        if sum(len(records) for _, records in run.buffer) >= FLUSH_SEGMENTS:
            self._flush(run)

    def _flush(self, run: _Run) -> None:
        if run.buffer:
            records = [r for _, rs in run.buffer for r in rs]
            self.indexer.write([p for p, _ in run.buffer], records, run.report)
            run.buffer = []

    def _fail(self, run: _Run, sid: str, error: str, progress: Progress | None) -> None:
        pending, _ = run.planned.pop(sid)
        run.received.pop(sid, None)
        self.indexer.record_failure(pending.source, pending.source.uri, error, run.report)
        self._tick(run, pending.source.uri, progress)

    @staticmethod
    def _tick(run: _Run, uri: str, progress: Progress | None) -> None:
        run.done += 1
        if progress is not None:
            progress(run.done, run.total_files, uri)

    # --- the Ray Data plan ------------------------------------------------------------------------------
    def _dataset(self, run: _Run) -> Any:
        import ray
        import ray.data

        ray.data.DataContext.get_current().enable_progress_bars = False
        if not log.isEnabledFor(logging.INFO):  # Ray Data's plan/progress lines would clutter the CLI
            logging.getLogger("ray.data").setLevel(logging.WARNING)
        gpus = int(ray.cluster_resources().get("GPU", 0))
        args = {"factory": self.components, "config": self.config}
        rows = [{"path": path, "source": pickle.dumps(p.source)} for p, path in run.planned.values()]
        ds: Any = ray.data.from_items(rows, override_num_blocks=min(len(rows), 4 * self.actors))
        ds = ds.map_batches(
            ExtractStage,
            fn_constructor_kwargs=args,
            batch_size=1,  # one file per call: files differ wildly in cost
            compute=ray.data.ActorPoolStrategy(size=self.actors),
            num_cpus=self.num_cpus,
            batch_format="numpy",
        )
        return ds.map_batches(
            EncodeStage,
            fn_constructor_kwargs=args,
            batch_size=self.batch_size,
            compute=ray.data.ActorPoolStrategy(size=gpus or self.actors),
            num_cpus=self.num_cpus,
            num_gpus=1 if gpus else 0,
            batch_format="numpy",
        )


@contextmanager
def ray_session(address: str | None, local_cpus: int | None = None) -> Iterator[None]:
    """Join a cluster at `address`, or start a private loopback-only local one; stop what was started.

    An already initialised Ray (e.g. a test's cluster) is used as it is and left running.
    """
    import ray

    if ray.is_initialized():
        yield
        return
    # Never listen beyond loopback for a private cluster; workers must import mmrag from this checkout.
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    paths = [str(REPO_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    if address:
        os.environ.setdefault("RAY_AUTH_MODE", "token")  # clusters started by `ray start` require it
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    else:
        ray.init(
            address="local",
            num_cpus=local_cpus,
            include_dashboard=False,
            logging_level=logging.WARNING,
            log_to_driver=False,
        )
    try:
        yield
    finally:
        ray.shutdown()
