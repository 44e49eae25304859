"""Testing one value with one predicate, with the evaluator's exact meaning (pure).

Text compares case-insensitively (``str.casefold``); numbers in text are read as
Python's ``float()`` reads them, only when finite; a missing value matches only
``exists: false``. The compiled SQL (``leadgate.engines.compiler``) reproduces
these rules and is tested against them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from leadgate.scoring.nodes import (
    Op,
    Predicate,
    fold,
)

__all__ = ["as_number", "test_predicate"]


def _lookup(values: Mapping[str, Any], key: str) -> Any:
    """A flat key first (``utm.source`` as one name), then a nested path."""
    if key in values:
        return values[key]
    current: Any = values
    for part in key.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _compare_number(op: Op, value: float | None, operand: Any) -> bool:
    if value is None:
        return False
    if op is Op.BETWEEN:
        low, high = operand
        return bool(low <= value <= high)
    if op is Op.GT:
        return bool(value > operand)
    if op is Op.GTE:
        return bool(value >= operand)
    if op is Op.LT:
        return bool(value < operand)
    if op is Op.LTE:
        return bool(value <= operand)
    if op is Op.EQ:
        return bool(value == operand)
    raise TypeError(f"{op.value} is not a numeric comparison")


def _equals(value: Any, operand: Any) -> bool:
    if isinstance(operand, (int, float)) and not isinstance(operand, bool):
        number = _as_number(value)
        return number is not None and number == float(operand)
    return fold(value) == fold(operand)


def test_predicate(pred: Predicate, value: Any) -> bool:
    """Apply one predicate to a value. A missing value (None) matches only ``exists: false``.

    Text comparisons ignore case; list values (tags) match when any element does.
    """
    op = pred.op
    if op is Op.EXISTS:
        return (value is not None) == pred.operand
    if value is None:
        return False
    if isinstance(value, (list, tuple)) and op is not Op.CONTAINS:
        if op in (Op.NE, Op.NOT_IN, Op.NOT_IN_LIST):
            return all(test_predicate(pred, item) for item in value if item is not None)
        return any(test_predicate(pred, item) for item in value if item is not None)
    if op is Op.EQ:
        return _equals(value, pred.operand)
    if op is Op.NE:
        return not _equals(value, pred.operand)
    if op in (Op.IN, Op.IN_LIST):
        return fold(value) in pred.members
    if op in (Op.NOT_IN, Op.NOT_IN_LIST):
        return fold(value) not in pred.members
    if op in (Op.GT, Op.GTE, Op.LT, Op.LTE, Op.BETWEEN):
        return _compare_number(op, _as_number(value), pred.operand)
    if op is Op.CONTAINS:
        if isinstance(value, (list, tuple)):
            return any(_equals(item, pred.operand) for item in value)
        return str(pred.operand).casefold() in str(value).casefold()
    if op is Op.STARTS_WITH:
        return str(value).casefold().startswith(str(pred.operand).casefold())
    if op is Op.ENDS_WITH:
        return str(value).casefold().endswith(str(pred.operand).casefold())
    if op is Op.REGEX:
        pattern = pred.pattern or re.compile(str(pred.operand), re.IGNORECASE)
        return pattern.search(str(value)) is not None
    raise TypeError(f"unknown operator {op}")


#: The name the engines' parity tests use.
as_number = _as_number
