"""Conditions, event rules, the MQL definition and the one query (the compiler's top)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from leadgate.engines.compiler.adjustments import AdjustmentSums
from leadgate.engines.compiler.dialect import Dialect, dialect_for
from leadgate.engines.compiler.kinds import (
    _EMAIL_DOMAIN,
    _EMAIL_PART,
    CHECKPOINT_COLUMN,
    COUNTED_SINCE_COLUMN,
    FLOAT,
    INT,
    NULL,
    CompiledQuery,
    InputSchema,
)
from leadgate.engines.compiler.parts import _Context, _LeadLeaf
from leadgate.engines.compiler.values import _compare, _in_list, _ValueCompiler
from leadgate.exceptions import UnsupportedConstructError
from leadgate.scoring.nodes import (
    AllOf,
    AnyOf,
    AttributeRule,
    Condition,
    EventOccurred,
    EventRule,
    FieldRef,
    GradeIn,
    NotOf,
    Predicate,
    PredictedTest,
    Scope,
    ScoreTest,
    ScoringModel,
)

#: How the MQL definition keeps a leaf per lead (set while compiling the definition).
MqlLeaf = Callable[[Condition | _LeadLeaf, _Context], str]


class _Compiler(_ValueCompiler):
    # -- conditions: dispatched per node type (``_CONDITIONS`` below) --------------------------
    def condition(
        self,
        cond: Condition,
        ctx: _Context,
        *,
        event: bool,
        mql: MqlLeaf | None = None,
    ) -> str:
        """The SQL of a condition node; nodes without a compiler of their own are MQL
        leaves (score, grade, predicted and event tests), valid only in the definition."""
        self.refuse_unsupported(cond, ctx)
        compile_node = _CONDITIONS.get(type(cond))
        if compile_node is not None:
            return compile_node(self, cond, ctx, event, mql)
        if mql is None:
            raise ctx.fail(f"{type(cond).__name__} is only valid in an MQL definition")
        return mql(cond, ctx)

    def refuse_unsupported(self, node: object, ctx: _Context) -> None:
        """Refuse, before any SQL exists, a node the dialect declares it cannot run."""
        why = self.d.unsupported.get(type(node))
        if why is not None:
            raise ctx.fail(f"the {self.d.name} engine cannot run {type(node).__name__}: {why}")

    def children(
        self, cond: AllOf | AnyOf, ctx: _Context, event: bool, mql: MqlLeaf | None, key: str
    ) -> list[str]:
        return [
            self.condition(child, _Context(f"{ctx.where}.{key}[{i}]"), event=event, mql=mql)
            for i, child in enumerate(cond.children)
        ]

    # -- event rules and event tests ------------------------------------------------------------
    def event_match(
        self,
        types: Sequence[str],
        within: float | None,
        where: Condition | None,
        ctx: _Context,
    ) -> str:
        self.event_types.update(types)
        parts = [_in_list(self.q("type"), [self.d.text(t) for t in types])]
        if within is not None:
            parts.append(f"{self.q('age')} <= {self.num(within)}")
        if where is not None:
            parts.append(self.condition(where, _Context(f"{ctx.where}.where"), event=True))
        return " AND ".join(parts)

    def event_rule(self, rule: EventRule, ctx: _Context) -> str:
        """Registers the aggregate; returns the per-lead contribution expression."""
        match = self.event_match(rule.event_types, rule.within_days, rule.where, ctx)
        points = self.num(rule.points)
        if rule.half_life_days is None:
            count = self.add_agg(f"count(*) FILTER (WHERE {match})")
            count = f"coalesce({count}, 0)"
            if rule.max_count is not None:
                count = f"least({count}, {rule.max_count})"
            return f"({self.d.to_double(count)} * {points})"
        half_life = self.num(rule.half_life_days)
        if rule.max_count is None:
            age = self.q("age")
            share = f"{points} * {self.d.pow_half(f'{age} / {half_life}')}"
            total = self.add_agg(f"{self.d.fsum(share)} FILTER (WHERE {match})")
            return f"coalesce({total}, {self.num(0.0)})"
        latest = self.add_agg(self.d.top_n(self.q("ts_us"), rule.max_count, match))
        age = self.age_of("t")
        share = f"{points} * {self.d.pow_half(f'{age} / {half_life}')}"
        return f"coalesce({self.d.fsum_map_list(latest, 't', share)}, {self.num(0.0)})"

    def event_test(self, cond: EventOccurred, ctx: _Context) -> str:
        match = self.event_match(cond.types, cond.within_days, cond.where, ctx)
        if not cond.after:
            count = self.add_agg(f"count(*) FILTER (WHERE {match})")
            return f"(coalesce({count}, 0) >= {cond.min_count})"
        self.event_types.update(cond.after)
        after = _in_list(self.q("type"), [self.d.text(t) for t in cond.after])
        start = self.add_agg(f"min({self.q('ts_us')}) FILTER (WHERE {after})")
        latest = self.add_agg(self.d.top_n(self.q("ts_us"), cond.min_count, match))
        nth = self.d.list_get(latest, cond.min_count)
        return (
            f"coalesce({start} IS NOT NULL AND {self.d.list_len(latest)} >= {cond.min_count} "
            f"AND {nth} > {start}, FALSE)"
        )

    # -- the query ----------------------------------------------------------------------------
    def compile(self) -> CompiledQuery:
        model, d, q = self.model, self.d, self.q
        reserved_out = {"lead_id", "grade", "mql"}
        for group in model.groups:
            if group.name in reserved_out:
                raise UnsupportedConstructError(
                    f"group {group.name!r}: the output already has a column of that name"
                )
        adjusted = AdjustmentSums(self)
        # rule groups: contribution expressions per lead
        lead_cols: list[tuple[str, str]] = []  # (expression, alias) in the per-lead stage
        group_totals: dict[str, str] = {}
        for group in model.rule_groups:
            parts = []
            for rule in group.rules:
                ctx = _Context(f"rule {rule.id!r} (group {group.name})")
                self.refuse_unsupported(rule, ctx)
                if isinstance(rule, AttributeRule):
                    cond = self.condition(rule.when, _Context(f"{ctx.where} when"), event=False)
                    expr = f"CASE WHEN {cond} THEN {self.num(rule.points)} ELSE {self.num(0.0)} END"
                else:
                    expr = self.event_rule(rule, ctx)
                alias = f"r{len(lead_cols)}"
                lead_cols.append((expr, alias))
                parts.append(q(alias))
            group_totals[group.name] = d.fsum_list(parts)
        # the MQL definition: leaves that need leads/accounts/events go to the per-lead stage
        mql_sql = "FALSE"
        if model.mql is not None:
            mql_sql = self.condition(
                model.mql,
                _Context("mql"),
                event=False,
                mql=lambda cond, ctx: self.mql_leaf(cond, ctx, lead_cols),
            )
        # lead-level predicates in the MQL were inlined by condition(); keep them per lead
        ctes: list[str] = []
        ctes.append(self.events_cte())
        ctes.append(self.agg_cte())
        if adjusted.active:
            ctes.append(adjusted.cte())
        ctes.append(self.lead_cte(lead_cols, adjusted))
        # group scores (clamped, then adjusted), then roll-ups, grade, MQL
        score_cols = []
        for group in model.rule_groups:
            total = self.clamp(group_totals[group.name], group.min_points, group.max_points)
            total = adjusted.score(group.name, total)
            score_cols.append(f"{total} AS {q('s_' + group.name)}")
        ctes.append(f"{q('scored')} AS (SELECT *, {', '.join(score_cols)} FROM {q('per_lead')})")
        rollups = []
        for group in model.rollup_groups:
            source = q("s_" + group.source)
            keys = q("account_key") + (f", {q(CHECKPOINT_COLUMN)}" if self.checkpoints else "")
            window = f"OVER (PARTITION BY {keys})"
            if group.how == "max":
                rolled = f"max({source}) {window}"
            elif group.how == "avg":
                rolled = f"{d.fsum(source)} {window} / count(*) {window}"
            else:
                rolled = f"{d.fsum(source)} {window}"
            expr = f"CASE WHEN {q('account_key')} IS NULL THEN {source} ELSE {rolled} END"
            rollups.append(
                f"{self.clamp(expr, group.min_points, group.max_points)} AS {q('s_' + group.name)}"
            )
        if rollups:
            ctes.append(f"{q('rolled')} AS (SELECT *, {', '.join(rollups)} FROM {q('scored')})")
        last = q("rolled") if rollups else q("scored")
        grade_sql = d.null_text()
        if model.grades is not None:
            source = q("s_" + model.grades.group)
            whens = " ".join(
                f"WHEN {source} >= {self.num(lower)} THEN {d.text(label)}"
                for label, lower in model.grades.bands
            )
            grade_sql = f"CASE {whens} ELSE {d.text(model.grades.otherwise)} END"
        ctes.append(f"{q('graded')} AS (SELECT *, {grade_sql} AS {q('grade')} FROM {last})")
        out_keys = [q("lead_id")] + ([q(CHECKPOINT_COLUMN)] if self.checkpoints else [])
        outputs = list(out_keys)
        outputs += [f"{q('s_' + g.name)} AS {q(g.name)}" for g in model.groups]
        outputs += [q("grade"), f"{mql_sql} AS {q('mql')}"]
        instant = "each checkpoint" if self.checkpoints else self.as_of.isoformat()
        sql = (
            f"-- leadgate {model.label} as of {instant} ({d.name})\n"
            "WITH\n"
            + ",\n".join(ctes)
            + "\nSELECT\n  "
            + ",\n  ".join(outputs)
            + f"\nFROM {q('graded')}\nORDER BY {', '.join(out_keys)}\n"
        )
        return CompiledQuery(
            sql=sql,
            dialect=d.name,
            model_label=model.label,
            as_of=self.as_of,
            score_columns=model.group_names,
            missing_columns=tuple(sorted(self.missing)),
            event_types=tuple(sorted(self.event_types)),
            event_columns=tuple(sorted(self.event_columns)),
            checkpoints=self.checkpoints,
        )

    def mql_leaf(
        self, cond: Condition | _LeadLeaf, ctx: _Context, lead_cols: list[tuple[str, str]]
    ) -> str:
        self.refuse_unsupported(cond, ctx)
        d, q = self.d, self.q
        if isinstance(cond, ScoreTest):
            total = d.fsum_list([q("s_" + name) for name in cond.groups])
            return _compare(self, total, cond.op, cond.operand)
        if isinstance(cond, GradeIn):
            return _in_list(q("grade"), [d.text(g) for g in cond.grades])
        if isinstance(cond, PredictedTest):
            value = self.record_value(FieldRef(Scope.LEAD, "predicted"), ctx)
            if value.kind == NULL:
                return "FALSE"
            if value.kind not in (FLOAT, INT):
                raise ctx.fail(f"leads.predicted must be a number column, not {value.kind}")
            alias = f"r{len(lead_cols)}"
            lead_cols.append((d.to_double(value.sql), alias))
            column = q(alias)
            test = _compare(self, column, cond.op, cond.operand)
            return f"coalesce(NOT {d.isnan(column)} AND {test}, FALSE)"
        if isinstance(cond, (EventOccurred, _LeadLeaf)):
            sql = cond.sql if isinstance(cond, _LeadLeaf) else self.event_test(cond, ctx)
            alias = f"r{len(lead_cols)}"
            lead_cols.append((sql, alias))
            return q(alias)
        raise ctx.fail(f"{type(cond).__name__} is not supported")

    def clamp(self, expr: str, low: float | None, high: float | None) -> str:
        if high is not None:
            hi = self.num(high)
            expr = f"(CASE WHEN {expr} > {hi} THEN {hi} ELSE {expr} END)"
        if low is not None:
            lo = self.num(low)
            expr = f"(CASE WHEN {expr} < {lo} THEN {lo} ELSE {expr} END)"
        return expr

    def events_cte(self) -> str:
        d, q = self.d, self.q
        ts = f"{q('e')}.{q('ts')}"
        ts_us = d.epoch_us(ts)
        cols = [
            f"{q('e')}.{q('lead_id')} AS {q('lead_id')}",
            f"{q('e')}.{q('type')} AS {q('type')}",
            f"{ts_us} AS {q('ts_us')}",
        ]
        if not self.checkpoints:
            cols.append(f"{self.age_of(ts_us)} AS {q('age')}")
        cols += [f"{expr} AS {q(alias)}" for expr, alias in self.ev.columns.items()]
        source = f"{q(self.tables['events'])} AS {q('e')}"
        where = "TRUE" if self.checkpoints else f"{ts_us} <= {self.as_of_us}"
        if self.event_types:
            where += " AND " + _in_list(
                f"{q('e')}.{q('type')}", [d.text(t) for t in sorted(self.event_types)]
            )
        else:
            where += " AND FALSE"
        name = q("ev0") if self.checkpoints else q("ev")
        scan = (
            f"{name} AS (\n  SELECT\n    "
            + ",\n    ".join(cols)
            + f"\n  FROM {source}\n  WHERE {where}\n)"
        )
        if not self.checkpoints:
            return scan
        # every event once per later checkpoint of its lead, aged from that checkpoint
        # (with counted_since: only those after the checkpoint's recycling instant)
        cp = q("cp")
        since = (
            f" AND {q('x')}.{q('ts_us')} > {cp}.{q(COUNTED_SINCE_COLUMN)}"
            if self.counted_since
            else ""
        )
        return (
            f"{scan},\n{q('ev')} AS (\n  SELECT\n    {q('x')}.*,\n"
            f"    {cp}.{q(CHECKPOINT_COLUMN)} AS {q(CHECKPOINT_COLUMN)},\n"
            f"    {self.age_of(q('x') + '.' + q('ts_us'))} AS {q('age')}\n"
            f"  FROM {q('ev0')} AS {q('x')}\n"
            f"  JOIN {q(self.tables['checkpoints'])} AS {cp}\n"
            f"    ON {cp}.{q('lead_id')} = {q('x')}.{q('lead_id')} "
            f"AND {q('x')}.{q('ts_us')} <= {cp}.{q(CHECKPOINT_COLUMN)}{since}\n)"
        )

    def agg_cte(self) -> str:
        q = self.q
        keys = [q("lead_id")] + ([q(CHECKPOINT_COLUMN)] if self.checkpoints else [])
        cols = keys + [f"{expr} AS {q(alias)}" for expr, alias in self.agg]
        return (
            f"{q('agg')} AS (\n  SELECT\n    "
            + ",\n    ".join(cols)
            + f"\n  FROM {q('ev')}\n  GROUP BY {', '.join(keys)}\n)"
        )

    def lead_cte(self, lead_cols: list[tuple[str, str]], adjusted: AdjustmentSums) -> str:
        q = self.q
        leads = self.schema.leads
        account_key = (
            f"{q('l')}.{q('account_id')}" if leads.has("account_id") else self.d.null_text()
        )
        cols = [
            f"{q('l')}.{q('lead_id')} AS {q('lead_id')}",
            f"{account_key} AS {q('account_key')}",
        ]
        cp = q("cp")
        if self.checkpoints:
            cols.append(f"{cp}.{q(CHECKPOINT_COLUMN)} AS {q(CHECKPOINT_COLUMN)}")
        cols += [f"{expr} AS {q(alias)}" for expr, alias in lead_cols]
        if adjusted.active:
            cols += adjusted.columns()
        source = f"{q(self.tables['leads'])} AS {q('l')}"
        if self.email_domain_sql is not None:
            part = self.d.last_after(q("email"), "@")
            source = (
                f"(SELECT *, {self.email_domain_sql} AS {q(_EMAIL_DOMAIN)} "
                f"FROM (SELECT *, {part} AS {q(_EMAIL_PART)} "
                f"FROM {q(self.tables['leads'])})) AS {q('l')}"
            )
        if self.checkpoints:
            source = (
                f"{q(self.tables['checkpoints'])} AS {cp}\n  JOIN {source} "
                f"ON {q('l')}.{q('lead_id')} = {cp}.{q('lead_id')}"
            )
        if self.schema.accounts is not None and leads.has("account_id"):
            source += (
                f"\n  LEFT JOIN {q(self.tables['accounts'])} AS {q('a')} "
                f"ON {q('a')}.{q('account_id')} = {q('l')}.{q('account_id')}"
            )
        elif self.schema.accounts is not None:
            source += (
                f"\n  LEFT JOIN (SELECT * FROM {q(self.tables['accounts'])} WHERE FALSE) "
                f"AS {q('a')} ON FALSE"
            )
        on = f"{q('g')}.{q('lead_id')} = {q('l')}.{q('lead_id')}"
        if self.checkpoints:
            on += f" AND {q('g')}.{q(CHECKPOINT_COLUMN)} = {cp}.{q(CHECKPOINT_COLUMN)}"
        source += f"\n  LEFT JOIN {q('agg')} AS {q('g')} ON {on}"
        if adjusted.active:
            source += adjusted.join(f"{cp}.{q(CHECKPOINT_COLUMN)}" if self.checkpoints else None)
        return (
            f"{q('per_lead')} AS (\n  SELECT\n    " + ",\n    ".join(cols) + f"\n  FROM {source}\n)"
        )


# -- one compiler per condition node ------------------------------------------------------------


def _predicate(
    c: _Compiler, cond: Predicate, ctx: _Context, event: bool, mql: MqlLeaf | None
) -> str:
    if event:
        return c.predicate(cond, c.event_value(cond.field, ctx), ctx)
    sql = c.predicate(cond, c.record_value(cond.field, ctx), ctx)
    if mql is not None:  # an MQL leaf on lead/account fields: kept per lead
        return mql(_LeadLeaf(sql), ctx)
    return sql


def _all_of(c: _Compiler, cond: AllOf, ctx: _Context, event: bool, mql: MqlLeaf | None) -> str:
    parts = c.children(cond, ctx, event, mql, "all")
    return "(" + " AND ".join(parts) + ")" if parts else "TRUE"


def _any_of(c: _Compiler, cond: AnyOf, ctx: _Context, event: bool, mql: MqlLeaf | None) -> str:
    parts = c.children(cond, ctx, event, mql, "any")
    return "(" + " OR ".join(parts) + ")" if parts else "FALSE"


def _not_of(c: _Compiler, cond: NotOf, ctx: _Context, event: bool, mql: MqlLeaf | None) -> str:
    inner = c.condition(cond.child, _Context(f"{ctx.where}.not"), event=event, mql=mql)
    return f"(NOT {inner})"


_CONDITIONS: dict[type, Callable[[_Compiler, Any, _Context, bool, MqlLeaf | None], str]] = {
    Predicate: _predicate,
    AllOf: _all_of,
    AnyOf: _any_of,
    NotOf: _not_of,
}


def compile_model(
    model: ScoringModel,
    *,
    as_of: datetime,
    schema: InputSchema | None = None,
    dialect: str | Dialect = "duckdb",
    tables: Mapping[str, str] | None = None,
    checkpoints: bool = False,
    counted_since: bool = False,
) -> CompiledQuery:
    """Compile ``model`` at ``as_of`` into one query over ``events``/``leads``/``accounts``
    (and ``adjustments`` when the schema has them: see
    :mod:`leadgate.engines.compiler.adjustments`).

    With ``checkpoints`` the query scores every row of a fourth relation,
    ``checkpoints`` (``lead_id``, ``as_of_us``: microseconds since the epoch, UTC),
    each lead as of its own instants (each pair at most once), and returns one row
    per checkpoint (keys
    ``lead_id``, ``as_of_us``); ``as_of`` then only labels the query. This is the
    point-in-time replay behind backtests: the same meaning at many moments. With
    ``counted_since`` the checkpoints also carry ``since_us``: at that checkpoint only
    the lead's events after it count (the counted-events rule of a recycled lead,
    :func:`leadgate.scorecards.service.counted_since`, replayed from its history).

    Raises :class:`UnsupportedConstructError` naming the rule (or MQL path) for
    anything the dialect cannot express exactly.
    """
    chosen = dialect if isinstance(dialect, Dialect) else dialect_for(dialect)
    names = {
        "events": "events",
        "leads": "leads",
        "accounts": "accounts",
        "adjustments": "adjustments",
        "checkpoints": "checkpoints",
        **(tables or {}),
    }
    if counted_since and not checkpoints:
        raise ValueError("counted_since applies to checkpoint mode only")
    compiler = _Compiler(
        model,
        schema or InputSchema.canonical(),
        chosen,
        as_of,
        names,
        checkpoints=checkpoints,
        counted_since=counted_since,
    )
    return compiler.compile()
