"""One group commit's parts: the queued request (a job), how the queue is cut into
groups, and what one group's transaction does."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from leadgate.common.driver_sql import any_of, fetch
from leadgate.events.schemas import EventCreate
from leadgate.exceptions import LeadgateError
from leadgate.ingest.live import LiveLeads
from leadgate.ingest.screening import ScreeningPolicy
from leadgate.ingest.segment import apply_segment
from leadgate.ingest.service import ingest_requests
from leadgate.leads.models import StageChange
from leadgate.scorecards.service import Qualified
from leadgate.scoring.nodes import ScoringModel

__all__ = [
    "ForgetsKeys",
    "GroupContext",
    "GroupResult",
    "Job",
    "KeyRevokedError",
    "apply_group",
    "next_group",
    "settle",
]


class KeyRevokedError(LeadgateError):
    """The request's API key was revoked after it was checked (answered 401)."""


@dataclass
class Job:
    """One queued request: native events or Segment messages, and its answer's future."""

    key_id: str
    future: asyncio.Future[Any]
    events: Sequence[EventCreate] = ()
    messages: list[dict[str, Any]] | None = None
    #: sent with a public (browser) key: an identify fills a known lead's empty
    #: fields only (see :func:`apply_segment`)
    public: bool = False
    #: when waiting for another writer's lock stops (monotonic; set on the first wait)
    deadline: float | None = None

    @property
    def size(self) -> int:
        return len(self.messages) if self.messages is not None else len(self.events)


def next_group(pending: deque[Job], max_events: int) -> list[Job]:
    """Take the next group off the front of the queue: requests in arrival order until
    ``max_events`` events (always at least one request, however large)."""
    jobs: list[Job] = []
    size = 0
    while pending and (not jobs or size < max_events):
        job = pending.popleft()
        jobs.append(job)
        size += job.size
    return jobs


def settle(job: Job, outcome: Any) -> None:
    """Answer a request (unless its client went away and it was cancelled)."""
    if job.future.done():
        return
    if isinstance(outcome, BaseException):
        job.future.set_exception(outcome)
    else:
        job.future.set_result(outcome)


class ForgetsKeys(Protocol):
    """The key cache: forgets keys found revoked."""

    def forget(self, key_ids: Iterable[str]) -> None: ...


@dataclass(frozen=True)
class GroupContext:
    """What one group's transaction works with: the model and event names, the kept
    leads, the key cache, and the handoff of new stage entries."""

    model: ScoringModel
    event_names: dict[str, str]
    live: LiveLeads
    keys: ForgetsKeys
    handoff: Callable[[Session, Sequence[StageChange], datetime], None]
    #: which tracking calls are kept (bots, consent: the service's settings)
    screening: ScreeningPolicy = field(default_factory=ScreeningPolicy)


@dataclass
class GroupResult:
    """Each request's outcome (its result or its error), and whether the group wrote
    outbox messages (the delivery worker is woken after the commit)."""

    outcomes: list[Any]
    queued_messages: bool = False


def apply_group(
    session: Session, jobs: Sequence[Job], *, context: GroupContext, now: datetime
) -> GroupResult:
    """Apply ``jobs`` in ``session``'s transaction, as if one after the other.

    A request whose key was revoked since it was checked gets KeyRevokedError and
    writes nothing; native events of consecutive requests go through one
    :func:`ingest_requests`; Segment messages through :func:`apply_segment`, in
    arrival order across the two kinds. A handoff, and any Segment message, makes
    the kept leads checked again before their next use.
    """
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
        context.keys.forget(revoked)
    result = GroupResult(outcomes=[None] * len(jobs))
    natives: list[int] = []

    def handoff(qualified: Sequence[Qualified]) -> None:
        changes = [q.change for q in qualified if q.change is not None]
        if changes:
            context.handoff(session, changes, now)
            result.queued_messages = True
            # playbook actions may change other leads or their accounts
            context.live.distrust()

    def flush_natives() -> None:
        if not natives:
            return
        results = ingest_requests(
            session,
            requests=[jobs[index].events for index in natives],
            model=context.model,
            now=now,
            live=context.live,
            on_qualified=handoff,
            trusted=True,  # the memory's epoch says what may be trusted
        )
        for index, outcome in zip(natives, results, strict=True):
            result.outcomes[index] = outcome
        natives.clear()

    for index, job in enumerate(jobs):
        if job.key_id in revoked:
            result.outcomes[index] = KeyRevokedError("API key revoked")
        elif job.messages is None:
            natives.append(index)
        else:
            flush_natives()  # keep arrival order across the two kinds
            applied = apply_segment(
                session,
                messages=job.messages,
                model=context.model,
                names=context.event_names,
                now=now,
                live=context.live,
                policy=context.screening,
                public=job.public,
                key_id=job.key_id,
            )
            handoff(applied.ingest.qualified)
            # identify, group and merges change leads under the memory
            context.live.distrust()
            result.outcomes[index] = applied
    flush_natives()
    return result
