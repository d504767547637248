"""Who owns a home: the server discovery file and the store lock.

The embedded Qdrant engine is single-process, so one process at a time opens a home's store:

* `mmrag serve` holds the store lock for its whole life and publishes `server.json` in the home (its URL
  and a local token, mode 0600) once it listens; every CLI command on that home then talks to it.
* Without a server, a CLI command that opens the store takes the same lock (`fcntl.flock` on
  `store.lock`); a second one waits, saying who holds it (`waiting for <pid> to finish indexing …`).

A crash leaves `server.json` behind: `discover()` finds it stale (the pid is gone, or nothing answers) and
removes it. The kernel drops a crashed holder's lock by itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from core.errors import MmragError

SERVER_FILE = "server.json"
LOCAL_TOKEN_HEADER = "X-Mmrag-Local-Token"  # the header that carries the local token to the server
LOCK_FILE = "store.lock"

# What a lock holder is doing, as a waiting process says it: "waiting for 123 to finish indexing …".
DOING = {
    "index": "indexing",
    "delete": "deleting",
    "search": "searching",
    "ask": "answering",
    "doctor": "checking",
    "reembed": "re-embedding",
    "serve": "mmrag serve, starting up",  # once it listens, commands go through it instead of waiting
}


class StoreBusyError(MmragError):
    """Another process holds the home's store and the caller chose not to wait."""


@dataclass(frozen=True)
class ServerInfo:
    """How to reach the server that owns a home: `url`, the local `token`, its `pid`."""

    url: str
    token: str
    pid: int
    home: str
    started_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def server_file(home: Path) -> Path:
    return home / SERVER_FILE


def new_token() -> str:
    """A local token: proves the caller can read files in the home (the file is mode 0600)."""
    return secrets.token_urlsafe(32)


def publish(home: Path, url: str, token: str) -> ServerInfo:
    """Write `server.json` (mode 0600, atomically) for this process; return what was written."""
    home.mkdir(parents=True, exist_ok=True)
    info = ServerInfo(url=url, token=token, pid=os.getpid(), home=str(home), started_at=time.time())
    tmp = home / f".{SERVER_FILE}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(info.to_dict(), f)
    os.chmod(tmp, 0o600)  # the umask cannot widen it, but an existing tmp file could be wider
    os.replace(tmp, server_file(home))
    return info


def unpublish(home: Path, token: str) -> None:
    """Remove `server.json` if it is still ours (a newer server may have replaced it)."""
    info = read_server_file(home)
    if info is not None and info.token == token:
        server_file(home).unlink(missing_ok=True)


def read_server_file(home: Path) -> ServerInfo | None:
    """The published server, as written (possibly stale); None when there is none or it is unreadable."""
    try:
        data = json.loads(server_file(home).read_text())
        return ServerInfo(**{k: data[k] for k in ServerInfo.__dataclass_fields__})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (a zombie counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child that its parent has not reaped yet still has a pid: it serves nothing
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def answers(url: str, timeout: float = 2.0) -> bool:
    """Whether an mmrag server answers its liveness probe at `url`."""
    import httpx

    try:
        return httpx.get(f"{url}/healthz", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def discover(home: Path) -> ServerInfo | None:
    """The live server that owns this home, or None. A stale file (crashed server) is removed."""
    info = read_server_file(home)
    if info is None:
        return None
    if info.pid == os.getpid():  # the server itself (e.g. a route calling back into the CLI layer)
        return None
    if pid_alive(info.pid) and answers(info.url):
        return info
    # Re-read before removing: a server that started meanwhile may have replaced the stale file.
    current = read_server_file(home)
    if current is not None and current.token == info.token:
        with contextlib.suppress(OSError):
            server_file(home).unlink()
    return None


@dataclass(frozen=True)
class Holder:
    """Who holds a store lock: pid and what it is doing (a `DOING` key)."""

    pid: int
    purpose: str

    def describe(self) -> str:
        doing = DOING.get(self.purpose, self.purpose or "its work")
        return f"{self.pid} to finish {doing}" if self.purpose != "serve" else f"{self.pid} ({doing})"


class StoreLock:
    """An exclusive `flock` on `<home>/store.lock`; the holder writes its pid and purpose into the file.

    Released by `release()`, on process exit, or by the kernel when the process dies (even by SIGKILL).
    """

    def __init__(self, home: Path) -> None:
        self.path = home / LOCK_FILE
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def holder(self) -> Holder | None:
        """Who holds the lock now, as the holder wrote it (None when unknown)."""
        try:
            data = json.loads(self.path.read_text() or "{}")
            return Holder(pid=int(data["pid"]), purpose=str(data.get("purpose", "")))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def try_acquire(self, purpose: str) -> bool:
        """Take the lock if it is free; never blocks."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        f = os.fdopen(fd, "r+")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            return False
        f.seek(0)
        f.truncate()
        f.write(json.dumps({"pid": os.getpid(), "purpose": purpose, "since": time.time()}))
        f.flush()
        self._file = f
        return True

    def acquire(
        self,
        purpose: str,
        *,
        wait: bool = True,
        on_wait: Callable[[Holder | None], None] | None = None,
        give_up: Callable[[], bool] | None = None,
        poll_s: float = 0.2,
    ) -> bool:
        """Take the lock, waiting while another process holds it.

        Args:
            purpose: what this process will do (a `DOING` key), shown to processes that wait for it.
            wait: False raises `StoreBusyError` at once instead of waiting.
            on_wait: called once, with the holder, when waiting starts.
            give_up: polled while waiting; True stops waiting (e.g. a server appeared) and returns False.
            poll_s: how often to retry.

        Returns:
            True when the lock is held, False when `give_up` said to stop.
        """
        told = False
        while not self.try_acquire(purpose):
            holder = self.holder()
            if not wait:
                who = f"process {holder.describe()}" if holder else "another process"
                raise StoreBusyError(f"the store in {self.path.parent} is busy: held by {who}")
            if not told and on_wait is not None:
                on_wait(holder)
                told = True
            if give_up is not None and give_up():
                return False
            time.sleep(poll_s)
        return True

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.seek(0)
                self._file.truncate()
                self._file.flush()
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> StoreLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
