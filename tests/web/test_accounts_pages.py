"""The account pages: the ABM queue (exactly the accounts meeting the definition,
newest activity first, tier filter) and an account's page (facts, the leads the
viewer sees, the stored roll-up, the weekly engagement chart and its table)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta

import httpx
import pytest
from sqlalchemy import select

from leadgate.accounts.abm import AbmDefinition, abm_queue
from leadgate.accounts.schemas import AccountCreate
from leadgate.accounts.service import upsert_account
from leadgate.api import create_app
from leadgate.common.ids import utcnow
from leadgate.config import Settings
from leadgate.db.engine import Database
from leadgate.events.schemas import EventCreate
from leadgate.events.service import record_event
from leadgate.leads.models import Lead
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import upsert_lead
from leadgate.qualification.service import qualify_leads
from leadgate.scorecards.models import StoredScorecard
from leadgate.scoring import load_model
from leadgate.web.render import templates
from tests.web.conftest import MODEL, Web, seed_team, start_server

WINDOW_DAYS = 10
XSS = "<img src=x onerror=alert(1)>"


def _model_text() -> str:
    """The web tests' model with an account roll-up of its engagement (among the
    groups, before ``grades``)."""
    head, _, tail = MODEL.partition("grades:")
    extra = "  account_engagement:\n    rollup: {from: engagement, how: sum}\n"
    return head + extra + "grades:" + tail


SCORING = load_model(_model_text())


@pytest.fixture
def abm(db: Database, database_url: str) -> Iterator[Web]:
    """The app with a roll-up group in its model and a 10-day ABM window."""
    settings = Settings(database_url=database_url, abm_min_engaged=2, abm_window_days=WINDOW_DAYS)
    app = create_app(settings=settings, database=db, model=SCORING)
    keys = seed_team(db)
    server, thread, url = start_server(app)
    yield Web(url=url, keys=keys, database=db, app=app)
    server.should_exit = True
    thread.join(timeout=10)


@contextmanager
def signed(web: Web, email: str) -> Iterator[httpx.Client]:
    client = web.login(email)
    try:
        yield client
    finally:
        client.close()


def add_account(web: Web, domain: str, name: str | None = None, **fields: object) -> str:
    with web.database.session() as session:
        account, _ = upsert_account(
            session, data=AccountCreate(domain=domain, name=name, **fields), now=utcnow()
        )
        return account.id


def add_contacts(
    web: Web,
    domain: str,
    *people: tuple[str, int, float],
    owner: str | None = None,
    stage: str | None = None,
) -> list[str]:
    """Leads at ``domain``, each ``(name, pricing visits, days ago)``, scored together
    as of now (so every scorecard holds the same roll-up)."""
    now = utcnow()
    ids = []
    with web.database.session() as session:
        for name, visits, days_ago in people:
            lead, _ = upsert_lead(
                session,
                data=LeadCreate(email=f"{name}@{domain}", first_name=name.title()),
                now=now,
            )
            lead.owner = owner
            if stage is not None:
                lead.stage = stage
            for index in range(visits):
                record_event(
                    session,
                    data=EventCreate(
                        event_id=f"{name}@{domain}-{index}",
                        lead_id=lead.id,
                        type="page.viewed",
                        occurred_at=now - timedelta(days=days_ago, minutes=index),
                        properties={"url": "https://x.cz/pricing"},
                    ),
                    received_at=now,
                )
            ids.append(lead.id)
        account_id = lead.account_id
        mates = list(session.scalars(select(Lead.id).where(Lead.account_id == account_id)))
        qualify_leads(session, lead_ids=mates, model=SCORING, as_of=now, handoff=None)
    return ids


def queue_rows(response: httpx.Response) -> list[tuple[str, int]]:
    """The (account id, engaged contacts) of each row of the ABM queue, in order."""
    assert response.status_code == 200, response.text
    rows = re.findall(
        r'<tr data-account="([^"]+)">.*?<td class="num">(\d+)</td>', response.text, re.S
    )
    return [(account, int(count)) for account, count in rows]


class TestAbmQueue:
    def test_lists_exactly_the_accounts_meeting_the_definition(self, abm: Web) -> None:
        alpha = add_account(abm, "alpha.cz", "Alpha", tier="1")
        add_contacts(abm, "alpha.cz", ("ann", 2, 0), ("bob", 2, 0))  # 2 engaged, now
        beta = add_account(abm, "beta.cz", "Beta", tier="2")
        add_contacts(abm, "beta.cz", ("cid", 2, 0), ("dan", 1, 0))  # one below the MQL line
        add_account(abm, "gamma.cz", "Gamma", tier="1")
        add_contacts(abm, "gamma.cz", ("eva", 5, 15), ("fil", 5, 15))  # MQL, not recent
        delta = add_account(abm, "delta.cz", "Delta", tier="2")
        add_contacts(abm, "delta.cz", ("gus", 2, 2), ("hal", 2, 2), ("ida", 2, 3))
        add_contacts(abm, "delta.cz", ("jon", 2, 0), stage="disqualified")
        epsilon = add_account(abm, "epsilon.cz", "Epsilon", tier="1")
        add_contacts(abm, "epsilon.cz", ("kim", 2, 1))
        add_contacts(abm, "epsilon.cz", ("lea", 2, 1), stage="disqualified")
        with abm.database.session() as session:  # the premises: who meets the MQL line
            cards = {
                lead.email: card.mql
                for lead, card in session.execute(
                    select(Lead, StoredScorecard).join(StoredScorecard)
                )
            }
        assert cards["eva@gamma.cz"] and cards["cid@beta.cz"] and not cards["dan@beta.cz"]
        assert cards["lea@epsilon.cz"]
        with signed(abm, "rita@t.example") as client:
            everything = queue_rows(client.get("/accounts"))
            tier_two = queue_rows(client.get("/accounts", params={"tier": "2"}))
            page = client.get("/accounts").text
        assert everything == [(alpha, 2), (delta, 3)]  # newest activity first
        assert tier_two == [(delta, 3)]
        assert beta not in page and epsilon not in page
        definition = "at least 2 contacts that meet the MQL definition and were active"
        assert f"{definition} in the last {WINDOW_DAYS} days" in page

    def test_the_definition_is_its_settings(self, abm: Web) -> None:
        add_account(abm, "alpha.cz", "Alpha")
        add_contacts(abm, "alpha.cz", ("ann", 2, 0), ("bob", 2, 0))
        delta = add_account(abm, "delta.cz", "Delta")
        add_contacts(abm, "delta.cz", ("gus", 2, 2), ("hal", 2, 2), ("ida", 2, 3))
        now = utcnow()
        with abm.database.session() as session:
            three = abm_queue(
                session,
                definition=AbmDefinition(min_engaged=3, window_days=WINDOW_DAYS),
                now=now,
                rollup_group="account_engagement",
            )
            recent = abm_queue(
                session,
                definition=AbmDefinition(min_engaged=2, window_days=1),
                now=now,
                rollup_group=None,
            )
            assert [row.account.id for row in three.rows] == [delta] and three.total == 1
            assert [row.account.domain for row in recent.rows] == ["alpha.cz"]
            assert three.rows[0].rollup is not None and three.rows[0].rollup > 100

    def test_shows_tier_owner_and_the_stored_rollup(self, abm: Web) -> None:
        alpha = add_account(abm, "alpha.cz", XSS, tier="1", owner="rita@t.example")
        add_contacts(abm, "alpha.cz", ("ann", 2, 0), ("bob", 2, 0))
        with signed(abm, "mark@t.example") as client:
            page = client.get("/accounts").text
        row = page[page.index(f'data-account="{alpha}"') :].split("</tr>")[0]
        assert "&lt;img src=x onerror=alert(1)&gt;" in row and "<img" not in page
        assert "rita@t.example" in row and "badge tier-1" in row
        assert '<td class="num">100</td>' in row  # the roll-up: 50 + 50

    def test_nothing_meets_it(self, abm: Web) -> None:
        add_account(abm, "beta.cz", "Beta")
        add_contacts(abm, "beta.cz", ("cid", 1, 0))
        with signed(abm, "admin@t.example") as client:
            response = client.get("/accounts")
        assert queue_rows(response) == []
        assert "No account meets the definition now." in response.text


def _chart(page: str) -> dict[str, list[object]]:
    found = re.search(
        r'<script type="application/json" id="weekly-data">(.*?)</script>', page, re.S
    )
    assert found, "no chart data in the page"
    data: dict[str, list[object]] = json.loads(found.group(1))
    return data


class TestAccountPage:
    def test_shows_the_account_its_leads_rollup_and_weekly_events(self, abm: Web) -> None:
        account = add_account(
            abm,
            "alpha.cz",
            "Alpha Steel",
            industry="manufacturing",
            employees=1200,
            country="CZ",
            tier="1",
            owner="mia@t.example",
        )
        # Wednesday noons of past weeks: far from any week's edge whenever this runs
        now = utcnow()
        monday = datetime.combine(now.date() - timedelta(days=now.weekday()), time(), UTC)

        def weeks_ago(count: int) -> float:
            moment = monday - timedelta(weeks=count) + timedelta(days=2, hours=12)
            return (now - moment) / timedelta(days=1)

        add_contacts(
            abm,
            "alpha.cz",
            ("ann", 2, weeks_ago(1)),
            ("bob", 1, weeks_ago(2)),
            ("cat", 1, weeks_ago(11)),
        )
        add_contacts(abm, "alpha.cz", ("dan", 3, weeks_ago(12)))  # before the 12 weeks
        with abm.database.session() as session:
            engagement = [
                card.scores["engagement"] for card in session.scalars(select(StoredScorecard))
            ]
            rollup = {
                card.scores["account_engagement"]
                for card in session.scalars(select(StoredScorecard))
            }
        assert all(value == pytest.approx(sum(engagement)) for value in rollup)
        with signed(abm, "admin@t.example") as client:
            response = client.get(f"/accounts/{account}")
        assert response.status_code == 200
        page = response.text
        for fact in (
            "Alpha Steel",
            "alpha.cz",
            "manufacturing",
            "1,200 employees",
            "CZ",
            "mia@t.example",
            "tier 1",
        ):
            assert fact in page
        assert page.count('<a href="/leads/') == 4
        assert "4 of 4 leads" in page
        total = templates.filters["number"](sum(engagement))
        assert f'<span class="label">account_engagement</span> {total}' in page
        chart = _chart(page)
        assert chart["labels"][-1] == monday.date().isoformat()
        assert chart["events"] == [1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0]
        weeks = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td><td class=\"num\">(\d+)</td></tr>", page)
        assert [start for start, _ in weeks] == chart["labels"]
        assert [int(count) for _, count in weeks] == chart["events"]
        assert all(datetime.fromisoformat(str(label)).weekday() == 0 for label in chart["labels"])

    def test_loads_chart_js_without_inline_code(self, abm: Web) -> None:
        account = add_account(abm, "alpha.cz", "Alpha")
        add_contacts(abm, "alpha.cz", ("ann", 1, 0))
        with signed(abm, "admin@t.example") as client:
            response = client.get(f"/accounts/{account}")
            assert "script-src 'self'" in response.headers["content-security-policy"]
            scripts = re.findall(r"<script\b([^>]*)>", response.text)
            assert all("src=" in attrs or 'type="application/json"' in attrs for attrs in scripts)
            assert ' src="/static/vendor/chart.umd.min.js"' in response.text
            for asset in ("/static/vendor/chart.umd.min.js", "/static/account_chart.js"):
                assert client.get(asset).status_code == 200
        assert "style=" not in response.text

    def test_a_rep_sees_only_their_leads_of_the_account(self, abm: Web) -> None:
        account = add_account(abm, "alpha.cz", "Alpha")
        add_contacts(abm, "alpha.cz", ("ann", 1, 0), owner="rita@t.example")
        add_contacts(abm, "alpha.cz", ("bob", 1, 0))
        robs = add_contacts(abm, "alpha.cz", ("rob", 1, 0), owner="rob@t.example")
        with signed(abm, "rita@t.example") as client:
            page = client.get(f"/accounts/{account}").text
        assert "Ann" in page and "Bob" in page
        assert robs[0] not in page
        assert "2 of 3 leads (1 belong to other teams)" in page
        assert sum(_chart(page)["events"]) == 3  # type: ignore[arg-type]

    def test_markup_in_the_account_is_escaped(self, abm: Web) -> None:
        account = add_account(abm, "evil.cz", XSS, industry=XSS)
        with signed(abm, "admin@t.example") as client:
            page = client.get(f"/accounts/{account}").text
        assert "<img" not in page
        assert page.count("&lt;img src=x onerror=alert(1)&gt;") >= 3

    def test_an_unknown_account_is_404_and_the_model_may_have_no_rollup(self, web: Web) -> None:
        account = add_account(web, "alpha.cz", "Alpha")
        with signed(web, "admin@t.example") as client:
            assert client.get("/accounts/ac_missing").status_code == 404
            page = client.get(f"/accounts/{account}").text
            assert "has no account roll-up group" in page
            assert client.get("/accounts/alpha.cz").status_code == 200  # by domain too
