"""The writer's parts alone: cutting the queue into groups, SQLite's gate, and one
group's transaction (no patching: each part is called, or handed in, directly)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import deque
from typing import Any

import pytest
from sqlalchemy import text

from leadgate.common.ids import utcnow
from leadgate.db.engine import Database, sqlite_path
from leadgate.events.schemas import EventCreate
from leadgate.ingest.gate import SqliteGate, WriteLockBusyError
from leadgate.ingest.group import GroupContext, Job, KeyRevokedError, apply_group, next_group
from leadgate.ingest.live import LiveLeads
from leadgate.keys import create_key, revoke_key
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import upsert_lead
from leadgate.scoring import load_model
from tests.conftest import USING_POSTGRES

MODEL = load_model(
    """
version: 1
name: parts
groups:
  engagement:
    rules:
      - {id: click, event: email.clicked, points: 15}
mql: {score: engagement, gte: 100}
"""
)


def _job(key: str, events: int) -> Job:
    loop = asyncio.new_event_loop()
    try:
        future: asyncio.Future[Any] = loop.create_future()
    finally:
        loop.close()
    click = EventCreate(email="a@acme.cz", type="email.clicked", occurred_at=utcnow())
    return Job(key, future, events=[click] * events)


class TestNextGroup:
    def test_groups_fill_up_to_the_event_budget_in_arrival_order(self) -> None:
        pending = deque([_job("a", 3), _job("b", 3), _job("c", 3), _job("d", 1)])
        assert [job.key_id for job in next_group(pending, 5)] == ["a", "b"]
        assert [job.key_id for job in next_group(pending, 5)] == ["c", "d"]
        assert not pending

    def test_one_request_larger_than_the_budget_is_a_group_of_its_own(self) -> None:
        pending = deque([_job("big", 50), _job("small", 1)])
        assert [job.key_id for job in next_group(pending, 5)] == ["big"]
        assert [job.key_id for job in next_group(pending, 5)] == ["small"]


@pytest.mark.skipif(USING_POSTGRES, reason="SQLite's one writer")
class TestSqliteGate:
    def test_a_lock_held_elsewhere_is_busy_and_a_commit_elsewhere_is_seen(
        self, db: Database, database_url: str
    ) -> None:
        gate = SqliteGate()
        path = sqlite_path(database_url)
        assert path is not None
        other = sqlite3.connect(path, isolation_level=None)
        try:
            with db.engine.connect() as connection:
                before = gate.data_version(connection)
                connection.rollback()
                other.execute("BEGIN IMMEDIATE")
                with pytest.raises(WriteLockBusyError):
                    gate.take(connection, 0.01)
                connection.rollback()
                other.execute("INSERT INTO meta (key, value) VALUES ('gate', 'x')")
                other.execute("COMMIT")
                assert gate.data_version(connection) != before
                gate.take(connection, 0.01)  # free again: taken
                connection.rollback()
                busy_timeout = connection.execute(text("PRAGMA busy_timeout")).scalar()
                assert busy_timeout == connection.info["busy_timeout"]  # put back
        finally:
            other.close()


class TestApplyGroup:
    def test_a_revoked_key_writes_nothing_and_the_others_are_applied(self, db: Database) -> None:
        now = utcnow()
        with db.session() as session:
            upsert_lead(session, data=LeadCreate(email="a@acme.cz"), now=now)
            good, _ = create_key(session, name="good", scope="ingest", now=now)
            gone, _ = create_key(session, name="gone", scope="ingest", now=now)
            revoke_key(session, key_id=gone.id, now=now)
        forgotten: list[str] = []

        class Keys:
            def forget(self, key_ids: Any) -> None:
                forgotten.extend(key_ids)

        context = GroupContext(
            model=MODEL,
            event_names={},
            live=LiveLeads(MODEL),
            keys=Keys(),
            handoff=lambda session, changes, at: None,
        )
        with db.session() as session:
            result = apply_group(
                session, [_job(good.id, 2), _job(gone.id, 1)], context=context, now=now
            )
        first, second = result.outcomes
        assert len(first.stored) + len(first.duplicates) == 2
        assert isinstance(second, KeyRevokedError)
        assert forgotten == [gone.id]
        assert result.queued_messages is False
