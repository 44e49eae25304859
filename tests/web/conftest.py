"""The web app on a real server (uvicorn on 127.0.0.1, in a thread) over the per-test
database, with a small sales team and a user per role.

Team: manager ``mia@t.example`` manages reps ``rita@t.example`` and ``raj@t.example``;
``rob@t.example`` is in another team (no manager). Users (password ``PASSWORD``):
``admin@t.example`` (admin), ``mia@t.example`` (manager), ``rita@t.example`` (rep,
rep record rita), ``rob@t.example`` (rep, rep record rob), ``mark@t.example``
(marketing).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from leadgate.api import create_app
from leadgate.common.ids import utcnow
from leadgate.config import Settings
from leadgate.db.engine import Database
from leadgate.keys import create_key
from leadgate.reps.service import RepIn, upsert_rep
from leadgate.scoring import load_model
from leadgate.users.service import create_user, set_password_cost
from tests.servers import start_server

# each test creates five users and signs some in: argon2 at its cheapest keeps that
# from dominating the suite (what is hashed and checked is unchanged)
set_password_cost(time_cost=1, memory_cost_kib=1024)

#: Engagement from a click (15) and pricing visits (25); MQL at 35.
MODEL = """
version: 1
name: web-test
groups:
  fit:
    rules:
      - {id: manufacturing, when: {account.industry: manufacturing}, points: 30}
  engagement:
    half_life_days: 30
    rules:
      - {id: click, event: email.clicked, points: 15}
      - {id: pricing, event: page.viewed, where: {properties.url: {contains: /pricing}}, points: 25}
grades: {A: 30, B: 10}
mql:
  all:
    - {score: engagement, gte: 35}
"""

PASSWORD = "correct horse battery"
USERS = {
    "admin@t.example": ("Ada Admin", "admin", None),
    "mia@t.example": ("Mia Manager", "manager", None),
    "rita@t.example": ("Rita Rep", "rep", "rita@t.example"),
    "rob@t.example": ("Rob Rep", "rep", "rob@t.example"),
    "mark@t.example": ("Mark Marketing", "marketing", None),
}
REPS = {
    "rita@t.example": ("Rita Rep", "mia@t.example"),
    "raj@t.example": ("Raj Rep", "mia@t.example"),
    "rob@t.example": ("Rob Rep", None),
}


@dataclass(frozen=True)
class Web:
    """The running app: its URL, keys per scope, database and FastAPI app."""

    url: str
    keys: dict[str, str]
    database: Database
    app: FastAPI

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, follow_redirects=False)

    def login(self, email: str, password: str = PASSWORD) -> httpx.Client:
        """A client signed in as ``email`` (its cookie jar holds the session)."""
        client = self.client()
        response = client.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": login_token(client)},
        )
        assert response.status_code == 303, response.text
        return client

    def api(self, scope: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, timeout=10, headers={"Authorization": f"Bearer {self.keys[scope]}"}
        )

    def segment(self, batch: list[dict[str, Any]]) -> httpx.Response:
        """Post a Segment batch with the ingest key (HTTP Basic, the key as user name)."""
        with httpx.Client(base_url=self.url, timeout=10) as client:
            return client.post("/v1/batch", json={"batch": batch}, auth=(self.keys["ingest"], ""))


def login_token(client: httpx.Client) -> str:
    """The login form's CSRF token (its cookie lands in ``client``'s jar)."""
    return form_token(client.get("/login").text)


def form_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def page_token(client: httpx.Client, path: str = "/queue") -> str:
    """The session's CSRF token, read from a signed-in page."""
    return form_token(client.get(path).text)


def qualifying_batch(
    email: str, name: str = "Quinn Lead", at: str | None = None
) -> list[dict[str, Any]]:
    """Identify a lead and three pricing visits: engagement 75, an MQL at once."""
    stamp = at or utcnow().isoformat()
    first, _, last = name.partition(" ")
    batch: list[dict[str, Any]] = [
        {
            "type": "identify",
            "userId": email,
            "traits": {"email": email, "firstName": first, "lastName": last},
            "timestamp": stamp,
        }
    ]
    for index in range(3):
        batch.append(
            {
                "type": "page",
                "userId": email,
                "name": "Pricing",
                "properties": {"url": f"https://example.com/pricing?v={index}"},
                "timestamp": stamp,
                "messageId": f"{email}-pricing-{index}",
            }
        )
    return batch


def seed_team(db: Database) -> dict[str, str]:
    """The reps, the users and one key per scope; returns the keys' secrets."""
    now = utcnow()
    keys = {}
    with db.session() as session:
        for email, (name, manager) in REPS.items():
            upsert_rep(session, data=RepIn(email=email, name=name, manager=manager), now=now)
        for email, (name, role, rep) in USERS.items():
            create_user(
                session, email=email, name=name, role=role, password=PASSWORD, now=now, rep=rep
            )
        for scope in ("ingest", "sales", "admin"):
            _, keys[scope] = create_key(session, name=f"{scope}-test", scope=scope, now=now)
    return keys


@pytest.fixture
def web(db: Database, database_url: str) -> Iterator[Web]:
    settings = Settings(database_url=database_url, max_body_bytes=200_000)
    app = create_app(settings=settings, database=db, model=load_model(MODEL))
    keys = seed_team(db)
    server, thread, url = start_server(app)
    yield Web(url=url, keys=keys, database=db, app=app)
    server.should_exit = True
    thread.join(timeout=10)
