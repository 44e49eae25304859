"""Website tracking end to end (issue 20): a marketing site on another origin
(``tests/web/tracking_site``, served on 127.0.0.1 from a second port) calls
leadgate through the browser SDKs unchanged, Segment's ``@segment/analytics-next``
and RudderStack's ``@rudderstack/analytics-js``, from the npm registry (``make
assets`` copies their bundles to ``build/tracking-site/vendor``; nothing comes
from a CDN: every other host is unresolvable in the browser, and a request to one
fails the test). Headless Debian Chromium with an ordinary desktop Chrome user
agent: headless ones count as bots.

An anonymous visitor comes from a LinkedIn ad to the pricing page, attends the
webinar and signs up through a form: the lead exists with both events at their
times, its first touch (campaign, channel) and a score. A visitor who rejected
analytics on the consent banner leaves nothing; a crawler is not scored.
Screenshots go to ``build/screenshots`` with the other browser tests'.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from sqlalchemy import select

from leadgate.api import create_app
from leadgate.common.ids import utcnow
from leadgate.common.text import parse_timestamp
from leadgate.config import Settings
from leadgate.db.engine import Database
from leadgate.keys import create_key
from leadgate.leads.models import Lead
from leadgate.scoring import load_model
from tests.conftest import REPO
from tests.servers import start_server
from tests.web.test_browser import CHROMIUM, FLAGS, SHOTS

sync_api = pytest.importorskip("playwright.sync_api")

SITE = Path(__file__).with_name("tracking_site")
VENDOR = Path(
    os.environ.get("LEADGATE_TRACKING_VENDOR", REPO / "build" / "tracking-site" / "vendor")
)
BUNDLES = ("analytics-next.umd.js", "rudderstack.umd.js")
#: An ordinary desktop Chrome (the headless browser's own user agent says
#: HeadlessChrome: a bot).
DESKTOP_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
#: Only 127.0.0.1 resolves: a CDN fetch fails (and is reported) instead of leaving.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
#: The tracking calls each SDK makes, by what the page does.
CALLS = {
    "segment": {"page": "/v1/p", "track": "/v1/t", "identify": "/v1/i"},
    "rudderstack": {"page": "/v1/page", "track": "/v1/track", "identify": "/v1/identify"},
}
SDKS = sorted(CALLS)
CAMPAIGN = "spring-webinar"

#: Pricing visits (25) and the webinar (20) are engagement; MQL at 40.
MODEL = """
version: 1
name: tracking-test
groups:
  engagement:
    half_life_days: 30
    rules:
      - {id: pricing, event: page.viewed, where: {properties.url: {contains: /pricing}}, points: 25}
      - {id: webinar, event: webinar.attended, points: 20}
grades: {group: engagement, bands: {A: 40, B: 10}}
mql:
  all:
    - {score: engagement, gte: 40}
"""


#: each SDK's bundle and name, filled into the site's pages (``tracking_site/pages``)
SDK_PAGES = {
    "segment": {"bundle": "analytics-next.umd.js", "sdk": "Segment analytics-next"},
    "rudderstack": {"bundle": "rudderstack.umd.js", "sdk": "RudderStack analytics-js"},
}


class _SiteHandler(SimpleHTTPRequestHandler):
    """The test site's files, its pages per SDK (``/segment/pricing.html`` is
    ``pages/pricing.html`` loading Segment's bundle and ``segment/tracking.js``), the
    SDK bundles under ``/vendor/`` and ``/config.js``."""

    config: ClassVar[dict[str, str]] = {}

    def translate_path(self, path: str) -> str:
        route = path.split("?", 1)[0].split("#", 1)[0]
        if route.startswith("/vendor/"):
            return str(VENDOR / Path(route).name)
        return super().translate_path(path)

    def do_GET(self) -> None:
        route = self.path.split("?", 1)[0]
        sdk, _, page = route.strip("/").partition("/")
        if sdk in SDK_PAGES and "/" not in page and (SITE / "pages" / page).is_file():
            html = (SITE / "pages" / page).read_text("utf-8")
            for name, value in SDK_PAGES[sdk].items():
                html = html.replace("{{" + name + "}}", value)
            self._send(html.encode(), "text/html; charset=utf-8")
            return
        if route != "/config.js":
            super().do_GET()
            return
        self._send(f"window.LEADGATE = {json.dumps(self.config)};\n".encode(), "text/javascript")

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Site:
    """The marketing site: its origin and leadgate's settings it calls with."""

    origin: str
    config: dict[str, str]


@pytest.fixture
def site() -> Iterator[Site]:
    config: ClassVar[dict[str, str]] = {}
    handler = type("Handler", (_SiteHandler,), {"config": config})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(SITE)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Site(origin=f"http://127.0.0.1:{server.server_address[1]}", config=config)
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@dataclass(frozen=True)
class Leadgate:
    url: str
    admin_key: str
    database: Database

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, timeout=10, headers={"Authorization": f"Bearer {self.admin_key}"}
        )


@pytest.fixture
def leadgate(db: Database, database_url: str, site: Site) -> Iterator[Leadgate]:
    """leadgate on 127.0.0.1, with an admin key and a public ingest key for the
    site's origin (as ``leadgate keys create --scope ingest --origin`` makes)."""
    now = utcnow()
    with db.session() as session:
        _, admin = create_key(session, name="admin-test", scope="admin", now=now)
        _, public = create_key(session, name="site", scope="ingest", now=now, origins=[site.origin])
    settings = Settings(database_url=database_url, max_body_bytes=200_000)
    app = create_app(settings=settings, database=db, model=load_model(MODEL))
    server, thread, url = start_server(app)
    host = url.removeprefix("http://")
    site.config.update(apiHost=f"{host}/v1", protocol="http", dataPlaneUrl=url, writeKey=public)
    yield Leadgate(url=url, admin_key=admin, database=db)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = [str(p) for p in (Path(CHROMIUM), *(VENDOR / b for b in BUNDLES)) if not p.exists()]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing} missing: .ci/run and make assets install them")
        pytest.skip(f"{missing} missing (apt-get install chromium; make assets)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=[*FLAGS, OFFLINE])
        yield launched
        launched.close()


@dataclass
class Visitor:
    """A browser tab on the site that records every exchange with leadgate (for
    the failure messages: what the SDK sent, what leadgate answered), console
    errors and any request to another host."""

    page: Any
    site: Site
    leadgate: Leadgate
    sdk: str
    exchanges: list[Any] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        page = self.page
        page.on("response", self._response)
        page.on("requestfailed", lambda r: self.failed.append(f"{r.method} {r.url}: {r.failure}"))
        page.on("request", self._request)
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _request(self, request: Any) -> None:
        if not request.url.startswith(("http://127.0.0.1:", "data:")):
            self.elsewhere.append(request.url)

    def _response(self, response: Any) -> None:
        if response.url.startswith(self.leadgate.url):
            self.exchanges.append(response)

    def report(self) -> str:
        """Every exchange with leadgate so far, both sides."""
        lines = []
        for response in self.exchanges:
            request = response.request
            sent = {k: v for k, v in request.headers.items() if not k.startswith("sec-")}
            lines.append(f"> {request.method} {request.url} {sent}")
            if request.post_data:
                lines.append(f"> {request.post_data[:3000]}")
            try:
                answer = response.text()[:1000]
            except Exception as exc:  # a report must not fail
                answer = f"(no body: {exc})"
            lines.append(f"< {response.status} {dict(response.headers)} {answer}")
        lines += [f"failed: {item}" for item in self.failed]
        lines += [f"console: {item}" for item in self.errors]
        return "\n".join(lines) or "(no exchange with leadgate)"

    def sends(self, call: str, action: Callable[[], None]) -> tuple[datetime, datetime]:
        """Do ``action`` and wait for the SDK's ``call`` to be answered with 200;
        returns the moments before the action and after the answer."""
        path = self.leadgate.url + CALLS[self.sdk][call]
        before = utcnow()
        try:
            with self.page.expect_response(
                lambda r: r.url == path and r.request.method == "POST", timeout=8000
            ) as answered:
                action()
        except sync_api.TimeoutError:
            pytest.fail(f"the SDK's {call} call never got an answer:\n{self.report()}")
        response = answered.value
        assert response.status == 200, f"{call}: {response.status}\n{self.report()}"
        return before, utcnow()

    def journey(self, email: str, shots: str | None = None) -> dict[str, tuple[datetime, datetime]]:
        """From the LinkedIn ad to pricing, the webinar, then the sign-up form."""
        page = self.page
        page.goto(f"{self.site.origin}/ad.html")
        times = {"pricing": self.sends("page", lambda: page.click(f"#{self.sdk}"))}
        assert f"utm_campaign={CAMPAIGN}" in page.url
        if shots:
            self.shot(f"{shots}-pricing")
        times["webinar"] = self.sends("track", lambda: page.click("#webinar"))
        page.click("#signup")
        page.get_by_label("First name").fill("Pia")
        page.get_by_label("Last name").fill("Park")
        page.get_by_label("Work email").fill(email)
        page.get_by_label("Company").fill("Acme")
        times["identify"] = self.sends(
            "identify", lambda: page.get_by_role("button", name="Start my trial").click()
        )
        page.get_by_role("status").filter(has_text="Thanks").wait_for(timeout=5000)
        if shots:
            self.shot(f"{shots}-signup")
        return times

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def check_clean(self) -> None:
        assert self.elsewhere == [], f"requests off the machine (a CDN?): {self.elsewhere}"
        assert self.errors == [], f"console errors:\n{self.report()}"


@pytest.fixture
def visit(browser: Any, site: Site, leadgate: Leadgate) -> Iterator[Callable[..., Visitor]]:
    contexts: list[Any] = []

    def open_tab(sdk: str, user_agent: str = DESKTOP_CHROME) -> Visitor:
        context = browser.new_context(
            user_agent=user_agent, viewport={"width": 1100, "height": 800}
        )
        contexts.append(context)
        return Visitor(page=context.new_page(), site=site, leadgate=leadgate, sdk=sdk)

    yield open_tab
    for context in contexts:
        context.close()


def _lead(leadgate: Leadgate, email: str, within: float = 5.0) -> dict[str, Any] | None:
    """The lead from the REST API, waiting up to ``within`` seconds for it."""
    deadline = time.monotonic() + within
    with leadgate.api() as client:
        while True:
            answer = client.get(f"/api/v1/leads/{email}")
            if answer.status_code == 200:
                found: dict[str, Any] = answer.json()
                return found
            assert answer.status_code == 404, answer.text
            if time.monotonic() > deadline:
                return None
            time.sleep(0.1)


def _within(at: str, moments: tuple[datetime, datetime], slack: float = 1.0) -> bool:
    when = parse_timestamp(at)
    return moments[0] - timedelta(seconds=slack) <= when <= moments[1] + timedelta(seconds=slack)


@pytest.mark.parametrize("sdk", SDKS)
def test_an_anonymous_visitor_from_a_campaign_becomes_a_scored_lead(
    sdk: str, visit: Callable[..., Visitor], leadgate: Leadgate
) -> None:
    visitor = visit(sdk)
    email = f"pia.{sdk}@acme.example"
    times = visitor.journey(email, shots=f"tracking-{sdk}")

    lead = _lead(leadgate, email)
    assert lead is not None, f"no lead {email}:\n{visitor.report()}"
    assert (lead["first_name"], lead["last_name"]) == ("Pia", "Park")
    assert lead["scores"]["engagement"] == pytest.approx(45, abs=0.01), lead["scorecard"]
    assert lead["mql"] is True

    # both anonymous events are the lead's, at the moments they happened
    with leadgate.api() as client:
        items = client.get(f"/api/v1/leads/{email}/timeline").json()["items"]
    events = {item["type"]: item for item in items if item["kind"] == "event"}
    assert {"page.viewed", "webinar.attended"} <= set(events), (items, visitor.report())
    pricing, webinar = events["page.viewed"], events["webinar.attended"]
    assert "/pricing.html" in pricing["properties"]["url"]
    assert _within(pricing["at"], times["pricing"]), (pricing, times)
    assert _within(webinar["at"], times["webinar"]), (webinar, times)
    assert parse_timestamp(pricing["at"]) < parse_timestamp(webinar["at"]) < times["identify"][1]

    # the first touch: the ad's campaign, on paid social
    with leadgate.database.session() as session:
        first = session.execute(
            select(Lead.first_touch_campaign, Lead.first_touch_channel).where(Lead.id == lead["id"])
        ).one()
    assert tuple(first) == (CAMPAIGN, "paid_social")
    visitor.check_clean()


@pytest.mark.parametrize("sdk", SDKS)
def test_a_visitor_who_declined_consent_leaves_nothing(
    sdk: str, visit: Callable[..., Visitor], leadgate: Leadgate
) -> None:
    visitor = visit(sdk)
    page = visitor.page
    page.goto(f"{visitor.site.origin}/{sdk}/consent.html")
    page.get_by_role("button", name="Reject all").click()
    assert page.get_by_role("status").inner_text() == "Analytics declined."
    visitor.shot(f"tracking-{sdk}-consent")
    email = f"nora.{sdk}@acme.example"
    visitor.journey(email)  # every call is answered (so the SDK does not retry)

    assert _lead(leadgate, email, within=0.5) is None, visitor.report()
    with leadgate.database.session() as session:
        assert session.scalars(select(Lead.id)).all() == []
    visitor.check_clean()


@pytest.mark.parametrize("sdk", SDKS)
def test_a_crawler_is_not_scored(
    sdk: str, visit: Callable[..., Visitor], leadgate: Leadgate
) -> None:
    visitor = visit(sdk, user_agent=GOOGLEBOT)
    email = f"bot.{sdk}@crawler.example"
    visitor.journey(email)

    lead = _lead(leadgate, email, within=0.5)
    assert lead is None or not any(lead["scores"].values()), lead
    visitor.check_clean()
