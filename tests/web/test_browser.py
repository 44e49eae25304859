"""End to end in headless Debian Chromium (Playwright for Python): a rep works the
live queue, every screen passes an accessibility check (axe-core: no serious or
critical violations) and is saved as a screenshot (``build/screenshots``; the ones in
docs/ui come from here)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from leadgate.leads.models import Lead
from leadgate.reps.models import Rep
from leadgate.tasks.models import Task
from tests.conftest import REPO
from tests.web.conftest import PASSWORD, Web, qualifying_batch

CHROMIUM = os.environ.get("LEADGATE_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(os.environ.get("LEADGATE_SCREENSHOTS", REPO / "build" / "screenshots"))

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() or not AXE.exists():
        missing = CHROMIUM if not Path(CHROMIUM).exists() else AXE
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing} is missing: .ci/run and make assets install it")
        pytest.skip(f"{missing} is missing (apt-get install chromium; make assets)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


class Screen:
    """A signed-in page that fails the test on any console error (a CSP refusal...)."""

    def __init__(self, browser: Any, web: Web) -> None:
        self.web = web
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on(
            "console", lambda message: message.type == "error" and self.errors.append(message.text)
        )
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def login(self, email: str) -> None:
        self.page.goto(self.web.url + "/")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url("**/queue")

    def check(self, name: str) -> None:
        """No serious or critical accessibility violation; a screenshot; no errors."""
        self.page.evaluate(AXE.read_text(encoding="utf-8"))
        found = self.page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".filter(v => ['serious', 'critical'].includes(v.impact))"
            ".map(v => `${v.id}: ${v.help} (${v.nodes.map(n => n.target).join(', ')})`)"
        )
        assert found == [], f"{name}: {found}"
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
        assert self.errors == [], f"{name}: {self.errors}"

    def close(self) -> None:
        self.context.close()


def _only_rita_available(web: Web) -> None:
    with web.database.session() as session:
        session.execute(update(Rep).where(Rep.email != "rita@t.example").values(available=False))


def _lead_id(web: Web, email: str) -> str:
    with web.database.session() as session:
        found = session.scalar(select(Lead.id).where(Lead.email_key == email))
    assert found is not None
    return found


class TestRepWorksTheQueue:
    def test_a_new_mql_appears_live_then_is_accepted_rejected_and_followed_up(
        self, browser: Any, web: Web
    ) -> None:
        _only_rita_available(web)
        screen = Screen(browser, web)
        page = screen.page
        screen.login("rita@t.example")
        assert page.locator("tr[data-lead]").count() == 0
        page.wait_for_function("document.body.dataset.live === 'on'")
        # events arrive through the Segment endpoint while the page is open
        assert web.segment(qualifying_batch("nina@lead.example", "Nina Novak")).status_code == 200
        row = page.locator("tr[data-lead]", has_text="Nina Novak")
        row.wait_for(timeout=2000)  # live: no reload
        assert page.url.endswith("/queue")
        assert "due in" in row.locator("time").inner_text()
        screen.check("queue")

        # a second MQL: rejected with a reason, from the keyboard-reachable controls
        assert web.segment(qualifying_batch("otto@lead.example", "Otto Old")).status_code == 200
        other = page.locator("tr[data-lead]", has_text="Otto Old")
        other.wait_for(timeout=2000)
        other.get_by_label("Reason to reject Otto Old").select_option("bad timing")
        other.get_by_role("button", name="Reject Otto Old").click()
        other.wait_for(state="detached", timeout=3000)

        # accept with the keyboard: focus the row, press a
        row.focus()
        page.keyboard.press("a")
        row.wait_for(state="detached", timeout=3000)
        with web.database.session() as session:
            stages = dict(session.execute(select(Lead.email, Lead.stage)).all())
        assert stages["nina@lead.example"] == "sal"
        assert stages["otto@lead.example"] == "nurture"

        # the lead page: why this score, the task, completed from the page
        nina = _lead_id(web, "nina@lead.example")
        page.goto(f"{web.url}/leads/{nina}")
        assert page.get_by_role("heading", name="Why this score").is_visible()
        assert page.locator("table.why").inner_text().count("pricing") == 1
        screen.check("lead")
        page.get_by_role("button", name="Complete task").first.click()
        page.wait_for_url(f"**/leads/{nina}")
        with web.database.session() as session:
            task = session.scalars(select(Task).where(Task.lead_id == nina)).one()
        assert task.status == "done" and task.sla_met is True
        assert "task.completed by user:rita@t.example" in page.locator(".timeline").inner_text()
        screen.close()

    def test_html_in_a_name_stays_text_in_the_browser(self, browser: Any, web: Web) -> None:
        _only_rita_available(web)
        screen = Screen(browser, web)
        fired: list[str] = []
        screen.page.on("dialog", lambda dialog: (fired.append(dialog.message), dialog.dismiss()))
        web.segment(qualifying_batch("x@lead.example", "<img src=x onerror=alert(1)> Smith"))
        screen.login("rita@t.example")
        cell = screen.page.locator("tr[data-lead] a").first
        assert cell.inner_text() == "<img src=x onerror=alert(1)> Smith"
        assert screen.page.locator("tr[data-lead] img").count() == 0
        assert fired == []
        screen.close()


class TestAdminRoutesAroundAnAbsentRep:
    def test_a_rep_marked_away_gets_no_new_mql(self, browser: Any, web: Web) -> None:
        with web.database.session() as session:  # two reps left in the rotation
            session.execute(update(Rep).where(Rep.email == "rob@t.example").values(available=False))
        screen = Screen(browser, web)
        page = screen.page
        screen.login("admin@t.example")
        page.goto(f"{web.url}/settings/reps/rita@t.example")
        page.get_by_role("button", name="Add absence").click()  # today, by default
        page.wait_for_url("**/settings/reps/rita@t.example")
        assert page.locator("table.settings-table").inner_text().count("now") == 1
        screen.check("settings-rep")
        for index in range(3):
            email = f"next{index}@lead.example"
            assert web.segment(qualifying_batch(email, f"Next Lead{index}")).status_code == 200
        with web.database.session() as session:
            owners = set(
                session.scalars(select(Lead.owner).where(Lead.email.like("next%@lead.example")))
            )
        assert owners == {"raj@t.example"}
        screen.close()


class TestScreens:
    def test_the_sign_in_pages_are_accessible(self, browser: Any, web: Web) -> None:
        screen = Screen(browser, web)
        screen.page.goto(web.url + "/")
        screen.check("login")
        screen.page.goto(web.url + "/reset")
        screen.check("reset")
        screen.close()

    def test_every_signed_in_screen_is_accessible(self, browser: Any, web: Web) -> None:
        with web.api("admin") as api:
            made = api.put(
                "/api/v1/accounts",
                json={
                    "domain": "acme-works.cz",
                    "name": "Acme Works",
                    "tier": "1",
                    "industry": "manufacturing",
                },
            )
            assert made.status_code in (200, 201), made.text
        web.segment(qualifying_batch("ada@acme-works.cz", "Ada Lovelace"))
        web.segment(qualifying_batch("bob@acme-works.cz", "Bob Babbage"))
        with web.database.session() as session:
            account = session.scalar(
                select(Lead.account_id).where(Lead.email == "ada@acme-works.cz")
            )
        screen = Screen(browser, web)
        screen.login("admin@t.example")
        screens = {
            "leads": "/leads?q=acme",
            "lead-new": "/leads/new",
            "accounts": "/accounts",
            "settings": "/settings",
            "settings-reps": "/settings/reps",
            "settings-playbooks": "/settings/playbooks",
            "settings-webhooks": "/settings/webhooks",
            "settings-keys": "/settings/keys",
            "settings-users": "/settings/users",
        }
        assert account is not None  # the leads joined the account by their email domain
        screens["account"] = f"/accounts/{account}"
        for name, path in screens.items():
            answer = screen.page.goto(web.url + path)
            assert answer is not None and answer.status == 200, path
            screen.check(name)
        screen.close()


def teardown_module() -> None:
    """Keep the screenshots of the last run only."""
    if SHOTS.exists() and not any(SHOTS.iterdir()):
        shutil.rmtree(SHOTS)
