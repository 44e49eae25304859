"""The lead pages: search, create, edit, merge and bulk reassign, with the role
boundaries of each (a rep: their leads and the unassigned ones; a manager: their
team's; marketing: read only), against the app on a real server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import func, select

from leadgate.accounts.schemas import AccountCreate
from leadgate.accounts.service import upsert_account
from leadgate.audit.models import AuditEntry
from leadgate.common.ids import utcnow
from leadgate.events.models import Event
from leadgate.events.schemas import EventCreate
from leadgate.events.service import record_event
from leadgate.leads.models import Lead, StageChange
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import find_lead, upsert_lead
from leadgate.qualification.service import qualify_leads
from leadgate.reps.models import Rep
from leadgate.scorecards.models import StoredScorecard
from leadgate.scoring import load_model
from tests.web.conftest import MODEL, Web, page_token

SCORING = load_model(MODEL)
XSS = "<img src=x onerror=alert(1)>"


def add_lead(
    web: Web,
    email: str,
    *,
    first: str | None = None,
    last: str | None = None,
    owner: str | None = None,
    domain: str | None = None,
    stage: str | None = None,
    pricing: int = 0,
    clicks: int = 0,
) -> str:
    """A stored, scored lead with ``pricing`` pricing visits and ``clicks`` email clicks."""
    now = utcnow()
    with web.database.session() as session:
        lead, _ = upsert_lead(
            session,
            data=LeadCreate(email=email, first_name=first, last_name=last, account_domain=domain),
            now=now,
        )
        lead.owner = owner
        if stage is not None:
            lead.stage = stage
        events = [("page.viewed", {"url": "https://x.cz/pricing"})] * pricing
        events += [("email.clicked", {})] * clicks
        for index, (kind, properties) in enumerate(events):
            record_event(
                session,
                data=EventCreate(
                    event_id=f"{email}-{index}",
                    lead_id=lead.id,
                    type=kind,
                    occurred_at=now - timedelta(minutes=index + 1),
                    properties=properties,
                ),
                received_at=now,
            )
        qualify_leads(session, lead_ids=[lead.id], model=SCORING, as_of=now, handoff=None)
        return lead.id


@contextmanager
def signed(web: Web, email: str) -> Iterator[httpx.Client]:
    """A client signed in as ``email``, closed afterwards."""
    client = web.login(email)
    try:
        yield client
    finally:
        client.close()


def add_account(web: Web, domain: str, name: str, **fields: object) -> None:
    with web.database.session() as session:
        upsert_account(
            session, data=AccountCreate(domain=domain, name=name, **fields), now=utcnow()
        )


def listed(response: httpx.Response) -> set[str]:
    """The ids of the leads a result page lists."""
    assert response.status_code == 200, response.text
    return set(re.findall(r'<tr data-lead="([^"]+)"', response.text))


def search(client: httpx.Client, text: str, **params: str) -> set[str]:
    return listed(client.get("/leads", params={"q": text, **params}))


def stored(web: Web, ref: str) -> Lead | None:
    with web.database.session() as session:
        lead = find_lead(session, ref=ref)
        if lead is not None:
            session.expunge(lead)
        return lead


def owners(web: Web, *refs: str) -> list[str | None]:
    """The stored owner of each lead."""
    with web.database.session() as session:
        return [session.get(Lead, ref).owner for ref in refs]  # type: ignore[union-attr]


def audit(web: Web, action: str) -> list[AuditEntry]:
    with web.database.session() as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))
        session.expunge_all()
        return entries


def send(client: httpx.Client, path: str, data: dict[str, Any], **options: Any) -> httpx.Response:
    """A form post with the session's CSRF token."""
    token = page_token(client, "/leads")
    return client.post(path, data={"csrf_token": token, **data}, **options)


def error_of(response: httpx.Response) -> str:
    """The message a refused form post carries back in its redirect."""
    assert response.status_code == 303, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)["error"][0]


class TestSearch:
    def test_finds_by_each_field_case_insensitively_across_stages(self, web: Web) -> None:
        add_account(web, "acme-parts.cz", "Acme Industrial")
        jane = add_lead(web, "jane.doe@acme-parts.cz", first="Jane", last="Doe", stage="customer")
        other = add_lead(web, "petr@nordic.cz", first="Petr", last="Novak", stage="nurture")
        with signed(web, "admin@t.example") as client:
            assert search(client, "JANE") == {jane}
            assert search(client, "doe") == {jane}
            assert search(client, "jane d") == {jane}  # the full name
            assert search(client, "Jane.Doe@ACME") == {jane}
            assert search(client, "acme industrial") == {jane}  # the account's name
            assert search(client, "novak") == {other}
            assert search(client, "") == {jane, other}
            assert search(client, "", stage="nurture") == {other}
            assert search(client, "nobody-like-this") == set()

    def test_a_rep_never_sees_another_teams_lead(self, web: Web) -> None:
        mine = add_lead(web, "mine@acme.cz", first="Alex", owner="rita@t.example")
        team = add_lead(web, "raj-lead@acme.cz", first="Alex", owner="raj@t.example")
        free = add_lead(web, "free@acme.cz", first="Alex")
        queued = add_lead(web, "queued@acme.cz", first="Alex", owner="queue:unassigned")
        robs = add_lead(web, "robs@acme.cz", first="Alex", owner="rob@t.example")
        with signed(web, "rita@t.example") as client:
            assert search(client, "alex") == {mine, free, queued}
            assert search(client, "robs@acme.cz") == set()
            assert "robs@acme.cz" not in client.get("/leads").text
        with signed(web, "mia@t.example") as client:
            assert search(client, "alex") == {mine, team, free, queued}
        with signed(web, "rob@t.example") as client:
            assert search(client, "alex") == {free, queued, robs}
        with signed(web, "mark@t.example") as client:
            assert search(client, "alex") == {mine, team, free, queued, robs}

    def test_a_name_with_markup_is_shown_escaped(self, web: Web) -> None:
        add_lead(web, "xss@acme.cz", first=XSS, last="Doe")
        add_account(web, "evil.cz", XSS)
        add_lead(web, "other@evil.cz", first="Eve")
        with signed(web, "admin@t.example") as client:
            page = client.get("/leads", params={"q": XSS}).text
        assert "<img" not in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page

    def test_sql_metacharacters_are_plain_text(self, web: Web) -> None:
        odd = add_lead(web, "odd@acme.cz", first="50%_off", last="O'Brien")
        plain = add_lead(web, "plain@acme.cz", first="Plain", last="Person")
        with signed(web, "admin@t.example") as client:
            assert search(client, "%") == {odd}
            assert search(client, "_") == {odd}
            assert search(client, "50%_") == {odd}
            assert search(client, "o'brien") == {odd}
            assert search(client, "' OR '1'='1") == set()
            assert search(client, "\\") == set()
            assert search(client, "x'); DROP TABLE leads; --") == set()
            assert search(client, "") == {odd, plain}

    def test_pages_through_many_results(self, web: Web) -> None:
        for index in range(53):
            add_lead(web, f"bulk{index:02d}@acme.cz", first="Bulk")
        with signed(web, "admin@t.example") as client:
            first = client.get("/leads", params={"q": "bulk"})
            second = client.get("/leads", params={"q": "bulk", "page": "2"})
        assert len(listed(first)) == 50
        assert len(listed(second)) == 3
        assert not listed(first) & listed(second)
        assert "53 leads" in first.text
        assert 'href="/leads?q=bulk&amp;page=2"' in first.text

    def test_marketing_sees_no_actions(self, web: Web) -> None:
        add_lead(web, "lead@acme.cz")
        with signed(web, "mark@t.example") as client:
            page = client.get("/leads").text
        assert 'action="/leads/reassign"' not in page
        assert 'href="/leads/new"' not in page


class TestCreate:
    def test_a_rep_creates_a_scored_lead_on_the_record(self, web: Web) -> None:
        add_account(web, "acme-parts.cz", "Acme Industrial", industry="manufacturing")
        with signed(web, "rita@t.example") as client:
            response = send(
                client,
                "/leads",
                {
                    "email": "New.Person@acme-parts.cz",
                    "first_name": "New",
                    "last_name": "Person",
                    "title": "CTO",
                    "country": "CZ",
                    "account_domain": "",
                    "channel": "referral",
                    "campaign": "spring",
                },
            )
            assert response.status_code == 303
            assert response.headers["location"].startswith("/leads/ld_")
            assert client.get(response.headers["location"]).status_code == 200
        lead = stored(web, "new.person@acme-parts.cz")
        assert lead is not None
        assert (lead.first_name, lead.title, lead.channel, lead.campaign) == (
            "New",
            "CTO",
            "referral",
            "spring",
        )
        with web.database.session() as session:
            created = session.scalar(select(StageChange).where(StageChange.lead_id == lead.id))
            card = session.get(StoredScorecard, lead.id)
            assert created is not None and created.actor == "user:rita@t.example"
            assert card is not None and card.scores["fit"] == 30  # the account's industry

    def test_an_existing_email_is_refused(self, web: Web) -> None:
        add_lead(web, "taken@acme.cz", first="First")
        with signed(web, "rita@t.example") as client:
            response = send(client, "/leads", {"email": "TAKEN@acme.cz", "first_name": "Second"})
        assert "exists already" in error_of(response)
        assert response.headers["location"].startswith("/leads/new?")
        lead = stored(web, "taken@acme.cz")
        assert lead is not None and lead.first_name == "First"

    def test_a_bad_email_is_one_clear_message(self, web: Web) -> None:
        with signed(web, "rita@t.example") as client:
            response = send(client, "/leads", {"email": "nope"})
        assert "is not an email address" in error_of(response)

    def test_marketing_and_a_missing_csrf_token_are_refused(self, web: Web) -> None:
        with signed(web, "mark@t.example") as client:
            assert client.get("/leads/new").status_code == 403
            token = page_token(client, "/leads")
            refused = client.post("/leads", data={"csrf_token": token, "email": "m@acme.cz"})
            assert refused.status_code == 403
        with signed(web, "rita@t.example") as client:
            assert client.post("/leads", data={"email": "c@acme.cz"}).status_code == 403
        assert stored(web, "m@acme.cz") is None
        assert stored(web, "c@acme.cz") is None


class TestEdit:
    def test_an_edit_is_saved_audited_and_scored(self, web: Web) -> None:
        add_account(web, "factory.cz", "Factory", industry="manufacturing")
        lead_id = add_lead(web, "e@acme.cz", first="Edna", last="Old", owner="rita@t.example")
        with signed(web, "rita@t.example") as client:
            form = client.get(f"/leads/{lead_id}/edit")
            assert form.status_code == 200 and 'value="Old"' in form.text
            response = send(
                client,
                f"/leads/{lead_id}/edit",
                {
                    "first_name": "Edna",
                    "last_name": "",
                    "title": "Head of Ops",
                    "account_domain": "factory.cz",
                },
            )
        assert response.status_code == 303
        assert response.headers["location"] == f"/leads/{lead_id}"
        lead = stored(web, lead_id)
        assert lead is not None and (lead.last_name, lead.title) == (None, "Head of Ops")
        (entry,) = audit(web, "lead.edited")
        assert entry.actor == "user:rita@t.example" and entry.lead_id == lead_id
        assert entry.detail["title"] == "none → Head of Ops"
        assert entry.detail["last_name"] == "Old → none"
        assert entry.detail["account"] == "acme.cz → factory.cz"
        with web.database.session() as session:
            card = session.get(StoredScorecard, lead_id)
            assert card is not None and card.scores["fit"] == 30

    def test_a_rep_cannot_edit_another_teams_lead(self, web: Web) -> None:
        lead_id = add_lead(web, "robs@acme.cz", first="Rob's", owner="rob@t.example")
        with signed(web, "rita@t.example") as client:
            assert client.get(f"/leads/{lead_id}/edit").status_code == 403
            response = send(client, f"/leads/{lead_id}/edit", {"first_name": "Mine"})
        assert response.status_code == 403
        lead = stored(web, lead_id)
        assert lead is not None and lead.first_name == "Rob's"

    def test_marketing_cannot_edit(self, web: Web) -> None:
        lead_id = add_lead(web, "m@acme.cz", first="Same")
        with signed(web, "mark@t.example") as client:
            assert client.get(f"/leads/{lead_id}/edit").status_code == 403
            response = send(client, f"/leads/{lead_id}/edit", {"first_name": "Changed"})
        assert response.status_code == 403
        lead = stored(web, lead_id)
        assert lead is not None and lead.first_name == "Same"
        assert audit(web, "lead.edited") == []

    def test_a_missing_csrf_token_changes_nothing(self, web: Web) -> None:
        lead_id = add_lead(web, "c@acme.cz", first="Same")
        with signed(web, "admin@t.example") as client:
            response = client.post(f"/leads/{lead_id}/edit", data={"first_name": "Changed"})
        assert response.status_code == 403
        lead = stored(web, lead_id)
        assert lead is not None and lead.first_name == "Same"


class TestMerge:
    def test_the_kept_lead_has_both_leads_events_and_qualifies(self, web: Web) -> None:
        keep = add_lead(web, "jan@acme.cz", first="Jan", pricing=1)  # engagement 25
        drop = add_lead(web, "jan.novak@acme.cz", last="Novak", clicks=1)  # engagement 15
        with signed(web, "rita@t.example") as client:
            page = client.get("/leads/merge", params={"a": keep, "b": drop})
            assert page.status_code == 200 and "jan.novak@acme.cz" in page.text
            response = send(client, "/leads/merge", {"a": keep, "b": drop, "keep": keep})
        assert response.status_code == 303
        assert response.headers["location"] == f"/leads/{keep}"
        with web.database.session() as session:
            events = session.scalar(select(func.count()).where(Event.lead_id == keep))
            assert events == 2
            assert session.get(Lead, drop) is None
            kept = find_lead(session, ref="jan.novak@acme.cz")  # the alias resolves
            assert kept is not None and kept.id == keep
            assert (kept.first_name, kept.last_name) == ("Jan", "Novak")
            assert kept.stage == "mql"  # 25 + 15 meets the definition (35)
            history = session.scalars(
                select(StageChange).where(StageChange.lead_id == keep).order_by(StageChange.id)
            ).all()
            assert any(
                row.actor == "user:rita@t.example" and "merged" in (row.reason or "")
                for row in history
            )
        (entry,) = audit(web, "lead.merged")
        assert entry.actor == "user:rita@t.example"
        assert entry.detail["merged"] == drop and entry.detail["events"] == 2

    def test_either_lead_can_be_kept(self, web: Web) -> None:
        first = add_lead(web, "one@acme.cz", first="One")
        second = add_lead(web, "two@acme.cz", first="Two")
        with signed(web, "admin@t.example") as client:
            response = send(client, "/leads/merge", {"a": first, "b": second, "keep": second})
        assert response.headers["location"] == f"/leads/{second}"
        kept = stored(web, "one@acme.cz")  # resolves to the kept lead now
        assert kept is not None and kept.id == second

    def test_a_rep_cannot_merge_another_teams_lead(self, web: Web) -> None:
        mine = add_lead(web, "mine@acme.cz", owner="rita@t.example", pricing=1)
        robs = add_lead(web, "robs@acme.cz", owner="rob@t.example", pricing=1)
        with signed(web, "rita@t.example") as client:
            assert client.get("/leads/merge", params={"a": mine, "b": robs}).status_code == 403
            response = send(client, "/leads/merge", {"a": mine, "b": robs, "keep": mine})
        assert response.status_code == 403
        assert stored(web, robs) is not None
        with web.database.session() as session:
            assert session.scalar(select(func.count()).where(Event.lead_id == robs)) == 1

    def test_keep_must_be_one_of_the_two(self, web: Web) -> None:
        first = add_lead(web, "one@acme.cz")
        second = add_lead(web, "two@acme.cz")
        third = add_lead(web, "three@acme.cz")
        with signed(web, "admin@t.example") as client:
            token = page_token(client, "/leads")
            odd = client.post(
                "/leads/merge", data={"csrf_token": token, "a": first, "b": second, "keep": third}
            )
            same = client.post(
                "/leads/merge", data={"csrf_token": token, "a": first, "b": first, "keep": first}
            )
            unsigned = client.post("/leads/merge", data={"a": first, "b": second, "keep": first})
        assert "keep one of the two" in error_of(odd)
        assert "two different leads" in error_of(same)
        assert unsigned.status_code == 403
        assert all(stored(web, ref) is not None for ref in (first, second, third))


class TestBulkReassign:
    def test_a_manager_reassigns_the_selected_leads(self, web: Web) -> None:
        ritas = add_lead(web, "a@acme.cz", owner="rita@t.example")
        free = add_lead(web, "b@acme.cz")
        untouched = add_lead(web, "c@acme.cz", owner="rita@t.example")
        with signed(web, "mia@t.example") as client:
            response = send(
                client,
                "/leads/reassign",
                {"lead": [ritas, free], "owner": "raj@t.example", "back": "/leads?q=acme"},
            )
        assert response.status_code == 303 and response.headers["location"] == "/leads?q=acme"
        assert owners(web, ritas, free, untouched) == ["raj@t.example"] * 2 + ["rita@t.example"]
        entries = audit(web, "lead.reassigned")
        assert {entry.lead_id for entry in entries} == {ritas, free}
        assert {entry.actor for entry in entries} == {"user:mia@t.example"}

    def test_one_lead_outside_the_viewers_rights_refuses_the_whole_batch(self, web: Web) -> None:
        mine = add_lead(web, "mine@acme.cz", owner="rita@t.example")
        free = add_lead(web, "free@acme.cz")
        robs = add_lead(web, "robs@acme.cz", owner="rob@t.example")
        with signed(web, "rita@t.example") as client:
            response = send(
                client,
                "/leads/reassign",
                {"lead": [mine, free, robs], "owner": "raj@t.example"},
                headers={"X-Requested-With": "fetch"},
            )
        assert response.status_code == 403
        detail = response.json()["detail"]
        assert "1 of the 3 leads belong to another team (robs@acme.cz)" in detail
        assert "nothing was reassigned" in detail
        assert owners(web, mine, free, robs) == ["rita@t.example", None, "rob@t.example"]
        assert audit(web, "lead.reassigned") == []

    def test_an_unavailable_owner_refuses_the_batch(self, web: Web) -> None:
        first = add_lead(web, "first@acme.cz")
        second = add_lead(web, "second@acme.cz")
        with signed(web, "admin@t.example") as client:
            token = page_token(client, "/leads")
            with web.database.session() as session:
                rep = session.get(Rep, "raj@t.example")
                assert rep is not None
                rep.available = False
            response = client.post(
                "/leads/reassign",
                data={"csrf_token": token, "lead": [first, second], "owner": "raj@t.example"},
            )
        assert "unavailable" in error_of(response)
        assert owners(web, first, second) == [None, None]

    def test_an_unknown_lead_refuses_the_batch(self, web: Web) -> None:
        known = add_lead(web, "known@acme.cz")
        with signed(web, "admin@t.example") as client:
            response = send(
                client, "/leads/reassign", {"lead": [known, "ld_missing"], "owner": "raj@t.example"}
            )
        assert response.status_code == 404
        assert owners(web, known) == [None]

    def test_marketing_and_a_missing_csrf_token_are_refused(self, web: Web) -> None:
        lead_id = add_lead(web, "x@acme.cz")
        with signed(web, "mark@t.example") as client:
            token = page_token(client, "/leads")
            marketing = client.post(
                "/leads/reassign",
                data={"csrf_token": token, "lead": [lead_id], "owner": "raj@t.example"},
            )
        with signed(web, "admin@t.example") as client:
            unsigned = client.post(
                "/leads/reassign", data={"lead": [lead_id], "owner": "raj@t.example"}
            )
        assert marketing.status_code == 403 and unsigned.status_code == 403
        assert owners(web, lead_id) == [None]

    def test_nothing_selected_is_one_clear_message(self, web: Web) -> None:
        with signed(web, "admin@t.example") as client:
            response = send(client, "/leads/reassign", {"owner": "raj@t.example"})
        assert "choose at least one lead" in error_of(response)
