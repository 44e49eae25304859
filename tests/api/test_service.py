"""The service over real HTTP: auth and scopes, bad input, Segment ingest with the
official client, qualification within the request, transitions and recycling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from segment.analytics.client import Client as SegmentClient
from sqlalchemy import func, select

from leadgate.events.models import Event
from leadgate.leads.models import Lead
from tests.api.conftest import APPS, Service


def _now(days: float = 0) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def _lead(service: Service, email: str = "jana@acme.cz", **extra: Any) -> dict[str, Any]:
    with service.client("admin") as client:
        response = client.put("/api/v1/leads", json={"email": email, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _segment(service: Service, errors: list[Any], **options: Any) -> SegmentClient:
    """The official Segment client sending synchronously to the service with its
    ingest key; delivery errors land in ``errors``."""
    return SegmentClient(
        write_key=service.keys["ingest"],
        host=service.url,
        sync_mode=True,
        on_error=lambda error, batch: errors.append(error),
        max_retries=0,
        **options,
    )


def _event_count(service: Service) -> int:
    with service.database.session() as session:
        return int(session.scalar(select(func.count()).select_from(Event)) or 0)


class TestAuth:
    def test_missing_and_wrong_keys_are_401(self, service: Service) -> None:
        with service.client(None) as client:
            response = client.get("/api/v1/leads")
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
            wrong = client.get("/api/v1/leads", headers={"Authorization": "Bearer lg_admin_nope"})
            assert wrong.status_code == 401

    def test_a_key_outside_its_scope_is_403(self, service: Service) -> None:
        with service.client("ingest") as client:
            assert client.get("/api/v1/leads").status_code == 403
        with service.client("sales") as client:
            assert client.get("/api/v1/leads").status_code == 200
            assert client.put("/api/v1/leads", json={"email": "a@b.cz"}).status_code == 403
            assert client.post("/v1/track", json={}).status_code == 403
        with service.client("admin") as client:
            assert client.get("/api/v1/leads").status_code == 200

    def test_a_revoked_key_stops_working(self, service: Service) -> None:
        from leadgate.common.ids import utcnow
        from leadgate.keys import list_keys, revoke_key

        with service.database.session() as session:
            key = next(k for k in list_keys(session) if k.scope == "sales")
            revoke_key(session, key_id=key.id, now=utcnow())
        with service.client("sales") as client:
            assert client.get("/api/v1/leads").status_code == 401


class TestBadInput:
    def test_validation_errors_are_422_with_field_paths(self, service: Service) -> None:
        _lead(service)
        with service.client("ingest") as client:
            response = client.post(
                "/api/v1/events/batch",
                json={"events": [{"email": "jana@acme.cz", "type": "x", "occurred_at": "soon"}]},
            )
        assert response.status_code == 422
        locations = [error["loc"] for error in response.json()["detail"]]
        assert ["body", "events", 0, "occurred_at"] in locations
        assert _event_count(service) == 0

    def test_a_batch_is_all_or_nothing(self, service: Service) -> None:
        _lead(service)
        events = [
            {"email": "jana@acme.cz", "type": "email.clicked", "occurred_at": _now()},
            {"email": "nobody@acme.cz", "type": "email.clicked", "occurred_at": _now()},
        ]
        with service.client("ingest") as client:
            response = client.post("/api/v1/events/batch", json={"events": events})
        assert response.status_code == 404
        assert "events[1]" in response.json()["detail"]
        assert _event_count(service) == 0

    def test_a_body_over_the_limit_is_413(self, service: Service) -> None:
        with service.client("ingest") as client:
            big = client.post("/v1/batch", content=b"{" + b" " * 210_000 + b"}")
            assert big.status_code == 413

            def chunks() -> Any:
                for _ in range(10):
                    yield b" " * 30_000

            streamed = client.post("/v1/batch", content=chunks())
            assert streamed.status_code == 413

    def test_more_than_1000_events_is_422(self, service: Service) -> None:
        """1,001 small events fit the body limit and are refused by the batch cap."""
        event = {"lead_id": "x", "type": "a", "occurred_at": "2026-01-01T00:00:00Z"}
        with service.client("ingest") as client:
            response = client.post("/api/v1/events/batch", json={"events": [event] * 1001})
        assert response.status_code == 422
        assert [error["loc"] for error in response.json()["detail"]] == [["body", "events"]]


class TestQualificationWithinTheRequest:
    def test_the_event_that_qualifies_returns_the_lead_in_mql(self, service: Service) -> None:
        lead = _lead(service)
        assert lead["stage"] == "lead"
        with service.client("ingest") as client:
            first = client.post(
                "/api/v1/events",
                json={"email": "jana@acme.cz", "type": "email.clicked", "occurred_at": _now(1)},
            ).json()
            assert first["leads"][0]["stage"] == "lead"
            second = client.post(
                "/api/v1/events",
                json={
                    "event_id": "pricing-1",
                    "email": "jana@acme.cz",
                    "type": "page.viewed",
                    "occurred_at": _now(),
                    "properties": {"url": "https://acme.example/pricing"},
                },
            ).json()
        assert second["qualified"] == [lead["id"]]
        assert second["leads"][0]["stage"] == "mql"
        with service.database.session() as session:
            stored = session.get(Lead, lead["id"])
            assert stored is not None and stored.stage == "mql"
        with service.client("sales") as client:
            detail = client.get(f"/api/v1/leads/{lead['id']}").json()
            timeline = client.get("/api/v1/leads/jana@acme.cz/timeline").json()
        assert detail["stage"] == "mql" and detail["mql"] is True
        assert detail["scores"]["engagement"] == pytest.approx(39.65, abs=0.1)  # decayed since
        assert detail["scorecard"]["rules"]
        kinds = [item["kind"] for item in timeline["items"]]
        assert kinds.count("event") == 2 and kinds[-2:] == ["stage_change", "task"]
        assert timeline["items"][-2]["to"] == "mql"
        assert timeline["items"][-1]["id"] == detail["tasks"][0]["id"]

    def test_the_timeline_pages_the_latest_items(self, service: Service) -> None:
        """``limit`` keeps the latest items, still oldest first, and ``more`` says that
        older ones exist."""
        _lead(service)
        with service.client("ingest") as client:
            for day in (5, 4, 3, 2, 1):
                response = client.post(
                    "/api/v1/events",
                    json={
                        "event_id": f"open-{day}",
                        "email": "jana@acme.cz",
                        "type": "email.opened",
                        "occurred_at": _now(day),
                    },
                )
                assert response.status_code == 200, response.text
        with service.client("sales") as client:
            page = client.get("/api/v1/leads/jana@acme.cz/timeline?limit=3").json()
            whole = client.get("/api/v1/leads/jana@acme.cz/timeline").json()
            assert client.get("/api/v1/leads/jana@acme.cz/timeline?limit=0").status_code == 422
        # the lead's creation (its first stage change) is the newest item
        assert [i.get("event_id") for i in page["items"]] == ["open-2", "open-1", None]
        assert page["more"] is True
        assert len(whole["items"]) == 6 and whole["more"] is False
        assert whole["items"][-3:] == page["items"]

    def test_a_redelivered_event_is_stored_once(self, service: Service) -> None:
        _lead(service)
        event = {
            "event_id": "m-1",
            "email": "jana@acme.cz",
            "type": "email.clicked",
            "occurred_at": _now(),
        }
        with service.client("ingest") as client:
            assert client.post("/api/v1/events", json=event).json()["stored"] == 1
            again = client.post("/api/v1/events", json=event).json()
        assert (again["stored"], again["duplicates"]) == (0, 1)
        assert _event_count(service) == 1


class TestSegment:
    def test_the_official_client_identifies_groups_and_tracks(self, service: Service) -> None:
        """identify + group + track with segment-analytics-python: an MQL within the second."""
        errors: list[Any] = []
        client = _segment(service, errors)
        client.identify(
            "u-42", {"email": "Petr@Steelworks.cz", "firstName": "Petr", "title": "CTO"}
        )
        client.group(
            "u-42",
            "acc-steel",
            {
                "name": "Steelworks",
                "industry": "manufacturing",
                "employees": 120,
                "website": "https://steelworks.cz",
            },
        )
        client.track("u-42", "Email Link Clicked", {"campaign": "nov"}, message_id="seg-1")
        client.page(
            "u-42",
            "Docs",
            "Pricing",
            {"url": "https://steelworks.example/pricing"},
            message_id="seg-2",
        )
        client.track("u-42", "Email Link Clicked", {"campaign": "nov"}, message_id="seg-1")
        client.flush()
        assert errors == []
        with service.client("sales") as sales:
            lead = sales.get("/api/v1/leads/petr@steelworks.cz").json()
            timeline = sales.get("/api/v1/leads/u-42/timeline").json()
        assert lead["id"] == "u-42"
        assert lead["stage"] == "mql"
        # identify already joined the account by e-mail domain; group names the same company
        assert lead["account"]["name"] == "Steelworks" and lead["account"]["employees"] == 120
        assert lead["grade"] == "A"
        assert lead["attributes"] == {}
        events = [item for item in timeline["items"] if item["kind"] == "event"]
        assert sorted(e["type"] for e in events) == ["email.clicked", "page.viewed"]
        assert {e["event_id"] for e in events} == {"seg-1", "seg-2"}

    def test_a_visitors_calls_before_identify_count_once_they_identify(
        self, service: Service
    ) -> None:
        """An anonymous visitor clicks and views pricing (kept, not rejected); the identify
        that names them turns those calls into their events and qualifies them; later
        anonymous calls go straight to the lead."""
        errors: list[Any] = []
        client = _segment(service, errors)
        client.track(
            event="Email Link Clicked", anonymous_id="anon-7", message_id="a-1", timestamp=None
        )
        client.page(
            anonymous_id="anon-7",
            name="Pricing",
            properties={"url": "https://acme.example/pricing"},
            message_id="a-2",
        )
        client.flush()
        assert errors == []
        assert _event_count(service) == 0
        with service.client("sales") as sales:
            assert sales.get("/api/v1/leads/vera@acme.cz").status_code == 404
        client.identify("u-7", {"email": "vera@acme.cz"}, anonymous_id="anon-7")
        client.flush()
        client.track(event="Email Opened", anonymous_id="anon-7", message_id="a-3")
        client.flush()
        assert errors == []
        with service.client("sales") as sales:
            lead = sales.get("/api/v1/leads/vera@acme.cz").json()
            timeline = sales.get("/api/v1/leads/u-7/timeline").json()
        assert lead["stage"] == "mql"
        events = {i["event_id"]: i["type"] for i in timeline["items"] if i["kind"] == "event"}
        assert events == {"a-1": "email.clicked", "a-2": "page.viewed", "a-3": "email.opened"}

    def test_gzip_bodies_from_the_official_client_and_their_limits(self, service: Service) -> None:
        """SDKs that compress (gzip=True) work unchanged; a body inflating past the
        limit is 413, a corrupt one 400, and neither stores anything."""
        import gzip

        import httpx

        errors: list[Any] = []
        client = _segment(service, errors, gzip=True)
        client.identify("u-9", {"email": "ota@acme.cz"})
        client.track("u-9", "Email Link Clicked", message_id="g-1")
        client.flush()
        assert errors == []
        assert _event_count(service) == 1
        auth = httpx.BasicAuth(service.keys["ingest"], "")
        headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
        with httpx.Client(base_url=service.url, auth=auth, timeout=10) as raw:
            bomb = gzip.compress(b'{"batch": [' + b" " * 400_000 + b"]}")
            assert len(bomb) < 200_000
            assert raw.post("/v1/batch", content=bomb, headers=headers).status_code == 413
            corrupt = raw.post("/v1/batch", content=b"not gzip at all", headers=headers)
            assert corrupt.status_code == 400
        assert _event_count(service) == 1

    def test_basic_auth_single_endpoints_and_rejections(self, service: Service) -> None:
        import httpx

        auth = httpx.BasicAuth(service.keys["ingest"], "")
        with httpx.Client(base_url=service.url, auth=auth, timeout=10) as client:
            ok = client.post("/v1/identify", json={"userId": "u1", "traits": {"email": "a@x.cz"}})
            assert ok.status_code == 200 and ok.json() == {"success": True}
            unknown = client.post("/v1/track", json={"userId": "ghost", "event": "Signed Up"})
            assert unknown.status_code == 400
            assert "send identify" in unknown.json()["detail"]
            mixed = client.post(
                "/v1/batch",
                json={
                    "batch": [
                        {
                            "type": "track",
                            "userId": "u1",
                            "event": "email.clicked",
                            "messageId": "b1",
                            "timestamp": _now(),
                        },
                        {"type": "track", "userId": "ghost", "event": "Signed Up"},
                    ]
                },
            ).json()
        assert mixed["accepted"] == 1
        assert [r["index"] for r in mixed["rejected"]] == [1]
        with service.database.session() as session:
            stored = session.scalars(select(Event.type)).all()
        assert stored == ["email.clicked"]


class TestTransitions:
    def _mql(self, service: Service) -> str:
        lead = _lead(service)
        with service.client("ingest") as client:
            client.post(
                "/api/v1/events/batch",
                json={
                    "events": [
                        {
                            "email": "jana@acme.cz",
                            "type": "page.viewed",
                            "occurred_at": _now(),
                            "properties": {"url": "/pricing"},
                        },
                        {"email": "jana@acme.cz", "type": "email.clicked", "occurred_at": _now()},
                    ]
                },
            )
        return str(lead["id"])

    def test_accept_disallowed_and_rejections(self, service: Service) -> None:
        lead_id = self._mql(service)
        with service.client("sales") as client:
            wrong = client.post(f"/api/v1/leads/{lead_id}/transition", json={"to": "customer"})
            assert wrong.status_code == 409
            assert wrong.json()["allowed"] == ["sal", "nurture", "disqualified"]
            no_reason = client.post(f"/api/v1/leads/{lead_id}/transition", json={"to": "nurture"})
            assert no_reason.status_code == 422
            unlisted = client.post(
                f"/api/v1/leads/{lead_id}/transition", json={"to": "nurture", "reason": "meh"}
            )
            assert unlisted.status_code == 422 and "configured reasons" in unlisted.text
            accepted = client.post(f"/api/v1/leads/{lead_id}/transition", json={"to": "sal"})
            assert accepted.status_code == 200 and accepted.json()["stage"] == "sal"
            timeline = client.get(f"/api/v1/leads/{lead_id}/timeline").json()
        assert timeline["items"][-1]["actor"] == "key:sales-test"

    def test_the_funnel_report_over_rest(self, service: Service) -> None:
        """The funnel a dashboard reads: the MQL accepted and qualified is one entry in
        mql, sal and sql, and its handoff task is an SLA not yet due."""
        lead_id = self._mql(service)
        with service.client("sales") as client:
            for target in ("sal", "sql"):
                moved = client.post(f"/api/v1/leads/{lead_id}/transition", json={"to": target})
                assert moved.status_code == 200, moved.text
            report = client.get("/api/v1/reports/funnel", params={"by": "channel"})
            assert report.status_code == 200, report.text
            backwards = client.get(
                "/api/v1/reports/funnel", params={"from": "2026-02-01", "to": "2026-01-01"}
            )
            assert backwards.status_code == 422
        with service.client("ingest") as client:
            assert client.get("/api/v1/reports/funnel").status_code == 403
        body = report.json()
        entered = {stage["stage"]: stage["entered"] for stage in body["stages"]}
        assert (entered["mql"], entered["sal"], entered["sql"]) == (1, 1, 1)
        assert body["mql_to_sql"]["rate"] == 1.0
        assert body["sla"]["handoffs"] == 1 and body["sla"]["not_yet_due"] == 1
        assert body["by"] == "channel" and body["groups"]

    def test_a_recycled_lead_qualifies_again(self, service: Service) -> None:
        lead_id = self._mql(service)
        with service.client("sales") as client:
            back = client.post(
                f"/api/v1/leads/{lead_id}/transition",
                json={"to": "nurture", "reason": "bad timing"},
            )
            assert back.json()["stage"] == "nurture"
            assert back.json()["scores"]["engagement"] == 0  # starts over after recycling
        with service.client("ingest") as client:
            again = client.post(
                "/api/v1/events/batch",
                json={
                    "events": [
                        {
                            "email": "jana@acme.cz",
                            "type": "page.viewed",
                            "occurred_at": _now(),
                            "properties": {"url": "/pricing"},
                        },
                        {
                            "email": "jana@acme.cz",
                            "type": "email.clicked",
                            "occurred_at": _now(),
                        },
                    ]
                },
            ).json()
        assert again["leads"][0]["stage"] == "mql"


class TestReads:
    def test_reads_never_wait_for_the_write_lock(self, service: Service) -> None:
        """Every read endpoint answers while a write holds the service's write lock (the
        scheduler, a REST write), and a write still waits for it."""
        with service.client("admin") as client:
            account = client.put("/api/v1/accounts", json={"domain": "acme.cz", "name": "Acme"})
            assert account.status_code == 200, account.text
        lead = _lead(service, account_domain="acme.cz")
        reads = [
            f"/api/v1/leads/{lead['id']}",
            "/api/v1/leads/jana@acme.cz",
            f"/api/v1/leads/{lead['id']}/timeline",
            "/api/v1/leads?stage=lead",
            f"/api/v1/accounts/{account.json()['id']}",
            "/api/v1/tasks",
            "/api/v1/reps",
            "/api/v1/webhooks",
            "/api/v1/webhooks/deliveries",
        ]
        headers = {"Authorization": f"Bearer {service.keys['admin']}"}
        with (
            APPS[service.url].state.leadgate.write_lock,
            httpx.Client(base_url=service.url, headers=headers, timeout=3) as client,
        ):
            for path in reads:
                response = client.get(path)
                assert response.status_code == 200, (path, response.text)
            assert client.get(f"/api/v1/leads/{lead['id']}").json()["account"]["name"] == "Acme"
            with pytest.raises(httpx.ReadTimeout):
                client.put("/api/v1/leads", json={"email": "petr@acme.cz"}, timeout=0.5)
