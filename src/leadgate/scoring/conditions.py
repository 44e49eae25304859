"""The parser's foundations and its conditions: typed reading of YAML values with
path-precise errors, and every condition kind (field predicates, score, grade,
predicted and event tests, all/any/not), for models and for playbooks alike."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from leadgate.exceptions import ModelError
from leadgate.reference import free_mail_domains
from leadgate.scoring.nodes import (
    ACCOUNT_FIELDS,
    EVENT_FIELDS,
    LEAD_FIELDS,
    NUMERIC_OPS,
    AllOf,
    AnyOf,
    Condition,
    EventOccurred,
    FieldRef,
    GradeIn,
    Grades,
    NotOf,
    Op,
    Predicate,
    PredictedTest,
    Scalar,
    Scope,
    ScoreTest,
)
from leadgate.scoring.yamldoc import Located, Path

__all__ = ["BUILTIN_LISTS", "ConditionParser"]

BUILTIN_LISTS: Mapping[str, Callable[[], frozenset[str]]] = {"free_mail": free_mail_domains}

_NUMERIC_FIELDS = {
    (Scope.ACCOUNT, "employees"),
    (Scope.ACCOUNT, "annual_revenue"),
}
_BOOL_FIELDS = {(Scope.LEAD, "do_not_email"), (Scope.LEAD, "do_not_call")}
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
_EVENT_TYPE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
_MAX_TEXT = 10_000


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class ConditionParser:
    """Reads one document: typed values, lists, group names and conditions."""

    def __init__(self, doc: Located) -> None:
        self.doc = doc
        self.lists: dict[str, tuple[str, ...]] = {}
        self.group_kinds: dict[str, str] = {}
        self.rule_ids: dict[str, Path] = {}
        self.grades: Grades | None = None

    # -- helpers -----------------------------------------------------------------
    def fail(self, path: Path, message: str) -> ModelError:
        return self.doc.error(path, message)

    def mapping(self, value: Any, path: Path, what: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"{what} must be a mapping, got {_kind(value)}")
        for key in value:
            if not isinstance(key, str):
                raise self.fail(path, f"keys must be text, got {key!r}")
        return value

    def keys(self, value: dict[str, Any], path: Path, allowed: set[str], what: str) -> None:
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise self.fail(
                (*path, unknown[0]),
                f"unknown key {unknown[0]!r} in {what}; allowed: {', '.join(sorted(allowed))}",
            )

    def required(self, value: dict[str, Any], key: str, path: Path, what: str) -> Any:
        if key not in value or value[key] is None:
            raise self.fail(path, f"{what} needs {key!r}")
        return value[key]

    def text(
        self, value: Any, path: Path, what: str, *, pattern: re.Pattern[str] | None = None
    ) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"{what} must be non-empty text, got {_kind(value)}")
        if len(value) > _MAX_TEXT:
            raise self.fail(path, f"{what} is longer than {_MAX_TEXT} characters")
        if pattern is not None and not pattern.match(value):
            raise self.fail(
                path, f"{what} {value!r} may hold only letters, digits and _ . : - characters"
            )
        return value

    def number(
        self, value: Any, path: Path, what: str, *, positive: bool = False, integer: bool = False
    ) -> float:
        if not _is_number(value):
            raise self.fail(path, f"{what} must be a number, got {_kind(value)}")
        try:
            number = float(value)
        except OverflowError:
            raise self.fail(path, f"{what} is too large to be a number") from None
        if not math.isfinite(number):
            raise self.fail(path, f"{what} must be finite, got {value!r}")
        if integer and not isinstance(value, int):
            raise self.fail(path, f"{what} must be a whole number, got {value!r}")
        if positive and number <= 0:
            raise self.fail(path, f"{what} must be greater than 0, got {value!r}")
        return number

    def list_values(self, list_name: Any, path: Path) -> tuple[str, ...]:
        if not isinstance(list_name, str):
            raise self.fail(path, f"expected the name of a list, got {_kind(list_name)}")
        if list_name in BUILTIN_LISTS:
            return tuple(sorted(BUILTIN_LISTS[list_name]()))
        if list_name in self.lists:
            return self.lists[list_name]
        known = sorted({*BUILTIN_LISTS, *self.lists})
        raise self.fail(path, f"unknown list {list_name!r}; known lists: {', '.join(known)}")

    def group_ref(self, value: Any, path: Path, *, rules_only: bool = False) -> str:
        if not isinstance(value, str) or value not in self.group_kinds:
            known = ", ".join(self.group_kinds)
            raise self.fail(path, f"unknown group {value!r}; the model's groups are: {known}")
        if rules_only and self.group_kinds[value] != "rules":
            raise self.fail(path, f"group {value!r} is a rollup; refer to a group with rules")
        return value

    def event_types(self, raw: Any, path: Path) -> tuple[str, ...]:
        items = raw if isinstance(raw, list) else [raw]
        if not items:
            raise self.fail(path, "expected an event type or a non-empty list of them")
        types = []
        for index, item in enumerate(items):
            item_path = (*path, index) if isinstance(raw, list) else path
            types.append(self.text(item, item_path, "event type", pattern=_EVENT_TYPE_RE))
        return tuple(dict.fromkeys(types))

    # -- conditions -------------------------------------------------------------------
    def condition(self, raw: Any, path: Path, *, context: str) -> Condition:
        """Parse a condition. ``context`` is ``attributes``, ``event`` or ``mql``."""
        if isinstance(raw, list):
            return AllOf(
                tuple(
                    self.condition(item, (*path, i), context=context) for i, item in enumerate(raw)
                )
            )
        cond = self.mapping(raw, path, "a condition")
        if not cond:
            raise self.fail(path, "a condition cannot be empty")
        if context == "mql":
            for special, parse in (
                ("score", self.score_test),
                ("grade", self.grade_test),
                ("any_event", self.event_test),
                ("predicted", self.predicted_test),
            ):
                if special in cond:
                    return parse(cond, path)
        parts: list[Condition] = []
        for key, value in cond.items():
            sub = (*path, key)
            if key in {"all", "any"}:
                if not isinstance(value, list) or not value:
                    raise self.fail(sub, f"'{key}' needs a non-empty list of conditions")
                children = tuple(
                    self.condition(item, (*sub, i), context=context) for i, item in enumerate(value)
                )
                parts.append(AllOf(children) if key == "all" else AnyOf(children))
            elif key == "not":
                parts.append(NotOf(self.condition(value, sub, context=context)))
            else:
                parts.append(self.field_condition(key, value, sub, context))
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def field_ref(self, key: str, path: Path, context: str) -> FieldRef:
        parts = key.split(".")
        if context == "event":
            if parts[0] == "event":
                parts = parts[1:]
            scope, known = Scope.EVENT, EVENT_FIELDS
            hint = "type, channel, campaign or properties.<name>"
        else:
            if parts[0] not in ("lead", "account") or len(parts) < 2:
                extra = (
                    " (event conditions go under an event rule's 'where')"
                    if context == "attributes"
                    else ""
                )
                what = (
                    "score, grade, any_event, all, any, not, "
                    if context == "mql"
                    else "all, any, not, "
                )
                raise self.fail(
                    path,
                    f"unknown key {key!r}: expected {what}or a field such as lead.seniority "
                    f"or account.employees{extra}",
                )
            scope = Scope(parts[0])
            known = LEAD_FIELDS if scope is Scope.LEAD else ACCOUNT_FIELDS
            parts = parts[1:]
            hint = ", ".join(sorted(f"{scope.value}.{name}" for name in known - {"attributes"}))
            hint += f" or {scope.value}.attributes.<name>"
        name = parts[0] if parts else ""
        container = "properties" if scope is Scope.EVENT else "attributes"
        if name == container:
            if len(parts) < 2 or not all(parts[1:]):
                raise self.fail(path, f"write {container}.<name> to read a custom value")
            return FieldRef(scope, name, ".".join(parts[1:]))
        if name not in known or len(parts) != 1:
            raise self.fail(path, f"unknown field {key!r}; known fields: {hint}")
        return FieldRef(scope, name)

    def field_condition(self, key: str, raw: Any, path: Path, context: str) -> Condition:
        ref = self.field_ref(key, path, context)
        if isinstance(raw, dict):
            ops = self.mapping(raw, path, "an operator mapping")
            if not ops:
                raise self.fail(path, "give at least one operator, e.g. {eq: value}")
        elif isinstance(raw, list):
            ops = {"in": raw}
        else:
            ops = {"eq": raw}
        preds = [
            self.predicate(ref, op_name, operand, (*path, op_name))
            for op_name, operand in ops.items()
        ]
        return preds[0] if len(preds) == 1 else AllOf(tuple(preds))

    def predicate(self, ref: FieldRef, op_name: str, operand: Any, path: Path) -> Predicate:
        try:
            op = Op(op_name)
        except ValueError:
            raise self.fail(
                path, f"unknown operator {op_name!r}; use one of {', '.join(o.value for o in Op)}"
            ) from None
        field_key = (ref.scope, ref.name)
        if op in NUMERIC_OPS and ref.key is None and field_key not in _NUMERIC_FIELDS:
            raise self.fail(
                path, f"{ref.dotted} is not a number field; '{op.value}' compares numbers"
            )
        if op in (Op.EQ, Op.NE):
            return Predicate(ref, op, self.scalar(operand, path))
        if op in (Op.IN, Op.NOT_IN):
            if not isinstance(operand, list) or not operand:
                raise self.fail(path, f"'{op.value}' needs a non-empty list of values")
            values = tuple(self.scalar(v, (*path, i)) for i, v in enumerate(operand))
            return Predicate(ref, op, values)
        if op in (Op.IN_LIST, Op.NOT_IN_LIST):
            return Predicate(ref, op, self.list_values(operand, path), list_name=str(operand))
        if op is Op.BETWEEN:
            if not isinstance(operand, list) or len(operand) != 2:
                raise self.fail(path, "'between' needs [low, high]")
            low = self.number(operand[0], (*path, 0), "the low end")
            high = self.number(operand[1], (*path, 1), "the high end")
            if low > high:
                raise self.fail(path, f"'between' low end {low:g} is above the high end {high:g}")
            return Predicate(ref, op, (low, high))
        if op in (Op.GT, Op.GTE, Op.LT, Op.LTE):
            return Predicate(ref, op, self.number(operand, path, f"'{op.value}'"))
        if op is Op.EXISTS:
            if not isinstance(operand, bool):
                raise self.fail(path, f"'exists' needs true or false, got {_kind(operand)}")
            return Predicate(ref, op, operand)
        text = self.text(operand, path, f"'{op.value}'")
        if op is Op.REGEX:
            try:
                pattern = re.compile(text, re.IGNORECASE)
            except re.error as exc:
                raise self.fail(path, f"invalid regular expression: {exc}") from None
            return Predicate(ref, op, text, pattern=pattern)
        return Predicate(ref, op, text)

    def scalar(self, value: Any, path: Path) -> Scalar:
        if isinstance(value, (str, bool, int, float)):
            if isinstance(value, float) and not math.isfinite(value):
                raise self.fail(path, "values must be finite")
            if isinstance(value, str) and len(value) > _MAX_TEXT:
                raise self.fail(path, f"value is longer than {_MAX_TEXT} characters")
            return value
        raise self.fail(path, f"expected a text, number or true/false value, got {_kind(value)}")

    def score_test(self, cond: dict[str, Any], path: Path) -> Condition:
        allowed_ops = {"eq", "gt", "gte", "lt", "lte", "between"}
        self.keys(cond, path, {"score", *allowed_ops}, "a score test")
        raw_groups = cond["score"]
        names = raw_groups if isinstance(raw_groups, list) else [raw_groups]
        if not names:
            raise self.fail((*path, "score"), "name at least one group")
        groups = tuple(
            self.group_ref(
                name, (*path, "score", i) if isinstance(raw_groups, list) else (*path, "score")
            )
            for i, name in enumerate(names)
        )
        tests: list[Condition] = []
        for op_name in sorted(set(cond) & allowed_ops):
            op, operand = Op(op_name), cond[op_name]
            if op is Op.BETWEEN:
                if not isinstance(operand, list) or len(operand) != 2:
                    raise self.fail((*path, op_name), "'between' needs [low, high]")
                low = self.number(operand[0], (*path, op_name, 0), "the low end")
                high = self.number(operand[1], (*path, op_name, 1), "the high end")
                if low > high:
                    message = f"'between' low end {low:g} is above the high end {high:g}"
                    raise self.fail((*path, op_name), message)
                tests.append(ScoreTest(groups, op, (low, high)))
            else:
                tests.append(
                    ScoreTest(groups, op, self.number(operand, (*path, op_name), f"'{op_name}'"))
                )
        if not tests:
            raise self.fail(
                path, "a score test needs an operator, e.g. {score: engagement, gte: 60}"
            )
        return tests[0] if len(tests) == 1 else AllOf(tuple(tests))

    def predicted_test(self, cond: dict[str, Any], path: Path) -> Condition:
        self.keys(cond, path, {"predicted"}, "a predicted test")
        ops = self.mapping(cond["predicted"], (*path, "predicted"), "predicted")
        allowed = {"gt", "gte", "lt", "lte", "between"}
        if not ops:
            raise self.fail((*path, "predicted"), "give an operator, e.g. {predicted: {gte: 0.3}}")
        tests: list[Condition] = []
        for op_name, operand in ops.items():
            at = (*path, "predicted", op_name)
            if op_name not in allowed:
                raise self.fail(
                    at, f"unknown operator {op_name!r}; use {', '.join(sorted(allowed))}"
                )
            if op_name == "between":
                if not isinstance(operand, list) or len(operand) != 2:
                    raise self.fail(at, "'between' needs [low, high]")
                low = self.number(operand[0], (*at, 0), "the low end")
                high = self.number(operand[1], (*at, 1), "the high end")
                for bound, where in ((low, 0), (high, 1)):
                    if not 0.0 <= bound <= 1.0:
                        raise self.fail((*at, where), "a probability lies between 0 and 1")
                tests.append(PredictedTest(Op.BETWEEN, (low, high)))
                continue
            value = self.number(operand, at, f"'{op_name}'")
            if not 0.0 <= value <= 1.0:
                raise self.fail(at, f"a probability lies between 0 and 1, got {value:g}")
            tests.append(PredictedTest(Op(op_name), value))
        return tests[0] if len(tests) == 1 else AllOf(tuple(tests))

    def grade_test(self, cond: dict[str, Any], path: Path) -> Condition:
        self.keys(cond, path, {"grade"}, "a grade test")
        if self.grades is None:
            raise self.fail((*path, "grade"), "the model defines no grades")
        raw = cond["grade"]
        labels = raw if isinstance(raw, list) else [raw]
        if not labels:
            raise self.fail((*path, "grade"), "name at least one grade")
        for i, label in enumerate(labels):
            if label not in self.grades.labels:
                at = (*path, "grade", i) if isinstance(raw, list) else (*path, "grade")
                raise self.fail(
                    at, f"unknown grade {label!r}; grades are {', '.join(self.grades.labels)}"
                )
        return GradeIn(tuple(labels))

    def event_test(self, cond: dict[str, Any], path: Path) -> Condition:
        self.keys(
            cond, path, {"any_event", "within_days", "min_count", "where", "after"}, "an event test"
        )
        types = self.event_types(cond["any_event"], (*path, "any_event"))
        within = None
        if cond.get("within_days") is not None:
            within = self.number(
                cond["within_days"], (*path, "within_days"), "within_days", positive=True
            )
        min_count = 1
        if cond.get("min_count") is not None:
            min_count = int(
                self.number(
                    cond["min_count"],
                    (*path, "min_count"),
                    "min_count",
                    positive=True,
                    integer=True,
                )
            )
        where = None
        if cond.get("where") is not None:
            where = self.condition(cond["where"], (*path, "where"), context="event")
        after: tuple[str, ...] = ()
        if cond.get("after") is not None:
            after = self.event_types(cond["after"], (*path, "after"))
        return EventOccurred(
            types=types, within_days=within, min_count=min_count, where=where, after=after
        )


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"true/false ({value!r})"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"text ({shown!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
