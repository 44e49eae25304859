"""How DuckDB spells what the compiler needs (the default dialect)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from leadgate.engines.compiler.dialect import Dialect
from leadgate.exceptions import UnsupportedConstructError


class DuckDBDialect(Dialect):
    name = "duckdb"

    def double(self, value: float) -> str:
        if not math.isfinite(value):
            raise UnsupportedConstructError(f"number {value!r} is not finite")
        return f"CAST('{value!r}' AS DOUBLE)"

    def epoch_us(self, ts: str) -> str:
        return f"epoch_us({ts})"

    def fsum(self, expr: str) -> str:
        return f"fsum({expr})"

    def fsum_list(self, exprs: Sequence[str]) -> str:
        if len(exprs) == 1:
            return exprs[0]
        return f"list_aggregate([{', '.join(exprs)}], 'fsum')"

    def top_n(self, expr: str, n: int, where: str) -> str:
        return f"max_by({expr}, {expr}, {n}) FILTER (WHERE {where})"

    def fsum_map_list(self, list_expr: str, var: str, body: str) -> str:
        return f"list_aggregate(list_transform({list_expr}, lambda {var}: {body}), 'fsum')"

    def list_get(self, list_expr: str, index: int) -> str:
        return f"{list_expr}[{index}]"

    def list_len(self, list_expr: str) -> str:
        return f"len({list_expr})"

    def regex_search(self, value: str, pattern: str) -> str:
        return f"regexp_matches({value}, {self.text(pattern)})"

    def regex_full(self, value: str, pattern: str) -> str:
        return f"regexp_full_match({value}, {self.text(pattern)})"

    def byte_length(self, expr: str) -> str:
        return f"strlen({expr})"

    def contains(self, haystack: str, needle: str) -> str:
        return f"contains({haystack}, {needle})"

    def starts_with(self, value: str, prefix: str) -> str:
        return f"starts_with({value}, {prefix})"

    def ends_with(self, value: str, suffix: str) -> str:
        return f"ends_with({value}, {suffix})"

    def trim_chars(self, value: str, chars: str) -> str:
        return f"trim({value}, {chars})"

    def last_after(self, value: str, sep: str) -> str:
        return f"string_split({value}, {self.text(sep)})[-1]"

    def isnan(self, expr: str) -> str:
        return f"isnan({expr})"

    def isfinite(self, expr: str) -> str:
        return f"isfinite({expr})"

    def json_type(self, doc: str, path: str) -> str:
        return f"json_type({doc}, {self.text(path)})"

    def json_text(self, doc: str, path: str) -> str:
        return f"json_extract_string({doc}, {self.text(path)})"

    def json_path(self, keys: Sequence[str]) -> str:
        for key in keys:
            if any(char in key for char in '"\\') or any(ord(char) < 0x20 for char in key):
                raise UnsupportedConstructError(
                    f"property name {key!r} holds a quote, backslash or control character"
                )
        return "$" + "".join(f'."{key}"' for key in keys)

    def raise_error(self, message: str) -> str:
        return f"error({self.text(message)})"


DUCKDB = DuckDBDialect()
