"""Where extraction runs: in this process, or in a worker process with a time and memory budget per file.

Parsers of PDFs, Office files, pictures and media are large native libraries fed with files nobody curated.
`IsolatedExtraction` runs them in one persistent worker process (started on first use, reused across files,
so models such as the OCR engine load once; it builds its extractors with a picklable factory the composition
root hands over, see `app.builders.worker_extractors`), with an address-space limit (`RLIMIT_AS`) and a per-file
timeout. A file that runs out of memory, runs over time or crashes the worker is reported failed with the
reason; the worker is then replaced and the batch goes on. Measured overhead on ordinary files is the
pickling of the segments and pictures through a pipe (see benchmarks/bench_hostile.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from core.errors import ExtractionError
from core.protocols import Extracted, Extractor
from core.types import Source
from indexing.extractors.backends import extractor_for

log = logging.getLogger(__name__)

_START_TIMEOUT_S = 120.0  # importing the parsers in a fresh process on a busy machine
_LOG_ENV = "MMRAG_EXTRACT_WORKER_LOG_LEVEL"
_REPO = Path(__file__).resolve().parents[1]

ExtractorFactory = Callable[[dict[str, Any]], Sequence[Extractor]]
"""A module-level callable (pickled by reference) that builds the worker's extractors from a JSON-able config."""


class Extraction(Protocol):
    """Turns one file into its segments."""

    def extract(self, source: Source, path: str | Path) -> list[Extracted]:
        """Raises `ExtractionError` for a bad file (or one over a limit)."""
        ...

    def close(self) -> None:
        """Release any worker."""
        ...


def extract_source(extractors: Sequence[Extractor], source: Source, path: str | Path) -> list[Extracted]:
    """Stage: cut one file into segments with the first extractor that accepts it.

    Raises:
        ExtractionError: the file is bad or holds nothing to index.
    """
    items = list(extractor_for(extractors, source).extract(source, str(path)))
    if not items:
        raise ExtractionError(source.uri, "no content found (no text, images or media)")
    return items


class InlineExtraction:
    """Extraction in this process: no isolation (tests, the Ray actors, `extract_isolation = "none"`)."""

    def __init__(self, extractors: Sequence[Extractor]) -> None:
        self.extractors = list(extractors)

    def extract(self, source: Source, path: str | Path) -> list[Extracted]:
        return extract_source(self.extractors, source, path)

    def close(self) -> None:
        return None


class IsolatedExtraction:
    """Extraction in a persistent worker process with a per-file time budget and a memory limit.

    Args:
        factory: builds the worker's extractors (and OCR engine) from `config`, inside the worker; a
            module-level function, sent to the worker pickled by reference.
        config: what `factory` is called with (JSON-able).
        timeout_s: seconds one file may take; the worker is killed and replaced after that.
        memory_mb: address-space limit of the worker (`RLIMIT_AS`), in MiB; 0 = no limit.
    """

    def __init__(
        self,
        factory: ExtractorFactory,
        config: dict[str, Any],
        *,
        timeout_s: float = 900.0,
        memory_mb: int = 4096,
    ) -> None:
        self.factory = factory
        self.config = config
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()  # one file at a time through the one worker

    def extract(self, source: Source, path: str | Path) -> list[Extracted]:
        with self._lock:
            conn = self._worker()
            try:
                conn.send((source, os.fspath(path)))
                if not conn.poll(self.timeout_s):
                    self._stop()
                    raise ExtractionError(
                        source.uri,
                        f"extraction took longer than {self.timeout_s:g} s and was stopped "
                        "(extract_timeout_s)",
                    )
                reply = conn.recv()
            except (EOFError, OSError, BrokenPipeError):
                code = self._stop()
                raise ExtractionError(source.uri, _crash_reason(code, self.memory_mb)) from None
        kind, payload = reply
        if kind == "ok":
            return list(payload)
        raise ExtractionError(source.uri, str(payload))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(OSError):
                    self._conn.send(None)
            self._stop(grace_s=2.0)

    def _worker(self) -> Connection:
        if self._process is not None and self._process.poll() is None and self._conn is not None:
            return self._conn
        self._stop()
        # A fresh interpreter (not a fork of one holding torch threads, not multiprocessing's spawn, which
        # re-imports the caller's __main__), talking over a socket pair it inherits.
        ours, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_REPO), os.environ.get("PYTHONPATH", "")])}
        env[_LOG_ENV] = str(logging.getLogger("indexing").getEffectiveLevel())
        process = subprocess.Popen(
            [sys.executable, "-m", "indexing.extraction_worker", str(theirs.fileno()), str(self.memory_mb)],
            pass_fds=[theirs.fileno()],
            env=env,
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        conn = Connection(ours.detach())
        try:
            conn.send((self.factory, self.config))
            ready = conn.poll(_START_TIMEOUT_S) and conn.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            process.kill()
            process.wait()
            conn.close()
            raise ExtractionError("", "the extraction worker did not start")
        self._process, self._conn = process, conn
        return conn

    def _stop(self, grace_s: float = 0.0) -> int | None:
        """Stop the worker (kill it after `grace_s`); return its exit code."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is None:
            return None
        try:
            return process.wait(grace_s) if grace_s else _kill(process)
        except subprocess.TimeoutExpired:
            return _kill(process)


def _kill(process: subprocess.Popen[bytes]) -> int | None:
    if process.poll() is None:
        process.kill()
    return process.wait()


def _crash_reason(exitcode: int | None, memory_mb: int) -> str:
    if exitcode is not None and exitcode < 0:
        sig = -exitcode
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        if sig == signal.SIGKILL:
            return f"extraction was killed ({name}), probably out of memory; the file was not indexed"
        return f"the parser crashed on this file ({name}); the file was not indexed"
    return f"the extraction worker stopped unexpectedly (exit code {exitcode}); the file was not indexed"


def serve(conn: Connection, memory_mb: int) -> None:
    """The worker's loop: build the extractors once (from the first message, `(factory, config)`), then
    extract each (source, path) sent."""
    import gc

    _limit_memory(memory_mb)
    factory, config = conn.recv()
    extractors = list(factory(config))
    conn.send("ready")
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        source, path = request
        try:
            reply: tuple[str, Any] = ("ok", extract_source(extractors, source, path))
        except ExtractionError as e:
            reply = ("error", _scrub(e.reason, path))
        except MemoryError:
            reply = (
                "error",
                f"ran out of memory: over the {memory_mb} MiB limit per file (extract_memory_mb)",
            )
        except Exception as e:  # a parser bug on one file is that file's failure
            reply = ("error", _scrub(f"{type(e).__name__}: {e}", path)[:500])
        try:
            conn.send(reply)
        except MemoryError:
            reply = ("error", f"ran out of memory: over the {memory_mb} MiB limit (extract_memory_mb)")
            gc.collect()
            conn.send(reply)
        except (pickle.PicklingError, TypeError, AttributeError) as e:
            conn.send(("error", f"extracted content could not be passed on: {e}"[:500]))
        del reply
        gc.collect()


def _scrub(message: str, path: str) -> str:
    """A reason that names no path on this machine (an upload's stored path means nothing to its owner)."""
    return message.replace(path, "the file").replace(os.path.dirname(path) + os.sep, "")


def _limit_memory(memory_mb: int) -> None:
    if memory_mb <= 0:
        return
    import resource

    limit = memory_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def main(argv: Sequence[str]) -> None:
    """`python -m indexing.extraction_worker FD MEMORY_MB`; the extractor factory and its config come first."""
    level = int(os.environ.pop(_LOG_ENV, str(logging.WARNING)))
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    serve(Connection(int(argv[0])), int(argv[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
