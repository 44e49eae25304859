"""Typed, immutable nodes of a loaded scoring model.

Every back end (the pure evaluator today, SQL compilers later) walks these
nodes; none of them reads YAML. A back end that cannot express a node must
raise :class:`leadgate.exceptions.UnsupportedConstructError` naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from enum import StrEnum
from typing import TypeAlias

from leadgate.scoring.records import ACCOUNT_COLUMNS, LEAD_COLUMNS

__all__ = [
    "ACCOUNT_FIELDS",
    "AGGREGATIONS",
    "EVENT_FIELDS",
    "LEAD_FIELDS",
    "NUMERIC_OPS",
    "AllOf",
    "AnyOf",
    "AttributeRule",
    "Condition",
    "EventOccurred",
    "EventRule",
    "FieldRef",
    "GradeIn",
    "Grades",
    "NotOf",
    "Op",
    "Predicate",
    "PredictedTest",
    "RollupGroup",
    "Rule",
    "RuleGroup",
    "Scalar",
    "Scope",
    "ScoreTest",
    "ScoringModel",
    "fold",
]


class Scope(StrEnum):
    """Which record a field reference reads from."""

    LEAD = "lead"
    ACCOUNT = "account"
    EVENT = "event"


class Op(StrEnum):
    """Comparison operators of the model language."""

    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    BETWEEN = "between"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    CONTAINS = "contains"
    STARTS_WITH = "starts_with"
    ENDS_WITH = "ends_with"
    REGEX = "regex"
    EXISTS = "exists"
    IN_LIST = "in_list"
    NOT_IN_LIST = "not_in_list"


NUMERIC_OPS = frozenset({Op.GT, Op.GTE, Op.LT, Op.LTE, Op.BETWEEN})

#: Built-in fields per scope; anything custom lives under ``attributes.<name>``
#: (leads, accounts) or ``properties.<name>`` (events).
LEAD_FIELDS = frozenset(LEAD_COLUMNS) - {"account_id"} | {"email_domain"}
ACCOUNT_FIELDS = frozenset(ACCOUNT_COLUMNS)
EVENT_FIELDS = frozenset({"type", "channel", "campaign", "properties"})

AGGREGATIONS = frozenset({"sum", "max", "avg"})


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A dotted reference such as ``account.employees`` or ``properties.url``.

    ``name`` is the built-in field; ``key`` is set for ``attributes.<key>`` and
    ``properties.<key>`` lookups.
    """

    scope: Scope
    name: str
    key: str | None = None

    @property
    def dotted(self) -> str:
        prefix = "" if self.scope is Scope.EVENT else f"{self.scope.value}."
        return f"{prefix}{self.name}" + (f".{self.key}" if self.key is not None else "")


Scalar: TypeAlias = str | int | float | bool

_SET_OPS = frozenset({Op.IN, Op.NOT_IN, Op.IN_LIST, Op.NOT_IN_LIST})


def fold(value: Scalar) -> str:
    """Case-insensitive comparison key for set membership."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).casefold()


@dataclass(frozen=True, slots=True)
class Predicate:
    """``field <op> operand``. Operands are validated per operator at load time.

    ``operand`` holds: a scalar (eq, ne, gt, gte, lt, lte, contains, starts_with,
    ends_with), a tuple of scalars (in, not_in, in_list, not_in_list; for the
    list forms the named list is resolved at load and kept in ``list_name``),
    a ``(low, high)`` pair (between), a pattern string (regex) or a bool
    (exists).
    """

    field: FieldRef
    op: Op
    operand: Scalar | tuple[Scalar, ...]
    list_name: str | None = None
    pattern: re.Pattern[str] | None = dc_field(default=None, compare=False, repr=False)
    members: frozenset[str] = dc_field(default=frozenset(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op in _SET_OPS:
            if not isinstance(self.operand, tuple):
                raise TypeError(f"{self.op.value} needs a tuple operand")
            object.__setattr__(self, "members", frozenset(fold(v) for v in self.operand))
        if self.op is Op.REGEX and self.pattern is None:
            object.__setattr__(self, "pattern", re.compile(str(self.operand), re.IGNORECASE))


@dataclass(frozen=True, slots=True)
class AllOf:
    """True when every child holds (an empty ``all`` is true)."""

    children: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """True when at least one child holds (an empty ``any`` is false)."""

    children: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class NotOf:
    """Negation of one condition."""

    child: Condition


@dataclass(frozen=True, slots=True)
class ScoreTest:
    """Compare the sum of one or more group scores (MQL definitions only)."""

    groups: tuple[str, ...]
    op: Op
    operand: float | tuple[float, float]


@dataclass(frozen=True, slots=True)
class GradeIn:
    """The lead's grade is one of ``grades`` (MQL definitions only)."""

    grades: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EventOccurred:
    """At least ``min_count`` events of the given types in the last ``within_days``.

    With ``after``, only events later than the first event of one of those
    types count (and there must be such an event): "a pricing visit *after*
    attending the webinar".
    """

    types: tuple[str, ...]
    within_days: float | None
    min_count: int = 1
    where: Condition | None = None
    after: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PredictedTest:
    """Compare the lead's predicted probability of converting (MQL definitions only).

    A lead without a prediction never passes.
    """

    op: Op
    operand: float | tuple[float, float]


Condition: TypeAlias = (
    Predicate | AllOf | AnyOf | NotOf | ScoreTest | GradeIn | EventOccurred | PredictedTest
)


@dataclass(frozen=True, slots=True)
class AttributeRule:
    """Points when a condition on the lead's and account's current attributes holds."""

    id: str
    group: str
    when: Condition
    points: float
    description: str | None = None


@dataclass(frozen=True, slots=True)
class EventRule:
    """Points per matching event, optionally decayed, windowed and count-limited.

    A matching event of age ``a`` days contributes
    ``points * 0.5 ** (a / half_life_days)`` (no decay when ``half_life_days`` is
    None). Only the ``max_count`` most recent matching events count, and only
    events no older than ``within_days``.
    """

    id: str
    group: str
    event_types: tuple[str, ...]
    points: float
    where: Condition | None = None
    half_life_days: float | None = None
    max_count: int | None = None
    within_days: float | None = None
    description: str | None = None


Rule: TypeAlias = AttributeRule | EventRule


@dataclass(frozen=True, slots=True)
class RuleGroup:
    """A named score: the sum of its rules' contributions, clamped to its bounds."""

    name: str
    rules: tuple[Rule, ...]
    max_points: float | None = None
    min_points: float | None = None


@dataclass(frozen=True, slots=True)
class RollupGroup:
    """An account-level score aggregated from a rule group over all the account's leads."""

    name: str
    source: str
    how: str
    max_points: float | None = None
    min_points: float | None = None


@dataclass(frozen=True, slots=True)
class Grades:
    """Letter grades from lower bounds on one group's score, best first."""

    group: str
    bands: tuple[tuple[str, float], ...]
    otherwise: str

    def grade_for(self, score: float) -> str:
        for label, lower in self.bands:
            if score >= lower:
                return label
        return self.otherwise

    @property
    def labels(self) -> tuple[str, ...]:
        return (*(label for label, _ in self.bands), self.otherwise)


@dataclass(frozen=True, slots=True)
class ScoringModel:
    """A validated scoring model: groups, grades and the MQL definition."""

    name: str
    version: int
    groups: tuple[RuleGroup | RollupGroup, ...]
    grades: Grades | None = None
    mql: Condition | None = None
    description: str | None = None
    lists: tuple[tuple[str, tuple[str, ...]], ...] = ()
    source: str | None = None
    #: the groups split by kind, once (the evaluator reads them for every lead)
    rule_groups: tuple[RuleGroup, ...] = dc_field(init=False, repr=False, compare=False)
    rollup_groups: tuple[RollupGroup, ...] = dc_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rules = tuple(g for g in self.groups if isinstance(g, RuleGroup))
        rollups = tuple(g for g in self.groups if isinstance(g, RollupGroup))
        object.__setattr__(self, "rule_groups", rules)
        object.__setattr__(self, "rollup_groups", rollups)

    @property
    def label(self) -> str:
        """``name@vVERSION``, the form stored with every scorecard."""
        return f"{self.name}@v{self.version}"

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(group.name for group in self.groups)

    def group(self, name: str) -> RuleGroup | RollupGroup:
        for group in self.groups:
            if group.name == name:
                return group
        raise KeyError(name)

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(rule for group in self.rule_groups for rule in group.rules)
