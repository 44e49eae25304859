"""The queue and lead pages: what each role sees and may do, what the actions record,
and that attacker-controlled values stay inert."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import select

from leadgate.audit.models import AuditEntry
from leadgate.common.ids import utcnow
from leadgate.keys import create_key
from leadgate.leads.models import Lead, Qualification, StageChange
from leadgate.reps.service import add_absence
from leadgate.scorecards.models import StoredScorecard
from leadgate.tasks.models import Task
from leadgate.users.models import User
from tests.web.conftest import Web, page_token, qualifying_batch

XSS = "<img src=x onerror=alert(1)>"


def _mql(web: Web, email: str, owner: str | None, name: str = "Quinn Lead") -> str:
    """A lead qualified through the Segment endpoint, then owned by ``owner``."""
    assert web.segment(qualifying_batch(email, name)).status_code == 200
    with web.database.session() as session:
        lead = session.scalar(select(Lead).where(Lead.email_key == email))
        assert lead is not None and lead.stage == "mql"
        lead.owner = owner
        for task in session.scalars(select(Task).where(Task.lead_id == lead.id)):
            task.owner = owner or "queue:unassigned"
        return lead.id


def _move(client: httpx.Client, lead_id: str, **form: str) -> httpx.Response:
    return client.post(
        f"/leads/{lead_id}/move",
        data={"csrf_token": page_token(client), **form},
        headers={"X-Requested-With": "fetch"},
    )


class TestQueueVisibility:
    def test_each_role_sees_its_own_part_of_the_queue(self, web: Web) -> None:
        rita = _mql(web, "a@lead.example", "rita@t.example", "Ann Rita")
        raj = _mql(web, "b@lead.example", "raj@t.example", "Ben Raj")
        rob = _mql(web, "c@lead.example", "rob@t.example", "Cy Rob")
        free = _mql(web, "d@lead.example", "queue:unassigned", "Di Free")
        seen = {}
        for email in (
            "rita@t.example",
            "mia@t.example",
            "rob@t.example",
            "mark@t.example",
            "admin@t.example",
        ):
            page = web.login(email).get("/queue").text
            seen[email] = {lead for lead in (rita, raj, rob, free) if f'data-lead="{lead}"' in page}
        assert seen["rita@t.example"] == {rita, free}
        assert seen["mia@t.example"] == {rita, raj, free}
        assert seen["rob@t.example"] == {rob, free}
        assert seen["mark@t.example"] == seen["admin@t.example"] == {rita, raj, rob, free}

    def test_filters_narrow_the_queue(self, web: Web) -> None:
        rita = _mql(web, "a@lead.example", "rita@t.example")
        free = _mql(web, "d@lead.example", "queue:unassigned")
        client = web.login("admin@t.example")
        mine = client.get("/queue", params={"owner": "rita@t.example"}).text
        unassigned = client.get("/queue", params={"owner": "unassigned"}).text
        assert f'data-lead="{rita}"' in mine and f'data-lead="{free}"' not in mine
        assert f'data-lead="{free}"' in unassigned and f'data-lead="{rita}"' not in unassigned

    def test_the_rows_fragment_answers_401_without_a_session(self, web: Web) -> None:
        with web.client() as client:
            assert client.get("/queue/rows").status_code == 401


class TestQueueOrder:
    def test_each_sort_and_filter_orders_or_narrows_the_page(self, web: Web) -> None:
        first = _mql(web, "a@lead.example", "rita@t.example")
        second = _mql(web, "b@lead.example", "rita@t.example")
        third = _mql(web, "c@lead.example", "rita@t.example")
        now = utcnow()
        with web.database.session() as session:
            for lead_id, hours, fit, grade in (
                (first, 3, 10.0, "B"),
                (second, 1, 30.0, "A"),
                (third, 2, 20.0, "B"),
            ):
                task = session.scalars(select(Task).where(Task.lead_id == lead_id)).one()
                task.due_at = now + timedelta(hours=hours)
                card = session.get(StoredScorecard, lead_id)
                assert card is not None
                card.scores = {**card.scores, "fit": fit}
                card.grade = grade
        admin = web.login("admin@t.example")

        def order(**params: str) -> list[str]:
            html = admin.get("/queue/rows", params=params).text
            return list(re.findall(r'data-lead="([^"]+)"', html))

        assert order() == [third, second, first]  # newest MQL first
        assert order(sort="due") == [second, third, first]
        assert order(sort="score") == [second, third, first]  # the model's first group
        assert order(grade="B") == [third, first]
        rows = admin.get("/queue/rows", params={"grade": "B"})
        assert rows.headers["x-queue-total"] == "2"


class TestRoleBoundaries:
    def test_a_rep_cannot_open_or_move_another_teams_lead(self, web: Web) -> None:
        lead = _mql(web, "c@lead.example", "rob@t.example")
        rita = web.login("rita@t.example")
        assert rita.get(f"/leads/{lead}").status_code == 403
        assert _move(rita, lead, to="sal").status_code == 403
        with web.database.session() as session:
            assert session.get(Lead, lead).stage == "mql"  # type: ignore[union-attr]

    def test_marketing_reads_but_does_not_move(self, web: Web) -> None:
        lead = _mql(web, "a@lead.example", "rita@t.example")
        mark = web.login("mark@t.example")
        page = mark.get(f"/leads/{lead}")
        assert page.status_code == 200
        assert "Move to sal" not in page.text
        assert _move(mark, lead, to="sal").status_code == 403

    def test_a_manager_acts_on_a_reports_lead(self, web: Web) -> None:
        lead = _mql(web, "b@lead.example", "raj@t.example")
        assert _move(web.login("mia@t.example"), lead, to="sal").json()["stage"] == "sal"

    def test_a_key_that_belongs_to_a_rep_acts_as_that_rep(self, web: Web) -> None:
        theirs = _mql(web, "c@lead.example", "rob@t.example")
        mine = _mql(web, "a@lead.example", "rita@t.example")
        with web.database.session() as session:
            rita = session.scalar(select(User).where(User.email == "rita@t.example"))
            assert rita is not None
            key, secret = create_key(session, name="rita-crm", scope="sales", now=utcnow())
            key.user_id = rita.id
        with httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {secret}"}) as api:
            assert api.get(f"/api/v1/leads/{theirs}").status_code == 403
            refused = api.post(f"/api/v1/leads/{theirs}/transition", json={"to": "sal"})
            assert refused.status_code == 403
            listed = {row["id"] for row in api.get("/api/v1/leads").json()["leads"]}
            assert mine in listed and theirs not in listed
            assert (
                api.post(f"/api/v1/leads/{mine}/transition", json={"to": "sal"}).status_code == 200
            )
        with web.database.session() as session:
            change = session.scalars(
                select(StageChange).where(
                    StageChange.lead_id == mine, StageChange.to_stage == "sal"
                )
            ).one()
        assert change.actor == "user:rita@t.example"


class TestActions:
    def test_accept_records_the_user_as_the_actor(self, web: Web) -> None:
        lead = _mql(web, "a@lead.example", "rita@t.example")
        answer = _move(web.login("rita@t.example"), lead, to="sal")
        assert answer.status_code == 200 and answer.json() == {"ok": True, "stage": "sal"}
        with web.database.session() as session:
            change = session.scalars(
                select(StageChange)
                .where(StageChange.lead_id == lead)
                .order_by(StageChange.id.desc())
            ).first()
        assert change is not None
        assert (change.to_stage, change.actor) == ("sal", "user:rita@t.example")

    def test_a_rejection_needs_a_listed_reason(self, web: Web) -> None:
        lead = _mql(web, "a@lead.example", "rita@t.example")
        rita = web.login("rita@t.example")
        missing = _move(rita, lead, to="nurture")
        assert missing.status_code == 422
        made_up = _move(rita, lead, to="nurture", reason="I just feel like it")
        assert made_up.status_code == 422
        done = _move(rita, lead, to="nurture", reason="bad timing")
        assert done.json()["stage"] == "nurture"
        with web.database.session() as session:
            change = session.scalars(
                select(StageChange)
                .where(StageChange.lead_id == lead)
                .order_by(StageChange.id.desc())
            ).first()
        assert change is not None and change.reason == "bad timing"

    def test_qualifying_records_bant_and_the_timeline_shows_it(self, web: Web) -> None:
        lead = _mql(web, "a@lead.example", "rita@t.example")
        rita = web.login("rita@t.example")
        _move(rita, lead, to="sal")
        assert _move(rita, lead, to="sql").status_code == 422  # the form asks for BANT
        done = _move(rita, lead, to="sql", budget="50k EUR", need="replace <b>spreadsheets</b>")
        assert done.json()["stage"] == "sql"
        with web.database.session() as session:
            row = session.scalars(select(Qualification).where(Qualification.lead_id == lead)).one()
        assert (row.budget, row.actor) == ("50k EUR", "user:rita@t.example")
        page = rita.get(f"/leads/{lead}").text
        assert "replace &lt;b&gt;spreadsheets&lt;/b&gt;" in page

    def test_reassign_moves_the_open_task_and_is_audited(self, web: Web) -> None:
        lead = _mql(web, "a@lead.example", "rita@t.example")
        rita = web.login("rita@t.example")
        answer = rita.post(
            f"/leads/{lead}/reassign",
            data={"csrf_token": page_token(rita), "owner": "raj@t.example"},
            headers={"X-Requested-With": "fetch"},
        )
        assert answer.json() == {"ok": True, "owner": "raj@t.example"}
        with web.database.session() as session:
            task = session.scalars(select(Task).where(Task.lead_id == lead)).one()
            entry = session.scalars(select(AuditEntry).where(AuditEntry.lead_id == lead)).one()
        assert task.owner == "raj@t.example"
        assert (entry.action, entry.actor) == ("lead.reassigned", "user:rita@t.example")
        assert entry.detail["from"] == "rita@t.example"

    def test_a_rep_away_today_is_neither_offered_nor_accepted_as_owner(self, web: Web) -> None:
        lead = _mql(web, "a@lead.example", "rita@t.example")
        now = utcnow()
        with web.database.session() as session:
            add_absence(
                session,
                rep_email="raj@t.example",
                starts_on=now.date(),
                ends_on=now.date(),
                note="holiday",
                actor="test",
                now=now,
            )
        rita = web.login("rita@t.example")
        assert 'value="raj@t.example"' not in rita.get(f"/leads/{lead}").text
        refused = rita.post(
            f"/leads/{lead}/reassign",
            data={"csrf_token": page_token(rita), "owner": "raj@t.example"},
            headers={"X-Requested-With": "fetch"},
        )
        assert refused.status_code == 422
        assert "away" in refused.json()["detail"]

    def test_completing_a_task_records_the_sla(self, web: Web) -> None:
        lead = _mql(web, "a@lead.example", "rita@t.example")
        rita = web.login("rita@t.example")
        with web.database.session() as session:
            task_id = session.scalars(select(Task.id).where(Task.lead_id == lead)).one()
        done = rita.post(
            f"/tasks/{task_id}/complete",
            data={"csrf_token": page_token(rita), "back": f"/leads/{lead}"},
        )
        assert done.status_code == 303 and done.headers["location"] == f"/leads/{lead}"
        with web.database.session() as session:
            task = session.get(Task, task_id)
            assert task is not None and (task.status, task.sla_met) == ("done", True)
            entry = session.scalars(select(AuditEntry).where(AuditEntry.lead_id == lead)).one()
        assert entry.actor == "user:rita@t.example"

    def test_a_post_without_the_csrf_token_changes_nothing(self, web: Web) -> None:
        lead = _mql(web, "a@lead.example", "rita@t.example")
        rita = web.login("rita@t.example")
        forged = rita.post(f"/leads/{lead}/move", data={"to": "sal"})
        other_site = rita.post(
            f"/leads/{lead}/move",
            data={"to": "sal", "csrf_token": page_token(rita)},
            headers={"Origin": "https://evil.example"},
        )
        assert forged.status_code == other_site.status_code == 403
        with web.database.session() as session:
            assert session.get(Lead, lead).stage == "mql"  # type: ignore[union-attr]


class TestInertValues:
    def test_html_in_a_lead_name_is_text_in_every_page(self, web: Web) -> None:
        lead = _mql(web, "x@lead.example", "rita@t.example", name=f"{XSS} Smith")
        admin = web.login("admin@t.example")
        for path in ("/queue", "/queue/rows", f"/leads/{lead}"):
            html = admin.get(path).text
            assert XSS not in html, path
            assert "&lt;img src=x onerror=alert(1)&gt;" in html, path

    def test_pages_carry_a_policy_without_inline_scripts(self, web: Web) -> None:
        page = web.login("admin@t.example").get("/queue")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert "<script>" not in page.text and " onclick=" not in page.text
        assert page.headers["x-content-type-options"] == "nosniff"
