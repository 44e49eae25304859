"""Tracking calls from web pages, over HTTP against a real server: Segment's browser
paths and ``text/plain`` bodies with ``writeKey``, CORS for the sites keys allow,
public keys that only write, are refused from other origins and rate-limited, and
Segment's clock-skew correction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from sqlalchemy import select

from leadgate.accounts.models import Account
from leadgate.common.ids import utcnow
from leadgate.config import Settings
from leadgate.db.engine import Database
from leadgate.events.models import Event
from leadgate.exceptions import LeadgateError
from leadgate.ingest.browser import RateLimiter, correct_skew
from leadgate.keys import create_key
from leadgate.leads.models import Lead
from tests.api.conftest import MODEL, Service
from tests.servers import start_server

SITE = "https://www.tatra.example"
OTHER = "https://evil.example"


@pytest.fixture
def site(db: Database, database_url: str) -> Iterator[tuple[Service, str]]:
    """A server, its usual keys and a public key for ``SITE`` (rate: 5 a minute)."""
    from leadgate.api import create_app
    from leadgate.scoring import load_model

    settings = Settings(
        database_url=database_url, cors_origins=["https://trusted.example"], public_key_rate=5
    )
    app = create_app(settings=settings, database=db, model=load_model(MODEL))
    keys = {}
    with db.session() as session:
        for scope in ("ingest", "admin"):
            _, keys[scope] = create_key(session, name=scope, scope=scope, now=utcnow())
        _, public = create_key(
            session, name="site", scope="ingest", now=utcnow(), origins=[SITE.upper() + ":443"]
        )
    server, thread, url = start_server(app)
    yield Service(url=url, keys=keys, database=db), public
    server.should_exit = True
    thread.join(timeout=10)


def _post(url: str, path: str, body: dict[str, object], **headers: str) -> httpx.Response:
    return httpx.post(
        url + path,
        content=orjson.dumps(body),
        headers={"Content-Type": "text/plain", **headers},
        timeout=10,
    )


class TestBrowserPaths:
    def test_text_plain_bodies_with_the_write_key_inside_reach_the_lead(
        self, site: tuple[Service, str]
    ) -> None:
        service, key = site
        visit = {"writeKey": key, "anonymousId": "v-1", "properties": {"url": "/pricing"}}
        assert _post(service.url, "/v1/p", visit, Origin=SITE).json() == {"success": True}
        track = {"writeKey": key, "anonymousId": "v-1", "event": "Webinar Attended"}
        assert _post(service.url, "/v1/t", track, Origin=SITE).status_code == 200
        identify = {"writeKey": key, "anonymousId": "v-1", "traits": {"email": "eva@tatra.cz"}}
        answer = _post(service.url, "/v1/i", identify, Origin=SITE)
        assert answer.status_code == 200
        assert answer.json() == {"success": True}  # nothing about the lead
        with service.database.session() as session:
            lead = session.scalar(select(Lead).where(Lead.email_key == "eva@tatra.cz"))
            assert lead is not None
            types = sorted(session.scalars(select(Event.type).where(Event.lead_id == lead.id)))
        assert types == ["page.viewed", "webinar.attended"]

    def test_the_batch_path_answers_counts_only(self, site: tuple[Service, str]) -> None:
        service, key = site
        body = {
            "writeKey": key,
            "batch": [
                {"type": "page", "anonymousId": "v-2", "properties": {"url": "/"}},
                {"type": "track", "event": "Clicked"},  # no visitor: refused for a public key
                {
                    "type": "page",
                    "anonymousId": "v-8",
                    "context": {"userAgent": "Mozilla/5.0 (compatible; Googlebot/2.1)"},
                },
            ],
        }
        answer = _post(service.url, "/v1/b", body, Origin=SITE).json()
        assert answer["parked"] == 1
        assert answer["accepted"] == 2 and answer["screened"] == {"bot": 1}
        assert answer["rejected"] == [
            {"index": 1, "error": "anonymousId: required with a public key"}
        ]

    def test_rudderstack_s_beacon_batch_takes_the_key_from_the_query(
        self, site: tuple[Service, str]
    ) -> None:
        service, key = site
        body = {"batch": [{"type": "page", "anonymousId": "v-9", "properties": {"url": "/"}}]}
        answer = _post(service.url, f"/beacon/v1/batch?writeKey={key}", body, Origin=SITE)
        assert answer.status_code == 200 and answer.json()["parked"] == 1
        assert answer.headers["access-control-allow-origin"] == SITE
        assert _post(service.url, "/beacon/v1/batch", body, Origin=SITE).status_code == 401

    def test_bad_bodies_are_400s_that_say_why(self, site: tuple[Service, str]) -> None:
        service, _ = site
        broken = httpx.post(service.url + "/v1/t", content=b"{not json", timeout=10)
        assert broken.status_code == 400 and broken.json()["detail"] == "body: not valid JSON"
        listed = httpx.post(service.url + "/v1/t", content=b"[1]", timeout=10)
        assert listed.status_code == 400
        assert _post(service.url, "/v1/t", {"event": "x"}).status_code == 401


class TestOrigins:
    def test_a_preflight_is_answered_for_allowed_sites_only(
        self, site: tuple[Service, str]
    ) -> None:
        service, _ = site
        asked = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization, x-secret",
        }
        for origin in (SITE, "https://trusted.example"):
            answer = httpx.options(
                service.url + "/v1/page", headers={"Origin": origin, **asked}, timeout=10
            )
            assert answer.status_code == 204
            assert answer.headers["access-control-allow-origin"] == origin
            assert answer.headers["access-control-allow-headers"] == "content-type, authorization"
            assert "POST" in answer.headers["access-control-allow-methods"]
        refused = httpx.options(
            service.url + "/v1/page", headers={"Origin": OTHER, **asked}, timeout=10
        )
        assert refused.status_code == 403
        assert "access-control-allow-origin" not in refused.headers
        rest = httpx.options(
            service.url + "/api/v1/leads", headers={"Origin": SITE, **asked}, timeout=10
        )
        assert "access-control-allow-origin" not in rest.headers  # the REST API stays closed

    def test_a_public_key_is_refused_from_other_origins_and_without_one(
        self, site: tuple[Service, str]
    ) -> None:
        service, key = site
        visit = {"writeKey": key, "anonymousId": "v-3"}
        elsewhere = _post(service.url, "/v1/p", visit, Origin=OTHER)
        assert elsewhere.status_code == 403
        assert "not allowed for this key" in elsewhere.json()["detail"]
        assert _post(service.url, "/v1/p", visit).status_code == 403  # no Origin: not a page
        trusted = _post(service.url, "/v1/p", visit, Origin="https://trusted.example")
        assert trusted.status_code == 403  # the settings' sites are for keys without origins
        with service.database.session() as session:
            assert session.scalars(select(Event)).all() == []

    def test_a_server_key_from_a_page_needs_a_configured_site(
        self, site: tuple[Service, str]
    ) -> None:
        service, _ = site
        visit = {"anonymousId": "v-4", "writeKey": service.keys["ingest"]}
        assert (
            _post(service.url, "/v1/p", visit, Origin="https://trusted.example").status_code == 200
        )
        assert _post(service.url, "/v1/p", visit, Origin=OTHER).status_code == 403
        assert _post(service.url, "/v1/p", visit).status_code == 200  # a back end

    def test_a_public_key_never_reads_nor_uses_the_rest_api(
        self, site: tuple[Service, str]
    ) -> None:
        service, key = site
        auth = {"Authorization": f"Bearer {key}", "Origin": SITE}
        assert httpx.get(service.url + "/api/v1/leads", headers=auth, timeout=10).status_code == 403
        event = {"email": "a@b.cz", "type": "email.opened"}
        posted = httpx.post(service.url + "/api/v1/events", json=event, headers=auth, timeout=10)
        assert posted.status_code == 403
        assert "only calls the tracking endpoints" in posted.json()["detail"]

    def test_a_public_identify_fills_a_known_lead_but_never_overwrites_it(
        self, site: tuple[Service, str]
    ) -> None:
        service, key = site
        with httpx.Client(
            base_url=service.url, headers={"Authorization": f"Bearer {service.keys['ingest']}"}
        ) as server:
            server.post(
                "/v1/identify",
                json={
                    "userId": "ld_boss",
                    "traits": {"email": "boss@tatra.cz", "firstName": "Jana"},
                },
            )
        body = {
            "writeKey": key,
            "anonymousId": "v-5",
            "userId": "ld_other",
            "traits": {"email": "boss@tatra.cz", "firstName": "Mallory", "title": "CEO"},
        }
        assert _post(service.url, "/v1/i", body, Origin=SITE).status_code == 200
        with service.database.session() as session:
            leads = session.scalars(select(Lead)).all()
        assert [(lead.id, lead.first_name, lead.title) for lead in leads] == [
            ("ld_boss", "Jana", "CEO")
        ]

    def test_a_public_group_never_changes_a_known_account_nor_moves_a_lead(
        self, site: tuple[Service, str]
    ) -> None:
        service, key = site
        server = {"Authorization": f"Bearer {service.keys['ingest']}"}
        with httpx.Client(base_url=service.url, headers=server, timeout=10) as client:
            client.post("/v1/identify", json={"userId": "ld_eva", "traits": {"email": "eva@t.cz"}})
            client.post(
                "/v1/group",
                json={
                    "userId": "ld_eva",
                    "groupId": "acme",
                    "traits": {"name": "Acme", "industry": "manufacturing", "employees": 120},
                },
            )
        visit = {"writeKey": key, "anonymousId": "v-7", "userId": "eva@t.cz"}
        moved = {**visit, "groupId": "other", "traits": {"name": "Other"}}
        assert _post(service.url, "/v1/g", moved, Origin=SITE).status_code == 200
        changed = {**visit, "groupId": "acme", "traits": {"industry": "retail", "plan": "1"}}
        assert _post(service.url, "/v1/g", changed, Origin=SITE).status_code == 200
        with service.database.session() as session:
            lead = session.get(Lead, "ld_eva")
            acme = session.get(Account, "acme")
            assert lead is not None and acme is not None
            assert lead.account_id == "acme"  # not moved to "other"
            assert (acme.industry, acme.employees, acme.tier) == ("manufacturing", 120, "1")

    def test_a_public_key_is_rate_limited_per_client(self, site: tuple[Service, str]) -> None:
        service, key = site
        visit = {"writeKey": key, "anonymousId": "v-6"}
        codes = [_post(service.url, "/v1/p", visit, Origin=SITE).status_code for _ in range(7)]
        assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
        limited = _post(service.url, "/v1/p", visit, Origin=SITE)
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.headers["access-control-allow-origin"] == SITE  # the page can read why


class TestKeys:
    def test_origins_are_checked_and_kept_normalized(self, db: Database) -> None:
        with db.session() as session:
            key, _ = create_key(
                session,
                name="site",
                scope="ingest",
                now=utcnow(),
                origins=[
                    "HTTPS://WWW.EXAMPLE.COM/",
                    "http://127.0.0.1:8080",
                    "https://www.example.com:443",
                ],
            )
            assert key.origins == ["http://127.0.0.1:8080", "https://www.example.com"]
            for bad in ("www.example.com", "https://x.com/path", "https://*.x.com", "ftp://x.com"):
                with pytest.raises(LeadgateError, match="expected scheme://host"):
                    create_key(session, name="x", scope="ingest", now=utcnow(), origins=[bad])
            with pytest.raises(LeadgateError, match="only ingest keys"):
                create_key(session, name="x", scope="admin", now=utcnow(), origins=[SITE])


class TestSkew:
    def test_a_browser_clock_hours_off_is_moved_to_the_server_s(self) -> None:
        received = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
        message = {
            "timestamp": "2026-12-08T15:00:00+00:00",  # the visitor's clock is 3 h ahead
            "sentAt": "2026-12-08T15:00:05+00:00",
        }
        fixed = correct_skew(message, None, received)
        assert datetime.fromisoformat(fixed["timestamp"]) == received - timedelta(seconds=5)
        assert fixed["originalTimestamp"] == "2026-12-08T15:00:00+00:00"
        batch_level = correct_skew({"timestamp": message["timestamp"]}, message["sentAt"], received)
        assert batch_level["timestamp"] == fixed["timestamp"]

    def test_without_both_times_or_with_bad_ones_nothing_changes(self) -> None:
        received = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
        for message in ({"timestamp": "2026-12-08T15:00:00Z"}, {"sentAt": "x", "timestamp": "y"}):
            assert correct_skew(message, None, received) == message


class TestRateLimiter:
    def test_a_bucket_refills_at_its_rate(self) -> None:
        limiter = RateLimiter(per_minute=60)
        assert all(limiter.wait("k", "c", now=0.0) == 0 for _ in range(60))
        assert limiter.wait("k", "c", now=0.0) == pytest.approx(1.0)
        assert limiter.wait("k", "other", now=0.0) == 0  # per client
        assert limiter.wait("k", "c", now=2.0) == 0  # one token a second


class TestScreeningSettings:
    def test_the_service_screens_as_its_own_settings_say(
        self, db: Database, database_url: str
    ) -> None:
        """Settings given to the app (not only the environment) decide: with bot
        screening off, a crawler's visit is kept like any other."""
        from leadgate.api import create_app
        from leadgate.scoring import load_model

        settings = Settings(database_url=database_url, screen_bots=False)
        app = create_app(settings=settings, database=db, model=load_model(MODEL))
        with db.session() as session:
            _, key = create_key(session, name="server", scope="ingest", now=utcnow())
        server, thread, url = start_server(app)
        try:
            bot = {"userAgent": "Mozilla/5.0 (compatible; Googlebot/2.1)"}
            body = {"batch": [{"type": "page", "anonymousId": "crawler", "context": bot}]}
            answer = _post(url, "/v1/batch", body, Authorization=f"Bearer {key}").json()
        finally:
            server.should_exit = True
            thread.join(timeout=10)
        assert answer["parked"] == 1 and answer["screened"] == {}
