"""Adjusting a lead's score by hand from its page: the line in the breakdown, the
audit, the rescore (and handoff) at once, revocation, and who may do it."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from leadgate.audit.models import AuditEntry
from leadgate.common.ids import utcnow
from leadgate.leads.models import Lead
from leadgate.tasks.models import Task
from tests.web.conftest import Web, page_token


def _lead(web: Web, email: str, owner: str) -> str:
    """A lead with one pricing visit (engagement 25: below the MQL line of 35)."""
    stamp = utcnow().isoformat()
    batch: list[dict[str, Any]] = [
        {"type": "identify", "userId": email, "traits": {"email": email}, "timestamp": stamp},
        {
            "type": "page",
            "userId": email,
            "properties": {"url": "https://x.cz/pricing"},
            "timestamp": stamp,
            "messageId": f"{email}-p",
        },
    ]
    assert web.segment(batch).status_code == 200
    with web.database.session() as session:
        lead = session.scalar(select(Lead).where(Lead.email_key == email))
        assert lead is not None and lead.stage != "mql"
        lead.owner = owner
        return lead.id


def _adjust(client: httpx.Client, lead: str, **form: str) -> httpx.Response:
    return client.post(
        f"/leads/{lead}/adjustments",
        data={"csrf_token": page_token(client), **form},
        headers={"X-Requested-With": "fetch"},
    )


class TestAdjustFromTheLeadPage:
    def test_an_adjustment_is_a_line_of_the_breakdown_and_can_make_an_mql(self, web: Web) -> None:
        lead = _lead(web, "fair@lead.example", "rita@t.example")
        rita = web.login("rita@t.example")
        answer = _adjust(
            rita, lead, group="engagement", points="20", reason="met at the <b>trade fair</b>"
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["stage"] == "mql"  # 25 + 20 meets the definition: handed off
        with web.database.session() as session:
            assert session.scalars(select(Task).where(Task.lead_id == lead)).all()
            entry = session.scalars(
                select(AuditEntry).where(AuditEntry.action == "score.adjusted")
            ).one()
        assert entry.actor == "user:rita@t.example"
        page = rita.get(f"/leads/{lead}").text
        assert "manual adjustment: met at the &lt;b&gt;trade fair&lt;/b&gt;" in page
        assert "by user:rita@t.example" in page

    def test_revoking_removes_the_line_and_keeps_the_record(self, web: Web) -> None:
        lead = _lead(web, "fair@lead.example", "rita@t.example")
        rita = web.login("rita@t.example")
        made = _adjust(rita, lead, group="fit", points="-10", reason="a reseller")
        revoked = rita.post(
            f"/leads/{lead}/adjustments/{made.json()['adjustment']}/revoke",
            data={"csrf_token": page_token(rita)},
            headers={"X-Requested-With": "fetch"},
        )
        assert revoked.status_code == 200
        assert revoked.json()["scores"]["fit"] == 0
        page = rita.get(f"/leads/{lead}").text
        assert "manual adjustment: a reseller" not in page
        assert "score.adjustment_revoked" in page  # on the timeline

    def test_bad_input_is_one_clear_refusal(self, web: Web) -> None:
        lead = _lead(web, "fair@lead.example", "rita@t.example")
        rita = web.login("rita@t.example")
        unknown = _adjust(rita, lead, group="charm", points="5", reason="x")
        assert unknown.status_code == 422 and "engagement" in unknown.json()["detail"]
        zero = _adjust(rita, lead, group="fit", points="0", reason="nothing")
        assert zero.status_code == 422
        huge = _adjust(rita, lead, group="fit", points="5000", reason="x")
        assert huge.status_code == 422


class TestWhoMayAdjust:
    def test_a_rep_cannot_adjust_another_teams_lead_but_marketing_can(self, web: Web) -> None:
        lead = _lead(web, "other@lead.example", "rob@t.example")
        assert (
            _adjust(
                web.login("rita@t.example"), lead, group="fit", points="5", reason="x"
            ).status_code
            == 403
        )
        assert (
            _adjust(
                web.login("mark@t.example"), lead, group="fit", points="5", reason="fits our ICP"
            ).status_code
            == 200
        )
