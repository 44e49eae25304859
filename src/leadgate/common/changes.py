"""Changes published when their transaction commits: the live queue's source.

A domain service that changes what sales sees (a stage entry, a task created,
overdue or reassigned, an owner changed) calls :func:`note_change` inside its
transaction. The change waits in the session until the commit, then every
subscriber of :data:`FEED` gets it; a rollback drops it. Nothing is published for
work that did not happen, and nothing is found by polling.

Subscribers run on the committing thread: they must only hand the change on
(an asyncio queue through ``call_soon_threadsafe``, a ``threading.Event``).
The feed is per process; every writer of ``leadgate serve`` (requests, the
ingest writer, the scheduler) commits in that process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.orm import Session

__all__ = ["FEED", "Change", "ChangeFeed", "note_change"]

log = logging.getLogger("leadgate.changes")
_PENDING = "leadgate.changes"


@dataclass(frozen=True)
class Change:
    """What changed: ``kind`` is the outbox event type (``lead.mql``, ``task.overdue``...)
    or ``lead.owner_changed``; ``lead_id`` the lead it concerns."""

    kind: str
    lead_id: str | None


Subscriber = Callable[[Sequence[Change]], None]


class ChangeFeed:
    """The process's subscribers to committed changes."""

    def __init__(self) -> None:
        self._subscribers: dict[int, Subscriber] = {}
        self._next = 0
        self._guard = threading.Lock()

    @property
    def active(self) -> bool:
        return bool(self._subscribers)

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` with each commit's changes; returns the unsubscribe."""
        with self._guard:
            token = self._next
            self._next += 1
            self._subscribers[token] = subscriber

        def unsubscribe() -> None:
            with self._guard:
                self._subscribers.pop(token, None)

        return unsubscribe

    def publish(self, changes: Sequence[Change]) -> None:
        with self._guard:
            subscribers = list(self._subscribers.values())
        for subscriber in subscribers:
            try:
                subscriber(changes)
            except Exception:  # one broken page never stops the commit's other listeners
                log.exception("change subscriber failed")


#: The feed of this process.
FEED = ChangeFeed()


def note_change(session: Session, *, kind: str, lead_id: str | None) -> None:
    """Publish ``kind`` for ``lead_id`` when ``session``'s transaction commits."""
    if FEED.active:
        session.info.setdefault(_PENDING, []).append(Change(kind, lead_id))


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        FEED.publish(pending)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous_transaction: object) -> None:
    session.info.pop(_PENDING, None)
