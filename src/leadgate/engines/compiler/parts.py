"""The small parts the compiler works with: a value read for a test, a leaf of the
MQL definition kept per lead, where in the model a construct sits (for errors),
and a query stage's named expressions."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from leadgate.exceptions import UnsupportedConstructError


@dataclass(frozen=True)
class _Value:
    """A field as SQL sees it. ``sql`` may be NULL (missing) except for ``null`` values.

    For ``json``, ``sql`` is the extracted text and ``type_sql`` the JSON type name.
    ``fold_sql``/``num_sql`` are the casefold and parsed number of text (when derived
    once in a projection); ``None`` means "compute inline".
    """

    kind: str
    sql: str
    label: str
    type_sql: str = ""
    fold_sql: str | None = None
    num_sql: str | None = None
    base: str | None = None  # events-table expression: derived values go to the scan
    nullable: bool = True
    sigma_lowered: bool = False  # lead.email_domain: Python's lower() applied


def _member_doubles(member: str) -> tuple[list[float], bool]:
    """Floats ``v`` with ``fold(v) == member`` (and whether NaN qualifies)."""
    if member == "nan":
        return [], True
    if member in ("inf", "-inf"):
        return [float(member)], False
    if re.fullmatch(r"-?[0-9]+", member):
        number = int(member)
        if str(number) != member:
            return [], False
        try:
            as_float = float(number)
        except OverflowError:
            return [], False
        return ([as_float] if int(as_float) == number else []), False
    try:
        as_float = float(member)
    except ValueError:
        return [], False
    if math.isfinite(as_float) and not as_float.is_integer() and repr(as_float) == member:
        return [as_float], False
    return [], False


def _member_ints(member: str) -> list[str]:
    if re.fullmatch(r"-?[0-9]+", member) and str(int(member)) == member:
        return [member]
    return []


# -- the compiler -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _LeadLeaf:
    """An MQL predicate on lead/account fields, already compiled."""

    sql: str


class _Context:
    """Names the rule or MQL path a construct belongs to, for error messages."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, message: str) -> UnsupportedConstructError:
        return UnsupportedConstructError(f"{self.where}: {message}")


@dataclass
class _Stage:
    """Derived columns of one projection (the events scan)."""

    columns: dict[str, str] = field(default_factory=dict)  # expression -> alias
    prefix: str = "x"

    def add(self, expr: str) -> str:
        alias = self.columns.get(expr)
        if alias is None:
            alias = f"{self.prefix}{len(self.columns)}"
            self.columns[expr] = alias
        return alias
