"""Driver-level SQL for the request path's few hot statements.

The ingest path runs a handful of statements per group commit; through the
SQL expression layer each one costs more to build than to execute. These
helpers write them once per dialect (SQLite ``?``, PostgreSQL ``%s``) and hand
the values straight to the driver.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

__all__ = ["any_of", "fetch"]


def any_of(dialect: str, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """``column IN (values)`` as SQL text and its parameters (never empty: an empty
    ``values`` matches nothing)."""
    if not values:
        return "1 = 0", []
    if dialect == "postgresql":
        return f"{column} = ANY(%s)", [list(values)]
    if dialect == "sqlite":
        return f"{column} IN ({', '.join('?' * len(values))})", list(values)
    raise NotImplementedError(f"no driver SQL for {dialect}")


def fetch(session: Session, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run ``sql`` on the session's connection (its transaction) and return the rows
    as the driver returns them (plain tuples: no result wrapping per row)."""
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(sql, tuple(params))
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        cursor.close()
