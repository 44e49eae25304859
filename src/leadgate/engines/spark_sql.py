"""How Spark SQL (Spark 4) spells the functions the compiler needs.

The compiled query is the same as on DuckDB; only these spellings differ. Where
Spark's own functions would give another answer than the evaluator, the dialect
spells out the evaluator's meaning instead:

* case mapping of non-ASCII text uses Python's own tables (``translate`` and
  ``replace``), because the JVM's ``toLowerCase`` follows its own Unicode version;
* regular expressions run on ``java.util.regex``: the translated pattern needs no
  flags, and multi-line anchors are spelt with ``\\n`` only (Java counts ``\\r``
  and U+2028 as line ends);
* JSON properties are typed with ``parse_json`` and read with
  ``get_json_object``; a JSON number with a fraction or an exponent is a float,
  one without is an integer, as Python's ``json`` module reads them;
* Python's ``repr`` of a double (for text operators on number columns) has no
  exact SQL spelling on the JVM, so it is the one-line Python UDF
  ``leadgate_float_repr`` that :class:`~leadgate.engines.spark_engine.SparkEngine`
  registers;
* sums inside a lead (a group's rules, a ``max_count`` rule's events) are
  compensated (Neumaier); sums over a lead's events and account roll-ups are
  Spark's plain double ``sum`` (``exact_sums = False``). Their difference from the
  evaluator's ``math.fsum`` is bounded by the classic bound for any summation
  order, ``(n - 1) * 2**-53 * sum(|x|)`` over the ``n`` terms added. An event
  rule's shares all carry the rule's sign, so ``sum(|x|)`` is the rule's own
  total and the relative difference is at most ``(n - 1) * 1.1e-16``: 1.1e-12
  for a lead with 10,000 matching events of one rule. A roll-up over an account's
  ``m`` leads differs by at most ``(m - 1) * 1.1e-16`` times the sum of their
  scores' magnitudes. A verdict can differ only when a score sits within that
  bound of a threshold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from leadgate.common.sql import quote_backtick
from leadgate.engines.compiler import Dialect
from leadgate.exceptions import UnsupportedConstructError

__all__ = ["FLOAT_REPR_UDF", "SparkDialect"]

#: Name of the Python UDF the Spark engine registers for ``repr(float)``.
FLOAT_REPR_UDF = "leadgate_float_repr"

_NEUMAIER = (
    "aggregate({array}, named_struct('s', CAST(0 AS DOUBLE), 'c', CAST(0 AS DOUBLE)), "
    "(acc, x) -> named_struct('s', acc.s + x, 'c', acc.c + CASE WHEN abs(acc.s) >= abs(x) "
    "THEN (acc.s - (acc.s + x)) + x ELSE (x - (acc.s + x)) + acc.s END), "
    "acc -> acc.s + acc.c)"
)


class SparkDialect(Dialect):
    name = "spark"
    exact_sums = False  # sums over events and roll-ups: plain double sums (bound above)
    python_case_tables = True
    json_float_type = True

    def ident(self, name: str) -> str:
        return quote_backtick(name)

    def text(self, value: str) -> str:
        if "\x00" in value:
            raise UnsupportedConstructError(f"text {value!r} holds a NUL character")
        out = []
        for char in value:
            cp = ord(char)
            if char == "\\":
                out.append("\\\\")
            elif char == "'":
                out.append("\\'")
            elif 0x20 <= cp < 0x7F:
                out.append(char)
            elif cp <= 0xFFFF:
                out.append(f"\\u{cp:04x}")
            else:  # a surrogate pair: Java strings are UTF-16
                cp -= 0x10000
                out.append(f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}")
        return "'" + "".join(out) + "'"

    def double(self, value: float) -> str:
        if not math.isfinite(value):
            raise UnsupportedConstructError(f"number {value!r} is not finite")
        return f"CAST('{value!r}' AS DOUBLE)"

    def special_double(self, value: float) -> str:
        if math.isnan(value):
            return "CAST('NaN' AS DOUBLE)"
        return "CAST('Infinity' AS DOUBLE)" if value > 0 else "CAST('-Infinity' AS DOUBLE)"

    def null_text(self) -> str:
        return "CAST(NULL AS STRING)"

    def epoch_us(self, ts: str) -> str:
        return f"unix_micros({ts})"

    def to_double(self, expr: str) -> str:
        return f"try_cast({expr} AS DOUBLE)"

    def to_text(self, expr: str) -> str:
        return f"CAST({expr} AS STRING)"

    def try_double(self, expr: str) -> str:
        return f"try_cast({expr} AS DOUBLE)"

    def float_text(self, expr: str) -> str:
        return f"{FLOAT_REPR_UDF}({expr})"

    def fsum(self, expr: str) -> str:
        return f"sum({expr})"

    def fsum_list(self, exprs: Sequence[str]) -> str:
        if len(exprs) == 1:
            return exprs[0]
        return _NEUMAIER.format(array=f"array({', '.join(exprs)})")

    def top_n(self, expr: str, n: int, where: str) -> str:
        return f"slice(sort_array(collect_list({expr}) FILTER (WHERE {where}), false), 1, {n})"

    def fsum_map_list(self, list_expr: str, var: str, body: str) -> str:
        return _NEUMAIER.format(array=f"transform({list_expr}, {var} -> {body})")

    def list_get(self, list_expr: str, index: int) -> str:
        return f"try_element_at({list_expr}, {index})"

    def list_len(self, list_expr: str) -> str:
        return f"size({list_expr})"

    def regex_search(self, value: str, pattern: str) -> str:
        return f"regexp_like({value}, {self.text(pattern)})"

    def regex_full(self, value: str, pattern: str) -> str:
        anchored = "\\A(?:" + pattern + ")\\z"
        return f"regexp_like({value}, {self.text(anchored)})"

    def regex_pattern(self, pattern: str) -> str:
        # Python's multi-line ^ also matches after a final newline; Java's does not.
        return pattern.replace("(?m:^)", "(?:\\A|(?<=\\x{a}))").replace("(?m:$)", "(?=\\x{a}|\\z)")

    def byte_length(self, expr: str) -> str:
        return f"octet_length({expr})"

    def char_length(self, expr: str) -> str:
        return f"char_length({expr})"

    def contains(self, haystack: str, needle: str) -> str:
        return f"contains({haystack}, {needle})"

    def starts_with(self, value: str, prefix: str) -> str:
        return f"startswith({value}, {prefix})"

    def ends_with(self, value: str, suffix: str) -> str:
        return f"endswith({value}, {suffix})"

    def trim_chars(self, value: str, chars: str) -> str:
        return f"trim(BOTH {chars} FROM {value})"

    def last_after(self, value: str, sep: str) -> str:
        return f"substring_index({value}, {self.text(sep)}, -1)"

    def isnan(self, expr: str) -> str:
        return f"isnan({expr})"

    def isfinite(self, expr: str) -> str:
        return f"(NOT isnan({expr}) AND abs({expr}) <> CAST('Infinity' AS DOUBLE))"

    def json_path(self, keys: Sequence[str]) -> str:
        for key in keys:
            if any(char in key for char in "'\\[]") or any(ord(char) < 0x20 for char in key):
                raise UnsupportedConstructError(
                    f"property name {key!r} holds a quote, bracket, backslash or control character"
                )
        return "$" + "".join(f"['{key}']" for key in keys)

    def json_type(self, doc: str, path: str) -> str:
        """The DuckDB name of the value's JSON type (``FLOAT`` for a fractional number).

        ``parse_json`` tells strings, booleans, nulls, numbers, lists and objects
        apart but normalises ``12.0`` to the decimal 12; whether a number had a
        fraction or an exponent (a float for Python's ``json``) is read off
        ``get_json_object``'s text of it, which keeps a ``.`` or an ``E``.
        """
        kind = f"schema_of_variant(variant_get(try_parse_json({doc}), {self.text(path)}))"
        integral = self.regex_full(self.json_text(doc, path), "-?[0-9]+")
        return (
            f"(CASE {kind} WHEN 'STRING' THEN 'VARCHAR' WHEN 'BOOLEAN' THEN 'BOOLEAN' "
            f"WHEN 'VOID' THEN 'NULL' "
            f"ELSE CASE WHEN {kind} IN ('BIGINT', 'INT', 'SMALLINT', 'TINYINT', 'DOUBLE', "
            f"'FLOAT') OR {kind} LIKE 'DECIMAL(%' "
            f"THEN CASE WHEN {integral} THEN 'BIGINT' ELSE 'FLOAT' END ELSE {kind} END END)"
        )

    def json_text(self, doc: str, path: str) -> str:
        return f"get_json_object({doc}, {self.text(path)})"

    def raise_error(self, message: str) -> str:
        return f"raise_error({self.text(message)})"
