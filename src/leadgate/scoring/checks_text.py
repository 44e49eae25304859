"""How MQL checks read in a scorecard: the condition as text and a value shown."""

from __future__ import annotations

from typing import Any

from leadgate.scoring.nodes import Op, Predicate, ScoreTest

__all__ = ["described", "op_text", "show"]

_DESCRIBED: dict[int, tuple[Predicate | ScoreTest, str]] = {}


def described(cond: Predicate | ScoreTest) -> str:
    """How an MQL check reads in a scorecard (the same text for every lead: kept)."""
    known = _DESCRIBED.get(id(cond))
    if known is not None and known[0] is cond:
        return known[1]
    if isinstance(cond, ScoreTest):
        text = f"score {'+'.join(cond.groups)} {op_text(cond.op, cond.operand)}"
    else:
        text = _describe_predicate(cond)
    if len(_DESCRIBED) > 4096:
        _DESCRIBED.clear()
    _DESCRIBED[id(cond)] = (cond, text)
    return text


def op_text(op: Op, operand: Any) -> str:
    symbols = {Op.GT: ">", Op.GTE: ">=", Op.LT: "<", Op.LTE: "<=", Op.EQ: "=", Op.NE: "!="}
    if op in symbols:
        return (
            f"{symbols[op]} {operand:g}"
            if isinstance(operand, float)
            else f"{symbols[op]} {operand!r}"
        )
    if op is Op.BETWEEN:
        low, high = operand
        return f"between {low:g} and {high:g}"
    return f"{op.value} {operand!r}"


def _describe_predicate(pred: Predicate) -> str:
    if pred.list_name is not None:
        return f"{pred.field.dotted} {pred.op.value} {pred.list_name}"
    if isinstance(pred.operand, tuple) and pred.op is not Op.BETWEEN:
        return f"{pred.field.dotted} {pred.op.value} {list(pred.operand)}"
    return f"{pred.field.dotted} {op_text(pred.op, pred.operand)}"


def show(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
