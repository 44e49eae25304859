"""Score adjustments in the compiled query: one more input relation, summed per group.

The optional ``adjustments`` relation has ``lead_id``, ``group_name`` (text),
``points`` (a number), ``at`` (a timestamp) and optionally ``revoked_at`` (a
timestamp, null while in force). As in the evaluator
(:class:`leadgate.scoring.records.Adjustment`), an adjustment counts at an instant
from its ``at`` (inclusive) until its ``revoked_at`` (exclusive), in checkpoint mode
with ``counted_since`` only when made after the checkpoint's ``since_us``, and its
points are added to its group's score after the group's caps. Adjustments naming
no rule group of the model count nowhere.

Shape: one aggregation over the adjustments (joined to the checkpoints in
checkpoint mode) with a ``FILTER``-ed compensated sum per rule group, left-joined
to the leads beside the events' aggregate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leadgate.engines.compiler.kinds import (
    CHECKPOINT_COLUMN,
    COUNTED_SINCE_COLUMN,
    FLOAT,
    INT,
    NULL,
    TEXT,
    TIMESTAMP,
    TableSchema,
)
from leadgate.engines.compiler.values import _in_list
from leadgate.exceptions import LeadgateError

if TYPE_CHECKING:
    from leadgate.engines.compiler.query import _Compiler

__all__ = ["ADJUSTMENT_COLUMNS", "AdjustmentSums", "check_adjustments"]

#: Required columns of the ``adjustments`` relation (``revoked_at`` is optional).
ADJUSTMENT_COLUMNS = ("lead_id", "group_name", "points", "at")
_KINDS = {
    "group_name": (TEXT, NULL),
    "points": (FLOAT, INT, NULL),
    "at": (TIMESTAMP, NULL),
    "revoked_at": (TIMESTAMP, NULL),
}
_WANTED = {
    "group_name": "text",
    "points": "a number",
    "at": "a timestamp",
    "revoked_at": "a timestamp",
}


def check_adjustments(table: TableSchema) -> None:
    """Refuse an ``adjustments`` relation whose columns cannot mean what they must."""
    for name in ADJUSTMENT_COLUMNS:
        if not table.has(name):
            raise LeadgateError(f"adjustments input has no column {name!r}")
    for name, kinds in _KINDS.items():
        kind = table.kind_of(name)
        if kind is not None and kind not in kinds:
            raise LeadgateError(f"adjustments column {name!r} must be {_WANTED[name]}, not {kind}")


class AdjustmentSums:
    """The per-lead sums of one model's adjustments, group by group."""

    def __init__(self, compiler: _Compiler) -> None:
        self.c = compiler
        self.table = compiler.schema.adjustments
        #: rule group -> alias of its adjustment sum in the per-lead stage
        self.aliases: dict[str, str] = {}
        if self.table is not None:
            check_adjustments(self.table)
            if self.table.kind_of("at") == NULL:  # no instant: nothing ever counts
                return
            for index, group in enumerate(compiler.model.rule_groups):
                self.aliases[group.name] = f"j{index}"

    @property
    def active(self) -> bool:
        return bool(self.aliases)

    def cte(self) -> str:
        """The ``adj`` stage: one row per lead (and checkpoint) with adjustments."""
        c, d, q = self.c, self.c.d, self.c.q
        a = q("x")
        instant = c.as_of_us
        at_us = d.epoch_us(f"{a}.{q('at')}")
        tests = [f"{at_us} <= {instant}"]
        assert self.table is not None
        if self.table.kind_of("revoked_at") == TIMESTAMP:
            revoked = f"{a}.{q('revoked_at')}"
            tests.append(f"({revoked} IS NULL OR {d.epoch_us(revoked)} > {instant})")
        names = [d.text(name) for name in self.aliases]
        tests.append(_in_list(f"{a}.{q('group_name')}", names))
        points = d.to_double(f"{a}.{q('points')}")
        sums = [
            f"{d.fsum(points)} FILTER (WHERE {a}.{q('group_name')} = {d.text(group)}) AS {q(alias)}"
            for group, alias in self.aliases.items()
        ]
        source = f"{q(c.tables['adjustments'])} AS {a}"
        keys = [f"{a}.{q('lead_id')}"]
        if c.checkpoints:
            cp = q("cp")
            if c.counted_since:
                tests.append(f"{at_us} > {cp}.{q(COUNTED_SINCE_COLUMN)}")
            source = (
                f"{q(c.tables['checkpoints'])} AS {cp} JOIN {source} "
                f"ON {a}.{q('lead_id')} = {cp}.{q('lead_id')}"
            )
            keys.append(f"{cp}.{q(CHECKPOINT_COLUMN)}")
        columns = [f"{keys[0]} AS {q('lead_id')}"]
        if c.checkpoints:
            columns.append(f"{keys[1]} AS {q(CHECKPOINT_COLUMN)}")
        return (
            f"{q('adj')} AS (\n  SELECT\n    "
            + ",\n    ".join(columns + sums)
            + f"\n  FROM {source}\n  WHERE {' AND '.join(tests)}\n"
            + f"  GROUP BY {', '.join(keys)}\n)"
        )

    def join(self, checkpoint: str | None) -> str:
        """The left join of the ``adj`` stage onto the leads (``l``)."""
        q = self.c.q
        on = f"{q('j')}.{q('lead_id')} = {q('l')}.{q('lead_id')}"
        if checkpoint is not None:
            on += f" AND {q('j')}.{q(CHECKPOINT_COLUMN)} = {checkpoint}"
        return f"\n  LEFT JOIN {q('adj')} AS {q('j')} ON {on}"

    def columns(self) -> list[str]:
        """The sums carried through the per-lead stage."""
        q = self.c.q
        return [f"{q('j')}.{q(alias)} AS {q(alias)}" for alias in self.aliases.values()]

    def score(self, group: str, clamped: str) -> str:
        """A group's score: its clamped rules' total plus its adjustments, if any."""
        alias = self.aliases.get(group)
        if alias is None:
            return clamped
        column = self.c.q(alias)
        return f"(CASE WHEN {column} IS NULL THEN {clamped} ELSE {clamped} + {column} END)"
