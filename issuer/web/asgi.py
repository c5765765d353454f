"""ASGI entry point for servers that import the app by name (uvicorn workers, gunicorn).

    uvicorn --factory issuer.web.asgi:create_app_from_environment
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette

from ..cli import quiet_noisy_loggers
from ..service import Issuer
from ..settings import load_settings
from .app import create_app


def create_app_from_environment() -> Starlette:
    """An issuer configured from the ``ISSUER_*`` environment, started by the app's lifespan."""
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    quiet_noisy_loggers()
    return create_app(Issuer(settings))
