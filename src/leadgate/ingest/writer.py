"""The ingest writer: tracking requests applied in group commits.

Requests do not each open a transaction. They queue their events (or Segment
messages) and wait; the writer takes everything queued (up to ``max_events``),
applies it in one transaction, in arrival order, and commits once. Under load
a commit serves many requests, which is what lets one SQLite writer keep up;
when idle a group is a single request and waits for nobody.

The writer runs on the server's event loop, right after the loop has read
what the connections sent: no thread hand-offs on the request path. (On one
process the database work holds the interpreter anyway; while a group runs,
new requests wait in the sockets and form the next group.)

Every request still gets its own answer: a request naming an unknown lead gets
its 404 and writes nothing, while the others of its group are stored. When
anything else fails, the group is rolled back and each request is retried alone,
so one bad request can never take others down with it. A response is sent only
after the commit that stored its events: an acknowledged event is never lost.

Nothing here waits for a lock on the loop. A group first takes the service's
write lock (held by REST calls and the scheduler, in their threads) without
waiting, then SQLite's write lock, which another process (an import, the CLI)
may hold, waiting at most ``lock_try`` seconds. When either is taken, the
queued requests wait *off* the loop (it keeps serving reads and accepting
requests) and the group tries again, until ``busy_wait`` seconds have passed
for a request: then it answers 503 with nothing stored.

The writer has a connection of its own. On SQLite, ``PRAGMA data_version`` on it
tells whether any other connection (a REST write, the scheduler, another
process) has committed since the writer's last commit; while none has, the
leads it keeps in memory are known to match the database and are used without
reading their fingerprints (:meth:`LiveLeads.resolve`). Anything else (a Segment
message, which may create or change leads; a handoff, whose actions may change
leads and accounts; a failed group; PostgreSQL) makes the memory checked again.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from leadgate.common.driver_sql import any_of, fetch
from leadgate.common.ids import utcnow
from leadgate.db.engine import Database
from leadgate.events.schemas import EventCreate
from leadgate.exceptions import BusyError, LeadgateError
from leadgate.ingest.live import LiveLeads
from leadgate.ingest.segment import SegmentResult, apply_segment
from leadgate.ingest.service import IngestResult, ingest_requests
from leadgate.leads.models import StageChange
from leadgate.scorecards.service import Qualified
from leadgate.scoring.nodes import ScoringModel

__all__ = ["GroupWriter", "KeyRevokedError", "WriterHost"]


class _ForgetsKeys(Protocol):
    def forget(self, key_ids: Iterable[str]) -> None: ...


class WriterHost(Protocol):
    """What the writer needs from the running service (``api.deps.ServiceState``
    provides it; tests may pass anything shaped so)."""

    model: ScoringModel
    event_names: dict[str, str]
    database: Database
    writes: Database
    live: LiveLeads
    write_lock: threading.Lock
    outbox_ready: threading.Event

    @property
    def keys(self) -> _ForgetsKeys: ...

    def handoff(self, session: Session, changes: Sequence[StageChange], now: datetime) -> None:
        """Run the handoff of these stage entries in ``session``'s transaction."""


log = logging.getLogger("leadgate.serve")


class KeyRevokedError(LeadgateError):
    """The request's API key was revoked after it was checked (answered 401)."""


class _WriteLockBusyError(LeadgateError):
    """Another connection holds SQLite's write lock; nothing was done yet."""


@dataclass
class _Job:
    key_id: str
    future: asyncio.Future[Any]
    events: Sequence[EventCreate] = ()
    messages: list[dict[str, Any]] | None = None
    #: when waiting for another writer's lock stops (monotonic; set on the first wait)
    deadline: float | None = None

    @property
    def size(self) -> int:
        return len(self.messages) if self.messages is not None else len(self.events)


class GroupWriter:
    """Apply ingest requests of one service in group commits (see the module docstring)."""

    def __init__(
        self,
        service: WriterHost,
        *,
        max_events: int = 5_000,
        busy_wait: float = 10.0,
        lock_try: float = 0.05,
    ) -> None:
        self.service = service
        self.max_events = max_events
        self.busy_wait = busy_wait
        self.lock_try = lock_try
        self._pending: deque[_Job] = deque()
        self._scheduled = False
        self._waiting = False
        self._queued_messages = False
        self.groups = 0
        self.requests = 0
        self.lock_waits = 0
        #: the writer's connection and its ``data_version`` after its last commit
        self._seen: tuple[object, int] | None = None

    async def events(self, events: Sequence[EventCreate], *, key_id: str) -> IngestResult:
        """Store native events and qualify their leads; raises the request's error."""
        future = asyncio.get_running_loop().create_future()
        result: IngestResult = await self._submit(_Job(key_id, future, events=events))
        return result

    async def segment(self, messages: list[dict[str, Any]], *, key_id: str) -> SegmentResult:
        """Apply Segment messages (each one stored or rejected on its own)."""
        future = asyncio.get_running_loop().create_future()
        result: SegmentResult = await self._submit(_Job(key_id, future, messages=messages))
        return result

    async def _submit(self, job: _Job) -> Any:
        self._pending.append(job)
        if not self._scheduled and not self._waiting:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._drain)
        return await job.future

    def _drain(self) -> None:
        """Apply what is queued, one group of at most ``max_events`` at a time."""
        self._scheduled = False
        while self._pending and not self._waiting:
            jobs: list[_Job] = []
            size = 0
            while self._pending and (not jobs or size < self.max_events):
                job = self._pending.popleft()
                jobs.append(job)
                size += job.size
            self._apply(jobs)

    def _wait_for_lock(self, jobs: list[_Job], retry: float | None = None) -> None:
        """Put the group back in front of the queue and try again in ``retry`` seconds
        (default: twice ``lock_try``), off the loop; requests that have waited
        ``busy_wait`` get their 503 now."""
        self.lock_waits += 1
        now = time.monotonic()
        busy = BusyError("database locked by another writer; nothing stored, retry")
        waiting = []
        for job in jobs:
            if job.deadline is None:
                job.deadline = now + self.busy_wait
            if job.deadline <= now:
                _settle(job, busy)
            else:
                waiting.append(job)
        self._pending.extendleft(reversed(waiting))
        if self._pending:
            self._waiting = True
            delay = self.lock_try * 2 if retry is None else retry
            asyncio.get_running_loop().call_later(delay, self._resume)

    def _resume(self) -> None:
        self._waiting = False
        self._drain()

    def _apply(self, jobs: list[_Job]) -> None:
        service = self.service
        now = utcnow()
        self._queued_messages = False
        if not service.write_lock.acquire(blocking=False):
            # a REST call or the scheduler of this process is writing (in a thread)
            self._wait_for_lock(jobs, retry=0.005)
            return
        outcomes: list[Any] | None
        seen = None
        try:
            with service.writes.session() as session:
                connection = session.connection()
                _take_write_lock(connection, self.lock_try)
                if service.writes is not service.database:  # a connection of its own
                    seen = _data_version(connection)
                if seen is None or seen != self._seen:
                    # another connection committed (or the writer cannot tell)
                    service.live.distrust()
                outcomes = self._group(session, jobs, now)
            self._seen = seen
        except _WriteLockBusyError:
            self._wait_for_lock(jobs)  # nothing was done: the memory is still right
            return
        except Exception as exc:
            self._seen = None
            service.live.clear()  # the memory saw changes that were rolled back
            if _locked(exc):
                # another process holds the database: retrying each request alone
                # would only wait again, once per request; all of them get a 503
                busy = BusyError("database locked by another writer; nothing stored, retry")
                for job in jobs:
                    _settle(job, busy)
                return
            if len(jobs) == 1:
                if not isinstance(exc, LeadgateError):
                    log.exception("ingest request failed")
                _settle(jobs[0], exc)
                return
            outcomes = None  # retried alone below, once the lock is released
        finally:
            service.write_lock.release()
        if outcomes is None:
            self._apply_one_by_one(jobs)
            return
        self.groups += 1
        self.requests += len(jobs)
        if self._queued_messages:
            service.outbox_ready.set()
        for job, outcome in zip(jobs, outcomes, strict=True):
            _settle(job, outcome)

    def _apply_one_by_one(self, jobs: list[_Job]) -> None:
        """Retry a failed group's requests alone, in order; if another writer's lock
        appears meanwhile, the rest queue up behind the one that met it."""
        remaining = list(jobs)
        while remaining:
            job = remaining.pop(0)
            self._apply([job])
            if self._waiting:
                if self._pending and self._pending[0] is job:
                    remaining.insert(0, self._pending.popleft())
                self._pending.extendleft(reversed(remaining))
                return

    def _group(self, session: Session, jobs: list[_Job], now: datetime) -> list[Any]:
        service = self.service
        test, params = any_of(
            session.get_bind().dialect.name, "id", sorted({job.key_id for job in jobs})
        )
        revoked = {
            row[0]
            for row in fetch(
                session, f"SELECT id FROM api_keys WHERE revoked_at IS NOT NULL AND {test}", params
            )
        }
        if revoked:
            service.keys.forget(revoked)
        outcomes: list[Any] = [None] * len(jobs)
        natives: list[int] = []

        def handoff(qualified: Sequence[Qualified]) -> None:
            changes = [q.change for q in qualified if q.change is not None]
            if changes:
                service.handoff(session, changes, now)
                self._queued_messages = True
                # playbook actions may change other leads or their accounts
                service.live.distrust()

        def flush_natives() -> None:
            if not natives:
                return
            results = ingest_requests(
                session,
                requests=[jobs[index].events for index in natives],
                model=service.model,
                now=now,
                live=service.live,
                on_qualified=handoff,
                trusted=True,  # the memory's epoch says what may be trusted
            )
            for index, result in zip(natives, results, strict=True):
                outcomes[index] = result
            natives.clear()

        for index, job in enumerate(jobs):
            if job.key_id in revoked:
                outcomes[index] = KeyRevokedError("API key revoked")
            elif job.messages is None:
                natives.append(index)
            else:
                flush_natives()  # keep arrival order across the two kinds
                result = apply_segment(
                    session,
                    messages=job.messages,
                    model=service.model,
                    names=service.event_names,
                    now=now,
                    live=service.live,
                )
                handoff(result.ingest.qualified)
                # identify, group and merges change leads under the memory
                service.live.distrust()
                outcomes[index] = result
        flush_natives()
        return outcomes


def _data_version(connection: Connection) -> tuple[object, int] | None:
    """The driver connection with its SQLite ``data_version``, which changes when any
    other connection commits; None elsewhere (PostgreSQL has no such counter)."""
    if connection.dialect.name != "sqlite":
        return None
    driver = connection.connection.driver_connection
    assert driver is not None
    return driver, int(driver.execute("PRAGMA data_version").fetchone()[0])


def _take_write_lock(connection: Connection, seconds: float) -> None:
    """Take SQLite's write lock now, waiting at most ``seconds`` (not the connection's
    busy timeout: the loop would wait with it); no-op on PostgreSQL (row locks)."""
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
        if _locked(exc):
            raise _WriteLockBusyError from exc
        raise
    finally:
        driver.execute(f"PRAGMA busy_timeout={int(timeout)}")


def _locked(exc: BaseException) -> bool:
    """Whether ``exc`` (through SQLAlchemy or straight from the driver) says the database
    was locked or busy (SQLite's one writer)."""
    text = str(exc).lower()
    return isinstance(exc, (OperationalError, sqlite3.OperationalError)) and (
        "locked" in text or "busy" in text
    )


def _settle(job: _Job, outcome: Any) -> None:
    if job.future.done():  # the client went away and its request was cancelled
        return
    if isinstance(outcome, BaseException):
        job.future.set_exception(outcome)
    else:
        job.future.set_result(outcome)
