"""The ``leadgate`` command line (Typer + Rich; every command takes ``--json``)."""

from __future__ import annotations

from leadgate.cli.app import app, main

__all__ = ["app", "main"]
