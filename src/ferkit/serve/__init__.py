"""The web app (``ferkit serve``): FastAPI with uvicorn, the page in ``static/`` (no CDN, works offline)."""

from ferkit.serve.options import ServeOptions

__all__ = ["ServeOptions", "create_app"]


def create_app(options: ServeOptions | None = None):
    """The FastAPI application (imported on use: FastAPI is the ``serve`` extra)."""
    from ferkit.serve.app import create_app as make

    return make(options)
