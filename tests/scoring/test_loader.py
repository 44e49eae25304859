"""Loading scoring models: every bad input is a ModelError pointing at the exact spot.

Each error test checks the path inside the document, the line (where one is
meaningful) and a fragment of the message a model author would read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from leadgate.exceptions import ModelError
from leadgate.scoring import (
    AccountRecord,
    EventRecord,
    LeadRecord,
    ScoringModel,
    evaluate,
    load_model,
    load_model_file,
)
from leadgate.scoring.nodes import (
    AllOf,
    AttributeRule,
    EventRule,
    FieldRef,
    Op,
    Predicate,
    Scope,
)

# Line numbers below refer to this text: the rule appended by ``with_rule`` is
# engagement.rules[3] on line 13, and keys added by ``with_top`` start on line 13.
BASE = """\
version: 1
name: test-model
groups:
  fit:
    rules:
      - {id: size, when: {account.employees: {gte: 50}}, points: 10}
  engagement:
    half_life_days: 30
    rules:
      - {id: open, event: email.opened, points: 5}
      - {id: click, event: email.clicked, points: 10}
      - {id: visit, event: page.viewed, points: 2}
"""
RULE_LINE = 13


def with_rule(rule: str) -> str:
    """BASE plus one more engagement rule (``groups.engagement.rules[3]``)."""
    return BASE + f"      - {rule}\n"


def with_top(extra: str) -> str:
    """BASE plus top-level keys (grades, mql, lists...)."""
    return BASE + extra


def load(text: str) -> ScoringModel:
    return load_model(text, file="model.yaml")


def error(text: str) -> ModelError:
    with pytest.raises(ModelError) as info:
        load(text)
    assert info.value.file == "model.yaml"
    return info.value


def only_rule(model: ScoringModel, rule_id: str) -> AttributeRule | EventRule:
    return next(rule for rule in model.rules if rule.id == rule_id)


def test_the_base_model_loads() -> None:
    model = load(BASE)
    assert model.label == "test-model@v1"
    assert [rule.id for rule in model.rules] == ["size", "open", "click", "visit"]


class TestYamlSyntax:
    def test_invalid_yaml_syntax_names_the_line(self) -> None:
        err = error(with_rule("{id: broken, event: page.viewed, points: 5"))
        assert "invalid YAML" in err.message
        assert err.path == ""
        assert err.line == RULE_LINE + 1  # the parser notices at the end of the text

    def test_a_tab_in_the_indentation(self) -> None:
        err = error("version: 1\nname: x\ngroups:\n\tfit: {}\n")
        assert "invalid YAML" in err.message
        assert err.line == 4

    def test_empty_file(self) -> None:
        err = error("")
        assert "empty" in err.message
        assert err.line is None
        assert err.path == ""

    def test_a_file_with_only_comments_is_empty(self) -> None:
        assert "empty" in error("# nothing here yet\n\n").message

    def test_a_list_instead_of_a_mapping(self) -> None:
        err = error("- version: 1\n- name: x\n")
        assert "must be a mapping, got a list" in err.message
        assert err.line == 1

    def test_two_documents(self) -> None:
        err = error(BASE + "---\nversion: 2\n")
        assert "invalid YAML" in err.message
        assert err.line == RULE_LINE

    def test_duplicate_top_level_key(self) -> None:
        err = error(with_top("name: other-name\n"))
        assert err.message == "duplicate key 'name'"
        assert err.path == ""
        assert err.line == RULE_LINE

    def test_duplicate_key_inside_a_rule(self) -> None:
        err = error(with_rule("{id: dup, event: page.viewed, points: 5, points: 6}"))
        assert err.message == "duplicate key 'points'"
        assert err.path == "groups.engagement.rules[3]"
        assert err.line == RULE_LINE

    def test_duplicate_group_name(self) -> None:
        err = error(
            with_top("  fit:\n    rules: [{id: again, when: {lead.country: CZ}, points: 1}]\n")
        )
        # the indented "fit" continues the groups mapping of BASE
        assert err.message == "duplicate key 'fit'"
        assert err.path == "groups"
        assert err.line == RULE_LINE

    def test_a_recursive_alias(self) -> None:
        err = error("version: 1\nname: x\ngroups: &loop\n  fit: *loop\n")
        assert "recursive" in err.message
        assert err.path == "groups.fit"
        assert err.line == 3  # an alias has no node of its own: the line of the anchored value

    def test_a_date_that_does_not_exist(self) -> None:
        err = error(
            with_rule("{id: day, event: page.viewed, where: {campaign: 2024-13-45}, points: 1}")
        )
        assert "invalid value '2024-13-45'" in err.message
        assert err.path == "groups.engagement.rules[3].where.campaign"
        assert err.line == RULE_LINE

    def test_an_integer_too_large_for_a_float(self) -> None:
        err = error(with_rule("{id: big, event: page.viewed, points: " + "9" * 400 + "}"))
        assert "too large" in err.message
        assert err.path == "groups.engagement.rules[3].points"

    def test_an_integer_with_too_many_digits(self) -> None:
        err = error(with_rule("{id: big, event: page.viewed, points: " + "9" * 5000 + "}"))
        assert "invalid value" in err.message
        assert err.path == "groups.engagement.rules[3].points"
        assert err.line == RULE_LINE


class TestStructure:
    def test_unknown_top_level_key(self) -> None:
        err = error(with_top("mlq: {score: engagement, gte: 60}\n"))
        assert "unknown key 'mlq' in the model" in err.message
        assert "mql" in err.message  # lists what is allowed
        assert err.path == "mlq"
        assert err.line == RULE_LINE

    def test_unknown_rule_key(self) -> None:
        err = error(with_rule("{id: vid, event: video.played, points: 5, halflife: 7}"))
        assert "unknown key 'halflife' in an event rule" in err.message
        assert "half_life_days" in err.message
        assert err.path == "groups.engagement.rules[3].halflife"
        assert err.line == RULE_LINE

    def test_unknown_attribute_rule_key(self) -> None:
        err = error(with_rule("{id: cz, when: {lead.country: CZ}, points: 5, max_count: 2}"))
        assert "unknown key 'max_count' in an attribute rule" in err.message
        assert err.path == "groups.engagement.rules[3].max_count"

    def test_rule_with_both_when_and_event(self) -> None:
        err = error(
            with_rule("{id: both, when: {lead.country: CZ}, event: page.viewed, points: 5}")
        )
        assert "needs exactly one of 'when' (attributes) or 'event'" in err.message
        assert err.path == "groups.engagement.rules[3]"
        assert err.line == RULE_LINE

    def test_rule_with_neither_when_nor_event(self) -> None:
        err = error(with_rule("{id: neither, points: 5}"))
        assert "needs exactly one of" in err.message
        assert err.path == "groups.engagement.rules[3]"

    def test_rule_without_id(self) -> None:
        err = error(with_rule("{event: page.viewed, points: 5}"))
        assert "a rule needs 'id'" in err.message
        assert err.path == "groups.engagement.rules[3]"

    def test_duplicate_rule_ids(self) -> None:
        err = error(with_rule("{id: click, event: email.clicked, points: 20}"))
        assert err.message == "duplicate rule id 'click'"
        assert err.path == "groups.engagement.rules[3].id"
        assert err.line == RULE_LINE

    def test_duplicate_rule_ids_across_groups(self) -> None:
        err = error(with_rule("{id: size, event: page.viewed, points: 20}"))
        assert err.message == "duplicate rule id 'size'"

    def test_a_group_without_rules(self) -> None:
        err = error(with_top("  empty: {max_points: 5}\n"))
        assert "non-empty list of rules" in err.message
        assert err.path == "groups.empty.rules"

    def test_decay_none_together_with_half_life_on_a_rule(self) -> None:
        err = error(
            with_rule("{id: both, event: page.viewed, points: 5, half_life_days: 7, decay: none}")
        )
        assert "either half_life_days or decay: none" in err.message
        assert err.path == "groups.engagement.rules[3].decay"
        assert err.line == RULE_LINE

    def test_decay_none_together_with_half_life_on_a_group(self) -> None:
        err = error(BASE.replace("half_life_days: 30", "half_life_days: 30\n    decay: none"))
        assert "either half_life_days or decay: none" in err.message
        assert err.path == "groups.engagement.decay"
        assert err.line == 9

    def test_decay_other_than_none(self) -> None:
        err = error(with_rule("{id: lin, event: page.viewed, points: 5, decay: linear}"))
        assert "decay may only be 'none'" in err.message
        assert err.path == "groups.engagement.rules[3].decay"

    def test_rule_decay_none_overrides_the_group_half_life(self) -> None:
        model = load(with_rule("{id: unsub, event: email.unsubscribed, points: -50, decay: none}"))
        unsub = only_rule(model, "unsub")
        assert isinstance(unsub, EventRule)
        assert unsub.half_life_days is None
        assert only_rule(model, "open").half_life_days == 30.0


class TestNumbers:
    def test_non_numeric_points(self) -> None:
        err = error(with_rule("{id: word, event: page.viewed, points: ten}"))
        assert err.message == "points must be a number, got text ('ten')"
        assert err.path == "groups.engagement.rules[3].points"
        assert err.line == RULE_LINE

    def test_boolean_points(self) -> None:
        err = error(with_rule("{id: yes, event: page.viewed, points: true}"))
        assert "points must be a number, got true/false (True)" in err.message
        assert err.path == "groups.engagement.rules[3].points"

    def test_missing_points(self) -> None:
        err = error(with_rule("{id: none, event: page.viewed}"))
        assert "rule 'none' needs 'points'" in err.message
        assert err.path == "groups.engagement.rules[3]"

    def test_infinite_points(self) -> None:
        err = error(with_rule("{id: inf, event: page.viewed, points: .inf}"))
        assert "must be finite" in err.message

    def test_max_count_must_be_whole(self) -> None:
        err = error(with_rule("{id: mc, event: page.viewed, points: 1, max_count: 2.5}"))
        assert "max_count must be a whole number" in err.message
        assert err.path == "groups.engagement.rules[3].max_count"

    def test_half_life_must_be_positive(self) -> None:
        err = error(with_rule("{id: hl, event: page.viewed, points: 1, half_life_days: 0}"))
        assert "half_life_days must be greater than 0" in err.message

    def test_min_points_above_max_points(self) -> None:
        err = error(BASE.replace("half_life_days: 30", "max_points: 10\n    min_points: 20"))
        assert "min_points is greater than max_points" in err.message
        assert err.path == "groups.engagement.min_points"
        assert err.line == 9


class TestReferences:
    def test_rollup_from_an_unknown_group(self) -> None:
        err = error(with_top("  account: {rollup: {from: engagment, how: sum}}\n"))
        assert "unknown group 'engagment'" in err.message
        assert "fit, engagement, account" in err.message
        assert err.path == "groups.account.rollup.from"
        assert err.line == RULE_LINE

    def test_rollup_from_a_rollup(self) -> None:
        err = error(
            with_top(
                "  account: {rollup: {from: engagement}}\n  again: {rollup: {from: account}}\n"
            )
        )
        assert "group 'account' is a rollup" in err.message
        assert err.path == "groups.again.rollup.from"

    def test_unknown_rollup_aggregation(self) -> None:
        err = error(with_top("  account: {rollup: {from: engagement, how: median}}\n"))
        assert "unknown aggregation 'median'" in err.message
        assert err.path == "groups.account.rollup.how"

    def test_mql_score_of_an_unknown_group(self) -> None:
        err = error(with_top("mql: {score: engagment, gte: 60}\n"))
        assert "unknown group 'engagment'" in err.message
        assert err.path == "mql.score"
        assert err.line == RULE_LINE

    def test_mql_score_list_with_an_unknown_group(self) -> None:
        err = error(with_top("mql:\n  all:\n    - {score: [fit, engagment], gte: 60}\n"))
        assert "unknown group 'engagment'" in err.message
        assert err.path == "mql.all[0].score[1]"
        assert err.line == RULE_LINE + 2

    def test_mql_score_without_an_operator(self) -> None:
        err = error(with_top("mql: {score: engagement}\n"))
        assert "needs an operator" in err.message
        assert err.path == "mql"

    def test_grades_on_an_unknown_group(self) -> None:
        err = error(with_top("grades: {group: fitt, bands: {A: 40, B: 20}}\n"))
        assert "unknown group 'fitt'" in err.message
        assert err.path == "grades.group"
        assert err.line == RULE_LINE

    def test_grades_shorthand_needs_a_fit_group(self) -> None:
        text = with_top("grades: {A: 40}\n").replace("  fit:", "  profile:")
        err = error(text)
        assert "group 'fit', which this model lacks" in err.message
        assert err.path == "grades"

    def test_grades_with_equal_bounds(self) -> None:
        err = error(with_top("grades: {A: 40, B: 40}\n"))
        assert "grades 'A' and 'B' have the same lower bound 40" in err.message

    def test_grade_test_naming_an_unknown_grade(self) -> None:
        err = error(with_top("grades: {A: 40, B: 25, C: 10}\nmql: {grade: [A, E]}\n"))
        assert "unknown grade 'E'; grades are A, B, C, D" in err.message
        assert err.path == "mql.grade[1]"
        assert err.line == RULE_LINE + 1

    def test_grade_test_without_grades(self) -> None:
        err = error(with_top("mql: {grade: A}\n"))
        assert "the model defines no grades" in err.message
        assert err.path == "mql.grade"

    def test_unknown_named_list(self) -> None:
        err = error(
            with_rule("{id: vip, when: {lead.email_domain: {in_list: vip_domains}}, points: 5}")
        )
        assert "unknown list 'vip_domains'; known lists: free_mail" in err.message
        assert err.path == 'groups.engagement.rules[3].when["lead.email_domain"].in_list'
        assert err.line == RULE_LINE

    def test_a_list_cannot_redefine_a_builtin(self) -> None:
        err = error(with_top("lists: {free_mail: [example.com]}\n"))
        assert "built-in list" in err.message
        assert err.path == "lists.free_mail"

    def test_a_named_list_resolves(self) -> None:
        model = load(
            with_top("lists: {competitors: [rival.cz, Other.SK]}\n").replace(
                "{account.employees: {gte: 50}}", "{lead.email_domain: {not_in_list: competitors}}"
            )
        )
        pred = only_rule(model, "size").when
        assert isinstance(pred, Predicate)
        assert pred.op is Op.NOT_IN_LIST
        assert pred.list_name == "competitors"
        assert pred.members == frozenset({"rival.cz", "other.sk"})


class TestConditions:
    def test_unknown_operator(self) -> None:
        err = error(
            with_rule(
                "{id: pricing, event: page.viewed, where: {properties.url: {includes: /pricing}},"
                " points: 25}"
            )
        )
        assert "unknown operator 'includes'" in err.message
        assert "contains" in err.message
        assert err.path == 'groups.engagement.rules[3].where["properties.url"].includes'
        assert err.line == RULE_LINE

    def test_an_event_field_needs_properties_for_custom_values(self) -> None:
        err = error(
            with_rule("{id: pricing, event: page.viewed, where: {url: /pricing}, points: 25}")
        )
        assert "unknown field 'url'" in err.message
        assert "properties.<name>" in err.message
        assert err.path == "groups.engagement.rules[3].where.url"

    def test_unknown_field(self) -> None:
        err = error(with_rule("{id: senior, when: {lead.senority: director}, points: 5}"))
        assert "unknown field 'lead.senority'" in err.message
        assert "lead.seniority" in err.message  # the hint lists the real name
        assert err.path == 'groups.engagement.rules[3].when["lead.senority"]'
        assert err.line == RULE_LINE

    def test_event_fields_are_not_allowed_in_when(self) -> None:
        err = error(with_rule("{id: ch, when: {channel: linkedin}, points: 5}"))
        assert "event conditions go under an event rule's 'where'" in err.message
        assert err.path == "groups.engagement.rules[3].when.channel"

    def test_lead_fields_are_not_allowed_in_where(self) -> None:
        err = error(with_rule("{id: ch, event: page.viewed, where: {lead.country: CZ}, points: 5}"))
        assert "unknown field 'lead.country'" in err.message

    def test_attributes_needs_a_name(self) -> None:
        err = error(with_rule("{id: at, when: {account.attributes: x}, points: 5}"))
        assert "write attributes.<name>" in err.message

    def test_between_with_low_above_high(self) -> None:
        err = error(
            with_rule("{id: mid, when: {account.employees: {between: [500, 50]}}, points: 5}")
        )
        assert "'between' low end 500 is above the high end 50" in err.message
        assert err.path == 'groups.engagement.rules[3].when["account.employees"].between'
        assert err.line == RULE_LINE

    def test_between_with_low_above_high_in_a_score_test(self) -> None:
        err = error(with_top("mql: {score: engagement, between: [80, 20]}\n"))
        assert "'between' low end 80 is above the high end 20" in err.message
        assert err.path == "mql.between"
        assert err.line == RULE_LINE

    def test_between_needs_two_numbers(self) -> None:
        err = error(with_rule("{id: mid, when: {account.employees: {between: [50]}}, points: 5}"))
        assert "'between' needs [low, high]" in err.message

    def test_invalid_regex(self) -> None:
        err = error(with_rule("{id: re, when: {lead.title: {regex: '(chief|head'}}, points: 5}"))
        assert "invalid regular expression" in err.message
        assert err.path == 'groups.engagement.rules[3].when["lead.title"].regex'
        assert err.line == RULE_LINE

    def test_numeric_operator_on_a_text_field(self) -> None:
        err = error(with_rule("{id: num, when: {lead.country: {gt: 5}}, points: 5}"))
        assert "lead.country is not a number field; 'gt' compares numbers" in err.message
        assert err.path == 'groups.engagement.rules[3].when["lead.country"].gt'
        assert err.line == RULE_LINE

    def test_numeric_operator_on_an_event_text_field(self) -> None:
        err = error(
            with_rule("{id: num, event: page.viewed, where: {channel: {gte: 1}}, points: 5}")
        )
        assert "channel is not a number field" in err.message
        assert err.path == "groups.engagement.rules[3].where.channel.gte"

    def test_numeric_operator_on_custom_values_is_allowed(self) -> None:
        model = load(
            with_rule(
                "{id: long, event: video.played, where: {properties.seconds: {gte: 60}}, points: 5}"
            )
        )
        where = only_rule(model, "long").where
        assert where == Predicate(FieldRef(Scope.EVENT, "properties", "seconds"), Op.GTE, 60.0)

    def test_a_number_where_text_is_needed(self) -> None:
        err = error(with_rule("{id: c, when: {lead.title: {contains: 5}}, points: 5}"))
        assert "'contains' must be non-empty text" in err.message

    def test_exists_needs_true_or_false(self) -> None:
        err = error(with_rule("{id: ex, when: {lead.title: {exists: yes}}, points: 5}"))
        assert "'exists' needs true or false" in err.message

    def test_an_empty_condition(self) -> None:
        err = error(with_rule("{id: e, when: {}, points: 5}"))
        assert "a condition cannot be empty" in err.message
        assert err.path == "groups.engagement.rules[3].when"

    def test_a_null_value(self) -> None:
        err = error(with_rule("{id: n, when: {lead.title: null}, points: 5}"))
        assert "got nothing" in err.message
        assert err.path == 'groups.engagement.rules[3].when["lead.title"].eq'


class TestTextValues:
    def test_a_huge_string_value_is_rejected(self) -> None:
        huge = "x" * 100_000
        err = error(with_rule(f"{{id: big, when: {{lead.title: '{huge}'}}, points: 5}}"))
        assert "longer than 10000 characters" in err.message
        assert err.path == 'groups.engagement.rules[3].when["lead.title"].eq'
        assert err.line == RULE_LINE
        assert len(str(err)) < 500  # the message does not echo the value

    def test_a_huge_string_inside_a_list_is_rejected(self) -> None:
        huge = "y" * 100_000
        err = error(with_rule(f"{{id: big, when: {{lead.title: [ceo, '{huge}']}}, points: 5}}"))
        assert "longer than 10000 characters" in err.message
        assert err.path == 'groups.engagement.rules[3].when["lead.title"].in[1]'

    def test_a_huge_description_is_rejected(self) -> None:
        huge = "z" * 100_000
        err = error(with_top(f"description: '{huge}'\n"))
        assert "description is longer than 10000 characters" in err.message
        assert err.path == "description"
        assert err.line == RULE_LINE

    def test_a_huge_key_is_a_syntax_error_not_a_crash(self) -> None:
        err = error(with_top("k" * 100_000 + ": 1\n"))
        assert "invalid YAML" in err.message

    def test_a_value_just_under_the_limit_is_accepted(self) -> None:
        long = "w" * 10_000
        model = load(with_rule(f"{{id: long, when: {{lead.title: '{long}'}}, points: 5}}"))
        assert only_rule(model, "long").when.operand == long

    def test_czech_text_is_accepted_and_matches_ignoring_case(self) -> None:
        model = load(with_rule("{id: stroj, when: {account.industry: strojírenství}, points: 5}"))
        pred = only_rule(model, "stroj").when
        assert pred == Predicate(FieldRef(Scope.ACCOUNT, "industry"), Op.EQ, "strojírenství")
        as_of = datetime(2025, 1, 1, tzinfo=UTC)
        lead = LeadRecord(id="l1")
        for industry, matches in (
            ("Strojírenství", True),
            ("STROJÍRENSTVÍ", True),
            ("strojirenstvi", False),  # without the accents it is another word
        ):
            account = AccountRecord(id="a1", industry=industry)
            card = evaluate(model, lead, account, [], as_of)
            assert card.scores["engagement"] == (5.0 if matches else 0.0), industry

    def test_unicode_descriptions_are_accepted(self) -> None:
        model = load(with_top("description: Hodnocení leadů, česká verze 🚀\n"))
        assert model.description == "Hodnocení leadů, česká verze 🚀"

    def test_identifiers_stay_ascii(self) -> None:
        err = error(with_rule("{id: visit2, event: stránka.zobrazena, points: 1}"))
        assert "event type 'stránka.zobrazena' may hold only" in err.message
        assert err.path == "groups.engagement.rules[3].event"
        err = error(with_rule("{id: návštěva, event: page.viewed, points: 1}"))
        assert "rule id 'návštěva' may hold only" in err.message
        assert err.path == "groups.engagement.rules[3].id"


class TestYaml12Booleans:
    def test_country_no_stays_text(self) -> None:
        model = load(
            BASE.replace("{account.employees: {gte: 50}}", "{account.country: [NO, SE, DK, FI]}")
        )
        pred = only_rule(model, "size").when
        assert pred == Predicate(
            FieldRef(Scope.ACCOUNT, "country"), Op.IN, ("NO", "SE", "DK", "FI")
        )
        assert all(isinstance(value, str) for value in pred.operand)
        card = evaluate(
            model,
            LeadRecord(id="l"),
            AccountRecord(id="a", country="no"),
            [],
            datetime(2025, 1, 1, tzinfo=UTC),
        )
        assert card.scores["fit"] == 10.0

    def test_yes_no_on_off_are_text_and_true_false_are_booleans(self) -> None:
        model = load(
            with_rule(
                "{id: words, when: {lead.title: [yes, No, on, OFF, y, n]}, points: 1}"
            ).replace("{account.employees: {gte: 50}}", "{lead.do_not_email: false}")
        )
        words = only_rule(model, "words").when
        assert words.operand == ("yes", "No", "on", "OFF", "y", "n")
        flag = only_rule(model, "size").when
        assert flag.operand is False


class TestShorthands:
    def test_a_list_means_in(self) -> None:
        model = load(BASE.replace("{account.employees: {gte: 50}}", "{lead.country: [CZ, SK]}"))
        assert only_rule(model, "size").when == Predicate(
            FieldRef(Scope.LEAD, "country"), Op.IN, ("CZ", "SK")
        )

    def test_a_scalar_means_eq(self) -> None:
        model = load(BASE.replace("{account.employees: {gte: 50}}", "{lead.country: CZ}"))
        assert only_rule(model, "size").when == Predicate(
            FieldRef(Scope.LEAD, "country"), Op.EQ, "CZ"
        )

    def test_two_operators_mean_both(self) -> None:
        model = load(
            BASE.replace(
                "{account.employees: {gte: 50}}", "{account.employees: {gte: 50, lt: 500}}"
            )
        )
        field = FieldRef(Scope.ACCOUNT, "employees")
        assert only_rule(model, "size").when == AllOf(
            (Predicate(field, Op.GTE, 50.0), Predicate(field, Op.LT, 500.0))
        )

    def test_a_single_event_type_or_a_list(self) -> None:
        model = load(
            with_rule("{id: mail, event: [email.opened, email.clicked, email.opened], points: 1}")
        )
        assert only_rule(model, "mail").event_types == ("email.opened", "email.clicked")

    def test_group_defaults_reach_the_rules(self) -> None:
        model = load(BASE.replace("half_life_days: 30", "half_life_days: 30\n    within_days: 90"))
        click = only_rule(model, "click")
        assert isinstance(click, EventRule)
        assert (click.half_life_days, click.within_days) == (30.0, 90.0)


class TestModelFiles:
    def test_a_missing_file(self, tmp_path: Path) -> None:
        missing = tmp_path / "nope.yaml"
        with pytest.raises(ModelError) as info:
            load_model_file(missing)
        assert "cannot read file" in info.value.message
        assert info.value.file == str(missing)
        assert info.value.line is None
        assert str(missing) in str(info.value)

    def test_a_non_utf8_file(self, tmp_path: Path) -> None:
        file = tmp_path / "latin1.yaml"
        text = with_rule("{id: stroj, when: {account.industry: strojírenství}, points: 5}")
        file.write_bytes(text.encode("latin-1"))
        with pytest.raises(ModelError) as info:
            load_model_file(file)
        assert "not UTF-8 text" in info.value.message
        assert f"(byte {text.index('í')})" in info.value.message
        assert info.value.file == str(file)

    def test_a_valid_file_records_its_source(self, tmp_path: Path) -> None:
        file = tmp_path / "ok.yaml"
        file.write_text(BASE, "utf-8")
        model = load_model_file(file)
        assert model.source == str(file)

    def test_an_error_in_a_file_names_file_line_and_path(self, tmp_path: Path) -> None:
        file = tmp_path / "bad.yaml"
        file.write_text(with_rule("{id: word, event: page.viewed, points: ten}"), "utf-8")
        with pytest.raises(ModelError) as info:
            load_model_file(file)
        assert str(info.value) == (
            f"{file}:{RULE_LINE}: groups.engagement.rules[3].points: "
            "points must be a number, got text ('ten')"
        )
        assert info.value.as_dict()["line"] == RULE_LINE


def test_an_event_rule_reads_events_only() -> None:
    """Smoke check that a loaded model evaluates (the detailed semantics live elsewhere)."""
    model = load(BASE)
    as_of = datetime(2025, 1, 1, tzinfo=UTC)
    events = [EventRecord(id="e1", type="email.clicked", ts=as_of)]
    card = evaluate(model, LeadRecord(id="l"), None, events, as_of)
    assert card.scores == {"fit": 0.0, "engagement": 10.0}
