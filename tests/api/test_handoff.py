"""The handoff end to end: a Segment client's calls make an MQL with an owner, a task
due in an hour and a signed lead.mql webhook that a local receiver verifies; retries,
dead letters and replay; SLA escalation."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from segment.analytics.client import Client as SegmentClient
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from leadgate.api.background import run_scheduler_once
from leadgate.tasks.models import Task
from leadgate.webhooks.models import Delivery
from leadgate.webhooks.worker import deliver_due
from tests.api.conftest import Service


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers with the queued status codes."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 204
                self.send_response(status)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"received {len(self.received)} webhooks, wanted {count}")
            time.sleep(0.01)

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def _subscribe(service: Service, url: str, events: list[str]) -> str:
    with service.client("admin") as client:
        response = client.post("/api/v1/webhooks", json={"url": url, "events": events})
    assert response.status_code == 201, response.text
    secret: str = response.json()["secret"]
    assert secret.startswith("whsec_")
    return secret


def _reps(service: Service) -> None:
    with service.client("admin") as client:
        for rep in (
            {"email": "eva@sales.example", "name": "Eva", "territories": [{"country": ["CZ"]}]},
            {"email": "tom@sales.example", "name": "Tom", "weight": 2},
        ):
            assert client.put("/api/v1/reps", json=rep).status_code == 200


def test_segment_calls_to_an_owned_mql_with_a_task_and_a_verified_webhook(
    service: Service, receiver: Receiver
) -> None:
    secret = _subscribe(service, receiver.url, ["lead.mql"])
    _reps(service)
    started = time.monotonic()
    segment = SegmentClient(
        write_key=service.keys["ingest"], host=service.url, sync_mode=True, max_retries=0
    )
    segment.identify("u-7", {"email": "jan@tatra.cz", "firstName": "Jan", "country": "CZ"})
    segment.group("u-7", "tatra", {"name": "Tatra", "industry": "manufacturing", "plan": "1"})
    segment.track("u-7", "Email Link Clicked", message_id="m-1")
    segment.page("u-7", None, "Pricing", {"url": "https://tatra.example/pricing"}, message_id="m-2")
    segment.flush()
    receiver.wait(1)
    assert time.monotonic() - started < 5
    with service.client("sales") as client:
        lead = client.get("/api/v1/leads/jan@tatra.cz").json()
    assert lead["stage"] == "mql"
    assert lead["owner"] == "eva@sales.example"  # the CZ territory
    (task,) = lead["tasks"]
    assert task["status"] == "open" and task["owner"] == "eva@sales.example"
    due = datetime.fromisoformat(task["due_at"]) - datetime.fromisoformat(task["created_at"])
    assert due == timedelta(hours=1)
    headers, body = receiver.received[0]
    payload = Webhook(secret).verify(body, headers)  # raises when the signature is wrong
    assert payload["type"] == "lead.mql"
    assert payload["data"]["lead"]["email"] == "jan@tatra.cz"
    assert payload["data"]["lead"]["owner"] == "eva@sales.example"
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)
    # the tier-1 account also enrolled the lead in the VIP sequence, once
    with service.client("admin") as client:
        deliveries = client.get("/api/v1/webhooks/deliveries").json()["deliveries"]
    assert [d["status"] for d in deliveries] == ["delivered"]
    # the lead's timeline tells the whole story in order
    with service.client("sales") as client:
        items = client.get("/api/v1/leads/jan@tatra.cz/timeline").json()["items"]
    kinds = [item["kind"] for item in items]
    qualified = kinds.index("stage_change", kinds.index("event"))
    assert items[qualified]["to"] == "mql"
    assert kinds[qualified + 1 :] == ["task", "webhook"]
    assert items[qualified + 1]["id"] == task["id"] and items[qualified + 1]["status"] == "open"
    webhook = items[qualified + 2]
    assert webhook["event_type"] == "lead.mql" and webhook["status"] == "delivered"
    times = [datetime.fromisoformat(item["at"]) for item in items]
    assert times == sorted(times)


def test_failed_deliveries_retry_with_backoff_then_dead_letter_and_replay(
    service: Service, receiver: Receiver
) -> None:
    _subscribe(service, receiver.url, ["lead.stage_changed"])
    receiver.statuses = [500, 503]
    with service.client("admin") as client:
        client.put("/api/v1/leads", json={"email": "a@acme.cz"})
    with service.client("sales") as client:
        moved = client.post("/api/v1/leads/a@acme.cz/transition", json={"to": "disqualified"})
        assert moved.status_code == 200, moved.text
    receiver.wait(1)  # the worker's first attempt fails with 500
    database = service.database
    t0 = datetime.now(UTC)
    with httpx.Client(timeout=5) as http:
        deadline = time.monotonic() + 5
        while True:
            with database.session() as session:
                delivery = session.scalars(select(Delivery)).one()
                if delivery.attempts >= 1:
                    break
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert delivery.status == "pending" and delivery.last_status == 500
        assert deliver_due(database, now=t0, client=http) == 0  # not due yet: backoff
        assert deliver_due(database, now=t0 + timedelta(seconds=6), client=http) == 1  # 503
        assert deliver_due(database, now=t0 + timedelta(hours=25), client=http) == 1  # 204
        with database.session() as session:
            delivery = session.scalars(select(Delivery)).one()
            assert (delivery.status, delivery.attempts) == ("delivered", 3)
            receiver.statuses = [500]  # (this attempt may be the worker's or ours)
            # 30 hours of failures: the next failure is past the 24-hour retry window
            delivery.status, delivery.created_at = "pending", t0 - timedelta(hours=30)
            delivery.next_attempt_at = t0
        deliver_due(database, now=t0, client=http)
        with database.session() as session:
            assert session.scalars(select(Delivery)).one().status == "dead"
    with service.client("admin") as client:
        dead = client.get("/api/v1/webhooks/deliveries", params={"status": "dead"}).json()
        (item,) = dead["deliveries"]
        replayed = client.post(f"/api/v1/webhooks/deliveries/{item['id']}/replay").json()
        assert replayed["status"] == "pending"
    deadline = time.monotonic() + 5
    while True:
        with database.session() as session:
            if session.scalars(select(Delivery)).one().status == "delivered":
                break
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_an_overdue_task_is_escalated_then_reassigned(service: Service, receiver: Receiver) -> None:
    _subscribe(service, receiver.url, ["task.overdue", "task.reassigned"])
    _reps(service)
    with service.client("admin") as client:
        client.put("/api/v1/leads", json={"email": "b@acme.cz", "country": "CZ"})
    with service.client("ingest") as client:
        now = datetime.now(UTC).isoformat()
        response = client.post(
            "/api/v1/events/batch",
            json={
                "events": [
                    {"email": "b@acme.cz", "type": "email.clicked", "occurred_at": now},
                    {
                        "email": "b@acme.cz",
                        "type": "page.viewed",
                        "occurred_at": now,
                        "properties": {"url": "/pricing"},
                    },
                ]
            },
        )
    assert response.json()["qualified"], response.text
    state = _state(service)
    later = datetime.now(UTC) + timedelta(hours=1, minutes=1)
    assert run_scheduler_once(state, later)["overdue"] == 1
    with service.database.session() as session:
        task = session.scalars(select(Task)).one()
        assert (task.sla_met, task.owner) == (False, "eva@sales.example")
    assert run_scheduler_once(state, later + timedelta(minutes=30))["reassigned"] == 0
    assert run_scheduler_once(state, later + timedelta(minutes=61))["reassigned"] == 1
    with service.database.session() as session:
        task = session.scalars(select(Task)).one()
        assert task.owner == "tom@sales.example"  # the next available rep, not Eva again
    with httpx.Client(timeout=5) as http:  # the scheduler ran in the future: deliver then
        deliver_due(service.database, now=later + timedelta(minutes=62), client=http)
    receiver.wait(2)
    kinds = [json.loads(body)["type"] for _, body in receiver.received]
    assert kinds == ["task.overdue", "task.reassigned"]
    with service.client("sales") as client:
        done = client.post(f"/api/v1/tasks/{task.id}/complete").json()
    assert done["status"] == "done" and done["sla_met"] is False


def _state(service: Service) -> Any:
    from tests.api.conftest import APPS

    return APPS[service.url].state.leadgate
