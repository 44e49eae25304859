"""A real leadgate server on 127.0.0.1 (uvicorn in a thread) over the per-test database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from leadgate.api import create_app
from leadgate.common.ids import utcnow
from leadgate.config import Settings
from leadgate.db.engine import Database
from leadgate.keys import create_key
from leadgate.scoring import load_model
from tests.servers import start_server

#: Engagement from a click (15) and pricing visits (25); MQL at 35.
MODEL = """
version: 1
name: service-test
groups:
  fit:
    rules:
      - {id: manufacturing, when: {account.industry: manufacturing}, points: 30}
  engagement:
    half_life_days: 30
    rules:
      - {id: click, event: email.clicked, points: 15}
      - {id: pricing, event: page.viewed, where: {properties.url: {contains: /pricing}}, points: 25}
      - {id: unsubscribed, event: email.unsubscribed, points: -50, decay: none}
grades: {A: 30, B: 10}
mql:
  all:
    - {score: engagement, gte: 35}
"""


#: The running applications by base URL (tests reach the service state through it).
APPS: dict[str, Any] = {}


@dataclass(frozen=True)
class Service:
    url: str
    keys: dict[str, str]
    database: Database

    def client(self, scope: str | None) -> httpx.Client:
        headers = {} if scope is None else {"Authorization": f"Bearer {self.keys[scope]}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


@pytest.fixture
def service(db: Database, database_url: str) -> Iterator[Service]:
    settings = Settings(database_url=database_url, max_body_bytes=200_000)
    app = create_app(settings=settings, database=db, model=load_model(MODEL))
    keys = {}
    with db.session() as session:
        for scope in ("ingest", "sales", "admin"):
            _, keys[scope] = create_key(session, name=f"{scope}-test", scope=scope, now=utcnow())
    server, thread, url = start_server(app)
    APPS[url] = app
    yield Service(url=url, keys=keys, database=db)
    APPS.pop(url, None)
    server.should_exit = True
    thread.join(timeout=10)
