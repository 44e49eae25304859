"""Key checks shared by the engines: a lead id must name one lead, an account id one account.

Counting distinct lead ids up front costs a pass over the leads (a tenth of a
second per million); the scored output is sorted by ``lead_id`` and has a row per
lead row, so a duplicate or missing id shows there for the price of comparing
neighbours. Only when it does is the precise check run, to name the problem.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from leadgate.engines.compiler import CompiledQuery
from leadgate.exceptions import LeadgateError

__all__ = ["ids_unique", "run_checked"]


def ids_unique(table: pa.Table, column: str = "lead_id") -> bool:
    """True when ``column`` of a table sorted by it has no NULL and no repeated value."""
    ids = table.column(column)
    if ids.null_count:
        return False
    if len(ids) < 2:
        return True
    same = pc.equal(ids.slice(1), ids.slice(0, len(ids) - 1))
    return not pc.any(same).as_py()


def run_checked(
    engine: Any, query: CompiledQuery, *, progress: Callable[[float], None] | None = None
) -> pa.Table:
    """Validate the accounts, run ``query``, and refuse the result if lead ids repeat."""
    engine.validate(["accounts"])
    table: pa.Table = engine.execute(query, progress=progress)
    if not ids_unique(table):
        engine.validate(["leads"])  # names the problem
        raise LeadgateError("leads: duplicate or missing lead_id values")
    return table
