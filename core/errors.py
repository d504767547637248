"""The one error hierarchy. The API maps these to HTTP status codes, the CLI to exit codes."""

from __future__ import annotations


class MmragError(Exception):
    """Base class of every error mmrag raises on purpose."""


class ConfigError(MmragError):
    """Settings are invalid or name something that does not exist."""


class ExtractionError(MmragError):
    """A file could not be read or parsed. Carries the file and a one-line reason."""

    def __init__(self, uri: str, reason: str) -> None:
        super().__init__(f"{uri}: {reason}")
        self.uri = uri
        self.reason = reason


class UnsupportedTypeError(ExtractionError):
    """No extractor accepts this file type."""


class ModelUnavailableError(MmragError):
    """A model's weights could not be loaded (offline, missing checkpoint, missing package)."""


class StoreError(MmragError):
    """The vector store failed or cannot be reached."""


class NotFoundError(MmragError):
    """A source, segment, job or media item does not exist."""


class InvalidRequestError(MmragError):
    """A request or query is malformed (bad filter, empty query, bad file)."""
