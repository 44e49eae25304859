"""Shared CLI plumbing: consoles, JSON output, and turning errors into one clear message."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from leadgate.common.text import parse_timestamp
from leadgate.config import Settings
from leadgate.db.engine import Database, open_database
from leadgate.exceptions import LeadgateError, ModelError
from leadgate.scoring import ScoringModel, default_model, load_model_file

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_REJECTED",
    "JsonOption",
    "console",
    "database",
    "emit_json",
    "fail",
    "guard",
    "parse_as_of",
    "resolve_model",
]

EXIT_REJECTED = 1
EXIT_BAD_INPUT = 2

console = Console()
err_console = Console(stderr=True)

JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON instead of tables.")


def emit_json(payload: Any) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(json.dumps(payload, indent=2, default=str, ensure_ascii=False) + "\n")


def fail(
    message: str, *, as_json: bool, detail: dict[str, Any] | None = None, code: int = EXIT_BAD_INPUT
) -> NoReturn:
    """Report one error (stderr, or a JSON object on stdout) and exit non-zero."""
    if as_json:
        emit_json({"ok": False, "error": {"message": message, **(detail or {})}})
    else:
        err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def guard(as_json: bool) -> Iterator[None]:
    """Turn leadgate and database errors into one message and a non-zero exit."""
    try:
        yield
    except ModelError as exc:
        fail(exc.render(), as_json=as_json, detail=exc.as_dict())
    except LeadgateError as exc:
        fail(str(exc), as_json=as_json)
    except OperationalError as exc:
        fail(f"database error: {exc.orig}", as_json=as_json)
    except SQLAlchemyError as exc:
        fail(f"database error: {exc}", as_json=as_json)


def database(settings: Settings | None = None) -> Database:
    """Open the configured database (migrating it to the newest schema)."""
    return open_database(settings=settings or Settings())


def resolve_model(path: Path | None, settings: Settings | None = None) -> ScoringModel:
    """``--model FILE``, else ``LEADGATE_MODEL_PATH``, else the shipped default model."""
    settings = settings or Settings()
    chosen = path or settings.model_path
    return default_model() if chosen is None else load_model_file(chosen)


def parse_as_of(value: str | None) -> datetime:
    """``--as-of`` (ISO 8601, UTC when no zone is given for a bare date) or now."""
    if value is None:
        return datetime.now(UTC)
    try:
        return parse_timestamp(value, assume_tz=UTC if len(value.strip()) == 10 else None)
    except ValueError as exc:
        raise LeadgateError(f"--as-of: {exc}") from None


def progress_columns() -> tuple[Any, ...]:
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

    return (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
