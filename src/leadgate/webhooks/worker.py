"""Send due webhook deliveries, signed per Standard Webhooks, with retries.

:class:`Dispatcher` serves every subscription from a lane of its own: a pool of
``max_workers`` threads is shared, but a subscription has at most
``per_subscription`` attempts in flight, and a subscription that keeps failing
is held by its circuit breaker (:mod:`leadgate.webhooks.breaker`), so a receiver
that hangs ties up one thread for at most ``threshold`` timeouts, then none until
its probe. Each attempt is signed when it is sent (``webhook-timestamp`` is the
time of that request), so a message that waited is never refused as too old.

Outcomes follow the existing rules: delivered on a 2xx, otherwise retried after
:func:`~leadgate.webhooks.service.backoff` (5 s doubling, at most an hour) until
24 hours after the delivery was created, then ``dead``. Deliveries held by an
open circuit stay pending and due; once their 24 hours have passed they are
dead-lettered (``circuit open: ...``). Claims are leases
(:mod:`leadgate.webhooks.claims`), safe with several workers.

Order: with ``per_subscription=1`` (the default) a subscriber receives first
attempts one at a time, in the order the messages were created
(``next_attempt_at``, then id); a failed delivery is retried after its backoff,
so later messages may overtake it. Above 1, up to that many are sent at once
and may arrive in any order.

``leadgate serve`` runs :meth:`Dispatcher.serve` in a background thread;
:func:`deliver_due` is one synchronous pass (tests, cron).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from types import TracebackType

import httpx
from standardwebhooks.webhooks import Webhook

from leadgate.common.ids import utcnow
from leadgate.db.engine import Database
from leadgate.webhooks.breaker import Breaker
from leadgate.webhooks.claims import Job, claim_due, dead_letter_held, record_attempt

__all__ = ["Dispatcher", "deliver_due", "signed_headers"]

log = logging.getLogger("leadgate.webhooks")
#: how often deliveries held by open circuits are checked for their 24 hours
_SWEEP_EVERY = timedelta(minutes=1)


def signed_headers(secret: str, message_id: str, at: datetime, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``."""
    signature = Webhook(secret).sign(message_id, at, body)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


class Dispatcher:
    """Bounded, per-subscription concurrent delivery with circuit breakers.

    ``clock`` is the time outcomes are scheduled by (tests pass a fixed one);
    signatures always carry the real time of sending. :meth:`pump` is called
    from one thread only (``serve`` or ``run_pass``); attempts run in the pool.
    """

    def __init__(
        self,
        database: Database,
        *,
        client: httpx.Client,
        clock: Callable[[], datetime] = utcnow,
        max_workers: int = 8,
        per_subscription: int = 1,
        breaker: Breaker | None = None,
        lease: timedelta = timedelta(minutes=2),
        wake: threading.Event | None = None,
    ) -> None:
        if not 1 <= per_subscription <= max_workers:
            raise ValueError("per_subscription must be between 1 and max_workers")
        self.database = database
        self.client = client
        self.clock = clock
        self.max_workers = max_workers
        self.per_subscription = per_subscription
        self.breaker = breaker or Breaker()
        self.lease = lease
        #: set after every attempt (and by whoever commits new messages)
        self.wake = wake or threading.Event()
        self.attempted = 0
        self.claimed = 0
        self._in_flight: dict[str, int] = {}
        self._swept: datetime | None = None  # when held deliveries were last checked
        self._changed = threading.Condition()
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="leadgate-webhook")

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Wait for the attempts in flight (at most one HTTP timeout) and stop."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def in_flight(self) -> int:
        with self._changed:
            return sum(self._in_flight.values())

    def pump(self, most: int | None = None) -> int:
        """Claim what may be sent now and start sending it; returns how many."""
        now = self.clock()
        with self._changed:
            free = self.max_workers - sum(self._in_flight.values())
            busy = {
                sub for sub, count in self._in_flight.items() if self._room(sub, now, count) <= 0
            }
            held = self.breaker.open_circuits(now=now)
        if held and (self._swept is None or now - self._swept >= _SWEEP_EVERY):
            self._swept = now
            dead = dead_letter_held(self.database, now=now, held=held)
            if dead:
                log.warning("%d webhook deliveries dead-lettered behind open circuits", dead)
        jobs = claim_due(
            self.database,
            now=now,
            room=self._room_now(now),
            skip=busy | set(held),
            most=free if most is None else min(free, most),
            per_subscription=self.per_subscription,
            lease=self.lease,
        )
        with self._changed:
            for job in jobs:
                self._in_flight[job.subscription_id] = (
                    self._in_flight.get(job.subscription_id, 0) + 1
                )
            self.claimed += len(jobs)
        for job in jobs:
            self._pool.submit(self._attempt, job)
        return len(jobs)

    def _room(self, sub: str, now: datetime, in_flight: int) -> int:
        return self.breaker.room(sub, now=now, limit=self.per_subscription, in_flight=in_flight)

    def _room_now(self, now: datetime) -> Callable[[str], int]:
        def room(sub: str) -> int:
            with self._changed:
                return self._room(sub, now, self._in_flight.get(sub, 0))

        return room

    def _attempt(self, job: Job) -> None:
        body = json.dumps(job.payload, separators=(",", ":"), ensure_ascii=False)
        status: int | None = None
        error: str | None = None
        try:
            response = self.client.post(
                job.url,
                content=body.encode("utf-8"),
                headers=signed_headers(job.secret, job.message_id, utcnow(), body),
            )
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        at = self.clock()
        try:
            if record_attempt(self.database, job, at=at, status=status, error=error) is None:
                log.warning("delivery %d was changed while in flight", job.delivery_id)
        except Exception:  # the lease runs out and the delivery is retried
            log.exception("recording webhook delivery %d failed", job.delivery_id)
        with self._changed:
            self._in_flight[job.subscription_id] -= 1
            if not self._in_flight[job.subscription_id]:
                del self._in_flight[job.subscription_id]
            if error is None:
                self.breaker.success(job.subscription_id)
            elif self.breaker.failure(job.subscription_id, now=at, error=error):
                log.warning("webhook circuit opened for %s: %s", job.subscription_id, error)
            self.attempted += 1
            self._changed.notify_all()
        self.wake.set()

    def run_pass(self, limit: int = 100) -> int:
        """Send what is due (at most ``limit`` attempts) and wait for every attempt;
        returns how many were attempted."""
        while True:
            started = self.pump(most=limit - self.claimed)
            with self._changed:
                if not started and not self._in_flight:
                    return self.attempted
                done = self.attempted
                while self._in_flight and self.attempted == done:
                    self._changed.wait()

    def serve(self, stopping: threading.Event, *, poll: float = 1.0) -> None:
        """Deliver until ``stopping`` is set: on every ``wake``, and every ``poll``
        seconds for retries and half-open circuits."""
        try:
            while not stopping.is_set():
                self.wake.clear()
                try:
                    self.pump()
                except Exception:  # keep delivering after a database hiccup
                    log.exception("webhook delivery pass failed")
                self.wake.wait(timeout=poll)
        finally:
            self.close()


def deliver_due(
    database: Database, *, now: datetime, client: httpx.Client, limit: int = 100
) -> int:
    """Attempt up to ``limit`` deliveries due at ``now`` (one synchronous pass, a
    fresh breaker); returns how many were attempted."""
    with Dispatcher(database, client=client, clock=lambda: now) as dispatcher:
        return dispatcher.run_pass(limit)
