"""Read SQLite query results as Arrow in a child process, through ADBC's SQLite driver.

Why a child process: ADBC's wheel carries its own copy of the SQLite library. Two
copies of SQLite in one process break SQLite's POSIX advisory locks (closing one
copy's file descriptor drops the other's locks), and reading that way was seen
here to return pages older than what SQLAlchemy had just committed. In a process
of its own the driver is an ordinary concurrent reader, and it builds Arrow
columns in C, about four times faster than turning ``sqlite3`` rows into columns
in Python. The child writes one Arrow IPC file per query into a private folder;
the parent maps them.

Run as ``python -m leadgate.rescoring.sqlite_arrow DATABASE FOLDER`` with a JSON
object ``{name: sql}`` on standard input.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa

from leadgate.exceptions import LeadgateError

__all__ = ["read_queries"]

#: One batch per query, so that column types are inferred from every row (the
#: driver's default infers them from the first 1,024 and fails on a later mismatch).
_BATCH_ROWS = "1000000000"


def read_queries(database: str, queries: Mapping[str, str]) -> dict[str, pa.Table]:
    """Run each query on the SQLite file ``database``; results by name."""
    with tempfile.TemporaryDirectory(prefix="leadgate-read-") as folder:
        done = subprocess.run(
            [sys.executable, "-m", __name__, database, folder],
            input=json.dumps(dict(queries)),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
            raise LeadgateError(f"cannot read the database: {lines[-1] if lines else 'failed'}")
        tables = {}
        for name in queries:
            with pa.memory_map(str(Path(folder) / f"{name}.arrow")) as source:
                tables[name] = pa.ipc.open_file(source).read_all()
        return tables


def _child(database: str, folder: str) -> None:
    import adbc_driver_sqlite.dbapi as sqlite_adbc

    queries: dict[str, str] = json.loads(sys.stdin.read())
    uri = Path(database).resolve().as_uri() + "?mode=ro"
    with sqlite_adbc.connect(uri) as connection:
        for name, sql in queries.items():
            with connection.cursor() as cursor:
                cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": _BATCH_ROWS})
                cursor.execute(sql)
                table = cursor.fetch_arrow_table()
            path = str(Path(folder) / f"{name}.arrow")
            with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2])
