"""The Starlette application of the issuer."""

from .app import create_app

__all__ = ["create_app"]
