"""Score adjustments over REST: made and revoked with a sales key (a key that belongs
to a user acts as that user), answered with the lead's new scores."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from leadgate.audit.models import AuditEntry
from leadgate.common.ids import utcnow
from leadgate.keys import create_key
from leadgate.leads.models import Lead
from leadgate.reps.service import RepIn, upsert_rep
from leadgate.users.service import create_user
from tests.api.conftest import Service

FAIR = {"group": "engagement", "points": 40, "reason": "met them at the trade fair"}


def _lead(service: Service, email: str = "jana@acme.cz", owner: str | None = None) -> str:
    with service.client("admin") as client:
        response = client.put("/api/v1/leads", json={"email": email})
    assert response.status_code == 200, response.text
    lead_id: str = response.json()["id"]
    if owner is not None:
        with service.database.session() as session:
            lead = session.get(Lead, lead_id)
            assert lead is not None
            lead.owner = owner
    return lead_id


def _user_key(service: Service, email: str, role: str, rep: str | None = None) -> str:
    """A sales key that belongs to a new user."""
    now = utcnow()
    with service.database.session() as session:
        if rep is not None:
            upsert_rep(session, data=RepIn(email=rep, name="Rep"), now=now)
        user = create_user(
            session, email=email, name="U", role=role, password="x" * 12, now=now, rep=rep
        )
        _, secret = create_key(session, name=email, scope="sales", now=now, user_id=user.id)
    return secret


def _as(service: Service, secret: str) -> httpx.Client:
    return httpx.Client(
        base_url=service.url, headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )


class TestAdjustEndpoint:
    def test_201_with_the_adjustment_and_the_new_scores(self, service: Service) -> None:
        lead_id = _lead(service)
        with service.client("sales") as client:
            made = client.post(f"/api/v1/leads/{lead_id}/adjustments", json=FAIR)
            assert made.status_code == 201, made.text
            body: dict[str, Any] = made.json()
            assert body["adjustment"]["actor"] == "key:sales-test"
            assert body["scores"]["engagement"] == 40
            assert body["moved_to_mql"] and body["stage"] == "mql" and body["mql"]
            detail = client.get(f"/api/v1/leads/{lead_id}").json()
            lines = [r for r in detail["scorecard"]["rules"] if r["kind"] == "adjustment"]
            assert lines == [
                {
                    "rule_id": f"adjustment:{body['adjustment']['id']}",
                    "group": "engagement",
                    "kind": "adjustment",
                    "points": 40.0,
                    "contribution": 40.0,
                    "matched": True,
                    "matched_count": 1,
                    "events": [],
                    "description": "met them at the trade fair",
                    "actor": "key:sales-test",
                    "at": body["adjustment"]["at"],
                }
            ]

    @pytest.mark.parametrize(
        ("body", "needle"),
        [
            ({**FAIR, "group": "interest"}, "unknown group 'interest'"),
            ({**FAIR, "points": 0}, "other than 0"),
            ({**FAIR, "points": 1000.5}, "less than or equal to 1000"),
            ({**FAIR, "reason": ""}, "at least 1 character"),
            ({**FAIR, "note": "x"}, "Extra inputs are not permitted"),
        ],
    )
    def test_bad_input_is_422_naming_it(
        self, service: Service, body: dict[str, Any], needle: str
    ) -> None:
        lead_id = _lead(service)
        with service.client("sales") as client:
            answer = client.post(f"/api/v1/leads/{lead_id}/adjustments", json=body)
        assert answer.status_code == 422 and needle in answer.text, answer.text
        with service.database.session() as session:
            assert session.scalars(select(AuditEntry)).all() == []

    def test_an_unknown_lead_is_404_and_an_ingest_key_403(self, service: Service) -> None:
        with service.client("sales") as client:
            assert client.post("/api/v1/leads/nobody/adjustments", json=FAIR).status_code == 404
        with service.client("ingest") as client:
            lead_id = _lead(service)
            denied = client.post(f"/api/v1/leads/{lead_id}/adjustments", json=FAIR)
            assert denied.status_code == 403


class TestRevokeEndpoint:
    def test_revoked_from_now_on_and_answered_with_the_new_scores(self, service: Service) -> None:
        lead_id = _lead(service)
        with service.client("sales") as client:
            number = client.post(f"/api/v1/leads/{lead_id}/adjustments", json=FAIR).json()[
                "adjustment"
            ]["id"]
            gone = client.delete(f"/api/v1/leads/{lead_id}/adjustments/{number}")
            assert gone.status_code == 200, gone.text
            assert gone.json()["adjustment"]["revoked_by"] == "key:sales-test"
            assert gone.json()["scores"]["engagement"] == 0
            assert gone.json()["stage"] == "mql"  # not moved out by itself
            again = client.delete(f"/api/v1/leads/{lead_id}/adjustments/{number}")
            assert again.status_code == 422 and "revoked already" in again.text
            missing = client.delete(f"/api/v1/leads/{lead_id}/adjustments/999")
            assert missing.status_code == 404


class TestUserKeys:
    def test_a_reps_key_adjusts_its_own_leads_only(self, service: Service) -> None:
        mine = _lead(service, "mine@acme.cz", owner="rita@t.example")
        theirs = _lead(service, "theirs@acme.cz", owner="rob@t.example")
        secret = _user_key(service, "rita@t.example", "rep", rep="rita@t.example")
        with _as(service, secret) as client:
            assert client.post(f"/api/v1/leads/{theirs}/adjustments", json=FAIR).status_code == 403
            made = client.post(f"/api/v1/leads/{mine}/adjustments", json=FAIR)
            assert made.status_code == 201
            assert made.json()["adjustment"]["actor"] == "user:rita@t.example"

    def test_a_marketing_users_key_adjusts_any_lead(self, service: Service) -> None:
        theirs = _lead(service, "theirs@acme.cz", owner="rob@t.example")
        secret = _user_key(service, "mark@t.example", "marketing")
        with _as(service, secret) as client:
            made = client.post(f"/api/v1/leads/{theirs}/adjustments", json=FAIR)
            assert made.status_code == 201, made.text
            number = made.json()["adjustment"]["id"]
            assert client.delete(f"/api/v1/leads/{theirs}/adjustments/{number}").status_code == 200
