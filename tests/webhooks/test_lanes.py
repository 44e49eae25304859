"""The dispatcher's rules one by one: the circuit breaker, the per-subscription
bound, leases that let only one worker send a delivery, and outcomes recorded
only by the claim's holder."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from leadgate.common.ids import utcnow
from leadgate.db.engine import Database
from leadgate.webhooks.breaker import Breaker
from leadgate.webhooks.claims import claim_due, record_attempt
from leadgate.webhooks.models import Delivery
from leadgate.webhooks.service import replay_delivery
from leadgate.webhooks.worker import Dispatcher, deliver_due
from tests.webhooks.receivers import Receiver
from tests.webhooks.test_isolation import publish, subscribe

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(delay=0.05)
    yield server
    server.close()


def test_the_breaker_opens_after_consecutive_failures_and_probes_once() -> None:
    breaker = Breaker(threshold=3, cooldown=timedelta(seconds=10))
    assert breaker.room("wh", now=T0, limit=2, in_flight=0) == 2
    assert not breaker.failure("wh", now=T0, error="HTTP 500")
    breaker.success("wh")  # a success starts the count again
    assert not breaker.failure("wh", now=T0, error="HTTP 500")
    assert not breaker.failure("wh", now=T0, error="HTTP 500")
    assert breaker.failure("wh", now=T0, error="ReadTimeout")
    assert breaker.is_open("wh", now=T0 + timedelta(seconds=9))
    assert breaker.room("wh", now=T0 + timedelta(seconds=9), limit=2, in_flight=0) == 0
    assert breaker.open_circuits(now=T0) == {"wh": "ReadTimeout"}
    half_open = T0 + timedelta(seconds=10)
    assert breaker.room("wh", now=half_open, limit=2, in_flight=0) == 1  # one probe
    assert breaker.room("wh", now=half_open, limit=2, in_flight=1) == 0
    assert breaker.failure("wh", now=half_open, error="ReadTimeout")  # the probe failed
    assert breaker.is_open("wh", now=half_open + timedelta(seconds=19))  # twice as long
    assert not breaker.is_open("wh", now=half_open + timedelta(seconds=20))
    breaker.success("wh")
    assert breaker.room("wh", now=half_open, limit=2, in_flight=0) == 2
    assert breaker.room("other", now=T0, limit=2, in_flight=2) == 0


def test_the_cool_down_is_capped() -> None:
    breaker = Breaker(
        threshold=1, cooldown=timedelta(seconds=10), max_cooldown=timedelta(minutes=1)
    )
    now = T0
    for _ in range(40):  # every probe fails: 10 s, 20 s, 40 s, then a minute each
        assert breaker.failure("wh", now=now, error="HTTP 503")
        now += timedelta(hours=1)
    last = now - timedelta(hours=1)
    assert breaker.is_open("wh", now=last + timedelta(seconds=59))
    assert not breaker.is_open("wh", now=last + timedelta(minutes=1))


def test_a_subscription_has_at_most_its_bound_in_flight(db: Database, receiver: Receiver) -> None:
    subscribe(db, receiver.url)
    for number in range(8):
        publish(db, number)
    with (
        httpx.Client(timeout=5) as client,
        Dispatcher(db, client=client, max_workers=8, per_subscription=2) as dispatcher,
    ):
        assert dispatcher.run_pass() == 8
    assert receiver.most_active == 2
    assert len(set(receiver.ids())) == 8


def test_one_claim_per_delivery_and_the_lease_runs_out(db: Database) -> None:
    subscribe(db, "http://127.0.0.1:9/never")
    publish(db, 1)
    now = utcnow()
    lease = timedelta(minutes=2)
    args = {"room": lambda _: 1, "skip": (), "most": 10, "per_subscription": 1, "lease": lease}
    (job,) = claim_due(db, now=now, **args)  # type: ignore[arg-type]
    assert claim_due(db, now=now, **args) == []  # type: ignore[arg-type]
    # a worker that died leaves it to be claimed again when the lease ends
    (again,) = claim_due(db, now=now + lease, **args)  # type: ignore[arg-type]
    assert again.delivery_id == job.delivery_id
    # the first worker's late outcome is not recorded over the new claim
    assert record_attempt(db, job, at=now, status=204, error=None) is None
    assert record_attempt(db, again, at=now + lease, status=204, error=None) == "delivered"
    with db.session() as session:
        delivery = session.scalars(select(Delivery)).one()
        assert (delivery.status, delivery.attempts) == ("delivered", 1)


def test_a_replay_while_in_flight_wins(db: Database) -> None:
    subscribe(db, "http://127.0.0.1:9/never")
    publish(db, 1)
    now = utcnow()
    (job,) = claim_due(
        db, now=now, room=lambda _: 1, skip=(), most=1, per_subscription=1, lease=timedelta(60)
    )
    with db.session() as session:
        replay_delivery(session, delivery_id=job.delivery_id, now=now)
    assert record_attempt(db, job, at=now, status=None, error="ConnectError") is None
    with db.session() as session:
        assert session.scalars(select(Delivery)).one().attempts == 0


def test_two_workers_send_each_delivery_once(db: Database, receiver: Receiver) -> None:
    subscribe(db, receiver.url)
    for number in range(20):
        publish(db, number)
    counts: list[int] = []

    def work() -> None:
        with httpx.Client(timeout=5) as client:
            counts.append(deliver_due(db, now=utcnow(), client=client))

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=20)
    assert sum(counts) == 20
    assert sorted(receiver.ids()) == sorted(set(receiver.ids())) and len(receiver.ids()) == 20
    with db.session() as session:
        rows = session.scalars(select(Delivery)).all()
        assert {(d.status, d.attempts) for d in rows} == {("delivered", 1)}


def test_held_deliveries_past_their_window_are_dead_lettered(db: Database) -> None:
    subscribe(db, "http://127.0.0.1:9/never")  # nothing listens on port 9
    for number in range(5):
        publish(db, number)
    later = utcnow() + timedelta(hours=25)
    with (
        httpx.Client(timeout=1) as client,
        Dispatcher(db, client=client, clock=lambda: later) as dispatcher,
    ):
        assert dispatcher.run_pass() == 3  # then the circuit opened
        assert dispatcher.pump() == 0  # held; past 24 hours: dead
    with db.session() as session:
        rows = session.scalars(select(Delivery).order_by(Delivery.id)).all()
        assert [d.status for d in rows] == ["dead"] * 5
        assert [d.attempts for d in rows] == [1, 1, 1, 0, 0]
        assert rows[-1].last_error is not None
        assert rows[-1].last_error.startswith("circuit open: ConnectError")
