"""The admin settings screens: admins only, CSRF on every change, secrets shown once,
playbooks versions that change the next handoff, absences honoured, webhooks
replayed, users disabled, and every change on the audit trail."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from leadgate.actions.models import PlaybookVersion
from leadgate.audit.models import AuditEntry
from leadgate.common.ids import utcnow
from leadgate.keys.models import ApiKey
from leadgate.leads.models import Lead
from leadgate.reps.models import Rep, RepAbsence
from leadgate.tasks.models import Task
from leadgate.users.models import User
from leadgate.webhooks.models import Delivery, Subscription
from tests.api.test_handoff import Receiver
from tests.web.conftest import Web, login_token, page_token, qualifying_batch

ADMIN = "user:admin@t.example"
PLAYBOOKS = """version: 1
name: settings-test
playbooks:
  - id: fast-call
    on: mql
    actions:
      - owner.assign
      - task.create: {title: "Ring {lead.email} now", due_in_minutes: 15}
"""
BROKEN = PLAYBOOKS.replace("      - owner.assign\n", "      - owner.nope  # <b>bold</b>\n")


def _admin(web: Web, path: str = "/settings/reps") -> tuple[httpx.Client, str]:
    client = web.login("admin@t.example")
    return client, page_token(client, path)


def _count(web: Web, model: Any) -> int:
    with web.database.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _changes(web: Web) -> int:
    """How many audit entries record a change (signing in and out aside)."""
    with web.database.session() as session:
        query = select(func.count()).where(AuditEntry.action.not_like("user.signed_%"))
        return int(session.scalar(query) or 0)


def _audited(web: Web, action: str) -> list[dict[str, Any]]:
    """The details of the audit entries of ``action``, each checked to name the admin."""
    with web.database.session() as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))
    assert all(entry.actor == ADMIN for entry in entries)
    return [entry.detail for entry in entries]


def _mql(web: Web, email: str) -> Lead:
    """A new MQL through the Segment API; returns the lead after its handoff."""
    assert web.segment(qualifying_batch(email)).status_code == 200
    with web.database.session() as session:
        lead = session.scalar(select(Lead).where(Lead.email == email))
        assert lead is not None and lead.stage == "mql"
        session.expunge(lead)
        return lead


def _settings_pages(client: httpx.Client) -> str:
    """Every settings screen's HTML together."""
    paths = ["/settings/reps", "/settings/playbooks", "/settings/webhooks", "/settings/keys"]
    return "".join(client.get(path).text for path in [*paths, "/settings/users", "/queue"])


def _error(response: httpx.Response) -> str:
    """The message of a change refused with a redirect back (``?error=...``)."""
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert "error=" in location, location
    return unquote(location.split("error=", 1)[1].replace("+", " "))


def _routes(web: Web) -> list[tuple[str, str]]:
    """(method, path) of every settings route, path parameters filled with real records."""
    with web.database.session() as session:
        rita = session.scalar(select(User.id).where(User.email == "rita@t.example"))
        key = session.scalar(select(ApiKey.id).where(ApiKey.scope == "ingest"))
    values = {
        "{email}": "rita@t.example",
        "{absence_id}": "1",
        "{version}": "1",
        "{subscription_id}": "wh_x",
        "{delivery_id}": "1",
        "{key_id}": str(key),
        "{user_id}": str(rita),
    }
    found = []
    for route in _flat(web.app.routes):
        if route.path.startswith("/settings"):
            path = route.path
            for name, value in values.items():
                path = path.replace(name, value)
            found.extend((method, path) for method in sorted(route.methods))
    return found


def _flat(routes: list[Any]) -> Iterator[APIRoute]:
    """The app's routes, through included routers (kept as branches by FastAPI)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _flat(route.original_router.routes)


FORM = {
    "email": "new@t.example",
    "name": "New",
    "content": PLAYBOOKS,
    "url": "https://example.com/hook",
    "events": "lead.mql",
    "scope": "admin",
    "role": "admin",
    "password": "a-long-enough-password",
    "starts_on": "2026-01-01",
    "ends_on": "2026-01-02",
}


class TestAccess:
    @pytest.mark.parametrize("email", ["mia@t.example", "rita@t.example", "mark@t.example"])
    def test_every_other_role_gets_403_on_every_route(self, web: Web, email: str) -> None:
        routes = _routes(web)
        assert len(routes) >= 20  # every screen's reads and changes
        with closing(web.login(email)) as client:
            token = page_token(client)
            for method, path in routes:
                response = client.request(
                    method, path, data={**FORM, "csrf_token": token} if method == "POST" else None
                )
                assert response.status_code == 403, (method, path, response.text)
            assert "/settings" not in client.get("/queue").text  # no link to them either
        with web.database.session() as session:
            assert session.get(Rep, "new@t.example") is None
            assert session.scalar(select(User).where(User.email == "new@t.example")) is None
            rita = session.scalar(select(User).where(User.email == "rita@t.example"))
            assert rita is not None and rita.disabled_at is None
            assert session.scalars(select(ApiKey.revoked_at)).all() == [None] * 3
        assert _count(web, PlaybookVersion) == _changes(web) == 0

    def test_a_change_without_the_csrf_token_is_refused(self, web: Web) -> None:
        with closing(web.login("admin@t.example")) as client:
            for method, path in _routes(web):
                if method == "POST":
                    response = client.post(path, data=FORM)
                    assert response.status_code == 403, (path, response.text)
                    assert "CSRF" in response.text
        assert _changes(web) == _count(web, PlaybookVersion) == 0
        assert _count(web, ApiKey) == 3

    def test_signed_out_visitors_are_sent_to_login(self, web: Web) -> None:
        with web.client() as client:
            response = client.get("/settings/keys")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/settings/keys"

    def test_the_admin_gets_every_screen_with_its_navigation(self, web: Web) -> None:
        with closing(web.login("admin@t.example")) as client:
            assert client.get("/settings").headers["location"] == "/settings/reps"
            for section in ("reps", "playbooks", "webhooks", "keys", "users"):
                response = client.get(f"/settings/{section}")
                assert response.status_code == 200
                assert f'href="/settings/{section}" aria-current="page"' in response.text
                assert response.headers["cache-control"] == "no-store"
                assert "script-src 'self'" in response.headers["content-security-policy"]
                assert "<script>" not in response.text and "style=" not in response.text


class TestReps:
    def test_create_and_edit_a_rep_with_html_in_the_name_rendered_inert(self, web: Web) -> None:
        client, token = _admin(web)
        with closing(client):
            made = client.post(
                "/settings/reps",
                data={
                    "csrf_token": token,
                    "email": "Zed@T.example",
                    "name": "<script>alert(1)</script>",
                    "manager": "mia@t.example",
                    "weight": "3",
                    "territories": "country: CZ, SK; tier: 1\nindustry: manufacturing",
                    "available": "true",
                },
            )
            assert made.status_code == 303 and made.headers["location"] == "/settings/reps"
            listing = client.get("/settings/reps").text
            assert "<script>alert(1)</script>" not in listing
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing
            edited = client.post(
                "/settings/reps/zed@t.example",
                data={"csrf_token": token, "name": "Zed", "weight": "2", "territories": ""},
            )
            assert edited.headers["location"] == "/settings/reps/zed@t.example"
            again = client.post(
                "/settings/reps",
                data={"csrf_token": token, "email": "zed@t.example", "name": "Zed again"},
            )
            assert "already exists" in _error(again)
            bad = client.post(
                "/settings/reps/zed@t.example",
                data={"csrf_token": token, "name": "Zed", "territories": "city: Brno"},
            )
            assert "unknown key 'city'" in _error(bad)
        with web.database.session() as session:
            rep = session.get(Rep, "zed@t.example")
            assert rep is not None
            assert (rep.name, rep.weight, rep.available, rep.territories) == ("Zed", 2, False, [])
        created = _audited(web, "rep.created")
        assert created[0]["territories"] == [
            {"country": ["CZ", "SK"], "tier": ["1"]},
            {"industry": ["manufacturing"]},
        ]
        assert [detail["weight"] for detail in _audited(web, "rep.updated")] == [2]

    def test_an_absence_covering_today_sends_the_next_mql_to_another_rep(self, web: Web) -> None:
        """Round robin would pick raj first (ties by email); while raj is away, rita gets
        the MQL; once the absence is deleted, raj gets the next one."""
        today = utcnow().date()
        client, token = _admin(web, "/settings/reps/raj@t.example")
        with closing(client):
            added = client.post(
                "/settings/reps/raj@t.example/absences",
                data={
                    "csrf_token": token,
                    "starts_on": (today - timedelta(days=1)).isoformat(),
                    "ends_on": today.isoformat(),
                    "note": "<i>holiday</i>",
                },
            )
            assert added.headers["location"] == "/settings/reps/raj@t.example"
            assert _mql(web, "first@x.example").owner == "rita@t.example"
            page = client.get("/settings/reps/raj@t.example").text
            assert "&lt;i&gt;holiday&lt;/i&gt;" in page and "Delete the absence" in page
            assert "away</span>" in client.get("/settings/reps").text
            backwards = client.post(
                "/settings/reps/raj@t.example/absences",
                data={"csrf_token": token, "starts_on": "2026-05-02", "ends_on": "2026-05-01"},
            )
            assert "before it starts" in _error(backwards)
            with web.database.session() as session:
                absence_id = session.scalars(select(RepAbsence.id)).one()
            wrong_rep = client.post(
                f"/settings/reps/rita@t.example/absences/{absence_id}/delete",
                data={"csrf_token": token},
            )
            assert wrong_rep.status_code == 404
            deleted = client.post(
                f"/settings/reps/raj@t.example/absences/{absence_id}/delete",
                data={"csrf_token": token},
            )
            assert deleted.status_code == 303
        assert _mql(web, "second@x.example").owner == "raj@t.example"
        assert [d["rep"] for d in _audited(web, "rep.absence_added")] == ["raj@t.example"]
        assert [d["id"] for d in _audited(web, "rep.absence_deleted")] == [absence_id]


class TestPlaybooks:
    def test_invalid_yaml_is_422_at_its_line_with_the_text_kept_and_nothing_saved(
        self, web: Web
    ) -> None:
        client, token = _admin(web, "/settings/playbooks")
        with closing(client):
            shown = client.get("/settings/playbooks").text
            assert "default-handoff" in shown and "Running now: <strong>default-handoff" in shown
            response = client.post(
                "/settings/playbooks", data={"csrf_token": token, "content": BROKEN}
            )
        assert response.status_code == 422
        page = response.text
        assert "Line 7, at <code>playbooks[0].actions[0]</code>: unknown action" in page
        assert '<li value="7" class="error-line" aria-current="true"><code>' in page
        assert "- owner.nope  # &lt;b&gt;bold&lt;/b&gt;" in page  # the text, kept and inert
        assert "<b>bold</b>" not in page
        assert _count(web, PlaybookVersion) == 0
        assert web.app.state.leadgate.playbooks.name == "default-handoff"

    def test_a_saved_version_runs_the_next_handoff_and_is_listed(self, web: Web) -> None:
        client, token = _admin(web, "/settings/playbooks")
        with closing(client):
            saved = client.post(
                "/settings/playbooks",
                data={"csrf_token": token, "content": PLAYBOOKS, "note": "call <faster>"},
            )
            assert saved.status_code == 303
            page = client.get("/settings/playbooks").text
            assert "Running now: <strong>settings-test</strong>, stored version 1" in page
            assert ADMIN in page and "call &lt;faster&gt;" in page
            version = client.get("/settings/playbooks/versions/1").text
            assert "Ring {lead.email} now" in version
            assert client.get("/settings/playbooks/versions/9").status_code == 404
            same = client.post(
                "/settings/playbooks", data={"csrf_token": token, "content": PLAYBOOKS}
            )
            assert "nothing changed since version 1" in _error(same)
            loaded = client.get("/settings/playbooks?from=1").text
            assert "The editor holds version 1" in loaded
        lead = _mql(web, "fast@x.example")
        with web.database.session() as session:
            task = session.scalars(select(Task).where(Task.lead_id == lead.id)).one()
        assert task.title == "Ring fast@x.example now"
        assert task.due_at - task.created_at == timedelta(minutes=15)
        assert _count(web, PlaybookVersion) == 1
        assert _audited(web, "playbooks.saved") == [
            {"version": 1, "name": "settings-test", "note": "call <faster>"}
        ]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


class TestWebhooks:
    def test_secret_once_then_deliveries_replay_and_deactivation(
        self, web: Web, receiver: Receiver
    ) -> None:
        client, token = _admin(web, "/settings/webhooks")
        with closing(client):
            made = client.post(
                "/settings/webhooks",
                data={"csrf_token": token, "url": receiver.url, "events": ["lead.mql"]},
            )
            assert made.status_code == 200 and "shown this once" in made.text
            with web.database.session() as session:
                subscription = session.scalars(select(Subscription)).one()
                secret, subscription_id = subscription.secret, subscription.id
            assert f'value="{secret}"' in made.text
            assert secret not in _settings_pages(client)
            _mql(web, "hook@x.example")
            receiver.wait(1, timeout=10)
            with web.database.session() as session:
                delivery_id = session.scalars(select(Delivery.id)).one()
            for _ in range(100):
                page = client.get("/settings/webhooks?status=delivered").text
                if f"Replay delivery {delivery_id}" in page:
                    break
                time.sleep(0.05)
            assert "status-delivered" in page and receiver.url in page
            replayed = client.post(
                f"/settings/webhooks/deliveries/{delivery_id}/replay", data={"csrf_token": token}
            )
            assert replayed.status_code == 303
            receiver.wait(2, timeout=10)  # a new attempt went out
            off = client.post(
                f"/settings/webhooks/{subscription_id}/deactivate", data={"csrf_token": token}
            )
            assert off.status_code == 303
            refused = client.post(
                f"/settings/webhooks/deliveries/{delivery_id}/replay", data={"csrf_token": token}
            )
            assert "deactivated subscription" in _error(refused)
            assert "deactivated" in client.get("/settings/webhooks").text
            bad = client.post(
                "/settings/webhooks", data={"csrf_token": token, "url": "ftp://x", "events": ["*"]}
            )
            assert "url" in _error(bad)
        _mql(web, "quiet@x.example")
        assert _count(web, Delivery) == 1  # nothing new for a deactivated subscription
        assert [d["url"] for d in _audited(web, "webhook.created")] == [receiver.url]
        assert secret not in str(_audited(web, "webhook.created"))
        assert [d["delivery_id"] for d in _audited(web, "webhook.replayed")] == [delivery_id]
        assert len(_audited(web, "webhook.deactivated")) == 1


class TestApiKeys:
    def test_a_users_key_is_shown_once_acts_as_them_and_stops_when_revoked(self, web: Web) -> None:
        with web.database.session() as session:
            rita = session.scalar(select(User.id).where(User.email == "rita@t.example"))
        client, token = _admin(web, "/settings/keys")
        with closing(client):
            made = client.post(
                "/settings/keys",
                data={"csrf_token": token, "name": "rita-crm", "scope": "sales", "user_id": rita},
            )
            assert made.status_code == 200
            assert "acting as rita@t.example" in made.text
            secret = made.text.split('id="secret" class="secret" readonly value="', 1)[1]
            secret = secret.split('"', 1)[0]
            assert secret.startswith("lg_sales_")
            assert secret not in _settings_pages(client)
            with web.database.session() as session:
                key = session.scalars(select(ApiKey).where(ApiKey.name == "rita-crm")).one()
            listing = client.get("/settings/keys").text
            assert "rita-crm" in listing and f"<code>{key.prefix}…</code>" in listing
            assert key.user_id == rita
            with httpx.Client(
                base_url=web.url, headers={"Authorization": f"Bearer {secret}"}
            ) as api:
                assert api.get("/api/v1/leads").status_code == 200
                revoked = client.post(f"/settings/keys/{key.id}/revoke", data={"csrf_token": token})
                assert revoked.status_code == 303
                assert api.get("/api/v1/leads").status_code == 401
            unknown = client.post(
                "/settings/keys",
                data={"csrf_token": token, "name": "x", "scope": "sales", "user_id": "usr_no"},
            )
            assert unknown.status_code == 404
            bad_scope = client.post(
                "/settings/keys", data={"csrf_token": token, "name": "x", "scope": "root"}
            )
            assert "unknown scope" in _error(bad_scope)
        assert _count(web, ApiKey) == 4
        assert _audited(web, "key.created")[0]["user"] == "rita@t.example"
        assert secret not in str(_audited(web, "key.created"))
        assert [d["id"] for d in _audited(web, "key.revoked")] == [key.id]


class TestUsers:
    def test_create_reset_and_disable_a_user(self, web: Web) -> None:
        client, token = _admin(web, "/settings/users")
        with closing(client):
            made = client.post(
                "/settings/users",
                data={
                    "csrf_token": token,
                    "email": "Nina@t.example",
                    "name": "Nina <b>New</b>",
                    "role": "rep",
                    "rep": "raj@t.example",
                    "time_zone": "Europe/Prague",
                    "password": "first-password",
                },
            )
            assert made.status_code == 303
            assert "Nina &lt;b&gt;New&lt;/b&gt;" in client.get("/settings/users").text
            short = client.post(
                "/settings/users",
                data={
                    "csrf_token": token,
                    "email": "x@t.example",
                    "name": "X",
                    "role": "rep",
                    "password": "short",
                },
            )
            assert "at least 10 characters" in _error(short)
            nina_client = web.login("nina@t.example", "first-password")
            with web.database.session() as session:
                nina = session.scalars(select(User).where(User.email == "nina@t.example")).one()
                admin = session.scalars(select(User).where(User.email == "admin@t.example")).one()
            reset = client.post(
                f"/settings/users/{nina.id}/password",
                data={"csrf_token": token, "password": "second-password"},
            )
            assert reset.status_code == 303
            assert nina_client.get("/queue").status_code == 303  # her session ended
            web.login("nina@t.example", "second-password").close()
            itself = client.post(f"/settings/users/{admin.id}/disable", data={"csrf_token": token})
            assert "cannot disable yourself" in _error(itself)
            off = client.post(f"/settings/users/{nina.id}/disable", data={"csrf_token": token})
            assert off.status_code == 303
            assert "disabled" in client.get("/settings/users").text
        with web.client() as anonymous:
            refused = anonymous.post(
                "/login",
                data={
                    "email": "nina@t.example",
                    "password": "second-password",
                    "csrf_token": login_token(anonymous),
                },
            )
        assert refused.status_code == 401
        assert nina.role == "rep" and nina.rep_email == "raj@t.example"
        assert nina.time_zone == "Europe/Prague"
        assert _audited(web, "user.created") == [
            {"email": "nina@t.example", "role": "rep", "rep": "raj@t.example"}
        ]
        assert _audited(web, "user.password_reset") == [{"email": "nina@t.example"}]
        assert _audited(web, "user.disabled") == [{"email": "nina@t.example"}]
        web.login("admin@t.example").close()  # the admin's own sessions were left alone
