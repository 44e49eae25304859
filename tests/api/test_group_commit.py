"""The ingest writer over real HTTP: concurrent requests share commits but keep their
own answers, a revoked key stops writing at once, and the leads kept in memory
follow changes made behind the service's back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import func, select

from leadgate.common.ids import utcnow
from leadgate.events.models import Event
from leadgate.events.schemas import EventCreate
from leadgate.events.service import record_event
from leadgate.keys import list_keys, revoke_key
from tests.api.conftest import APPS, Service


def _leads(service: Service, count: int) -> None:
    with service.client("admin") as client:
        for index in range(count):
            response = client.put("/api/v1/leads", json={"email": f"p{index}@acme.cz"})
            assert response.status_code == 200, response.text


def _stored(service: Service) -> int:
    with service.database.session() as session:
        return int(session.scalar(select(func.count()).select_from(Event)) or 0)


def _p0(client: httpx.Client, kind: str) -> dict[str, Any]:
    """Post one event of ``kind`` for the lead p0@acme.cz, now; the response body."""
    response = client.post(
        "/api/v1/events",
        json={"email": "p0@acme.cz", "type": kind, "occurred_at": utcnow().isoformat()},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _post_all(service: Service, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {service.keys['ingest']}"}
    async with httpx.AsyncClient(base_url=service.url, headers=headers, timeout=30) as client:
        return await asyncio.gather(*(client.post("/api/v1/events", json=b) for b in bodies))


class TestGroupCommit:
    def test_concurrent_requests_share_commits_and_keep_their_own_answers(
        self, service: Service
    ) -> None:
        """Forty concurrent requests, one naming an unknown lead: that one is a 404 and
        writes nothing; the others are stored, each answered with its own lead."""
        _leads(service, 8)
        writer = APPS[service.url].state.leadgate.writer
        groups_before, requests_before = writer.groups, writer.requests
        now = datetime.now(UTC).isoformat()
        bodies: list[dict[str, Any]] = [
            {
                "event_id": f"c{i}",
                "email": f"p{i % 8}@acme.cz",
                "type": "email.clicked",
                "occurred_at": now,
            }
            for i in range(40)
        ]
        bodies[17] = {"email": "nobody@acme.cz", "type": "email.clicked", "occurred_at": now}
        responses = asyncio.run(_post_all(service, bodies))
        assert responses[17].status_code == 404
        assert "nobody@acme.cz" in responses[17].json()["detail"]
        for index, response in enumerate(responses):
            if index == 17:
                continue
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["event_ids"] == [f"c{index}"]
            assert len(body["leads"]) == 1
        assert _stored(service) == 39
        # every request was answered from a committed group, the 404 too (inside its
        # group, without failing the others), and some commits served several requests
        assert writer.requests - requests_before == 40
        assert writer.groups - groups_before < 40

    def test_a_revoked_ingest_key_stops_writing_at_once(self, service: Service) -> None:
        """The key cache saves a lookup per request, but every commit re-reads revocation."""
        _leads(service, 1)
        event = {"email": "p0@acme.cz", "type": "email.clicked"}
        with service.client("ingest") as client:
            first = client.post(
                "/api/v1/events", json={**event, "occurred_at": utcnow().isoformat()}
            )
            assert first.status_code == 200
            with service.database.session() as session:
                key = next(k for k in list_keys(session) if k.scope == "ingest")
                revoke_key(session, key_id=key.id, now=utcnow())
            second = client.post(
                "/api/v1/events", json={**event, "occurred_at": utcnow().isoformat()}
            )
            assert second.status_code == 401
            third = client.post(
                "/api/v1/events", json={**event, "occurred_at": utcnow().isoformat()}
            )
            assert third.status_code == 401
        assert _stored(service) == 1


class TestLeadsInMemory:
    def test_events_stored_by_another_writer_count_at_the_next_request(
        self, service: Service
    ) -> None:
        """A CLI import (another process) adds a click; the next request scores both."""
        _leads(service, 1)
        with service.client("ingest") as client:
            first = _p0(client, "email.clicked")
            assert first["leads"][0]["scores"]["engagement"] < 15.01
            with service.database.session() as session:
                record_event(
                    session,
                    data=EventCreate(
                        email="p0@acme.cz", type="email.clicked", occurred_at=utcnow()
                    ),
                    received_at=utcnow(),
                )
            second = _p0(client, "email.opened")
        assert second["leads"][0]["scores"]["engagement"] > 29.9  # both clicks

    def test_a_changed_account_counts_at_the_next_request(self, service: Service) -> None:
        """The lead joins a manufacturing account through the REST API: its fit follows."""
        _leads(service, 1)
        with service.client("ingest") as client:
            before = _p0(client, "email.opened")
        assert before["leads"][0]["scores"]["fit"] == 0
        with service.client("admin") as client:
            account = client.put(
                "/api/v1/accounts", json={"domain": "acme.cz", "industry": "manufacturing"}
            )
            assert account.status_code == 200, account.text
            linked = client.put(
                "/api/v1/leads", json={"email": "p0@acme.cz", "account_id": account.json()["id"]}
            )
            assert linked.status_code == 200, linked.text
        with service.client("ingest") as client:
            after = _p0(client, "email.opened")
        assert after["leads"][0]["scores"]["fit"] == 30
