"""Load and validate scoring models from YAML into typed nodes.

Validation happens once, here: every error names the file, the path inside the
document (``groups.engagement.rules[3].where``), the line, and what is wrong.
Unknown keys are errors, so a typo never silently changes a model's meaning.
"""

from __future__ import annotations

import itertools
from pathlib import Path as FsPath
from typing import Any

from leadgate.exceptions import ModelError
from leadgate.scoring.conditions import _ID_RE, BUILTIN_LISTS, ConditionParser, _kind
from leadgate.scoring.nodes import (
    AGGREGATIONS,
    AttributeRule,
    Condition,
    EventRule,
    Grades,
    RollupGroup,
    Rule,
    RuleGroup,
    ScoringModel,
)
from leadgate.scoring.yamldoc import Located, Path, load_yaml

__all__ = ["BUILTIN_LISTS", "load_model", "load_model_file", "parse_condition", "parse_model"]


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


class _ModelParser(ConditionParser):
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

    # -- groups and rules ----------------------------------------------------------
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
