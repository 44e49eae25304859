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

Its parts, each testable alone: :mod:`leadgate.ingest.group` (a queued request,
how the queue is cut into groups, one group's transaction) and
:mod:`leadgate.ingest.gate` (SQLite's lock and commit counter). The writer owns
the leads it keeps in memory (``GroupWriter.live``); a test hands it another
gate or group function through the constructor.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from leadgate.common.ids import utcnow
from leadgate.db.engine import Database
from leadgate.events.schemas import EventCreate
from leadgate.exceptions import BusyError, LeadgateError
from leadgate.ingest.gate import SqliteGate, WriteLockBusyError, is_locked
from leadgate.ingest.group import (
    ForgetsKeys,
    GroupContext,
    GroupResult,
    Job,
    KeyRevokedError,
    apply_group,
    next_group,
    settle,
)
from leadgate.ingest.live import LiveLeads
from leadgate.ingest.screening import ScreeningPolicy
from leadgate.ingest.segment import SegmentResult
from leadgate.ingest.service import IngestResult
from leadgate.leads.models import StageChange
from leadgate.scoring.nodes import ScoringModel

__all__ = ["GroupWriter", "KeyRevokedError", "WriterHost"]

log = logging.getLogger("leadgate.serve")


class WriterHost(Protocol):
    """What the writer needs from the running service (``api.deps.ServiceState``
    provides it; tests may pass anything shaped so)."""

    model: ScoringModel
    event_names: dict[str, str]
    screening: ScreeningPolicy
    database: Database
    writes: Database
    write_lock: threading.Lock
    outbox_ready: threading.Event

    @property
    def keys(self) -> ForgetsKeys: ...

    def handoff(self, session: Session, changes: Sequence[StageChange], now: datetime) -> None:
        """Run the handoff of these stage entries in ``session``'s transaction."""


#: One group's transaction (``apply_group`` unless a test hands in another).
ApplyGroup = Callable[..., GroupResult]


class GroupWriter:
    """Apply ingest requests of one service in group commits (see the module docstring)."""

    def __init__(
        self,
        service: WriterHost,
        *,
        live_leads: int = 100_000,
        max_events: int = 5_000,
        busy_wait: float = 10.0,
        lock_try: float = 0.05,
        gate: SqliteGate | None = None,
        group: ApplyGroup = apply_group,
    ) -> None:
        self.service = service
        #: the leads this writer keeps in memory, with their indexed histories
        self.live = LiveLeads(service.model, capacity=live_leads)
        self.max_events = max_events
        self.busy_wait = busy_wait
        self.lock_try = lock_try
        self.gate = gate or SqliteGate()
        self.group = group
        self._pending: deque[Job] = deque()
        self._scheduled = False
        self._waiting = False
        self.groups = 0
        self.requests = 0
        self.lock_waits = 0
        #: the writer's connection and its ``data_version`` after its last commit
        self._seen: tuple[object, int] | None = None

    async def events(self, events: Sequence[EventCreate], *, key_id: str) -> IngestResult:
        """Store native events and qualify their leads; raises the request's error."""
        future = asyncio.get_running_loop().create_future()
        result: IngestResult = await self._submit(Job(key_id, future, events=events))
        return result

    async def segment(
        self, messages: list[dict[str, Any]], *, key_id: str, public: bool = False
    ) -> SegmentResult:
        """Apply Segment messages (each one stored or rejected on its own); ``public``:
        sent with a public (browser) key."""
        future = asyncio.get_running_loop().create_future()
        job = Job(key_id, future, messages=messages, public=public)
        result: SegmentResult = await self._submit(job)
        return result

    async def _submit(self, job: Job) -> Any:
        self._pending.append(job)
        if not self._scheduled and not self._waiting:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._drain)
        return await job.future

    def _drain(self) -> None:
        """Apply what is queued, one group of at most ``max_events`` at a time."""
        self._scheduled = False
        while self._pending and not self._waiting:
            self._apply(next_group(self._pending, self.max_events))

    def _wait_for_lock(self, jobs: list[Job], retry: float | None = None) -> None:
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
                settle(job, busy)
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

    def _context(self) -> GroupContext:
        service = self.service
        return GroupContext(
            model=service.model,
            event_names=service.event_names,
            live=self.live,
            keys=service.keys,
            handoff=service.handoff,
            screening=service.screening,
        )

    def _apply(self, jobs: list[Job]) -> None:
        service = self.service
        now = utcnow()
        if not service.write_lock.acquire(blocking=False):
            # a REST call or the scheduler of this process is writing (in a thread)
            self._wait_for_lock(jobs, retry=0.005)
            return
        result: GroupResult | None
        seen = None
        try:
            with service.writes.session() as session:
                connection = session.connection()
                self.gate.take(connection, self.lock_try)
                if service.writes is not service.database:  # a connection of its own
                    seen = self.gate.data_version(connection)
                if seen is None or seen != self._seen:
                    # another connection committed (or the writer cannot tell)
                    self.live.distrust()
                result = self.group(session, jobs, context=self._context(), now=now)
            self._seen = seen
        except WriteLockBusyError:
            self._wait_for_lock(jobs)  # nothing was done: the memory is still right
            return
        except Exception as exc:
            self._seen = None
            self.live.clear()  # the memory saw changes that were rolled back
            if is_locked(exc):
                # another process holds the database: retrying each request alone
                # would only wait again, once per request; all of them get a 503
                busy = BusyError("database locked by another writer; nothing stored, retry")
                for job in jobs:
                    settle(job, busy)
                return
            if len(jobs) == 1:
                if not isinstance(exc, LeadgateError):
                    log.exception("ingest request failed")
                settle(jobs[0], exc)
                return
            result = None  # retried alone below, once the lock is released
        finally:
            service.write_lock.release()
        if result is None:
            self._apply_one_by_one(jobs)
            return
        self.groups += 1
        self.requests += len(jobs)
        if result.queued_messages:
            service.outbox_ready.set()
        for job, outcome in zip(jobs, result.outcomes, strict=True):
            settle(job, outcome)

    def _apply_one_by_one(self, jobs: list[Job]) -> None:
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
