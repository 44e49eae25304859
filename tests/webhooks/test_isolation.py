"""One slow receiver must not stall the others (issue 18): a hanging subscriber and
a healthy one, both real HTTP servers; the healthy one gets every message within
moments of its commit, signed at send time, while the hanging one's deliveries are
retried and end as the retry rules say."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from leadgate.common.ids import utcnow
from leadgate.db.engine import Database
from leadgate.webhooks.breaker import Breaker
from leadgate.webhooks.models import Delivery
from leadgate.webhooks.service import SubscriptionIn, create_subscription, enqueue
from leadgate.webhooks.worker import Dispatcher, deliver_due
from tests.webhooks.receivers import Receiver

#: the client's timeout in these tests; the hanging receiver sleeps far longer
TIMEOUT = 0.4


@pytest.fixture
def healthy() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def hanging() -> Iterator[Receiver]:
    receiver = Receiver(hang=3.0)
    yield receiver
    receiver.close()


def subscribe(db: Database, url: str) -> tuple[str, str]:
    """A subscription to every event type: its id and secret."""
    with db.session() as session:
        sub, secret = create_subscription(
            session, data=SubscriptionIn(url=url, events=["*"]), now=utcnow()
        )
        return sub.id, secret


def publish(db: Database, number: int) -> str:
    """Commit one message; returns its id."""
    with db.session() as session:
        message = enqueue(session, event_type="lead.mql", data={"n": number}, now=utcnow())
        assert message is not None
        return message.id


def deliveries(db: Database, subscription_id: str) -> list[Delivery]:
    with db.session() as session:
        rows = session.scalars(
            select(Delivery).where(Delivery.subscription_id == subscription_id)
        ).all()
        session.expunge_all()
        return list(rows)


def test_a_hanging_receiver_does_not_delay_a_healthy_one(
    db: Database, healthy: Receiver, hanging: Receiver
) -> None:
    good_id, good_secret = subscribe(db, healthy.url)
    bad_id, _ = subscribe(db, hanging.url)
    stopping = threading.Event()
    with httpx.Client(timeout=TIMEOUT) as client:
        dispatcher = Dispatcher(
            db,
            client=client,
            max_workers=4,
            breaker=Breaker(threshold=2, cooldown=timedelta(seconds=1)),
        )
        worker = threading.Thread(target=dispatcher.serve, args=(stopping,), daemon=True)
        worker.start()
        committed: dict[str, float] = {}
        try:
            for number in range(12):
                message_id = publish(db, number)
                committed[message_id] = time.monotonic()
                dispatcher.wake.set()  # as a request's commit sets outbox_ready
                time.sleep(0.2)
            healthy.wait(12, timeout=5)
        finally:
            stopping.set()
            dispatcher.wake.set()
            worker.join(timeout=10)
        assert not worker.is_alive()

    # the healthy subscriber: each message once, in commit order, moments after
    # its commit, every signature verifying with a timestamp of when it was sent
    assert healthy.ids() == list(committed)
    lags = [item.at - committed[item.headers["webhook-id"]] for item in healthy.received]
    assert max(lags) < 1.5, lags
    for item in healthy.received:
        payload = Webhook(good_secret).verify(item.body, item.headers)
        assert payload["type"] == "lead.mql"
        assert abs(int(item.headers["webhook-timestamp"]) - item.wall) <= 2
    assert healthy.most_active == 1  # per_subscription=1: one at a time
    assert all(d.status == "delivered" and d.attempts == 1 for d in deliveries(db, good_id))

    # the hanging one: its circuit opened after two timeouts, so it had only a
    # few attempts (two, then a probe per cool-down) and nothing was lost
    tried = deliveries(db, bad_id)
    assert 2 <= len(hanging.received) <= 6, len(hanging.received)
    assert all(d.status == "pending" for d in tried)
    assert {d.last_error for d in tried if d.attempts} == {"ReadTimeout: timed out"}
    for d in tried:
        if d.attempts:  # next try after the backoff (5 s after the first failure)
            assert d.next_attempt_at - d.created_at >= timedelta(seconds=5)

    # later on, its deliveries are retried per the schedule...
    later = utcnow() + timedelta(minutes=5)
    with (
        httpx.Client(timeout=TIMEOUT) as client,
        Dispatcher(db, client=client, clock=lambda: later, breaker=Breaker(threshold=100)) as sweep,
    ):
        assert sweep.run_pass() == 12
    tried = deliveries(db, bad_id)
    assert all(d.status == "pending" and d.attempts >= 1 for d in tried)
    assert max(d.attempts for d in tried) >= 2  # a retry of an attempted one
    assert len(set(hanging.ids())) == 12
    # ...and past the 24-hour window they are dead, as before
    with httpx.Client(timeout=TIMEOUT) as client:
        deliver_due(db, now=utcnow() + timedelta(hours=25), client=client)
    tried = deliveries(db, bad_id)
    assert {d.status for d in tried} == {"dead"}
    assert all(d.status == "delivered" for d in deliveries(db, good_id))


def test_a_message_that_waited_is_signed_when_sent(db: Database, healthy: Receiver) -> None:
    _, secret = subscribe(db, healthy.url)
    long_ago = utcnow() - timedelta(minutes=30)
    with db.session() as session:
        enqueue(session, event_type="lead.mql", data={"late": True}, now=long_ago)
    with httpx.Client(timeout=5) as client:
        assert deliver_due(db, now=utcnow(), client=client) == 1
    (item,) = healthy.received
    # standardwebhooks refuses timestamps more than 5 minutes old
    assert Webhook(secret).verify(item.body, item.headers)["data"] == {"late": True}
    assert json.loads(item.body)["timestamp"] == long_ago.isoformat()
