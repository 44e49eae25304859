"""``leadgate serve``: the real-time qualification service (FastAPI on uvicorn)."""

from __future__ import annotations

from pathlib import Path

import typer

from leadgate.cli.output import console, guard, resolve_model
from leadgate.config import Settings

__all__ = ["serve"]


def serve(
    model_file: Path | None = typer.Option(
        None, "--model", help="Scoring model YAML (default: the configured or shipped model)."
    ),
    playbooks_file: Path | None = typer.Option(
        None,
        "--playbooks",
        help="Handoff playbooks YAML (default: LEADGATE_PLAYBOOKS_PATH or the shipped playbooks).",
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the REST API (/api/v1, OpenAPI at /docs) and the Segment-compatible /v1 API."""
    import gc

    import uvicorn

    from leadgate.actions.versions import stored_version
    from leadgate.api import create_app
    from leadgate.db.engine import open_database
    from leadgate.qualification import HandoffPolicy

    with guard(False):
        settings = Settings()
        model = resolve_model(model_file, settings)
        database = open_database(settings=settings)
        playbooks = HandoffPolicy.configured(settings, playbooks_file, database=database).playbooks
        stored = stored_version(database)
    app = create_app(settings=settings, database=database, model=model, playbooks=playbooks)
    console.print(
        f"leadgate serving {model.label} with playbooks {playbooks.name}"
        f"{'' if stored is None else f' (stored version {stored})'} on http://{host}:{port} "
        f"(API docs at http://{host}:{port}/docs); create keys with `leadgate keys create`"
    )
    # The service keeps its active leads' indexed histories in memory: millions of
    # long-lived objects. With the default thresholds the cycle collector walks them
    # all over and over (a fifth of the time under load, and the slowest requests);
    # collecting young objects every 50,000 allocations instead of 700 keeps that
    # under 1 % (requests free almost everything by reference counting anyway).
    gc.set_threshold(50_000, 20, 100)
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level, workers=1)
    finally:
        database.dispose()
