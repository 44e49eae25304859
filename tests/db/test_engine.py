"""Storage basics: migrations, SQLite settings, and time zones that survive a round trip."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from leadgate.config import Settings
from leadgate.db.engine import Database, open_database, sqlite_path
from leadgate.db.models import Base
from leadgate.exceptions import ConfigError
from leadgate.leads.models import Lead, StageChange
from tests.conftest import USING_POSTGRES


class TestMigrations:
    def test_migrations_create_every_table(self, db: Database) -> None:
        """The Alembic migration and the ORM metadata describe the same tables."""
        tables = set(inspect(db.engine).get_table_names())
        assert {table.name for table in Base.metadata.sorted_tables} <= tables
        assert "alembic_version" in tables

    def test_migrating_twice_is_harmless(self, database_url: str) -> None:
        first = open_database(database_url)
        first.dispose()
        second = open_database(database_url)
        with second.engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        second.dispose()
        from alembic.script import ScriptDirectory

        from leadgate.db.engine import alembic_config

        head = ScriptDirectory.from_config(alembic_config(second.engine)).get_current_head()
        assert version == head == "0014"

    @pytest.mark.skipif(USING_POSTGRES, reason="migrates a database of its own from 0005")
    def test_upgrade_counts_the_events_already_stored(self, tmp_path: Path) -> None:
        """0006 adds ``leads.events_stored`` filled with each lead's events, so the
        service's check against it holds for databases older than the column."""
        from alembic import command

        from leadgate.db.engine import alembic_config, make_engine, migrate

        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        config = alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0005")
        stamp = "2025-01-01 00:00:00.000000"
        with engine.begin() as connection:
            for lead_id in ("A", "B"):
                connection.exec_driver_sql(
                    "INSERT INTO leads (id, email, email_key, do_not_email, do_not_call, "
                    "attributes, stage, stage_changed_at, created_at, updated_at) "
                    "VALUES (?, ?, ?, 0, 0, '{}', 'lead', ?, ?, ?)",
                    (lead_id, f"{lead_id}@x.io", f"{lead_id}@x.io", stamp, stamp, stamp),
                )
            for number in range(3):
                connection.exec_driver_sql(
                    "INSERT INTO events (event_id, lead_id, type, occurred_at, properties, "
                    "received_at) VALUES (?, 'A', 'email.opened', ?, '{}', ?)",
                    (f"e{number}", stamp, stamp),
                )
        migrate(engine)
        with engine.connect() as connection:
            counts = connection.exec_driver_sql("SELECT id, events_stored FROM leads ORDER BY id")
            assert [tuple(row) for row in counts] == [("A", 3), ("B", 0)]
        engine.dispose()


@pytest.mark.skipif(USING_POSTGRES, reason="SQLite-specific settings")
class TestSqlite:
    def test_wal_and_foreign_keys_are_on(self, db: Database) -> None:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1

    def test_page_cache_and_checkpoints_suit_the_write_load(self, db: Database) -> None:
        """A 64 MiB page cache and a checkpoint every 10,000 WAL pages (see _sqlite_pragmas)."""
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == -65536
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 10000

    def test_zero_configuration_uses_leadgate_db_in_the_working_directory(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("LEADGATE_DATABASE_URL", raising=False)
        monkeypatch.chdir(tmp_path)
        database = open_database(settings=Settings())
        database.dispose()
        assert (tmp_path / "leadgate.db").exists()

    def test_missing_folder_is_a_clear_error(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="does not exist"):
            open_database(f"sqlite:///{tmp_path}/nowhere/x.db")

    def test_sqlite_path(self) -> None:
        assert sqlite_path("sqlite:///a/b.db") == Path("a/b.db")
        assert sqlite_path("sqlite://") is None
        assert sqlite_path("postgresql+psycopg://u@h/db") is None


def _lead(lead_id: str, at: datetime | None = None) -> Lead:
    """A lead row whose times are all ``at`` (default: now)."""
    at = at or datetime.now(UTC)
    return Lead(
        id=lead_id,
        email=f"{lead_id}@b.cz",
        email_key=f"{lead_id}@b.cz",
        stage="lead",
        stage_changed_at=at,
        created_at=at,
        updated_at=at,
        attributes={},
        do_not_email=False,
        do_not_call=False,
    )


class TestTimestamps:
    def test_aware_times_round_trip_as_utc(self, db: Database) -> None:
        """A time written in +02:00 reads back as the same instant in UTC."""
        prague = timezone(timedelta(hours=2))
        written = datetime(2026, 6, 1, 12, 30, 15, 123456, tzinfo=prague)
        with db.session() as session:
            session.add(_lead("l1", at=written))
        with db.session() as session:
            read = session.scalars(select(Lead.stage_changed_at)).one()
        assert read == written
        assert read.tzinfo is not None and read.utcoffset() == timedelta(0)

    def test_naive_datetimes_are_refused(self, db: Database) -> None:
        with pytest.raises(Exception, match="naive datetime"), db.session() as session:
            session.add(
                StageChange(
                    lead_id="x",
                    from_stage=None,
                    to_stage="lead",
                    at=datetime(2026, 1, 1),
                    actor="t",
                )
            )
            session.flush()


def _lead_ids(session: Session) -> list[str]:
    return list(session.scalars(select(Lead.id).order_by(Lead.id)))


class TestSnapshot:
    """``Database.snapshot``: the read endpoints' read-only view of one moment."""

    def test_reads_agree_while_another_writer_commits(self, db: Database) -> None:
        """A commit made after the snapshot's first read is not seen by its later reads
        (a lead and its events are read as of the same moment)."""
        with db.session() as session:
            session.add(_lead("a"))
        reads = db.with_own_pool(pool_size=2)
        try:
            with reads.snapshot() as snap:
                assert _lead_ids(snap) == ["a"]
                with db.session() as session:
                    session.add(_lead("b"))
                assert _lead_ids(snap) == ["a"]
            with reads.snapshot() as snap:
                assert _lead_ids(snap) == ["a", "b"]
        finally:
            reads.dispose()

    def test_a_write_is_refused_and_the_connection_goes_back_writable(self, db: Database) -> None:
        """A write inside a snapshot fails in the database and stores nothing; the same
        pooled connection then writes again outside snapshots."""
        reads = db.with_own_pool(pool_size=1)
        try:
            with pytest.raises(DBAPIError), reads.snapshot() as snap:
                snap.add(_lead("x"))
                snap.flush()
            with reads.session() as session:
                assert _lead_ids(session) == []
                session.add(_lead("y"))
            with db.session() as session:
                assert _lead_ids(session) == ["y"]
        finally:
            reads.dispose()

    def test_a_snapshot_waits_for_no_writer(self, db: Database) -> None:
        """While another connection holds an uncommitted write, a snapshot reads at once
        (and without that write)."""
        with db.session() as session:
            session.add(_lead("a"))
        reads = db.with_own_pool(pool_size=1)
        writer = db.engine.connect()
        try:
            transaction = writer.begin()
            writer.exec_driver_sql("UPDATE leads SET stage = 'mql' WHERE id = 'a'")
            started = time.monotonic()
            with reads.snapshot() as snap:
                assert snap.scalars(select(Lead.stage)).all() == ["lead"]
            assert time.monotonic() - started < 2  # SQLite's busy timeout is 10 s
            transaction.rollback()
        finally:
            writer.close()
            reads.dispose()

    def test_in_memory_sqlite_reads_through_its_own_engine(self) -> None:
        """An in-memory database has no second way in: its reader is itself."""
        memory = open_database("sqlite://")
        try:
            assert memory.with_own_pool() is memory
        finally:
            memory.dispose()


class TestSettings:
    def test_postgres_urls_get_the_psycopg_driver(self) -> None:
        assert Settings(database_url="postgresql://u:p@h/db").database_url.startswith(
            "postgresql+psycopg://"
        )

    def test_unknown_backend_is_refused(self) -> None:
        with pytest.raises(ValueError, match="must start with sqlite:// or postgresql://"):
            Settings(database_url="mysql://u@h/db")


class TestMigrationsMatchTheModels:
    def test_the_migrated_schema_has_every_table_column_and_index_of_the_models(
        self, db: Database
    ) -> None:
        """Alembic's comparison of the migrated database with the models finds nothing
        to add or drop (a model changed without its migration fails here)."""
        from alembic.autogenerate import compare_metadata
        from alembic.migration import MigrationContext

        from leadgate.db.models import Base

        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        structural = [
            change
            for change in diff
            if isinstance(change, tuple) and change[0].startswith(("add_", "remove_"))
        ]
        assert structural == []
