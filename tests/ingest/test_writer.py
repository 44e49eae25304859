"""The group writer alone: a failing request is retried apart from its group, and the
leads kept in memory stay within their capacity."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from leadgate.actions.playbooks import default_playbooks
from leadgate.api.deps import ServiceState
from leadgate.common.ids import utcnow
from leadgate.config import Settings
from leadgate.db.engine import Database, sqlite_path
from leadgate.events.models import Event
from leadgate.events.schemas import EventCreate
from leadgate.exceptions import BusyError
from leadgate.ingest.gate import SqliteGate, WriteLockBusyError
from leadgate.ingest.group import GroupResult, Job, apply_group
from leadgate.ingest.live import LiveLeads
from leadgate.ingest.service import ingest_events
from leadgate.ingest.writer import GroupWriter
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import upsert_lead
from leadgate.scoring import load_model
from tests.conftest import USING_POSTGRES

MODEL = load_model(
    """
version: 1
name: writer-test
groups:
  engagement:
    rules:
      - {id: click, event: email.clicked, points: 15}
mql: {score: engagement, gte: 100}
"""
)


def _service(db: Database, database_url: str, **writer: Any) -> ServiceState:
    """The service; ``writer`` options (a gate, a group function) replace its writer."""
    service = ServiceState(
        settings=Settings(database_url=database_url),
        database=db,
        model=MODEL,
        event_names={},
        playbooks=default_playbooks(),
    )
    if writer:
        service.writer = GroupWriter(service, **writer)
    return service


def _event(index: int, kind: str = "email.clicked") -> EventCreate:
    return EventCreate(
        event_id=f"w{index}", email=f"w{index % 3}@acme.cz", type=kind, occurred_at=utcnow()
    )


class TestGroupWriter:
    def test_a_request_failing_its_group_fails_alone(self, db: Database, database_url: str) -> None:
        """An unexpected error rolls the group back; every request is retried on its own,
        so only the failing one gets the error and the others are stored."""
        with db.session() as session:
            for index in range(3):
                upsert_lead(session, data=LeadCreate(email=f"w{index}@acme.cz"), now=utcnow())
        service = _service(db, database_url, group=_failing_on_boom)
        outcomes = asyncio.run(_send_with_one_failing(service, count=9, failing=4))
        assert isinstance(outcomes[4], RuntimeError)
        assert all(not isinstance(o, Exception) for i, o in enumerate(outcomes) if i != 4)
        with db.session() as session:
            ids = set(session.scalars(select(Event.event_id)))
        assert ids == {f"w{i}" for i in range(9) if i != 4}
        assert service.writer.groups >= 8  # the retries committed one by one

    def test_a_lock_met_while_retrying_alone_keeps_the_order(
        self, db: Database, database_url: str
    ) -> None:
        """A group fails and its requests are retried alone; when another writer's lock
        appears at the first retry, that request and all after it wait and are then
        stored in their arrival order (the failing one still fails alone)."""
        with db.session() as session:
            for index in range(3):
                upsert_lead(session, data=LeadCreate(email=f"w{index}@acme.cz"), now=utcnow())
        service = _service(db, database_url, group=_failing_on_boom, gate=_LockedAtTheSecondTry())
        outcomes = asyncio.run(_send_with_one_failing(service, count=5, failing=2))
        assert isinstance(outcomes[2], RuntimeError)
        assert [o.stored for i, o in enumerate(outcomes) if i != 2] == [
            ["w0"],
            ["w1"],
            ["w3"],
            ["w4"],
        ]
        assert service.writer.lock_waits == 1
        with db.session() as session:
            order = session.scalars(select(Event.event_id).order_by(Event.pk)).all()
        assert order == ["w0", "w1", "w3", "w4"]

    def test_the_services_own_write_lock_is_waited_for_off_the_loop(
        self, db: Database, database_url: str
    ) -> None:
        """While a REST call or the scheduler holds the service's write lock (in its
        thread), a request waits without holding the event loop, and is stored once
        the lock is released."""
        with db.session() as session:
            upsert_lead(session, data=LeadCreate(email="w0@acme.cz"), now=utcnow())
        service = _service(db, database_url)
        service.write_lock.acquire()

        async def send() -> tuple[Any, float, bool]:
            task = asyncio.create_task(service.writer.events([_event(0)], key_id="k"))
            stall = await _longest_stall(0.3)
            waited = not task.done()
            service.write_lock.release()
            return await task, stall, waited

        result, stall, waited = asyncio.run(send())
        assert waited and result.stored == ["w0"]
        assert stall < 0.2
        assert service.writer.lock_waits >= 1

    @pytest.mark.skipif(USING_POSTGRES, reason="SQLite's single-writer lock")
    def test_a_database_locked_by_another_process_answers_busy_without_storing(
        self, db: Database, database_url: str
    ) -> None:
        """Another process holds the write lock past the writer's wait: every request of
        the group is told to retry (503) with nothing stored; meanwhile the event loop
        kept running (the requests waited off it); once the lock is gone the same
        requests are stored."""
        with db.session() as session:
            upsert_lead(session, data=LeadCreate(email="w0@acme.cz"), now=utcnow())
        service = _service(db, database_url)
        service.writer.busy_wait = 1.0
        holder = _hold_write_lock(database_url)
        try:

            async def send() -> tuple[list[Any], float]:
                jobs = [service.writer.events([_event(i * 3)], key_id="k") for i in range(4)]
                ticker = asyncio.create_task(_longest_stall(1.2))
                outcomes = await asyncio.gather(*jobs, return_exceptions=True)
                return outcomes, await ticker

            outcomes, stall = asyncio.run(send())
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert all(isinstance(outcome, BusyError) for outcome in outcomes)
        assert service.writer.lock_waits >= 2  # it tried again while waiting
        assert stall < 0.5  # one try holds the loop ~50 ms, never the whole second
        with db.session() as session:
            assert session.scalar(select(func.count()).select_from(Event)) == 0
        again = asyncio.run(service.writer.events([_event(0)], key_id="k"))
        assert again.stored == ["w0"]

    @pytest.mark.skipif(USING_POSTGRES, reason="SQLite's single-writer lock")
    def test_requests_waiting_for_a_lock_are_stored_once_it_is_released(
        self, db: Database, database_url: str
    ) -> None:
        """A lock held for less than the writer's wait costs a delay, not an error: the
        waiting requests, and those that arrived behind them, are all stored, in order."""
        with db.session() as session:
            upsert_lead(session, data=LeadCreate(email="w0@acme.cz"), now=utcnow())
        service = _service(db, database_url)
        holder = _hold_write_lock(database_url)

        async def send() -> list[Any]:
            first = [
                asyncio.create_task(service.writer.events([_event(i * 3)], key_id="k"))
                for i in range(3)
            ]
            await asyncio.sleep(0.3)  # they are waiting for the lock now
            later = service.writer.events([_event(9)], key_id="k")
            holder.execute("ROLLBACK")
            return await asyncio.gather(*first, later, return_exceptions=True)

        try:
            outcomes = asyncio.run(send())
        finally:
            holder.close()
        assert [outcome.stored for outcome in outcomes] == [["w0"], ["w3"], ["w6"], ["w9"]]
        assert service.writer.lock_waits >= 1


def _failing_on_boom(session: Session, jobs: Sequence[Job], **kw: Any) -> GroupResult:
    """A group transaction that fails any group holding a ``boom.fail`` event."""
    if any(e.type == "boom.fail" for job in jobs for e in job.events):
        raise RuntimeError("disk on fire")
    return apply_group(session, jobs, **kw)


class _LockedAtTheSecondTry(SqliteGate):
    """Another writer's lock appears once: at the second group (the first retry alone)."""

    def __init__(self) -> None:
        self.tries = 0

    def take(self, connection: Connection, seconds: float) -> None:
        self.tries += 1
        if self.tries == 2:
            raise WriteLockBusyError()
        super().take(connection, seconds)


async def _send_with_one_failing(service: ServiceState, *, count: int, failing: int) -> list[Any]:
    """``count`` one-event requests at once, request ``failing`` carrying ``boom.fail``."""
    jobs = [
        service.writer.events(
            [_event(i, "boom.fail" if i == failing else "email.clicked")], key_id="k"
        )
        for i in range(count)
    ]
    return await asyncio.gather(*jobs, return_exceptions=True)


def _hold_write_lock(database_url: str) -> sqlite3.Connection:
    """Another connection (as another process would) holding SQLite's write lock."""
    path = sqlite_path(database_url)
    assert path is not None
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


async def _longest_stall(seconds: float) -> float:
    """The longest the event loop went without running this task, over ``seconds``."""
    longest = 0.0
    end = time.monotonic() + seconds
    last = time.monotonic()
    while last < end:
        await asyncio.sleep(0.01)
        now = time.monotonic()
        longest = max(longest, now - last)
        last = now
    return longest


class TestLiveLeads:
    def test_the_least_recently_used_leads_are_dropped_beyond_capacity(self, db: Database) -> None:
        """Three leads through a memory of two: two kept, scores still right."""
        with db.session() as session:
            for index in range(3):
                upsert_lead(session, data=LeadCreate(email=f"w{index}@acme.cz"), now=utcnow())
        live = LiveLeads(MODEL, capacity=2)
        scores = []
        for index in range(6):
            with db.session() as session:
                result = ingest_events(
                    session, events=[_event(index)], model=MODEL, now=utcnow(), live=live
                )
                scores.append(next(iter(result.leads.values())).scores["engagement"])
            assert len(live) <= 2
        # each lead got its second click at the 4th, 5th and 6th request
        assert scores[3:] == pytest.approx([30.0, 30.0, 30.0])
        assert live.loads >= 4  # the dropped leads were read again
        with db.session() as session:
            assert session.scalar(select(func.count()).select_from(Event)) == 6
