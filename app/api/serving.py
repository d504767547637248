"""uvicorn for `mmrag serve`: the server publishes itself in its home while it listens."""

from __future__ import annotations

import socket
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from app.home import publish, unpublish


class PublishingServer(uvicorn.Server):
    """uvicorn, plus the home's `server.json`: written once it listens, removed first thing on shutdown."""

    def __init__(self, app: FastAPI, config: uvicorn.Config, home: Path, url: str, token: str) -> None:
        super().__init__(config)
        self.app, self.home, self.url, self.token = app, home, url, token

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and not self.should_exit:
            self.app.state.server_info = publish(self.home, self.url, self.token)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        unpublish(self.home, self.token)  # new CLI commands open the store themselves from now on
        await super().shutdown(sockets)
