"""Reading a value (an event's, a lead's, an account's) and testing it with a predicate, in SQL."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from leadgate.engines.compiler.dialect import RUNTIME_UNSUPPORTED, Dialect
from leadgate.engines.compiler.kinds import (
    _EMAIL_DOMAIN,
    _EMAIL_PART,
    ACCOUNT_RESERVED,
    BOOL,
    BOOL_FIELDS,
    CHECKPOINT_COLUMN,
    EVENT_RESERVED,
    FLOAT,
    INT,
    JSON,
    LEAD_RESERVED,
    NULL,
    SCALAR_KINDS,
    TEXT,
    InputSchema,
)
from leadgate.engines.compiler.parts import (
    _Context,
    _member_doubles,
    _member_ints,
    _Stage,
    _Value,
)
from leadgate.engines.compiler.regex import translate_regex
from leadgate.engines.compiler.text import (
    _ASCII_SPACE,
    _NUM_RE,
    _fold_map,
    _mapped,
    _number_translation,
    _python_fold_map,
    _python_lower_map,
    _space_chars,
)
from leadgate.exceptions import UnsupportedConstructError
from leadgate.scoring.nodes import (
    FieldRef,
    Op,
    Predicate,
    Scope,
    ScoringModel,
    fold,
)


class _ValueCompiler:
    def __init__(
        self,
        model: ScoringModel,
        schema: InputSchema,
        dialect: Dialect,
        as_of: datetime,
        tables: Mapping[str, str],
        checkpoints: bool = False,
        counted_since: bool = False,
    ) -> None:
        self.model = model
        self.counted_since = counted_since
        self.schema = schema
        self.d = dialect
        self.as_of = as_of
        self.checkpoints = checkpoints
        # the scoring instant: one literal, or each row's checkpoint
        self.as_of_us = (
            f"{self.q('cp')}.{self.q(CHECKPOINT_COLUMN)}" if checkpoints else str(_epoch_us(as_of))
        )
        self.tables = tables
        self.ev = _Stage(prefix="v")
        self.agg: list[tuple[str, str]] = []  # (expression, alias)
        self.event_types: set[str] = set()
        self.missing: set[str] = set()
        self.event_columns: set[str] = set()  # event columns beyond lead_id, type, ts
        self.email_domain_sql: str | None = None  # derived once per lead when used

    # -- helpers ---------------------------------------------------------------------------
    def q(self, name: str) -> str:
        return self.d.ident(name)

    def num(self, value: float) -> str:
        return self.d.double(float(value))

    def add_agg(self, expr: str) -> str:
        alias = f"a{len(self.agg)}"
        self.agg.append((expr, alias))
        return f"{self.q('g')}.{self.q(alias)}"

    def age_of(self, ts_us: str) -> str:
        diff = self.d.to_double(f"{self.as_of_us} - {ts_us}")
        return f"({diff} / {self.num(1_000_000.0)} / {self.num(86_400.0)})"

    # -- text helpers (exact Python semantics) ---------------------------------------------
    def casefold(self, expr: str) -> str:
        """Python's ``str.casefold``: ``lower`` for ASCII, exact mapping otherwise."""
        d = self.d
        # NULL takes the cheap branch too (lower(NULL) is NULL)
        ascii_test = f"coalesce({d.byte_length(expr)} = {d.char_length(expr)}, TRUE)"
        if d.python_case_tables:
            folded = _mapped(d, expr, _python_fold_map())
        else:
            folded = _mapped(d, d.lower_i_dot(expr), _fold_map())
        return f"CASE WHEN {ascii_test} THEN lower({expr}) ELSE {folded} END"

    def parse_number(self, expr: str) -> str:
        """Python's ``float(text)`` when finite, else NULL."""
        d = self.d
        space = d.text(_ASCII_SPACE)

        def parse(text: str) -> str:
            value = d.try_double(f"replace({text}, '_', '')")
            return (
                f"CASE WHEN {d.regex_full(text, _NUM_RE)} THEN "
                f"CASE WHEN {d.isfinite(value)} THEN {value} END END"
            )

        num_from, num_to = _number_translation()
        translated = d.translate(expr, d.text(num_from), d.text(num_to))
        return (
            f"CASE WHEN coalesce({d.byte_length(expr)} = {d.char_length(expr)}, TRUE) "
            f"THEN {parse(d.trim_chars(expr, space))} "
            f"ELSE {parse(d.trim_chars(translated, space))} END"
        )

    def email_domain(self, email: str, part: str) -> str:
        """``records.email_domain``: ``rsplit('@')[1].strip().lower()`` or NULL.

        ``part`` names a column holding ``last_after(email, '@')``, derived once.
        """
        d = self.d
        ascii_spaces = "".join(c for c in _space_chars() if c.isascii())
        # ASCII whitespace sorts at or below ' ': most domains need no trim at all
        edge = d.text(" ")
        ascii_stripped = (
            f"CASE WHEN {d.first_char(part)} <= {edge} OR {d.last_char(part)} <= {edge} "
            f"THEN {d.trim_chars(part, d.text(ascii_spaces))} ELSE {part} END"
        )
        other_stripped = d.trim_chars(part, d.text(_space_chars()))
        if d.python_case_tables:
            other = _mapped(d, other_stripped, _python_lower_map())
        else:
            other = d.lower_i_dot(other_stripped)
        lowered = (
            f"CASE WHEN {d.byte_length(part)} = {d.char_length(part)} "
            f"THEN lower({ascii_stripped}) ELSE {other} END"
        )
        return f"CASE WHEN {d.contains(email, d.text('@'))} THEN nullif({lowered}, '') END"

    # -- field resolution --------------------------------------------------------------------
    def event_value(self, ref: FieldRef, ctx: _Context) -> _Value:
        events = self.schema.events
        label = ref.dotted
        if ref.key is None:
            column = ref.name
            return self.event_column(column, label, ctx)
        if self.schema.properties == "json":
            return self.json_value(ref.key)
        if ref.key in EVENT_RESERVED:
            raise ctx.fail(
                f"{label}: with flat property columns the column {ref.key!r} is an event "
                "field, not a property; use a JSON 'properties' column"
            )
        if not events.has(ref.key):
            self.missing.add(f"events.{ref.key}")
            return _Value(NULL, "NULL", label)
        return self.event_column(ref.key, label, ctx)

    def event_column(self, column: str, label: str, ctx: _Context) -> _Value:
        kind = self.schema.events.kind_of(column)
        self.event_columns.add(column)
        if kind is None:
            self.missing.add(f"events.{column}")
            return _Value(NULL, "NULL", label)
        self.check_kind(kind, label, ctx)
        base = f"{self.q('e')}.{self.q(column)}"
        if kind == FLOAT:
            base = self.d.to_double(base)
        return _Value(kind, self.q(self.ev.add(base)), label, base=base)

    def json_value(self, key: str) -> _Value:
        self.event_columns.add("properties")
        d = self.d
        doc = f"{self.q('e')}.{self.q('properties')}"
        nested = d.json_path(key.split("."))
        if "." in key:
            flat = d.json_path([key])
            type_expr = f"coalesce({d.json_type(doc, flat)}, {d.json_type(doc, nested)})"
            text_expr = (
                f"CASE WHEN {d.json_type(doc, flat)} IS NOT NULL THEN {d.json_text(doc, flat)} "
                f"ELSE {d.json_text(doc, nested)} END"
            )
        else:
            type_expr = d.json_type(doc, nested)
            text_expr = d.json_text(doc, nested)
        type_alias = self.q(self.ev.add(type_expr))
        text_alias = self.q(self.ev.add(text_expr))
        return _Value(JSON, text_alias, f"properties.{key}", type_sql=type_alias, base=text_expr)

    def record_value(self, ref: FieldRef, ctx: _Context) -> _Value:
        label = ref.dotted
        if ref.scope is Scope.LEAD:
            table, alias, reserved = self.schema.leads, "l", LEAD_RESERVED
            if ref.key is None:
                if ref.name == "email_domain":
                    email = self.record_value(FieldRef(Scope.LEAD, "email"), ctx)
                    if email.kind == NULL:
                        return _Value(NULL, "NULL", label)
                    if email.kind != TEXT:
                        raise ctx.fail(f"lead.email must be a text column, not {email.kind}")
                    self.email_domain_sql = self.email_domain(self.q("email"), self.q(_EMAIL_PART))
                    sql = f"{self.q('l')}.{self.q(_EMAIL_DOMAIN)}"
                    return _Value(TEXT, sql, label, sigma_lowered=True)
                column = "lead_id" if ref.name == "id" else ref.name
            else:
                column = ref.key
        else:
            if self.schema.accounts is None:
                return _Value(NULL, "NULL", label)
            table, alias, reserved = self.schema.accounts, "a", ACCOUNT_RESERVED
            column = "account_id" if ref.key is None and ref.name == "id" else (ref.key or ref.name)
        if ref.key is not None and ref.key in reserved:
            # a custom attribute with a built-in column's name never exists
            return _Value(NULL, "NULL", label)
        kind = table.kind_of(column)
        if ref.scope is Scope.LEAD and ref.key is None and ref.name in BOOL_FIELDS:
            if kind is None or kind == NULL:
                return _Value(BOOL, "FALSE", label, nullable=False)
            if kind != BOOL:
                raise ctx.fail(f"{label} must be a boolean column, not {kind}")
            sql = f"coalesce({self.q(alias)}.{self.q(column)}, FALSE)"
            return _Value(BOOL, sql, label, nullable=False)
        if kind is None:
            self.missing.add(f"{'leads' if alias == 'l' else 'accounts'}.{column}")
            return _Value(NULL, "NULL", label)
        self.check_kind(kind, label, ctx)
        sql = f"{self.q(alias)}.{self.q(column)}"
        if kind == FLOAT:
            sql = self.d.to_double(sql)
        return _Value(kind, sql, label)

    def check_kind(self, kind: str, label: str, ctx: _Context) -> None:
        if kind not in SCALAR_KINDS:
            shown = kind.removeprefix("unsupported:")
            raise ctx.fail(
                f"{label} is a {shown} column; the {self.d.name} engine compares only text, "
                "numbers and booleans (no lists, structs, dates or timestamps)"
            )

    # -- predicates ---------------------------------------------------------------------------
    def predicate(self, pred: Predicate, value: _Value, ctx: _Context) -> str:
        try:
            return self._predicate(pred, value, ctx)
        except UnsupportedConstructError as exc:
            if str(exc).startswith(ctx.where):
                raise
            raise ctx.fail(f"{pred.field.dotted}: {exc}") from None

    def _predicate(self, pred: Predicate, value: _Value, ctx: _Context) -> str:
        op = pred.op
        if value.kind == NULL:
            return self.d.boolean(op is Op.EXISTS and pred.operand is False)
        if op is Op.EXISTS:
            if value.kind == JSON:
                missing = f"({value.type_sql} IS NULL OR {value.type_sql} = 'NULL')"
            else:
                missing = f"({value.sql} IS NULL)"
            return missing if pred.operand is False else f"(NOT {missing})"
        if value.kind == JSON:
            return self.json_predicate(pred, value, ctx)
        body = self.scalar_test(pred, value.kind, value, ctx)
        if not value.nullable:
            return f"({body})"
        return f"({value.sql} IS NOT NULL AND {body})"

    def json_predicate(self, pred: Predicate, value: _Value, ctx: _Context) -> str:
        d = self.d
        t, s = value.type_sql, value.sql
        text_v = _Value(TEXT, s, value.label, base=value.base)
        int_v = _Value(INT, s, value.label, num_sql=d.to_double(s))
        float_v = _Value(FLOAT, d.to_double(s), value.label)
        bool_v = _Value(BOOL, f"({s} = 'true')", value.label)
        message = (
            f"{RUNTIME_UNSUPPORTED}{ctx.where}: {value.label} holds a list or object; "
            f"the {d.name} engine compares only text, numbers and booleans"
        )
        int_test = self.scalar_test(pred, INT, int_v, ctx)
        float_test = self.scalar_test(pred, FLOAT, float_v, ctx)
        return (
            f"(CASE WHEN {t} IS NULL OR {t} = 'NULL' THEN FALSE "
            f"WHEN {t} = 'VARCHAR' THEN {self.scalar_test(pred, TEXT, text_v, ctx)} "
            f"WHEN {t} IN ('BIGINT', 'UBIGINT') THEN {int_test} "
            f"WHEN {t} = 'DOUBLE' THEN CASE WHEN {d.regex_full(s, '-?[0-9]+')} THEN {int_test} "
            f"ELSE {float_test} END "
            + (f"WHEN {t} = 'FLOAT' THEN {float_test} " if d.json_float_type else "")
            + f"WHEN {t} = 'BOOLEAN' THEN {self.scalar_test(pred, BOOL, bool_v, ctx)} "
            f"ELSE {d.raise_error(message)} END)"
        )

    def fold_of(self, value: _Value) -> str:
        if value.fold_sql is not None:
            return value.fold_sql
        if value.base is not None:  # derived once in the events scan, shared by rules
            return self.q(self.ev.add(self.casefold(value.base)))
        return self.casefold(value.sql)

    def num_of(self, value: _Value) -> str:
        if value.num_sql is not None:
            return value.num_sql
        if value.base is not None:
            return self.q(self.ev.add(self.parse_number(value.base)))
        return self.parse_number(value.sql)

    def scalar_test(self, pred: Predicate, kind: str, value: _Value, ctx: _Context) -> str:
        """The predicate on a non-NULL value of ``kind``; never NULL itself."""
        d = self.d
        op, operand = pred.op, pred.operand
        v = value.sql
        if op in (Op.EQ, Op.NE):
            assert not isinstance(operand, tuple)
            if isinstance(operand, (int, float)) and not isinstance(operand, bool):
                target = self.num(float(operand))
                if kind == TEXT:
                    test = f"coalesce({self.num_of(value)} = {target}, FALSE)"
                elif kind == INT:
                    test = f"({value.num_sql or d.to_double(v)} = {target})"
                elif kind == FLOAT:
                    test = f"({v} = {target})"
                else:
                    test = "FALSE"
            else:
                test = self.fold_in(kind, value, (fold(operand),))
            return test if op is Op.EQ else f"(NOT {test})"
        if op in (Op.IN, Op.IN_LIST, Op.NOT_IN, Op.NOT_IN_LIST):
            test = self.fold_in(kind, value, tuple(sorted(pred.members)))
            return test if op in (Op.IN, Op.IN_LIST) else f"(NOT {test})"
        if op in (Op.GT, Op.GTE, Op.LT, Op.LTE, Op.BETWEEN):
            if kind == BOOL:
                return "FALSE"
            if kind == TEXT:
                number = self.num_of(value)
            elif kind == INT:
                number = value.num_sql or d.to_double(v)
            else:
                number = v
            if op is Op.BETWEEN:
                assert isinstance(operand, tuple)
                low, high = operand
                compare = f"{number} BETWEEN {self.num(float(low))} AND {self.num(float(high))}"
            else:
                assert isinstance(operand, (int, float))
                symbol = {Op.GT: ">", Op.GTE: ">=", Op.LT: "<", Op.LTE: "<="}[op]
                compare = f"{number} {symbol} {self.num(float(operand))}"
            if kind == TEXT:
                return f"coalesce({compare}, FALSE)"
            if kind == FLOAT:
                return f"(NOT {d.isnan(v)} AND {compare})"
            return f"({compare})"
        if op in (Op.CONTAINS, Op.STARTS_WITH, Op.ENDS_WITH):
            needle = d.text(str(operand).casefold())
            if kind == TEXT:
                hay = self.fold_of(value)
            elif kind == BOOL:
                hay = f"(CASE WHEN {v} THEN 'true' ELSE 'false' END)"
            elif kind == FLOAT:  # str() of a float (repr) is already case-folded
                hay = d.float_text(v)
            else:
                hay = d.to_text(v)
            fn = {Op.CONTAINS: d.contains, Op.STARTS_WITH: d.starts_with}.get(op, d.ends_with)
            return f"{fn(hay, needle)}"
        if op is Op.REGEX:
            translation = translate_regex(str(operand))
            if translation.sigma_sensitive and value.sigma_lowered:
                raise ctx.fail(
                    f"{value.label}: a case-sensitive regex on Greek sigma cannot be matched "
                    "exactly on the derived email domain"
                )
            if kind == TEXT:
                subject = v
            elif kind == BOOL:
                subject = f"(CASE WHEN {v} THEN 'True' ELSE 'False' END)"
            elif kind == FLOAT:
                subject = d.float_text(v)
            else:
                subject = d.to_text(v)
            return d.regex_search(subject, d.regex_pattern(translation.pattern))
        raise ctx.fail(f"operator {op.value} is not supported")

    def fold_in(self, kind: str, value: _Value, members: Sequence[str]) -> str:
        """``fold(value) in members`` for a non-NULL value."""
        d = self.d
        v = value.sql
        if kind == TEXT:
            folded = self.fold_of(value)
            return _in_list(folded, [d.text(m) for m in members])
        if kind == INT:
            ints = [m for member in members for m in _member_ints(member)]
            return _in_list(d.to_text(v), [d.text(m) for m in ints])
        if kind == BOOL:
            truths = {m for m in members if m in ("true", "false")}
            if truths == {"true", "false"}:
                return "TRUE"
            if not truths:
                return "FALSE"
            return f"({v})" if truths == {"true"} else f"(NOT {v})"
        doubles: list[float] = []
        nan = False
        for member in members:
            found, is_nan = _member_doubles(member)
            doubles.extend(found)
            nan = nan or is_nan
        parts = []
        if doubles:
            literals = [
                self.num(x) if math.isfinite(x) else d.special_double(x)
                for x in sorted(set(doubles))
            ]
            parts.append(f"(NOT {d.isnan(v)} AND {_in_list(v, literals)})")
        if nan:
            parts.append(d.isnan(v))
        return "(" + " OR ".join(parts) + ")" if parts else "FALSE"


def _compare(compiler: _ValueCompiler, expr: str, op: Op, operand: Any) -> str:
    if op is Op.BETWEEN:
        low, high = operand
        return f"({expr} BETWEEN {compiler.num(low)} AND {compiler.num(high)})"
    symbol = {Op.GT: ">", Op.GTE: ">=", Op.LT: "<", Op.LTE: "<=", Op.EQ: "="}[op]
    return f"({expr} {symbol} {compiler.num(float(operand))})"


def _in_list(expr: str, literals: Sequence[str]) -> str:
    if not literals:
        return "FALSE"
    if len(literals) == 1:
        return f"({expr} = {literals[0]})"
    return f"({expr} IN ({', '.join(literals)}))"


def _epoch_us(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("as_of must carry a time zone")
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
