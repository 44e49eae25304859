"""The example models in ``examples/models`` behave as their comments promise.

Each class loads one example file and checks the scenario it describes, the
positive case with its exact score and the negative cases that must stay out
of MQL. The shipped default model gets a hand-computed case with decay.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from leadgate.scoring import (
    AccountRecord,
    EventRecord,
    LeadRecord,
    Scorecard,
    ScoringModel,
    default_model,
    evaluate,
    load_model_file,
)

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"
AS_OF = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def ago(days: float) -> datetime:
    return AS_OF - timedelta(days=days)


class Events:
    """Builds events with unique ids, ``days_ago`` before AS_OF."""

    def __init__(self) -> None:
        self.items: list[EventRecord] = []

    def add(
        self,
        type_: str,
        days_ago: float = 0.0,
        *,
        count: int = 1,
        channel: str | None = None,
        **properties: Any,
    ) -> Events:
        for _ in range(count):
            self.items.append(
                EventRecord(
                    id=f"e{len(self.items) + 1}",
                    type=type_,
                    ts=ago(days_ago),
                    properties=properties,
                    channel=channel,
                )
            )
        return self


def rule(card: Scorecard, rule_id: str) -> Any:
    return next(outcome for outcome in card.rules if outcome.rule_id == rule_id)


@pytest.fixture(scope="module")
def model_a() -> ScoringModel:
    return load_model_file(MODELS / "a-newsletter-cta-pricing.yaml")


@pytest.fixture(scope="module")
def model_b() -> ScoringModel:
    return load_model_file(MODELS / "b-czech-manufacturing.yaml")


@pytest.fixture(scope="module")
def model_c() -> ScoringModel:
    return load_model_file(MODELS / "c-webinar-then-pricing.yaml")


@pytest.fixture(scope="module")
def model_d() -> ScoringModel:
    return load_model_file(MODELS / "d-fit-needs-engagement.yaml")


def test_every_example_starts_with_a_plain_words_comment() -> None:
    files = sorted(MODELS.glob("*.yaml"))
    assert [f.name for f in files] == [
        "a-newsletter-cta-pricing.yaml",
        "b-czech-manufacturing.yaml",
        "c-webinar-then-pricing.yaml",
        "d-fit-needs-engagement.yaml",
    ]
    for file in files:
        first = file.read_text("utf-8").splitlines()[0]
        assert first.startswith("# Scenario "), file.name


class TestNewsletterCtaPricing:
    """Newsletter open 10, CTA click 15, pricing visit 25; MQL at 60; halves every 30 days."""

    LEAD = LeadRecord(id="lead-a", email="petr@acme.cz")

    def score(self, model: ScoringModel, events: Events) -> Scorecard:
        return evaluate(model, self.LEAD, None, events.items, AS_OF)

    def test_two_opens_a_click_and_a_pricing_visit_reach_exactly_60(
        self, model_a: ScoringModel
    ) -> None:
        def events(opened_days_ago: float) -> Events:
            return (
                Events()
                .add("email.opened", opened_days_ago, count=2)
                .add("email.clicked")
                .add("page.viewed", url="https://acme.example/pricing")
            )

        card = self.score(model_a, events(0))
        assert card.scores == {"engagement": 60.0}
        assert card.mql is True
        assert rule(card, "newsletter-open").contribution == 20.0
        assert rule(card, "cta-click").contribution == 15.0
        assert rule(card, "pricing-visit").contribution == 25.0
        # Two days of decay on the opens push the same lead just below the line.
        aged = self.score(model_a, events(2))
        assert aged.scores["engagement"] == pytest.approx(20 * 0.5 ** (2 / 30) + 40)
        assert aged.mql is False

    def test_one_open_a_click_and_a_pricing_visit_make_50_and_no_mql(
        self, model_a: ScoringModel
    ) -> None:
        events = (
            Events().add("email.opened").add("email.clicked").add("page.viewed", url="/pricing")
        )
        card = self.score(model_a, events)
        assert card.scores["engagement"] == 50.0
        assert card.mql is False

    def test_two_pricing_visits_and_a_click_qualify(self, model_a: ScoringModel) -> None:
        events = (
            Events()
            .add("page.viewed", url="/pricing")
            .add("page.viewed", url="/en/PRICING/enterprise")
            .add("email.opened")
        )
        card = self.score(model_a, events)
        assert card.scores["engagement"] == 60.0
        assert card.mql is True

    def test_newsletter_opens_alone_never_qualify(self, model_a: ScoringModel) -> None:
        card = self.score(model_a, Events().add("email.opened", count=12))
        assert card.scores["engagement"] == 30.0
        opens = rule(card, "newsletter-open")
        assert opens.matched_count == 12
        assert len(opens.events) == 3
        assert card.mql is False

    def test_only_pricing_pages_count_as_pricing_visits(self, model_a: ScoringModel) -> None:
        events = (
            Events()
            .add("page.viewed", url="/blog/why-erp")
            .add("page.viewed", url="/contact")
            .add("page.viewed")  # no url at all
        )
        card = self.score(model_a, events)
        assert card.scores["engagement"] == 0.0
        assert rule(card, "pricing-visit").matched is False

    def test_points_halve_every_30_days(self, model_a: ScoringModel) -> None:
        def events(days: float) -> Events:
            return (
                Events()
                .add("email.opened", days, count=2)
                .add("email.clicked", days)
                .add("page.viewed", days, url="/pricing")
            )

        assert self.score(model_a, events(30)).scores["engagement"] == 30.0
        assert self.score(model_a, events(60)).scores["engagement"] == 15.0
        assert self.score(model_a, events(30)).mql is False


#: What each ingredient of scenario B is worth (website visits: 3 x 5).
B_INGREDIENTS = {
    "manufacturing": 15,
    "employees": 10,
    "country": 10,
    "email": 5,
    "visits": 15,
    "case_study": 15,
}


class TestCzechManufacturing:
    """A CZ/SK manufacturer of ~50 people whose contact opened an email, made 3 visits and
    downloaded a case study totals exactly 70 = MQL; without any one ingredient it stays below.
    """

    LEAD = LeadRecord(id="lead-b", email="jana.novakova@strojirna.cz", country="CZ")
    ACCOUNT = AccountRecord(
        id="acc-b", industry="Manufacturing", employees=50, country="CZ", domain="strojirna.cz"
    )

    def lead_with(self, model: ScoringModel, *, leave_out: str | None = None) -> Scorecard:
        account = self.ACCOUNT
        changes: dict[str, Any] = {
            "manufacturing": {"industry": "Retail"},
            "employees": {"employees": 5000},
            "country": {"country": "DE"},
        }
        if leave_out in changes:
            account = replace(account, **changes[leave_out])
        events = Events()
        if leave_out != "email":
            events.add("email.opened", 20)
        events.add("page.viewed", 15, url="/", count=2 if leave_out == "visits" else 3)
        if leave_out != "case_study":
            events.add("content.downloaded", 3, asset_type="case_study")
        return evaluate(model, self.LEAD, account, events.items, AS_OF)

    def test_the_described_lead_reaches_exactly_70_and_is_an_mql(
        self, model_b: ScoringModel
    ) -> None:
        card = self.lead_with(model_b)
        assert card.scores == {"lead_score": 70.0}
        assert card.mql is True
        assert all(outcome.matched for outcome in card.rules)

    def test_at_most_70_points_are_possible(self, model_b: ScoringModel) -> None:
        most = {r.id: r.points * (getattr(r, "max_count", None) or 1) for r in model_b.rules}
        assert most == {
            "manufacturing": 15,
            "about-50-employees": 10,
            "cz-or-sk": 10,
            "email-opened": 5,
            "website-visit": 15,
            "case-study": 15,
        }
        assert sum(most.values()) == 70

    @pytest.mark.parametrize("ingredient", list(B_INGREDIENTS))
    def test_leaving_out_any_one_ingredient_drops_below_70(
        self, model_b: ScoringModel, ingredient: str
    ) -> None:
        card = self.lead_with(model_b, leave_out=ingredient)
        expected = 70 - (5 if ingredient == "visits" else B_INGREDIENTS[ingredient])
        assert card.scores["lead_score"] == expected
        assert card.mql is False

    def test_more_of_one_thing_does_not_replace_a_missing_one(self, model_b: ScoringModel) -> None:
        events = (
            Events()
            .add("email.opened", count=10)
            .add("page.viewed", count=25)
            .add("content.downloaded", asset_type="whitepaper", count=4)
        )
        card = evaluate(model_b, self.LEAD, self.ACCOUNT, events.items, AS_OF)
        assert card.scores["lead_score"] == 55.0
        assert rule(card, "website-visit").matched_count == 25
        assert card.mql is False

    def test_slovakia_counts_like_the_czech_republic_and_case_does_not_matter(
        self, model_b: ScoringModel
    ) -> None:
        account = AccountRecord(id="acc-sk", industry="MANUFACTURING", employees=48, country="sk")
        events = (
            Events()
            .add("email.opened")
            .add("page.viewed", count=3)
            .add("content.downloaded", asset_type="Case_Study")
        )
        card = evaluate(model_b, self.LEAD, account, events.items, AS_OF)
        assert card.scores["lead_score"] == 70.0
        assert card.mql is True

    @pytest.mark.parametrize(
        ("employees", "counts"), [(30, True), (100, True), (29, False), (101, False), (None, False)]
    )
    def test_about_50_employees_means_30_to_100(
        self, model_b: ScoringModel, employees: int | None, counts: bool
    ) -> None:
        account = AccountRecord(id="acc", industry="manufacturing", employees=employees)
        card = evaluate(model_b, self.LEAD, account, [], AS_OF)
        assert card.scores["lead_score"] == (25.0 if counts else 15.0)

    def test_points_do_not_fade_with_time(self, model_b: ScoringModel) -> None:
        events = (
            Events()
            .add("email.opened", 700)
            .add("page.viewed", 500, count=3)
            .add("content.downloaded", 400, asset_type="case_study")
        )
        card = evaluate(model_b, self.LEAD, self.ACCOUNT, events.items, AS_OF)
        assert card.scores["lead_score"] == 70.0
        assert card.mql is True

    def test_a_lead_without_an_account_gets_only_engagement_points(
        self, model_b: ScoringModel
    ) -> None:
        events = (
            Events()
            .add("email.opened")
            .add("page.viewed", count=3)
            .add("content.downloaded", asset_type="case_study")
        )
        card = evaluate(model_b, self.LEAD, None, events.items, AS_OF)
        assert card.scores["lead_score"] == 35.0
        assert card.mql is False


class TestWebinarThenPricing:
    """Webinar registration + attendance, then a fresh pricing visit, make an MQL;
    the webinar alone or pricing alone do not.
    """

    LEAD = LeadRecord(id="lead-c", email="eva@firma.sk")

    def score(self, model: ScoringModel, events: Events) -> Scorecard:
        return evaluate(model, self.LEAD, None, events.items, AS_OF)

    def test_registration_attendance_then_pricing_is_an_mql(self, model_c: ScoringModel) -> None:
        events = (
            Events()
            .add("webinar.registered", 30)
            .add("webinar.attended", 30)
            .add("page.viewed", 0, url="/pricing")
        )
        card = self.score(model_c, events)
        assert card.mql is True
        # 10 and 30 points halved once (30 days), 25 points fresh.
        assert card.scores["engagement"] == 45.0
        assert [check.passed for check in card.checks] == [True, True, True]

    def test_registration_and_attendance_alone_are_not_an_mql(self, model_c: ScoringModel) -> None:
        card = self.score(model_c, Events().add("webinar.registered", 8).add("webinar.attended", 7))
        assert card.mql is False
        assert [check.passed for check in card.checks] == [True, True, False]
        assert card.scores["engagement"] == pytest.approx(
            10 * 0.5 ** (8 / 30) + 30 * 0.5 ** (7 / 30)
        )

    def test_pricing_alone_is_not_an_mql(self, model_c: ScoringModel) -> None:
        card = self.score(model_c, Events().add("page.viewed", 1, url="/pricing", count=5))
        assert card.mql is False
        assert [check.passed for check in card.checks] == [False, False, False]
        assert card.scores["engagement"] == pytest.approx(25 * 0.5 ** (1 / 30))

    def test_registration_without_attendance_is_not_an_mql(self, model_c: ScoringModel) -> None:
        events = Events().add("webinar.registered", 9).add("page.viewed", 1, url="/pricing")
        assert self.score(model_c, events).mql is False

    def test_attendance_without_registration_is_not_an_mql(self, model_c: ScoringModel) -> None:
        events = Events().add("webinar.attended", 9).add("page.viewed", 1, url="/pricing")
        assert self.score(model_c, events).mql is False

    def test_other_pages_do_not_count_as_pricing(self, model_c: ScoringModel) -> None:
        events = (
            Events()
            .add("webinar.registered", 9)
            .add("webinar.attended", 8)
            .add("page.viewed", 1, url="/blog/prices-explained")
            .add("page.viewed", 1, url="/about")
        )
        assert self.score(model_c, events).mql is False

    def test_a_stale_pricing_visit_does_not_count(self, model_c: ScoringModel) -> None:
        events = (
            Events()
            .add("webinar.registered", 40)
            .add("webinar.attended", 39)
            .add("page.viewed", 15, url="/pricing")
        )
        assert self.score(model_c, events).mql is False
        fresh = Events().add("webinar.registered", 40).add("webinar.attended", 39)
        assert self.score(model_c, fresh.add("page.viewed", 14, url="/pricing")).mql is True

    def test_a_webinar_older_than_60_days_does_not_count(self, model_c: ScoringModel) -> None:
        events = (
            Events()
            .add("webinar.registered", 70)
            .add("webinar.attended", 61)
            .add("page.viewed", 1, url="/pricing")
        )
        card = self.score(model_c, events)
        assert card.mql is False
        assert [check.passed for check in card.checks] == [False, False, True]

    def test_pricing_before_the_webinar_does_not_qualify(self, model_c: ScoringModel) -> None:
        """Order matters: a pricing visit before attending is not "followed by"."""
        events = (
            Events()
            .add("page.viewed", 6, url="/pricing")
            .add("webinar.registered", 5)
            .add("webinar.attended", 3)
        )
        card = self.score(model_c, events)
        assert card.mql is False
        assert [check.passed for check in card.checks] == [True, True, False]

    def test_a_second_pricing_visit_after_the_webinar_qualifies(
        self, model_c: ScoringModel
    ) -> None:
        events = (
            Events()
            .add("page.viewed", 6, url="/pricing")
            .add("webinar.registered", 5)
            .add("webinar.attended", 3)
            .add("page.viewed", 1, url="/pricing")
        )
        assert self.score(model_c, events).mql is True

    def test_an_event_after_as_of_is_not_seen(self, model_c: ScoringModel) -> None:
        events = (
            Events()
            .add("webinar.registered", 9)
            .add("webinar.attended", 8)
            .add("page.viewed", -1, url="/pricing")
        )
        card = self.score(model_c, events)
        assert card.mql is False
        assert rule(card, "pricing-visit").matched is False


class TestFitNeedsEngagement:
    """Grade A fit with only a LinkedIn Ads form stays in nurture; an email open or click
    in the last 30 days makes the same contact an MQL.
    """

    LEAD = LeadRecord(id="lead-d", email="karel@vyroba.cz", seniority="Director")
    ACCOUNT = AccountRecord(id="acc-d", industry="manufacturing", employees=120, country="CZ")

    def score(
        self,
        model: ScoringModel,
        events: Events,
        *,
        lead: LeadRecord | None = None,
        account: AccountRecord | None = None,
    ) -> Scorecard:
        return evaluate(model, lead or self.LEAD, account or self.ACCOUNT, events.items, AS_OF)

    def test_the_contact_is_an_excellent_fit(self, model_d: ScoringModel) -> None:
        card = self.score(model_d, Events())
        assert card.scores["fit"] == 45.0
        assert card.grade == "A"

    def test_linkedin_form_alone_stays_out_of_mql(self, model_d: ScoringModel) -> None:
        card = self.score(model_d, Events().add("form.submitted", 2, channel="linkedin"))
        assert card.grade == "A"
        assert card.scores["engagement"] == pytest.approx(20 * 0.5 ** (2 / 30))
        assert rule(card, "linkedin-form").matched is True
        assert card.mql is False
        assert [(c.check, c.passed) for c in card.checks] == [
            ("grade in ['A', 'B']", True),
            ("email.opened/email.clicked within 30 days", False),
        ]

    def test_an_email_open_after_the_form_makes_an_mql(self, model_d: ScoringModel) -> None:
        events = Events().add("form.submitted", 10, channel="LinkedIn").add("email.opened", 1)
        card = self.score(model_d, events)
        assert card.mql is True
        expected = 20 * 0.5 ** (10 / 30) + 10 * 0.5 ** (1 / 30)
        assert card.scores["engagement"] == pytest.approx(expected)

    def test_an_email_click_also_counts(self, model_d: ScoringModel) -> None:
        events = Events().add("form.submitted", 10, channel="linkedin").add("email.clicked", 0)
        assert self.score(model_d, events).mql is True

    def test_web_visits_without_email_do_not_make_an_mql(self, model_d: ScoringModel) -> None:
        events = (
            Events()
            .add("form.submitted", 10, channel="linkedin")
            .add("page.viewed", 2, count=4, url="/pricing")
        )
        card = self.score(model_d, events)
        assert card.scores["engagement"] > 30
        assert card.mql is False

    def test_an_old_email_open_does_not_count(self, model_d: ScoringModel) -> None:
        events = Events().add("form.submitted", 40, channel="linkedin").add("email.opened", 31)
        assert self.score(model_d, events).mql is False
        recent = Events().add("form.submitted", 40, channel="linkedin").add("email.opened", 30)
        assert self.score(model_d, recent).mql is True

    def test_a_form_from_another_channel_earns_no_linkedin_points(
        self, model_d: ScoringModel
    ) -> None:
        card = self.score(model_d, Events().add("form.submitted", 0, channel="google"))
        assert rule(card, "linkedin-form").matched is False
        assert card.scores["engagement"] == 0.0

    def test_a_poor_fit_with_email_engagement_is_not_an_mql(self, model_d: ScoringModel) -> None:
        lead = LeadRecord(id="lead-junior", seniority="intern")
        account = AccountRecord(id="acc-tiny", industry="retail", employees=3, country="US")
        events = Events().add("form.submitted", 2, channel="linkedin").add("email.clicked", 1)
        card = self.score(model_d, events, lead=lead, account=account)
        assert card.scores["fit"] == 0.0
        assert card.grade == "D"
        assert card.mql is False

    def test_grade_b_with_an_email_open_is_an_mql(self, model_d: ScoringModel) -> None:
        account = AccountRecord(id="acc-de", industry="manufacturing", employees=120, country="DE")
        card = self.score(model_d, Events().add("email.opened", 3), account=account)
        assert card.scores["fit"] == 35.0
        assert card.grade == "B"
        assert card.mql is True


class TestDefaultModel:
    """The shipped ``b2b-default`` model loads and scores a hand-computed lead."""

    def test_it_loads(self) -> None:
        model = default_model()
        assert model.label == "b2b-default@v3"
        assert model.group_names == ("fit", "engagement", "account_engagement")
        assert model.grades is not None
        assert model.grades.bands == (("A", 40.0), ("B", 25.0), ("C", 10.0))
        assert model.grades.otherwise == "D"
        assert model.mql is not None

    def test_a_hand_computed_lead(self) -> None:
        model = default_model()
        lead = LeadRecord(id="lead-def", email="jana@acme.cz", seniority="Director")
        account = AccountRecord(id="acc-def", employees=120, country="cz", industry="Manufacturing")
        events = (
            Events()
            .add("email.opened", 30)  # 10 * 0.5 ** (30/30) = 5
            .add("email.clicked", 10)  # 15 * 0.5 ** (10/30)
            .add("page.viewed", 14, url="https://acme.example/PRICING")  # 25 * 0.5 = 12.5
            .add("webinar.attended", 60)  # 30 * 0.25 = 7.5
            .add("page.viewed", 1, url="/careers")  # no rule
        )
        card = evaluate(model, lead, account, events.items, AS_OF)
        # fit: size 20 + cz 15 + manufacturing 15 + decision maker 10 = 60 -> grade A
        assert card.scores["fit"] == 60.0
        assert card.grade == "A"
        # 15 * 2 ** (-1/3) = 15 * 0.7937005259840998 = 11.905507889761497
        expected = 5.0 + 11.905507889761497 + 12.5 + 7.5
        assert card.scores["engagement"] == pytest.approx(expected, abs=1e-9)
        assert card.scores["engagement"] == pytest.approx(36.905507889761497, abs=1e-9)
        assert card.scores["account_engagement"] == card.scores["engagement"]
        assert card.mql is False  # engagement below 60

        more = events.add("content.downloaded", 0, asset_type="case_study").add(
            "page.viewed", 0, url="/pricing"
        )
        card = evaluate(model, lead, account, more.items, AS_OF)
        assert card.scores["engagement"] == pytest.approx(expected + 20 + 25, abs=1e-9)
        assert card.mql is True

    def test_free_mail_and_unsubscribe_subtract(self) -> None:
        model = default_model()
        lead = LeadRecord(id="lead-free", email="someone@GMAIL.com")
        events = Events().add("email.opened", 0).add("email.unsubscribed", 365)
        card = evaluate(model, lead, None, events.items, AS_OF)
        assert card.scores["fit"] == -20.0
        assert card.grade == "D"
        # unsubscribing never fades: -50 a year later
        assert card.scores["engagement"] == -40.0
