"""First- and latest-touch attribution through the real service: Segment calls over
HTTP (anonymous visits included), imported channels kept, the funnel by touch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from leadgate.events.models import Event
from leadgate.leads.models import Lead
from tests.api.conftest import Service


def _ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def _send(service: Service, *messages: dict[str, Any]) -> dict[str, Any]:
    auth = httpx.BasicAuth(service.keys["ingest"], "")
    with httpx.Client(base_url=service.url, auth=auth, timeout=10) as client:
        response = client.post("/v1/batch", json={"batch": list(messages)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _page(anonymous_id: str, days: float, message_id: str, **context: Any) -> dict[str, Any]:
    return {
        "type": "page",
        "anonymousId": anonymous_id,
        "messageId": message_id,
        "timestamp": _ago(days),
        "context": context,
    }


def _lead(service: Service, email: str) -> Lead:
    with service.database.session() as session:
        lead = session.scalar(select(Lead).where(Lead.email_key == email))
        assert lead is not None
        session.expunge(lead)
        return lead


class TestSegmentTouches:
    def test_touches_made_while_anonymous_count_once_identified(self, service: Service) -> None:
        """A LinkedIn ad visit (UTM in context.campaign) and a Google search visit while
        anonymous, then identify from the site with no referrer: the first touch is the ad,
        the latest the search (the direct identify does not replace it), and an older
        newsletter click delivered afterwards corrects the first touch."""
        landing = {"url": "https://acme.io/pricing", "referrer": "https://acme.io/"}
        parked = _send(
            service,
            _page(
                "anon-1",
                3,
                "p-1",
                campaign={"name": "Spring", "source": "linkedin", "medium": "paid_social"},
                page=landing,
            ),
            _page(
                "anon-1",
                2,
                "p-2",
                page={"url": "https://acme.io/", "referrer": "https://www.google.com/"},
            ),
        )
        assert parked["accepted"] == 2 and not parked["rejected"]
        identified = _send(
            service,
            {
                "type": "identify",
                "userId": "u-1",
                "anonymousId": "anon-1",
                "traits": {"email": "vera@acme.cz"},
                "timestamp": _ago(1),
                "context": {"page": landing},
            },
        )
        assert identified["accepted"] == 1
        lead = _lead(service, "vera@acme.cz")
        assert (lead.first_touch_campaign, lead.first_touch_channel) == ("Spring", "paid_social")
        assert (lead.first_touch_source, lead.first_touch_medium) == ("linkedin", "paid_social")
        assert (lead.latest_touch_source, lead.latest_touch_channel) == (
            "google.com",
            "organic_search",
        )
        assert lead.channel == "paid_social"  # empty, so it took the first touch's
        _send(
            service,
            {
                "type": "track",
                "userId": "u-1",
                "event": "Email Link Clicked",
                "messageId": "t-1",
                "timestamp": _ago(10),
                "context": {
                    "page": {"url": "https://acme.io/?utm_source=newsletter&utm_medium=email"}
                },
            },
        )
        lead = _lead(service, "vera@acme.cz")
        assert (lead.first_touch_source, lead.first_touch_channel) == ("newsletter", "email")
        assert lead.latest_touch_channel == "organic_search"
        assert lead.channel == "paid_social"  # set once, never overwritten
        with service.database.session() as session:
            stored = set(session.scalars(select(Event.event_id).where(Event.lead_id == "u-1")))
        assert stored == {"p-1", "p-2", "t-1"}

    def test_garbage_attribution_keeps_the_event(self, service: Service) -> None:
        _send(service, {"type": "identify", "userId": "u-2", "traits": {"email": "ota@acme.cz"}})
        garbage = {
            "campaign": {"name": ["x"], "source": "s" * 50_000, "medium": {"a": 1}},
            "page": {"url": "http://[::1", "referrer": 7, "search": None},
        }
        body = _send(
            service,
            {"type": "page", "userId": "u-2", "messageId": "g-1", "context": garbage},
            {"type": "track", "userId": "u-2", "event": "x", "messageId": "g-2", "context": []},
        )
        assert body["accepted"] == 1 and [r["index"] for r in body["rejected"]] == [1]
        lead = _lead(service, "ota@acme.cz")
        assert lead.first_touch_source is not None and len(lead.first_touch_source) == 200
        assert lead.first_touch_channel == "other"
        with service.database.session() as session:
            assert session.scalar(select(Event.event_id).where(Event.lead_id == "u-2")) == "g-1"


class TestImportedChannels:
    def test_an_imported_channel_is_kept(self, service: Service) -> None:
        with service.client("admin") as client:
            created = client.put(
                "/api/v1/leads",
                json={"id": "u-3", "email": "jana@acme.cz", "channel": "trade-show"},
            )
        assert created.status_code == 200, created.text
        _send(
            service,
            {
                "type": "page",
                "userId": "u-3",
                "messageId": "i-1",
                "context": {"campaign": {"source": "google", "medium": "cpc", "name": "brand"}},
            },
        )
        lead = _lead(service, "jana@acme.cz")
        assert lead.channel == "trade-show"
        assert (lead.first_touch_channel, lead.latest_touch_campaign) == ("paid_search", "brand")


class TestFunnelByTouch:
    def test_the_funnel_groups_by_first_touch_channel(self, service: Service) -> None:
        for index, (source, medium) in enumerate(
            [("google", "cpc"), ("google", "cpc"), ("newsletter", "email")]
        ):
            _send(
                service,
                {
                    "type": "identify",
                    "userId": f"f-{index}",
                    "traits": {"email": f"f{index}@acme.cz"},
                    "context": {"campaign": {"source": source, "medium": medium}},
                },
            )
        with service.client("sales") as client:
            report = client.get("/api/v1/reports/funnel", params={"by": "first_touch_channel"})
            unknown = client.get("/api/v1/reports/funnel", params={"by": "first_touch_nope"})
        assert report.status_code == 200, report.text
        assert unknown.status_code in (400, 422) and "first_touch_channel" in unknown.text
        groups = {
            group["value"]: {stage["stage"]: stage["entered"] for stage in group["stages"]}
            for group in report.json()["groups"]
        }
        assert set(groups) == {"paid_search", "email"}
        assert groups["paid_search"]["lead"] == 2 and groups["email"]["lead"] == 1
