"""Quoting for SQL that leadgate writes itself: the one place names and text become
SQL. Values from leads, events or imports never reach SQL this way; they are bound
parameters. These quote what the code composes: column names from a model, event
types, relation names, and the literals a compiled query embeds."""

from __future__ import annotations

__all__ = ["quote_backtick", "quote_ident", "quote_text"]


def quote_ident(name: str) -> str:
    """A name as standard SQL quotes it (DuckDB, SQLite, PostgreSQL): ``"a""b"``."""
    return '"' + name.replace('"', '""') + '"'


def quote_backtick(name: str) -> str:
    """A name as Spark SQL quotes it: ```a``b```."""
    return "`" + name.replace("`", "``") + "`"


def quote_text(value: str) -> str:
    """A text literal in standard SQL: ``'it''s'`` (no backslash escapes)."""
    return "'" + value.replace("'", "''") + "'"
