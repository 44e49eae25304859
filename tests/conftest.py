"""Shared fixtures: a fresh database per test (SQLite file, or PostgreSQL when
``LEADGATE_DATABASE_URL`` points at one), a CLI runner bound to it, and the
guard that makes a run executing no test fail.

Runs in parallel (pytest-xdist, ``-n auto``): on PostgreSQL each worker gets a
database of its own, ``<database>_<worker>`` (created when missing, so the role
needs CREATEDB). A PostgreSQL run executes only the tests that use a database:
the others do not depend on the backend and ran in the SQLite pass
(``LEADGATE_TEST_EVERYTHING=1`` runs them anyway).
"""

from __future__ import annotations

import os
import shutil

# as the leadgate command does: LightGBM's OpenMP threads sleep while they wait
# (parallel workers share the cores); set before anything loads lightgbm
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from typer.testing import CliRunner

from leadgate.db.engine import Database, make_engine, migrate, open_database
from leadgate.db.models import Base

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
_PG_URL = os.environ.get("LEADGATE_DATABASE_URL", "")
USING_POSTGRES = _PG_URL.startswith(("postgresql", "postgres://"))
#: The fixture every test that touches a database depends on.
_DATABASE_FIXTURE = "_template"


def _worker_database(url: str) -> str:
    """The PostgreSQL database of this xdist worker (``url`` itself outside xdist),
    created when it does not exist yet."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    base = make_url(url)
    mine = base.set(database=f"{base.database}_{worker}")
    engine = make_engine(base.render_as_string(hide_password=False))
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": mine.database},
            ).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{mine.database}"'))
    finally:
        engine.dispose()
    return mine.render_as_string(hide_password=False)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, run only the tests that use a database (the rest ran on SQLite)."""
    if not USING_POSTGRES or os.environ.get("LEADGATE_TEST_EVERYTHING") == "1":
        return
    agnostic = [item for item in items if _DATABASE_FIXTURE not in item.fixturenames]
    if agnostic:
        config.hook.pytest_deselected(items=agnostic)
        items[:] = [item for item in items if _DATABASE_FIXTURE in item.fixturenames]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run that executed no test is a failure, never a silent pass."""
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: the controller counts every worker's results
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    passed = len(reporter.stats.get("passed", [])) if reporter is not None else 0
    if exitstatus == 0 and passed == 0:
        session.exitstatus = 1
        if reporter is not None:
            reporter.write_line(
                "ERROR: no test passed; a run that executes no test fails.", red=True
            )


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database to copy (SQLite) or to truncate between tests (PostgreSQL)."""
    if USING_POSTGRES:
        url = _worker_database(_PG_URL)
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        migrate(engine)
        engine.dispose()
        return url
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return str(path)


@pytest.fixture
def database_url(_template: str, tmp_path: Path) -> str:
    """URL of an empty, migrated database for this test only."""
    if USING_POSTGRES:
        engine = make_engine(_template)
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return _template
    target = tmp_path / "leadgate-test.db"
    shutil.copyfile(_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """An open :class:`Database` on the per-test database."""
    database = open_database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    """A CLI runner whose commands use the per-test database and run in ``tmp_path``."""
    monkeypatch.setenv("LEADGATE_DATABASE_URL", database_url)
    monkeypatch.delenv("LEADGATE_MODEL_PATH", raising=False)
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def datasets_dir(name: str) -> Path:
    """A shared data set folder, skipping the test with a clear message when absent."""
    path = DATASETS / name
    if not path.is_dir():
        pytest.skip(
            f"data set {name!r} not found at {path} (it lives beside the repository, never in it)"
        )
    return path
