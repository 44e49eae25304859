"""The HTTP service: FastAPI application factory and shared dependencies."""

from leadgate.api.app import create_app

__all__ = ["create_app"]
