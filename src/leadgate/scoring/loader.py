"""Load and validate scoring models from YAML into typed nodes.

Validation happens once, here: every error names the file, the path inside the
document (``groups.engagement.rules[3].where``), the line, and what is wrong.
Unknown keys are errors, so a typo never silently changes a model's meaning.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path as FsPath
from typing import Any

from leadgate.exceptions import ModelError
from leadgate.reference import free_mail_domains
from leadgate.scoring.nodes import (
    ACCOUNT_FIELDS,
    AGGREGATIONS,
    EVENT_FIELDS,
    LEAD_FIELDS,
    NUMERIC_OPS,
    AllOf,
    AnyOf,
    AttributeRule,
    Condition,
    EventOccurred,
    EventRule,
    FieldRef,
    GradeIn,
    Grades,
    NotOf,
    Op,
    Predicate,
    PredictedTest,
    RollupGroup,
    Rule,
    RuleGroup,
    Scalar,
    Scope,
    ScoreTest,
    ScoringModel,
)
from leadgate.scoring.yamldoc import Located, Path, load_yaml

__all__ = ["BUILTIN_LISTS", "load_model", "load_model_file", "parse_condition", "parse_model"]

BUILTIN_LISTS: Mapping[str, Callable[[], frozenset[str]]] = {"free_mail": free_mail_domains}

_NUMERIC_FIELDS = {
    (Scope.ACCOUNT, "employees"),
    (Scope.ACCOUNT, "annual_revenue"),
}
_BOOL_FIELDS = {(Scope.LEAD, "do_not_email"), (Scope.LEAD, "do_not_call")}
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
_EVENT_TYPE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
_MAX_TEXT = 10_000


def load_model_file(path: str | FsPath) -> ScoringModel:
    """Read and validate a model file; unreadable files raise ModelError too."""
    file = str(path)
    try:
        raw = FsPath(path).read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read file: {exc.strerror or exc}", file=file) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelError(f"not UTF-8 text (byte {exc.start})", file=file) from None
    return load_model(text, file=file)


def load_model(text: str, *, file: str | None = None) -> ScoringModel:
    """Parse YAML text into a validated :class:`ScoringModel`."""
    return parse_model(load_yaml(text, file=file))


def parse_condition(doc: Located, raw: Any, path: Path) -> Condition:
    """A condition on lead and account fields (an attribute rule's ``when``), validated
    with the same path-precise errors; other YAML documents (playbooks) use it."""
    return _ModelParser(doc).condition(raw, path, context="attributes")


def parse_model(doc: Located) -> ScoringModel:
    """Validate an already parsed document."""
    return _ModelParser(doc).parse()


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _ModelParser:
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

    # -- model -------------------------------------------------------------------
    def parse(self) -> ScoringModel:
        root = self.mapping(self.doc.value, (), "a scoring model")
        self.keys(
            root,
            (),
            {"version", "name", "description", "lists", "groups", "grades", "mql"},
            "the model",
        )
        version_raw = self.required(root, "version", (), "the model")
        version = int(
            self.number(version_raw, ("version",), "version", positive=True, integer=True)
        )
        name = self.text(
            self.required(root, "name", (), "the model"), ("name",), "name", pattern=_ID_RE
        )
        description = root.get("description")
        if description is not None:
            description = self.text(description, ("description",), "description")
        if "lists" in root:
            self.parse_lists(root["lists"])
        groups_raw = self.mapping(
            self.required(root, "groups", (), "the model"), ("groups",), "groups"
        )
        if not groups_raw:
            raise self.fail(("groups",), "a model needs at least one group")
        for group_name, group_raw in groups_raw.items():
            self.text(group_name, ("groups", group_name), "a group name", pattern=_ID_RE)
            kind = "rollup" if isinstance(group_raw, dict) and "rollup" in group_raw else "rules"
            self.group_kinds[group_name] = kind
        groups = tuple(
            self.parse_group(group_name, group_raw, ("groups", group_name))
            for group_name, group_raw in groups_raw.items()
        )
        if "grades" in root and root["grades"] is not None:
            self.grades = self.parse_grades(root["grades"], ("grades",))
        mql = None
        if "mql" in root and root["mql"] is not None:
            mql = self.condition(root["mql"], ("mql",), context="mql")
        return ScoringModel(
            name=name,
            version=version,
            groups=groups,
            grades=self.grades,
            mql=mql,
            description=description,
            lists=tuple(sorted(self.lists.items())),
            source=self.doc.file,
        )

    def parse_lists(self, raw: Any) -> None:
        lists = self.mapping(raw, ("lists",), "lists")
        for list_name, values in lists.items():
            path: Path = ("lists", list_name)
            self.text(list_name, path, "a list name", pattern=_ID_RE)
            if list_name in BUILTIN_LISTS:
                raise self.fail(path, f"{list_name!r} is a built-in list and cannot be redefined")
            if not isinstance(values, list) or not values:
                raise self.fail(path, "a list must be a non-empty sequence of values")
            items = []
            for index, item in enumerate(values):
                if not isinstance(item, (str, int, float)) or isinstance(item, bool):
                    raise self.fail(
                        (*path, index), f"list values must be text or numbers, got {_kind(item)}"
                    )
                items.append(str(item))
            self.lists[list_name] = tuple(items)

    def list_values(self, list_name: Any, path: Path) -> tuple[str, ...]:
        if not isinstance(list_name, str):
            raise self.fail(path, f"expected the name of a list, got {_kind(list_name)}")
        if list_name in BUILTIN_LISTS:
            return tuple(sorted(BUILTIN_LISTS[list_name]()))
        if list_name in self.lists:
            return self.lists[list_name]
        known = sorted({*BUILTIN_LISTS, *self.lists})
        raise self.fail(path, f"unknown list {list_name!r}; known lists: {', '.join(known)}")

    # -- groups and rules ----------------------------------------------------------
    def group_ref(self, value: Any, path: Path, *, rules_only: bool = False) -> str:
        if not isinstance(value, str) or value not in self.group_kinds:
            known = ", ".join(self.group_kinds)
            raise self.fail(path, f"unknown group {value!r}; the model's groups are: {known}")
        if rules_only and self.group_kinds[value] != "rules":
            raise self.fail(path, f"group {value!r} is a rollup; refer to a group with rules")
        return value

    def bounds(self, raw: dict[str, Any], path: Path) -> tuple[float | None, float | None]:
        max_points = min_points = None
        if raw.get("max_points") is not None:
            max_points = self.number(raw["max_points"], (*path, "max_points"), "max_points")
        if raw.get("min_points") is not None:
            min_points = self.number(raw["min_points"], (*path, "min_points"), "min_points")
        if max_points is not None and min_points is not None and min_points > max_points:
            raise self.fail((*path, "min_points"), "min_points is greater than max_points")
        return max_points, min_points

    def parse_group(self, name: str, raw: Any, path: Path) -> RuleGroup | RollupGroup:
        group = self.mapping(raw, path, f"group {name!r}")
        if "rollup" in group:
            self.keys(
                group, path, {"rollup", "max_points", "min_points", "description"}, "a rollup group"
            )
            rollup = self.mapping(group["rollup"], (*path, "rollup"), "rollup")
            self.keys(rollup, (*path, "rollup"), {"from", "how"}, "rollup")
            source = self.group_ref(
                self.required(rollup, "from", (*path, "rollup"), "rollup"),
                (*path, "rollup", "from"),
                rules_only=True,
            )
            how = rollup.get("how", "sum")
            if how not in AGGREGATIONS:
                raise self.fail(
                    (*path, "rollup", "how"),
                    f"unknown aggregation {how!r}; use one of {', '.join(sorted(AGGREGATIONS))}",
                )
            max_points, min_points = self.bounds(group, path)
            return RollupGroup(
                name=name, source=source, how=how, max_points=max_points, min_points=min_points
            )
        self.keys(
            group,
            path,
            {
                "rules",
                "half_life_days",
                "decay",
                "within_days",
                "max_points",
                "min_points",
                "description",
            },
            "a group",
        )
        half_life = None
        if group.get("half_life_days") is not None:
            half_life = self.number(
                group["half_life_days"], (*path, "half_life_days"), "half_life_days", positive=True
            )
        if "decay" in group:
            if group["decay"] != "none":
                raise self.fail((*path, "decay"), "decay may only be 'none' (turns decay off)")
            if half_life is not None:
                raise self.fail(
                    (*path, "decay"), "use either half_life_days or decay: none, not both"
                )
        within = None
        if group.get("within_days") is not None:
            within = self.number(
                group["within_days"], (*path, "within_days"), "within_days", positive=True
            )
        rules_raw = group.get("rules")
        if not isinstance(rules_raw, list) or not rules_raw:
            raise self.fail(
                (*path, "rules"), "a group needs a non-empty list of rules (or a rollup)"
            )
        rules = tuple(
            self.parse_rule(rule_raw, (*path, "rules", index), name, half_life, within)
            for index, rule_raw in enumerate(rules_raw)
        )
        max_points, min_points = self.bounds(group, path)
        return RuleGroup(name=name, rules=rules, max_points=max_points, min_points=min_points)

    def parse_rule(
        self,
        raw: Any,
        path: Path,
        group: str,
        default_half_life: float | None,
        default_within: float | None,
    ) -> Rule:
        rule = self.mapping(raw, path, "a rule")
        rule_id = self.text(
            self.required(rule, "id", path, "a rule"), (*path, "id"), "rule id", pattern=_ID_RE
        )
        if rule_id in self.rule_ids:
            raise self.fail((*path, "id"), f"duplicate rule id {rule_id!r}")
        self.rule_ids[rule_id] = path
        points = self.number(
            self.required(rule, "points", path, f"rule {rule_id!r}"), (*path, "points"), "points"
        )
        description = rule.get("description")
        if description is not None:
            description = self.text(description, (*path, "description"), "description")
        has_when, has_event = "when" in rule, "event" in rule
        if has_when == has_event:
            raise self.fail(
                path, f"rule {rule_id!r} needs exactly one of 'when' (attributes) or 'event'"
            )
        if has_when:
            self.keys(rule, path, {"id", "when", "points", "description"}, "an attribute rule")
            when = self.condition(rule["when"], (*path, "when"), context="attributes")
            return AttributeRule(
                id=rule_id, group=group, when=when, points=points, description=description
            )
        self.keys(
            rule,
            path,
            {
                "id",
                "event",
                "where",
                "points",
                "max_count",
                "half_life_days",
                "decay",
                "within_days",
                "description",
            },
            "an event rule",
        )
        types = self.event_types(rule["event"], (*path, "event"))
        where = None
        if rule.get("where") is not None:
            where = self.condition(rule["where"], (*path, "where"), context="event")
        half_life = default_half_life
        if rule.get("half_life_days") is not None:
            half_life = self.number(
                rule["half_life_days"], (*path, "half_life_days"), "half_life_days", positive=True
            )
        if "decay" in rule:
            if rule["decay"] != "none":
                raise self.fail((*path, "decay"), "decay may only be 'none' (turns decay off)")
            if rule.get("half_life_days") is not None:
                raise self.fail(
                    (*path, "decay"), "use either half_life_days or decay: none, not both"
                )
            half_life = None
        max_count = None
        if rule.get("max_count") is not None:
            max_count = int(
                self.number(
                    rule["max_count"],
                    (*path, "max_count"),
                    "max_count",
                    positive=True,
                    integer=True,
                )
            )
        within = default_within
        if rule.get("within_days") is not None:
            within = self.number(
                rule["within_days"], (*path, "within_days"), "within_days", positive=True
            )
        return EventRule(
            id=rule_id,
            group=group,
            event_types=types,
            points=points,
            where=where,
            half_life_days=half_life,
            max_count=max_count,
            within_days=within,
            description=description,
        )

    def event_types(self, raw: Any, path: Path) -> tuple[str, ...]:
        items = raw if isinstance(raw, list) else [raw]
        if not items:
            raise self.fail(path, "expected an event type or a non-empty list of them")
        types = []
        for index, item in enumerate(items):
            item_path = (*path, index) if isinstance(raw, list) else path
            types.append(self.text(item, item_path, "event type", pattern=_EVENT_TYPE_RE))
        return tuple(dict.fromkeys(types))

    # -- grades ---------------------------------------------------------------------
    def parse_grades(self, raw: Any, path: Path) -> Grades:
        grades = self.mapping(raw, path, "grades")
        if "bands" in grades:
            self.keys(grades, path, {"group", "bands", "otherwise"}, "grades")
            group = self.group_ref(grades.get("group", "fit"), (*path, "group"))
            bands_raw = self.mapping(grades["bands"], (*path, "bands"), "grades.bands")
            bands_path: Path = (*path, "bands")
            otherwise = grades.get("otherwise")
        else:
            if "fit" not in self.group_kinds:
                raise self.fail(
                    path,
                    "grades are read from group 'fit', which this model lacks; "
                    "use {group: NAME, bands: {...}} to grade another group",
                )
            group, bands_raw, bands_path, otherwise = "fit", grades, path, None
        if not bands_raw:
            raise self.fail(bands_path, "grades need at least one band, e.g. {A: 40, B: 25}")
        bands = []
        for label, lower in bands_raw.items():
            self.text(label, (*bands_path, label), "a grade label", pattern=_ID_RE)
            bands.append(
                (
                    label,
                    self.number(lower, (*bands_path, label), f"the lower bound of grade {label!r}"),
                )
            )
        bands.sort(key=lambda band: -band[1])
        for (first, a), (second, b) in itertools.pairwise(bands):
            if a == b:
                raise self.fail(
                    bands_path, f"grades {first!r} and {second!r} have the same lower bound {a:g}"
                )
        if otherwise is None:
            labels = [label for label, _ in bands]
            if all(len(label) == 1 and label.isupper() for label in labels) and max(labels) < "Z":
                otherwise = chr(ord(max(labels)) + 1)
            else:
                raise self.fail(bands_path, "name the grade below the lowest band with 'otherwise'")
        otherwise = self.text(otherwise, (*path, "otherwise"), "otherwise", pattern=_ID_RE)
        if otherwise in dict(bands):
            raise self.fail((*path, "otherwise"), f"grade {otherwise!r} is already a band")
        return Grades(group=group, bands=tuple(bands), otherwise=otherwise)

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
