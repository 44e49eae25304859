"""What every SQL dialect spells, and how a dialect is found by name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from leadgate.common.sql import quote_ident
from leadgate.engines.compiler.text import (
    _needs_chr,
)
from leadgate.exceptions import UnsupportedConstructError


class Dialect:
    """How one engine spells the handful of functions the compiler needs.

    ``unsupported`` declares the model nodes (condition or rule classes of
    :mod:`leadgate.scoring.nodes`) the engine cannot run, each with the reason; the
    compiler refuses a model using one, naming its rule or MQL path, before any SQL
    is emitted. ``exact_sums`` says whether every sum is compensated as the
    evaluator's ``math.fsum`` is (see the dialect's docstring for the bound when not).
    """

    name = "abstract"
    unsupported: ClassVar[Mapping[type, str]] = {}
    exact_sums: ClassVar[bool] = True

    def ident(self, name: str) -> str:
        return quote_ident(name)

    def text(self, value: str) -> str:
        """A string literal; control and invisible characters are spelt with ``chr()``."""
        if "\x00" in value:
            raise UnsupportedConstructError(f"text {value!r} holds a NUL character")
        parts: list[str] = []
        plain: list[str] = []
        for char in value:
            if _needs_chr(char):
                if plain:
                    parts.append("'" + "".join(plain).replace("'", "''") + "'")
                    plain = []
                parts.append(f"chr({ord(char)})")
            else:
                plain.append(char)
        if plain or not parts:
            parts.append("'" + "".join(plain).replace("'", "''") + "'")
        return parts[0] if len(parts) == 1 else "(" + " || ".join(parts) + ")"

    def double(self, value: float) -> str:
        raise NotImplementedError

    def integer(self, value: int) -> str:
        return str(int(value))

    def boolean(self, value: bool) -> str:
        return "TRUE" if value else "FALSE"

    # every method below receives SQL expressions and returns one
    def epoch_us(self, ts: str) -> str:
        raise NotImplementedError

    def to_double(self, expr: str) -> str:
        return f"CAST({expr} AS DOUBLE)"

    def to_text(self, expr: str) -> str:
        return f"CAST({expr} AS VARCHAR)"

    def try_double(self, expr: str) -> str:
        return f"TRY_CAST({expr} AS DOUBLE)"

    def pow_half(self, exponent: str) -> str:
        return f"pow({self.double(0.5)}, {exponent})"

    def fsum(self, expr: str) -> str:
        raise NotImplementedError

    def fsum_list(self, exprs: Sequence[str]) -> str:
        raise NotImplementedError

    def top_n(self, expr: str, n: int, where: str) -> str:
        """The ``n`` largest values of ``expr`` over the rows where ``where`` holds,
        largest first (duplicates kept)."""
        raise NotImplementedError

    def fsum_map_list(self, list_expr: str, var: str, body: str) -> str:
        raise NotImplementedError

    def list_get(self, list_expr: str, index: int) -> str:
        raise NotImplementedError

    def list_len(self, list_expr: str) -> str:
        raise NotImplementedError

    def regex_search(self, value: str, pattern: str) -> str:
        raise NotImplementedError

    def regex_full(self, value: str, pattern: str) -> str:
        raise NotImplementedError

    def byte_length(self, expr: str) -> str:
        raise NotImplementedError

    def char_length(self, expr: str) -> str:
        return f"length({expr})"

    def contains(self, haystack: str, needle: str) -> str:
        raise NotImplementedError

    def starts_with(self, value: str, prefix: str) -> str:
        raise NotImplementedError

    def ends_with(self, value: str, suffix: str) -> str:
        raise NotImplementedError

    def trim_chars(self, value: str, chars: str) -> str:
        raise NotImplementedError

    def translate(self, value: str, source: str, target: str) -> str:
        return f"translate({value}, {source}, {target})"

    def last_after(self, value: str, sep: str) -> str:
        raise NotImplementedError

    def first_char(self, value: str) -> str:
        return f"substring({value}, 1, 1)"

    def last_char(self, value: str) -> str:
        return f"substring({value}, -1, 1)"

    def isnan(self, expr: str) -> str:
        raise NotImplementedError

    def isfinite(self, expr: str) -> str:
        raise NotImplementedError

    def json_type(self, doc: str, path: str) -> str:
        raise NotImplementedError

    def json_text(self, doc: str, path: str) -> str:
        raise NotImplementedError

    def json_path(self, keys: Sequence[str]) -> str:
        raise NotImplementedError

    def raise_error(self, message: str) -> str:
        raise NotImplementedError

    #: True when :meth:`json_type` also answers ``FLOAT`` (a number with a fraction or
    #: an exponent that the engine's JSON reader does not type as ``DOUBLE``).
    json_float_type = False

    #: True when the engine's own ``lower`` cannot be trusted to be Python's for
    #: non-ASCII text (another Unicode version): case mapping then uses Python's tables.
    python_case_tables = False

    def lower_i_dot(self, expr: str) -> str:
        """The engine's ``lower`` with U+0130 first spelt as Python lower-cases it."""
        return f"lower(replace({expr}, {self.text(chr(0x130))}, {self.text('i' + chr(0x307))}))"

    def float_text(self, expr: str) -> str:
        """Python's ``repr`` of a double (what ``str()`` gives the evaluator)."""
        return self.to_text(expr)

    def regex_pattern(self, pattern: str) -> str:
        """A translated (RE2) pattern as this engine's regex syntax must spell it."""
        return pattern

    def special_double(self, value: float) -> str:
        """NaN or an infinity as a double."""
        return f"CAST('{value!r}' AS DOUBLE)"

    def null_text(self) -> str:
        return "CAST(NULL AS VARCHAR)"


_DIALECTS: dict[str, Dialect] = {}
_PLANNED = {"postgres": "PostgreSQL", "postgresql": "PostgreSQL"}

#: Marker at the start of an error raised from inside a running query.
RUNTIME_UNSUPPORTED = "leadgate-unsupported: "


def dialect_for(name: str) -> Dialect:
    """The dialect called ``name``; planned engines raise a clear "not yet available"."""
    key = name.strip().lower()
    if key == "duckdb" and key not in _DIALECTS:
        from leadgate.engines.compiler.duckdb import DUCKDB

        _DIALECTS[key] = DUCKDB
    if key == "spark" and key not in _DIALECTS:
        from leadgate.engines.spark_sql import SparkDialect

        _DIALECTS[key] = SparkDialect()
    if key in _DIALECTS:
        return _DIALECTS[key]
    if key in _PLANNED:
        raise UnsupportedConstructError(
            f"the {_PLANNED[key]} engine is not yet available; use --engine duckdb"
        )
    raise UnsupportedConstructError(f"unknown engine {name!r}; available: duckdb, spark")
