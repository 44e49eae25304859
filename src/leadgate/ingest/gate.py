"""SQLite's one writer, as the ingest writer meets it: take the write lock without
waiting on the event loop, and tell whether another connection has committed.

PostgreSQL needs neither (row locks; no commit counter): there every method is a
no-op or answers "cannot tell".
"""

from __future__ import annotations

import sqlite3

from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from leadgate.exceptions import LeadgateError

__all__ = ["SqliteGate", "WriteLockBusyError", "is_locked"]


class WriteLockBusyError(LeadgateError):
    """Another connection holds SQLite's write lock; nothing was done yet."""


class SqliteGate:
    """How the writer takes SQLite's lock and reads its commit counter (a class, so a
    test can hand the writer another gate instead of patching this one)."""

    def take(self, connection: Connection, seconds: float) -> None:
        """Take SQLite's write lock now, waiting at most ``seconds`` (not the
        connection's busy timeout: the loop would wait with it); raises
        :class:`WriteLockBusyError` when another connection holds it."""
        if connection.dialect.name != "sqlite":
            return
        # straight on the driver's connection: three statements per group, kept cheap
        driver = connection.connection.driver_connection
        assert driver is not None
        timeout = connection.info.get("busy_timeout")
        if timeout is None:  # the connection's own setting, read once per connection
            timeout = connection.info["busy_timeout"] = driver.execute(
                "PRAGMA busy_timeout"
            ).fetchone()[0]
        driver.execute(f"PRAGMA busy_timeout={max(1, round(seconds * 1000))}")
        try:
            # a write statement takes the lock even when it changes nothing
            driver.execute("UPDATE api_keys SET id = id WHERE 0")
        except sqlite3.OperationalError as exc:
            if is_locked(exc):
                raise WriteLockBusyError from exc
            raise
        finally:
            driver.execute(f"PRAGMA busy_timeout={int(timeout)}")

    def data_version(self, connection: Connection) -> tuple[object, int] | None:
        """The driver connection with its SQLite ``data_version``, which changes when
        any other connection commits; None elsewhere (PostgreSQL has no such counter)."""
        if connection.dialect.name != "sqlite":
            return None
        driver = connection.connection.driver_connection
        assert driver is not None
        return driver, int(driver.execute("PRAGMA data_version").fetchone()[0])


def is_locked(exc: BaseException) -> bool:
    """Whether ``exc`` (through SQLAlchemy or straight from the driver) says the database
    was locked or busy (SQLite's one writer)."""
    text = str(exc).lower()
    return isinstance(exc, (OperationalError, sqlite3.OperationalError)) and (
        "locked" in text or "busy" in text
    )
