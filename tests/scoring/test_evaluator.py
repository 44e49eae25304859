"""The pure evaluator, one class per behaviour area.

Models are written inline in the model language, so each test reads like the
file a model author would write.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from leadgate.scoring import (
    AccountRecord,
    EventRecord,
    LeadRecord,
    Scorecard,
    ScoringModel,
    evaluate,
    evaluate_account,
    load_model,
)
from leadgate.scoring.evaluator import decay_factor
from leadgate.scoring.nodes import FieldRef, Op, Predicate, Scope
from leadgate.scoring.predicates import test_predicate as holds
from leadgate.scoring.scorecard import RuleOutcome

AS_OF = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
LEAD = LeadRecord(id="lead-1", email="eva@acme.cz")


def model(text: str) -> ScoringModel:
    return load_model(textwrap.dedent(text), file="inline.yaml")


def events_model(rules: str, *, group: str = "") -> ScoringModel:
    """A model whose only group ``g`` holds the given (flow style) rules."""
    body = textwrap.indent(textwrap.dedent(rules).strip(), " " * 6)
    extra = textwrap.indent(textwrap.dedent(group).strip(), " " * 4)
    return model(
        "version: 1\nname: t\ngroups:\n  g:\n"
        + (extra + "\n" if extra else "")
        + "    rules:\n"
        + body
        + "\n"
    )


def ev(event_id: str, type_: str, days_ago: float, **kwargs: Any) -> EventRecord:
    channel = kwargs.pop("channel", None)
    campaign = kwargs.pop("campaign", None)
    return EventRecord(
        id=event_id,
        type=type_,
        ts=AS_OF - timedelta(days=days_ago),
        properties=kwargs,
        channel=channel,
        campaign=campaign,
    )


def score(
    m: ScoringModel,
    events: Sequence[EventRecord] = (),
    *,
    lead: LeadRecord = LEAD,
    account: AccountRecord | None = None,
    as_of: datetime = AS_OF,
) -> Scorecard:
    return evaluate(m, lead, account, events, as_of)


def outcome(card: Scorecard, rule_id: str) -> RuleOutcome:
    return next(rule for rule in card.rules if rule.rule_id == rule_id)


class TestDecay:
    def test_decay_factor(self) -> None:
        assert decay_factor(0, 30) == 1.0
        assert decay_factor(30, 30) == 0.5
        assert decay_factor(90, 30) == 0.125
        assert decay_factor(10, 30) == pytest.approx(0.7937005259840998)
        assert decay_factor(1000, None) == 1.0

    def test_points_halve_per_half_life(self) -> None:
        m = events_model("- {id: open, event: email.opened, points: 10, half_life_days: 7}")
        assert score(m, [ev("e1", "email.opened", 0)]).scores["g"] == 10.0
        assert score(m, [ev("e1", "email.opened", 7)]).scores["g"] == 5.0
        assert score(m, [ev("e1", "email.opened", 14)]).scores["g"] == 2.5
        assert score(m, [ev("e1", "email.opened", 3.5)]).scores["g"] == pytest.approx(10 / 2**0.5)

    def test_each_event_decays_by_its_own_age(self) -> None:
        m = events_model("- {id: open, event: email.opened, points: 8, half_life_days: 10}")
        card = score(m, [ev("old", "email.opened", 20), ev("new", "email.opened", 10)])
        assert card.scores["g"] == 4.0 + 2.0
        shares = {share.event_id: share for share in outcome(card, "open").events}
        assert shares["old"].points == 2.0
        assert shares["old"].age_days == 20.0
        assert shares["new"].points == 4.0

    def test_fractional_days_count(self) -> None:
        m = events_model("- {id: open, event: email.opened, points: 10, half_life_days: 1}")
        event = EventRecord(id="e", type="email.opened", ts=AS_OF - timedelta(hours=12))
        assert score(m, [event]).scores["g"] == pytest.approx(10 * 0.5**0.5)

    def test_group_half_life_is_the_default_and_a_rule_may_override_it(self) -> None:
        m = events_model(
            """
            - {id: open, event: email.opened, points: 10}
            - {id: click, event: email.clicked, points: 10, half_life_days: 10}
            - {id: unsub, event: email.unsubscribed, points: -10, decay: none}
            """,
            group="half_life_days: 20",
        )
        card = score(
            m,
            [
                ev("e1", "email.opened", 20),
                ev("e2", "email.clicked", 20),
                ev("e3", "email.unsubscribed", 20),
            ],
        )
        assert outcome(card, "open").contribution == 5.0
        assert outcome(card, "click").contribution == 2.5
        assert outcome(card, "unsub").contribution == -10.0
        assert card.scores["g"] == -2.5

    def test_no_half_life_means_no_decay(self) -> None:
        m = events_model("- {id: open, event: email.opened, points: 10}")
        assert score(m, [ev("e1", "email.opened", 3650)]).scores["g"] == 10.0

    def test_group_decay_none(self) -> None:
        m = events_model("- {id: open, event: email.opened, points: 10}", group="decay: none")
        assert score(m, [ev("e1", "email.opened", 365)]).scores["g"] == 10.0

    def test_attribute_rules_never_decay(self) -> None:
        m = events_model(
            "- {id: cz, when: {lead.country: CZ}, points: 10}", group="half_life_days: 1"
        )
        assert score(m, lead=LeadRecord(id="l", country="CZ")).scores["g"] == 10.0


class TestMaxCount:
    def test_only_the_n_most_recent_events_count(self) -> None:
        m = events_model(
            "- {id: visit, event: page.viewed, points: 8, max_count: 2, half_life_days: 10}"
        )
        events = [ev(f"e{age}", "page.viewed", age) for age in (30, 0, 20, 10)]
        card = score(m, events)
        visit = outcome(card, "visit")
        assert [share.event_id for share in visit.events] == ["e0", "e10"]
        assert visit.matched_count == 4
        assert card.scores["g"] == 8.0 + 4.0

    def test_fewer_events_than_max_count(self) -> None:
        m = events_model("- {id: visit, event: page.viewed, points: 3, max_count: 5}")
        card = score(m, [ev("a", "page.viewed", 1), ev("b", "page.viewed", 2)])
        assert card.scores["g"] == 6.0
        assert len(outcome(card, "visit").events) == 2

    def test_max_count_applies_after_where(self) -> None:
        m = events_model(
            """
            - id: pricing
              event: page.viewed
              where: {properties.url: {contains: /pricing}}
              points: 25
              max_count: 1
            """
        )
        events = [
            ev("blog", "page.viewed", 0, url="/blog"),
            ev("p-old", "page.viewed", 5, url="/pricing"),
            ev("p-older", "page.viewed", 6, url="/pricing"),
        ]
        visit = outcome(score(m, events), "pricing")
        assert [share.event_id for share in visit.events] == ["p-old"]
        assert visit.matched_count == 2

    def test_same_instant_ties_break_by_event_id(self) -> None:
        m = events_model("- {id: visit, event: page.viewed, points: 1, max_count: 1}")
        events = [ev("b", "page.viewed", 1), ev("a", "page.viewed", 1)]
        assert [s.event_id for s in outcome(score(m, events), "visit").events] == ["b"]
        assert [s.event_id for s in outcome(score(m, events[::-1]), "visit").events] == ["b"]


class TestWithinDays:
    def test_events_older_than_the_window_do_not_count(self) -> None:
        m = events_model("- {id: visit, event: page.viewed, points: 5, within_days: 30}")
        card = score(m, [ev("in", "page.viewed", 29.9), ev("out", "page.viewed", 30.1)])
        assert card.scores["g"] == 5.0
        assert outcome(card, "visit").matched_count == 1

    def test_the_window_edge_counts(self) -> None:
        m = events_model("- {id: visit, event: page.viewed, points: 5, within_days: 30}")
        assert score(m, [ev("edge", "page.viewed", 30)]).scores["g"] == 5.0

    def test_group_window_is_the_default(self) -> None:
        m = events_model(
            """
            - {id: visit, event: page.viewed, points: 5}
            - {id: open, event: email.opened, points: 5, within_days: 365}
            """,
            group="within_days: 7",
        )
        card = score(m, [ev("v", "page.viewed", 8), ev("o", "email.opened", 8)])
        assert outcome(card, "visit").matched is False
        assert outcome(card, "open").contribution == 5.0

    def test_window_and_max_count_together(self) -> None:
        m = events_model(
            "- {id: visit, event: page.viewed, points: 1, within_days: 10, max_count: 2}"
        )
        events = [ev(f"e{age}", "page.viewed", age) for age in (1, 2, 3, 11, 12)]
        visit = outcome(score(m, events), "visit")
        assert visit.matched_count == 3
        assert [share.event_id for share in visit.events] == ["e1", "e2"]

    def test_any_event_window(self) -> None:
        m = model(
            """
            version: 1
            name: t
            groups:
              g: {rules: [{id: x, event: email.opened, points: 1}]}
            mql: {any_event: [email.opened, email.clicked], within_days: 14, min_count: 2}
            """
        )
        assert score(m, [ev("a", "email.opened", 3), ev("b", "email.clicked", 14)]).mql is True
        assert score(m, [ev("a", "email.opened", 3), ev("b", "email.clicked", 15)]).mql is False
        assert score(m, [ev("a", "email.opened", 3), ev("b", "page.viewed", 1)]).mql is False


class TestCaps:
    def test_max_points_caps_the_group_and_uncapped_keeps_the_sum(self) -> None:
        m = events_model("- {id: visit, event: page.viewed, points: 10}", group="max_points: 25")
        card = score(m, [ev(f"e{i}", "page.viewed", i) for i in range(4)])
        assert card.scores["g"] == 25.0
        assert card.uncapped["g"] == 40.0

    def test_min_points_floors_the_group(self) -> None:
        m = events_model(
            "- {id: bounce, event: email.bounced, points: -30}", group="min_points: -50"
        )
        card = score(m, [ev(f"e{i}", "email.bounced", i) for i in range(3)])
        assert card.scores["g"] == -50.0
        assert card.uncapped["g"] == -90.0

    def test_within_the_caps_nothing_changes(self) -> None:
        m = events_model(
            "- {id: visit, event: page.viewed, points: 10}", group="max_points: 25\nmin_points: 0"
        )
        card = score(m, [ev("e", "page.viewed", 0)])
        assert card.scores["g"] == card.uncapped["g"] == 10.0

    def test_a_rollup_is_capped_too(self) -> None:
        m = model(
            """
            version: 1
            name: t
            groups:
              g: {rules: [{id: visit, event: page.viewed, points: 10}]}
              acct: {rollup: {from: g, how: sum}, max_points: 15}
            """
        )
        members = [(LeadRecord(id=f"l{i}"), [ev(f"e{i}", "page.viewed", 0)]) for i in range(3)]
        cards = evaluate_account(m, None, members, AS_OF)
        assert [card.scores["acct"] for card in cards] == [15.0, 15.0, 15.0]
        assert cards[0].uncapped["acct"] == 30.0

    def test_the_mql_reads_the_capped_score(self) -> None:
        m = model(
            """
            version: 1
            name: t
            groups:
              g: {max_points: 50, rules: [{id: visit, event: page.viewed, points: 10}]}
            mql: {score: g, gt: 50}
            """
        )
        assert score(m, [ev(f"e{i}", "page.viewed", 0) for i in range(9)]).mql is False


def pred(field: str, op: Op, operand: Any) -> Predicate:
    scope, _, rest = field.partition(".")
    name, _, key = rest.partition(".")
    return Predicate(FieldRef(Scope(scope), name, key or None), op, operand)


class TestAttributeOperators:
    """Operators on lead/account values: case, missing values, lists, regex, named lists."""

    @pytest.mark.parametrize(
        ("op", "operand", "value", "expected"),
        [
            (Op.EQ, "Director", "director", True),
            (Op.EQ, "director", "DIRECTOR", True),
            (Op.EQ, "straße", "STRASSE", True),  # casefold, not just lower()
            (Op.EQ, "director", "vp", False),
            (Op.NE, "director", "Director", False),
            (Op.NE, "director", "vp", True),
            (Op.IN, ("cz", "sk"), "SK", True),
            (Op.IN, ("cz", "sk"), "DE", False),
            (Op.NOT_IN, ("cz", "sk"), "Cz", False),
            (Op.NOT_IN, ("cz", "sk"), "DE", True),
            (Op.CONTAINS, "Head", "head of IT", True),
            (Op.CONTAINS, "cto", "Manager", False),
            (Op.STARTS_WITH, "VP", "vp sales", True),
            (Op.STARTS_WITH, "sales", "vp sales", False),
            (Op.ENDS_WITH, "OFFICER", "Chief Officer", True),
            (Op.EQ, 50, "50", True),  # a number given as text still compares as a number
            (Op.EQ, 50, "50.0", True),
            (Op.EQ, 50, "fifty", False),
            (Op.EQ, True, True, True),
            (Op.EQ, True, False, False),
            (Op.GT, 100.0, 150, True),
            (Op.GT, 100.0, 100, False),
            (Op.GTE, 100.0, 100, True),
            (Op.LT, 100.0, "99.5", True),
            (Op.LTE, 100.0, "abc", False),
            (Op.BETWEEN, (50.0, 500.0), 50, True),
            (Op.BETWEEN, (50.0, 500.0), 500, True),
            (Op.BETWEEN, (50.0, 500.0), 501, False),
            (Op.GT, 1.0, True, False),  # a boolean is not a number
        ],
    )
    def test_operators(self, op: Op, operand: Any, value: Any, expected: bool) -> None:
        assert holds(pred("lead.attributes.x", op, operand), value) is expected

    @pytest.mark.parametrize(
        ("op", "operand"),
        [
            (Op.EQ, "x"),
            (Op.NE, "x"),
            (Op.IN, ("x",)),
            (Op.NOT_IN, ("x",)),
            (Op.GT, 0.0),
            (Op.LT, 0.0),
            (Op.BETWEEN, (0.0, 1.0)),
            (Op.CONTAINS, "x"),
            (Op.STARTS_WITH, "x"),
            (Op.ENDS_WITH, "x"),
            (Op.REGEX, ".*"),
            (Op.EXISTS, True),
        ],
    )
    def test_a_missing_value_matches_nothing(self, op: Op, operand: Any) -> None:
        assert holds(pred("lead.title", op, operand), None) is False

    def test_a_missing_value_matches_exists_false(self) -> None:
        assert holds(pred("lead.title", Op.EXISTS, False), None) is True
        assert holds(pred("lead.title", Op.EXISTS, False), "CEO") is False
        assert holds(pred("lead.title", Op.EXISTS, True), "CEO") is True

    def test_missing_values_through_the_model(self) -> None:
        m = events_model(
            """
            - {id: not-cz, when: {lead.country: {ne: CZ}}, points: 1}
            - {id: not-listed, when: {lead.country: {not_in: [CZ, SK]}}, points: 2}
            - {id: no-country, when: {lead.country: {exists: false}}, points: 4}
            - {id: big, when: {account.employees: {gte: 1}}, points: 8}
            - {id: no-size, when: {account.employees: {exists: false}}, points: 16}
            """
        )
        # no country, no account at all
        assert score(m, lead=LeadRecord(id="l")).scores["g"] == 4 + 16
        assert score(m, lead=LeadRecord(id="l", country="DE")).scores["g"] == 1 + 2 + 16
        account = AccountRecord(id="a", employees=10)
        assert score(m, lead=LeadRecord(id="l"), account=account).scores["g"] == 4 + 8

    def test_list_values_match_when_any_element_does(self) -> None:
        tags = ["ERP", "mes", None]
        assert holds(pred("lead.attributes.tags", Op.EQ, "erp"), tags) is True
        assert holds(pred("lead.attributes.tags", Op.EQ, "crm"), tags) is False
        assert holds(pred("lead.attributes.tags", Op.IN, ("crm", "MES")), tags) is True
        assert holds(pred("lead.attributes.tags", Op.STARTS_WITH, "me"), tags) is True

    def test_negative_operators_on_list_values_need_every_element(self) -> None:
        tags = ["ERP", "mes"]
        assert holds(pred("lead.attributes.tags", Op.NE, "erp"), tags) is False
        assert holds(pred("lead.attributes.tags", Op.NE, "crm"), tags) is True
        assert holds(pred("lead.attributes.tags", Op.NOT_IN, ("crm", "mes")), tags) is False

    def test_contains_on_a_list_means_has_an_element(self) -> None:
        tags = ["ERP", "mes"]
        assert holds(pred("lead.attributes.tags", Op.CONTAINS, "Erp"), tags) is True
        assert holds(pred("lead.attributes.tags", Op.CONTAINS, "er"), tags) is False

    def test_regex_searches_anywhere_and_ignores_case(self) -> None:
        m = events_model(
            """
            - {id: chief, when: {lead.title: {regex: '^(chief|head) '}}, points: 1}
            - {id: sales, when: {lead.title: {regex: 'sales|revenue'}}, points: 2}
            """
        )

        def titled(title: str) -> float:
            return score(m, lead=LeadRecord(id="l", title=title)).scores["g"]

        assert titled("Chief Revenue Officer") == 3
        assert titled("head of sales") == 3
        assert titled("HEAD OF IT") == 1
        assert titled("Sales Manager") == 2
        assert titled("Deputy head of IT") == 0

    def test_free_mail_list(self) -> None:
        m = events_model(
            """
            - {id: free, when: {lead.email_domain: {in_list: free_mail}}, points: -20}
            - {id: work, when: {lead.email_domain: {not_in_list: free_mail}}, points: 5}
            """
        )
        assert score(m, lead=LeadRecord(id="l", email="Jana@GMAIL.com")).scores["g"] == -20
        assert score(m, lead=LeadRecord(id="l", email="jana@seznam.cz")).scores["g"] == -20
        assert score(m, lead=LeadRecord(id="l", email="jana@acme.cz")).scores["g"] == 5
        # no e-mail: no domain, which matches neither
        assert score(m, lead=LeadRecord(id="l")).scores["g"] == 0

    def test_boolean_fields(self) -> None:
        m = events_model("- {id: dne, when: {lead.do_not_email: true}, points: -100}")
        assert score(m, lead=LeadRecord(id="l", do_not_email=True)).scores["g"] == -100
        assert score(m, lead=LeadRecord(id="l")).scores["g"] == 0

    def test_custom_attributes_flat_and_nested(self) -> None:
        m = events_model(
            """
            - {id: src, when: {lead.attributes.utm.source: LinkedIn}, points: 1}
            - {id: erp, when: {account.attributes.stack.erp: sap}, points: 2}
            """
        )
        flat = LeadRecord(id="l", attributes={"utm.source": "linkedin"})
        nested = LeadRecord(id="l", attributes={"utm": {"source": "LINKEDIN"}})
        account = AccountRecord(id="a", attributes={"stack": {"erp": "SAP", "crm": "none"}})
        assert score(m, lead=flat).scores["g"] == 1
        assert score(m, lead=nested, account=account).scores["g"] == 3
        assert score(m, lead=LeadRecord(id="l", attributes={"utm": "x"})).scores["g"] == 0

    def test_event_where_on_channel_campaign_and_properties(self) -> None:
        m = events_model(
            """
            - id: li-form
              event: form.submitted
              where: {channel: LinkedIn, campaign: {starts_with: q3-}, properties.form: demo}
              points: 10
            """
        )
        good = ev("a", "form.submitted", 0, channel="linkedin", campaign="Q3-ads", form="Demo")
        wrong_campaign = ev(
            "b", "form.submitted", 0, channel="linkedin", campaign="q2", form="demo"
        )
        no_channel = ev("c", "form.submitted", 0, campaign="q3-ads", form="demo")
        card = score(m, [good, wrong_campaign, no_channel])
        assert outcome(card, "li-form").matched_count == 1
        assert card.scores["g"] == 10.0


class TestRollups:
    ROLLUP_MODEL = """
        version: 1
        name: t
        groups:
          engagement: {rules: [{id: visit, event: page.viewed, points: 10}]}
          total: {rollup: {from: engagement, how: sum}}
          best: {rollup: {from: engagement, how: max}}
          mean: {rollup: {from: engagement, how: avg}}
          default_how: {rollup: {from: engagement}}
        mql: {score: total, gte: 50}
        """

    def members(self, *visits: int) -> list[tuple[LeadRecord, list[EventRecord]]]:
        return [
            (
                LeadRecord(id=f"l{i}"),
                [ev(f"l{i}-e{j}", "page.viewed", j) for j in range(count)],
            )
            for i, count in enumerate(visits)
        ]

    def test_sum_max_avg_over_the_account(self) -> None:
        m = model(self.ROLLUP_MODEL)
        cards = evaluate_account(m, AccountRecord(id="a"), self.members(1, 2, 3), AS_OF)
        assert [card.lead_id for card in cards] == ["l0", "l1", "l2"]
        assert [card.scores["engagement"] for card in cards] == [10.0, 20.0, 30.0]
        for card in cards:
            assert card.scores["total"] == 60.0
            assert card.scores["default_how"] == 60.0
            assert card.scores["best"] == 30.0
            assert card.scores["mean"] == 20.0
            assert card.mql is True  # the account's total qualifies every lead

    def test_evaluate_with_colleagues_equals_the_account_run(self) -> None:
        m = model(self.ROLLUP_MODEL)
        (lead, events), *colleagues = self.members(1, 4)
        card = evaluate(m, lead, None, events, AS_OF, colleagues=colleagues)
        assert card.scores["total"] == 50.0
        assert card.scores["engagement"] == 10.0
        assert card.mql is True
        alone = evaluate(m, lead, None, events, AS_OF)
        assert alone.scores["total"] == 10.0
        assert alone.mql is False

    def test_an_account_without_leads(self) -> None:
        assert evaluate_account(model(self.ROLLUP_MODEL), None, [], AS_OF) == []


class TestGrades:
    GRADED = """
        version: 1
        name: t
        groups:
          fit: {rules: [{id: size, when: {account.employees: {gte: 1}}, points: 40}]}
          minus: {rules: [{id: small, when: {account.employees: {lt: 10}}, points: -1}]}
        grades: {A: 40, B: 25, C: 10}
        """

    def test_bands_are_lower_bounds(self) -> None:
        m = model(self.GRADED)
        grades = m.grades
        assert grades is not None
        assert [grades.grade_for(s) for s in (100, 40, 39.999, 25, 24, 10, 9.9, -5)] == [
            "A",
            "A",
            "B",
            "B",
            "C",
            "C",
            "D",
            "D",
        ]

    def test_the_scorecard_carries_the_grade(self) -> None:
        m = model(self.GRADED)
        assert score(m, account=AccountRecord(id="a", employees=100)).grade == "A"
        assert score(m, account=AccountRecord(id="a")).grade == "D"

    def test_grades_on_another_group_with_a_named_bottom_grade(self) -> None:
        m = model(
            """
            version: 1
            name: t
            groups:
              profile: {rules: [{id: cz, when: {lead.country: CZ}, points: 30}]}
            grades: {group: profile, bands: {gold: 30, silver: 10}, otherwise: bronze}
            mql: {grade: [gold]}
            """
        )
        cz = score(m, lead=LeadRecord(id="l", country="cz"))
        assert (cz.grade, cz.mql) == ("gold", True)
        other = score(m, lead=LeadRecord(id="l", country="de"))
        assert (other.grade, other.mql) == ("bronze", False)

    def test_no_grades_means_no_grade(self) -> None:
        m = events_model("- {id: x, event: a.b, points: 1}")
        assert score(m).grade is None


class TestMqlChecksTrace:
    TRACED = """
        version: 1
        name: t
        groups:
          fit: {rules: [{id: cz, when: {account.country: CZ}, points: 30}]}
          engagement: {rules: [{id: visit, event: page.viewed, points: 10}]}
        grades: {A: 30, B: 10}
        mql:
          all:
            - {score: engagement, gte: 20}
            - {grade: [A, B]}
            - any:
                - {any_event: [email.opened, email.clicked], within_days: 30}
                - {lead.seniority: [director, vp]}
            - not: {lead.email_domain: {in_list: free_mail}}
        """

    def test_every_leaf_is_traced_even_after_a_failure(self) -> None:
        m = model(self.TRACED)
        card = score(m, lead=LeadRecord(id="l", email="x@gmail.com"))
        assert card.mql is False
        assert [(c.check, c.passed, c.value) for c in card.checks] == [
            ("score engagement >= 20", False, "0.0"),
            ("grade in ['A', 'B']", False, "C"),
            ("email.opened/email.clicked within 30 days", False, "0"),
            ("lead.seniority in ['director', 'vp']", False, "missing"),
            ("lead.email_domain in_list free_mail", True, "gmail.com"),
        ]
        assert card.verdict().startswith("score engagement >= 20 = 0.0 (no); grade in")

    def test_a_qualifying_lead(self) -> None:
        m = model(self.TRACED)
        events = [
            ev("v1", "page.viewed", 1),
            ev("v2", "page.viewed", 2),
            ev("o", "email.opened", 4),
        ]
        card = score(
            m,
            events,
            lead=LeadRecord(id="l", email="x@acme.cz"),
            account=AccountRecord(id="a", country="CZ"),
        )
        assert card.mql is True
        values = {c.check: (c.passed, c.value) for c in card.checks}
        assert values["score engagement >= 20"] == (True, "20.0")
        assert values["grade in ['A', 'B']"] == (True, "A")
        assert values["email.opened/email.clicked within 30 days"] == (
            True,
            "1 (latest 4.0 days ago)",
        )
        assert values["lead.email_domain in_list free_mail"] == (False, "acme.cz")

    def test_a_score_test_over_several_groups_adds_them(self) -> None:
        m = model(
            """
            version: 1
            name: t
            groups:
              a: {rules: [{id: x, event: page.viewed, points: 10}]}
              b: {rules: [{id: y, event: email.opened, points: 15}]}
            mql: {score: [a, b], between: [20, 30]}
            """
        )
        card = score(m, [ev("1", "page.viewed", 0), ev("2", "email.opened", 0)])
        assert card.mql is True
        assert [(c.check, c.value) for c in card.checks] == [
            ("score a+b between 20 and 30", "25.0")
        ]
        assert score(m, [ev("1", "page.viewed", 0)]).mql is False

    def test_no_mql_definition_means_never_mql(self) -> None:
        m = events_model("- {id: x, event: page.viewed, points: 100}")
        card = score(m, [ev("1", "page.viewed", 0)])
        assert card.mql is False
        assert card.checks == ()


class TestFutureEvents:
    def test_events_after_as_of_are_ignored(self) -> None:
        m = model(
            """
            version: 1
            name: t
            groups:
              g: {rules: [{id: visit, event: page.viewed, points: 10}]}
            mql: {any_event: page.viewed}
            """
        )
        future = EventRecord(id="f", type="page.viewed", ts=AS_OF + timedelta(seconds=1))
        card = score(m, [future])
        assert card.scores["g"] == 0.0
        assert outcome(card, "visit").matched_count == 0
        assert card.mql is False

    def test_an_event_exactly_at_as_of_counts(self) -> None:
        m = events_model("- {id: visit, event: page.viewed, points: 10, half_life_days: 1}")
        assert score(m, [EventRecord(id="n", type="page.viewed", ts=AS_OF)]).scores["g"] == 10.0

    def test_replaying_the_past(self) -> None:
        m = events_model("- {id: visit, event: page.viewed, points: 10}")
        events = [ev("old", "page.viewed", 10), ev("new", "page.viewed", 1)]
        assert score(m, events, as_of=AS_OF - timedelta(days=5)).scores["g"] == 10.0
        assert score(m, events).scores["g"] == 20.0


class TestTimeZones:
    def test_a_naive_as_of_is_rejected(self) -> None:
        m = events_model("- {id: visit, event: page.viewed, points: 10}")
        with pytest.raises(ValueError, match="time zone"):
            evaluate(m, LEAD, None, [], datetime(2025, 6, 1, 12, 0))

    def test_a_naive_event_timestamp_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="has no time zone"):
            EventRecord(id="e", type="page.viewed", ts=datetime(2025, 6, 1))

    def test_offsets_do_not_matter_only_the_instant(self) -> None:
        m = events_model("- {id: visit, event: page.viewed, points: 10, half_life_days: 1}")
        prague = timezone(timedelta(hours=2))
        event = EventRecord(
            id="e", type="page.viewed", ts=datetime(2025, 6, 1, 14, 0, tzinfo=prague)
        )
        assert score(m, [event]).scores["g"] == 10.0  # 14:00+02:00 is AS_OF itself
        as_of_prague = AS_OF.astimezone(prague) + timedelta(days=1)
        assert score(m, [event], as_of=as_of_prague).scores["g"] == 5.0
