"""The REST API: `create_app(settings)` builds a FastAPI app over one `Container`."""

from app.api.main import create_app

__all__ = ["create_app"]
