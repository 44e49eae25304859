"""Bots and consent: which tracking calls leadgate acknowledges without keeping anything
(leadgate.ingest.screening), alone and through apply_segment on a real database."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadgate.config import Settings
from leadgate.db.engine import Database
from leadgate.events.models import Event
from leadgate.ingest.models import AnonymousMessage
from leadgate.ingest.screening import (
    ScreeningPolicy,
    Verdict,
    bot_pattern,
    consent_declined,
    current_policy,
    screen,
)
from leadgate.ingest.segment import SegmentResult, apply_segment
from leadgate.leads.models import Lead
from leadgate.scorecards.models import StoredScorecard
from leadgate.scoring import load_model

BOTS = {
    "headless chromium (Playwright's default)": "Mozilla/5.0 (X11; Linux x86_64) "
    "AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.6778.33 Safari/537.36",
    "googlebot": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "googlebot smartphone": "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.199 Mobile Safari/537.36 "
    "(compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "bingbot": "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "curl": "curl/8.5.0",
    "python-requests": "python-requests/2.32.3",
    "playwright": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Playwright/1.49.0",
    "phantomjs": "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 "
    "(KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
    "linkedin preview": "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
}
PEOPLE = {
    "chrome windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "chrome mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "chrome android": "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "edge": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "firefox windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) "
    "Gecko/20100101 Firefox/133.0",
    "firefox linux": "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) "
    "Gecko/20100101 Firefox/133.0",
    "safari mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "safari iphone": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) "
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "linkedin app": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) "
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [LinkedInApp]/9.29.8",
    "samsung internet": "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 "
    "(KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
}
DEFAULT = ScreeningPolicy()
NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
MODEL = load_model(
    """
version: 1
name: screening
groups:
  engagement:
    half_life_days: 7
    rules:
      - {id: pricing, event: page.viewed, points: 25}
      - {id: demo, event: demo.requested, points: 40}
mql: {score: engagement, gte: 55}
"""
)


class TestBotPattern:
    @pytest.mark.parametrize("user_agent", BOTS.values(), ids=BOTS.keys())
    def test_crawlers_and_automated_browsers_are_bots(self, user_agent: str) -> None:
        assert bot_pattern(user_agent) is not None

    @pytest.mark.parametrize("user_agent", PEOPLE.values(), ids=PEOPLE.keys())
    def test_browsers_of_people_are_not(self, user_agent: str) -> None:
        assert bot_pattern(user_agent) is None

    @pytest.mark.parametrize("value", [None, "", "   ", 42, ["curl/8"], {"ua": "curl/8"}])
    def test_no_user_agent_is_no_bot(self, value: object) -> None:
        assert bot_pattern(value) is None

    def test_a_huge_user_agent_is_matched_by_its_start(self) -> None:
        assert bot_pattern(BOTS["curl"] + "x" * 100_000) == "curl"
        assert bot_pattern(PEOPLE["chrome mac"] + " " * 600 + "Googlebot") is None

    def test_headless_chrome_names_what_matched(self) -> None:
        assert bot_pattern(BOTS["headless chromium (Playwright's default)"]) == "HeadlessChrome"


def _segment(preferences: object) -> dict[str, Any]:
    return {"consent": {"categoryPreferences": preferences}}


def _rudderstack(allowed: object = None, denied: object = None) -> dict[str, Any]:
    management: dict[str, Any] = {"provider": "oneTrust", "resolutionStrategy": "and"}
    if allowed is not None:
        management["allowedConsentIds"] = allowed
    if denied is not None:
        management["deniedConsentIds"] = denied
    return {"consentManagement": management}


REQUIRED = DEFAULT.consent_required


class TestConsentDeclined:
    @pytest.mark.parametrize(
        "context",
        [
            {},
            {"consent": None},
            {"consent": {}},
            _segment(None),
            _segment({}),
            _segment({"Analytics": True, "Marketing": True, "Advertising": False}),
            _segment({"analytics": True}),  # marketing not asked by this site
            _segment({"Advertising": False, "Functional": "no"}),  # not required ones
            {"consentManagement": None},
            {"consentManagement": {"provider": "custom"}},
            _rudderstack(allowed=["Analytics", "MARKETING", "functional"], denied=["ads"]),
            _rudderstack(denied=["advertising"]),
        ],
        ids=lambda c: repr(c)[:60],
    )
    def test_kept(self, context: dict[str, Any]) -> None:
        assert not consent_declined(context, REQUIRED)

    @pytest.mark.parametrize(
        "context",
        [
            _segment({"Analytics": False, "Marketing": True}),
            _segment({"analytics": True, "MARKETING": False}),
            _segment({"Marketing": "yes"}),  # an answer that is not a yes
            _rudderstack(allowed=["analytics", "marketing"], denied=["Marketing"]),
            _rudderstack(denied=["analytics"]),
            _rudderstack(allowed=["analytics"]),  # marketing not among the allowed
            _rudderstack(allowed=[], denied=[]),
            # both SDKs' shapes at once: either one saying no is enough
            {**_segment({"Analytics": True}), **_rudderstack(denied=["marketing"])},
        ],
        ids=lambda c: repr(c)[:60],
    )
    def test_declined(self, context: dict[str, Any]) -> None:
        assert consent_declined(context, REQUIRED)

    @pytest.mark.parametrize(
        "context",
        [
            {"consent": "denied"},
            {"consent": ["analytics"]},
            _segment("Analytics=false"),
            _segment([["Analytics", True]]),
            {"consentManagement": "oneTrust"},
            _rudderstack(allowed="analytics,marketing"),
            _rudderstack(denied={"analytics": True}),
        ],
        ids=lambda c: repr(c)[:60],
    )
    def test_a_consent_context_that_cannot_be_read_is_declined(
        self, context: dict[str, Any]
    ) -> None:
        assert consent_declined(context, REQUIRED)

    def test_ids_are_configurable_and_numbers_are_ids(self) -> None:
        required = ScreeningPolicy.of(consent_required=" C0002 , c0004,,").consent_required
        assert required == {"c0002", "c0004"}
        assert not consent_declined(_rudderstack(allowed=["C0001", "C0002", "C0004"]), required)
        assert consent_declined(_rudderstack(allowed=["C0001", "C0002"]), required)
        assert consent_declined(_segment({"C0004": False}), required)
        assert consent_declined(_rudderstack(allowed=[2]), frozenset({"2", "4"}))
        assert not consent_declined(_rudderstack(allowed=[2, 4]), frozenset({"2", "4"}))

    def test_nothing_required_reads_no_consent(self) -> None:
        nothing = ScreeningPolicy.of(consent_required="").consent_required
        assert nothing == frozenset()
        assert not consent_declined({"consent": "garbage"}, nothing)
        assert not consent_declined(_segment({"Analytics": False}), nothing)


class TestScreen:
    def test_verdicts(self) -> None:
        page = {"type": "page", "anonymousId": "v1"}
        assert screen(page, DEFAULT) is Verdict.KEEP
        assert screen({**page, "context": "nonsense"}, DEFAULT) is Verdict.KEEP
        assert screen({**page, "context": {"userAgent": PEOPLE["edge"]}}, DEFAULT) is Verdict.KEEP
        bot = {**page, "context": {"userAgent": BOTS["bingbot"]}}
        assert screen(bot, DEFAULT) is Verdict.BOT
        declined = {**page, "context": {"userAgent": PEOPLE["edge"], **_rudderstack(allowed=[])}}
        assert screen(declined, DEFAULT) is Verdict.DECLINED

    def test_a_bot_is_a_bot_whatever_its_consent_says(self) -> None:
        message = {"context": {"userAgent": BOTS["curl"], **_segment({"Analytics": False})}}
        assert screen(message, DEFAULT) is Verdict.BOT

    def test_screening_bots_can_be_turned_off(self) -> None:
        policy = ScreeningPolicy.of(screen_bots=False, consent_required="analytics")
        assert screen({"context": {"userAgent": BOTS["curl"]}}, policy) is Verdict.KEEP


class TestPolicyFromSettings:
    def test_defaults(self) -> None:
        policy = ScreeningPolicy.from_settings(Settings())
        assert policy == ScreeningPolicy.of(consent_required="Analytics,Marketing")
        assert policy.screen_bots

    def test_the_environment_is_read(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("LEADGATE_CONSENT_REQUIRED", "C0002;x, C0004")
        monkeypatch.setenv("LEADGATE_SCREEN_BOTS", "false")
        assert current_policy() == ScreeningPolicy(
            screen_bots=False, consent_required=frozenset({"c0002;x", "c0004"})
        )
        monkeypatch.setenv("LEADGATE_CONSENT_REQUIRED", "")
        assert current_policy().consent_required == frozenset()
        monkeypatch.delenv("LEADGATE_CONSENT_REQUIRED")
        monkeypatch.delenv("LEADGATE_SCREEN_BOTS")
        assert current_policy() == DEFAULT


def _apply(db: Database, *messages: dict[str, Any]) -> SegmentResult:
    """Apply in a transaction of its own (committed)."""
    with db.session() as session:
        return apply_segment(
            session,
            messages=list(messages),
            model=MODEL,
            names={},
            now=NOW,
            policy=DEFAULT,
            key_id="key_1",
        )


def _count(session: Session, table: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(table)) or 0)


DECLINED = {
    "userAgent": PEOPLE["firefox windows"],
    "consent": {"categoryPreferences": {"Analytics": True, "Marketing": False}},
}
BOT = {"userAgent": BOTS["headless chromium (Playwright's default)"]}


class TestApplySegment:
    def test_a_declined_visitor_leaves_nothing(self, db: Database) -> None:
        page = {
            "type": "page",
            "messageId": "p1",
            "anonymousId": "visitor-1",
            "context": {**DECLINED, "page": {"url": "https://example.com/pricing"}},
        }
        identify = {
            "type": "identify",
            "messageId": "i1",
            "anonymousId": "visitor-1",
            "userId": "u1",
            "traits": {"email": "ann@example.com"},
            "context": DECLINED,
        }
        track = {**page, "type": "track", "messageId": "t1", "event": "Demo Requested"}
        result = _apply(db, page, identify, track)
        assert result.accepted == 3
        assert result.screened == {"declined": 3}
        assert (result.parked, result.rejected, result.ingest.stored) == (0, [], [])
        with db.session() as session:
            for table in (Event, AnonymousMessage, Lead):
                assert _count(session, table) == 0, table

    def test_declining_later_keeps_what_was_given_and_adds_nothing(self, db: Database) -> None:
        """Consent is read per call: a lead identified with consent is not changed by a
        call that comes without it."""
        identify = {
            "type": "identify",
            "userId": "u2",
            "traits": {"email": "bea@example.com", "title": "CTO"},
        }
        _apply(db, identify)
        again = {
            **identify,
            "traits": {"email": "bea@example.com", "title": "Intern"},
            "context": DECLINED,
        }
        assert _apply(db, again).screened == {"declined": 1}
        with db.session() as session:
            assert session.scalars(select(Lead)).one().title == "CTO"

    def test_a_bots_track_is_acknowledged_not_stored_nor_scored(
        self, db: Database, caplog: pytest.LogCaptureFixture
    ) -> None:
        _apply(db, {"type": "identify", "userId": "u3", "traits": {"email": "cy@example.com"}})
        with db.session() as session:
            scored_as_of = session.scalars(select(StoredScorecard)).one().as_of
        track = {"type": "track", "userId": "u3", "event": "Demo Requested", "context": BOT}
        bot_identify = {
            "type": "identify",
            "userId": "u9",
            "traits": {"email": "crawler@example.com"},
            "context": BOT,
        }
        with caplog.at_level(logging.INFO, logger="leadgate.serve"):
            result = _apply(db, track, bot_identify)
        assert (result.accepted, result.rejected, result.screened) == (2, [], {"bot": 2})
        assert result.ingest.stored == [] and result.ingest.leads == {}
        assert "key key_1: bot 2" in caplog.text
        with db.session() as session:
            assert _count(session, Event) == 0
            assert [lead.email for lead in session.scalars(select(Lead))] == ["cy@example.com"]
            assert session.scalars(select(StoredScorecard)).one().as_of == scored_as_of

    def test_a_person_is_stored_and_scored(self, db: Database) -> None:
        context = {
            "userAgent": PEOPLE["safari mac"],
            "consent": {"categoryPreferences": {"Analytics": True, "Marketing": True}},
            "consentManagement": {"allowedConsentIds": ["analytics", "marketing"]},
        }
        page = {"type": "page", "messageId": "p4", "anonymousId": "visitor-4", "context": context}
        identify = {
            "type": "identify",
            "anonymousId": "visitor-4",
            "userId": "u4",
            "traits": {"email": "dee@example.com"},
            "context": context,
        }
        parked = _apply(db, page)
        assert (parked.parked, parked.screened) == (1, {})
        result = _apply(db, identify)
        assert result.screened == {}
        assert result.ingest.stored == ["p4"]
        assert "u4" in result.ingest.leads
        with db.session() as session:
            assert _count(session, Event) == 1 and _count(session, AnonymousMessage) == 0

    def test_malformed_consent_is_answered_not_raised(self, db: Database) -> None:
        messages = [
            {"type": "track", "anonymousId": "v", "event": "X", "context": {"consent": 7}},
            {"type": "page", "anonymousId": "v", "context": {"consentManagement": [1]}},
            {"type": "page", "anonymousId": "v", "context": {"userAgent": {"a": 1}}},
        ]
        result = _apply(db, *messages)
        assert result.screened == {"declined": 2}
        assert (result.accepted, result.parked, result.rejected) == (3, 1, [])
