"""Signing in and out: the login form, sessions in cookies, CSRF, rate limits,
expiry, disabled users and password reset by email (a real SMTP server)."""

from __future__ import annotations

import re
import socket
import time
from datetime import timedelta
from email import message_from_bytes
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from leadgate.audit.models import AuditEntry
from leadgate.common.ids import utcnow
from leadgate.config import Settings
from leadgate.db.engine import Database
from leadgate.users.models import WebSession
from leadgate.users.service import disable_user
from tests.web.conftest import PASSWORD, Web, login_token, page_token


class TestLoginForm:
    def test_an_anonymous_visitor_gets_the_login_form_at_the_root(self, web: Web) -> None:
        with web.client() as client:
            response = client.get("/")
        assert response.status_code == 200
        assert '<form method="post" action="/login">' in response.text
        assert 'name="password"' in response.text

    def test_a_page_without_a_session_redirects_to_login(self, web: Web) -> None:
        with web.client() as client:
            response = client.get("/queue")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/queue"

    def test_the_session_cookie_is_httponly_and_samesite(self, web: Web) -> None:
        with web.client() as client:
            response = client.post(
                "/login",
                data={
                    "email": "rita@t.example",
                    "password": PASSWORD,
                    "csrf_token": login_token(client),
                },
            )
        cookie = response.headers["set-cookie"]
        assert response.status_code == 303
        assert "leadgate_session=" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        with web.database.session() as session:
            entry = session.scalars(select(AuditEntry)).one()
        assert (entry.actor, entry.action) == ("user:rita@t.example", "user.signed_in")

    def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(
        self, web: Web
    ) -> None:
        with web.client() as client:
            wrong = client.post(
                "/login",
                data={
                    "email": "rita@t.example",
                    "password": "nope nope nope",
                    "csrf_token": login_token(client),
                },
            )
            unknown = client.post(
                "/login",
                data={
                    "email": "nobody@t.example",
                    "password": "nope nope nope",
                    "csrf_token": login_token(client),
                },
            )
        assert wrong.status_code == unknown.status_code == 401
        assert "Wrong email or password." in wrong.text
        assert "Wrong email or password." in unknown.text
        assert "leadgate_session=" not in wrong.headers.get("set-cookie", "")

    def test_a_login_without_its_csrf_token_is_refused(self, web: Web) -> None:
        with web.client() as client:
            client.get("/login")
            response = client.post("/login", data={"email": "rita@t.example", "password": PASSWORD})
        assert response.status_code == 403

    def test_next_never_leaves_the_site(self, web: Web) -> None:
        with web.client() as client:
            response = client.post(
                "/login",
                data={
                    "email": "rita@t.example",
                    "password": PASSWORD,
                    "csrf_token": login_token(client),
                    "next": "//evil.example/x",
                },
            )
        assert response.headers["location"] == "/queue"


class TestRateLimit:
    def test_the_sixth_failure_for_one_address_is_429_even_with_the_right_password(
        self, web: Web
    ) -> None:
        with web.client() as client:
            for _ in range(5):
                failed = client.post(
                    "/login",
                    data={
                        "email": "rob@t.example",
                        "password": "wrong wrong wrong",
                        "csrf_token": login_token(client),
                    },
                )
                assert failed.status_code == 401
            limited = client.post(
                "/login",
                data={
                    "email": "rob@t.example",
                    "password": PASSWORD,
                    "csrf_token": login_token(client),
                },
            )
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) > 0
        # another address from the same client is still let in
        web.login("rita@t.example").close()


class TestLogout:
    def test_logout_ends_the_session_for_every_copy_of_the_cookie(self, web: Web) -> None:
        client = web.login("rita@t.example")
        stolen = dict(client.cookies)
        token = page_token(client)
        out = client.post("/logout", data={"csrf_token": token})
        assert out.status_code == 303
        with httpx.Client(base_url=web.url, cookies=stolen) as replay:
            assert replay.get("/queue").status_code == 303

    def test_logout_needs_the_csrf_token(self, web: Web) -> None:
        client = web.login("rita@t.example")
        assert client.post("/logout", data={}).status_code == 403
        assert client.get("/queue").status_code == 200


class TestSessionExpiry:
    def _age(self, db: Database, **values: Any) -> None:
        with db.session() as session:
            session.execute(update(WebSession).values(**values))

    def test_an_expired_session_signs_nobody_in(self, web: Web) -> None:
        client = web.login("rita@t.example")
        self._age(web.database, expires_at=utcnow() - timedelta(seconds=1))
        assert client.get("/queue").status_code == 303

    def test_a_session_idle_too_long_ends(self, web: Web) -> None:
        client = web.login("rita@t.example")
        idle = Settings().session_idle_minutes
        self._age(web.database, last_seen_at=utcnow() - timedelta(minutes=idle + 1))
        assert client.get("/queue").status_code == 303

    def test_a_disabled_user_is_signed_out_at_once(self, web: Web) -> None:
        client = web.login("rita@t.example")
        with web.database.session() as session:
            disable_user(session, ref="rita@t.example", now=utcnow())
        assert client.get("/queue").status_code == 303
        with web.client() as fresh:
            refused = fresh.post(
                "/login",
                data={
                    "email": "rita@t.example",
                    "password": PASSWORD,
                    "csrf_token": login_token(fresh),
                },
            )
        assert refused.status_code == 401


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def smtp() -> Any:
    inbox = _Inbox()
    with socket.socket() as probe:  # a free port (the controller checks it by connecting)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield controller, inbox
    controller.stop()


class TestPasswordReset:
    def test_a_reset_link_by_email_sets_a_new_password_once(self, web: Web, smtp: Any) -> None:
        controller, inbox = smtp
        port = controller.port
        web.app.state.leadgate.settings = web.app.state.leadgate.settings.model_copy(
            update={"smtp_url": f"smtp://127.0.0.1:{port}", "mail_from": "lg@t.example"}
        )
        with web.client() as client:
            token = page_token(client, "/reset")
            sent = client.post("/reset", data={"email": "rita@t.example", "csrf_token": token})
            unknown = client.post(
                "/reset",
                data={"email": "ghost@t.example", "csrf_token": page_token(client, "/reset")},
            )
        assert sent.status_code == unknown.status_code == 200
        assert sent.text.count("an email with a link") == 1
        deadline = time.monotonic() + 5
        while not inbox.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(inbox.messages) == 1  # none for the unknown address
        mail = message_from_bytes(inbox.messages[0])
        assert mail["To"] == "rita@t.example"
        link = re.search(r"http://\S+/reset/(\S+)", mail.get_payload(decode=True).decode())
        assert link
        with web.client() as client:
            form = client.get(f"/reset/{link.group(1)}")
            assert form.status_code == 200
            done = client.post(
                f"/reset/{link.group(1)}",
                data={
                    "password": "a brand new secret",
                    "csrf_token": page_token(client, f"/reset/{link.group(1)}"),
                },
            )
            assert done.status_code == 200
            again = client.get(f"/reset/{link.group(1)}")
        assert again.status_code == 404  # used once
        web.login("rita@t.example", "a brand new secret").close()
        with web.client() as client:
            old = client.post(
                "/login",
                data={
                    "email": "rita@t.example",
                    "password": PASSWORD,
                    "csrf_token": login_token(client),
                },
            )
        assert old.status_code == 401

    def test_without_smtp_the_page_says_to_ask_an_admin(self, web: Web) -> None:
        with web.client() as client:
            page = client.get("/reset")
        assert "leadgate users reset-password" in page.text
