"""`mmrag serve` (the REST API under uvicorn) and `mmrag ui` (the Streamlit app)."""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from app.cli.output import err, fail


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind; 0.0.0.0 for every interface.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Allow a public interface without MMRAG_API_KEYS.")
    ] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the REST API (OpenAPI docs at /docs). Models load at startup; /readyz says when done.

    While it runs, the server owns the home: other `mmrag` commands on the same home go through it.
    """
    import uvicorn

    from app.api.main import create_app
    from app.api.serving import PublishingServer
    from app.home import StoreLock, discover, new_token, unpublish
    from core.settings import Settings

    settings = Settings()
    if not settings.api_keys and not _is_loopback(host) and not insecure:
        raise fail(
            f"refusing to serve on {host} without API keys: set MMRAG_API_KEYS='[\"a-long-secret\"]' "
            "(or pass --insecure)"
        )
    running = discover(settings.home)
    if running is not None:
        raise fail(f"{settings.home} is already served by process {running.pid} at {running.url}", 1)
    lock = None
    if not settings.qdrant_url:  # the embedded store is single-process: this server owns the home
        lock = StoreLock(settings.home)
        lock.acquire(
            "serve", on_wait=lambda h: err.print(f"waiting for {h.describe() if h else 'another process'} …")
        )
    token = new_token()
    api = create_app(settings, local_token=token)
    config = uvicorn.Config(
        api,
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=30,
    )
    reach = "127.0.0.1" if host in ("0.0.0.0", "::", "") else (f"[{host}]" if ":" in host else host)
    url = f"http://{reach}:{port}"
    err.print(f"serving mmrag API on http://{host}:{port} (docs at /docs), data in {settings.home}")
    try:
        PublishingServer(api, config, settings.home, url, token).run()
    finally:
        unpublish(settings.home, token)
        if lock is not None:
            lock.release()


def ui(
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port of the UI.")] = 8501,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    api_url: Annotated[
        str | None, typer.Option(help="The API the UI talks to (default MMRAG_API_URL or settings).")
    ] = None,
) -> None:
    """Start the Streamlit search, chat and library UI (a client of the REST API: run `mmrag serve` too)."""
    import ui
    from core.settings import Settings

    script = Path(ui.__file__).resolve().parent / "app.py"  # the installed `ui` package, wherever it is
    if not script.is_file():
        raise fail(f"the UI is not installed ({script} missing)")
    env = dict(os.environ, MMRAG_API_URL=api_url or Settings().api_url)
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.headless", "true", "--server.address", host, "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    err.print(f"UI on http://{host}:{port}, talking to {env['MMRAG_API_URL']}")
    raise typer.Exit(run_forwarding_signals(cmd, env))


FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def run_forwarding_signals(cmd: list[str], env: dict[str, str]) -> int:
    """Run a child to its end, passing SIGINT/SIGTERM/SIGHUP on to it: stopping us stops it.

    Returns:
        The child's exit code (128 + signal number when a signal ended it, as a shell reports it).
    """
    child = subprocess.Popen(cmd, env=env)
    previous = {
        sig: signal.signal(sig, lambda signum, _frame: child.send_signal(signum)) for sig in FORWARDED
    }
    try:
        while True:
            try:
                code = child.wait()
                break
            except InterruptedError:  # pragma: no cover - PEP 475 retries, kept for safety
                continue
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child.poll() is None:
            child.kill()
            child.wait()
    return 128 - code if code < 0 else code
