"""The funnel report: stage entries, cohort conversions, time in stage, by any breakdown.

Conversions are **cohort-based**: of the leads that reached stage A in the
period, the share that reached stage B afterwards (by the end of the data), never
a ratio of two unrelated counts (this month's SQLs over this month's MQLs mixes
different leads). Reaching a later forward stage counts as passing the ones
between the stage the lead entered the funnel at and that one (imported CRM
history may jump from MQL straight to customer); a lead created as ``lead``
never counts as a subscriber.
Time in stage is measured over finished stays (entered in the period, left
since); leads still in a stage are counted apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb

from leadgate.backtest.outcomes import FUNNEL_ORDER
from leadgate.common.sql import quote_ident
from leadgate.exceptions import LeadgateError
from leadgate.reports.history import DIMENSIONS, History

__all__ = ["CONVERSIONS", "TYPICAL_MQL_TO_SQL", "FunnelReport", "funnel_report", "typical_note"]

#: Consecutive (and headline) conversions the report shows.
CONVERSIONS: tuple[tuple[str, str], ...] = (
    ("lead", "mql"),
    ("mql", "sal"),
    ("sal", "sql"),
    ("mql", "sql"),
    ("sql", "customer"),
)
#: The MQL to SQL range our sources quote as typical for B2B.
TYPICAL_MQL_TO_SQL = (0.10, 0.15)
_STAGES = [stage.value for stage in FUNNEL_ORDER]


def typical_note(rate: float | None) -> str:
    """A plain-language reading of an MQL to SQL rate against the typical range."""
    low, high = TYPICAL_MQL_TO_SQL
    if rate is None:
        return "no lead became an MQL in the period, so there is no MQL to SQL rate"
    if rate < low:
        return (
            f"{rate:.1%} is below the 10-15 % often quoted as typical: the MQL definition may be "
            "too loose (sales gets leads that are not ready), or follow-up may be too slow"
        )
    if rate > high:
        return (
            f"{rate:.1%} is above the 10-15 % often quoted as typical: the definition may be "
            "strict enough that good leads wait in marketing; a backtest of a looser one "
            "shows what sales would gain"
        )
    return f"{rate:.1%} is within the 10-15 % often quoted as typical"


@dataclass
class FunnelReport:
    """The funnel over a period, overall and per value of one breakdown."""

    start: date | None
    end: date | None
    by: str | None
    overall: dict[str, Any]
    groups: list[dict[str, Any]] = field(default_factory=list)
    sla: dict[str, Any] = field(default_factory=dict)

    @property
    def mql_to_sql(self) -> float | None:
        for conversion in self.overall["conversions"]:
            if conversion["from"] == "mql" and conversion["to"] == "sql":
                rate: float | None = conversion["rate"]
                return rate
        return None

    def to_dict(self) -> dict[str, Any]:
        rate = self.mql_to_sql
        return {
            "period": {
                "from": None if self.start is None else self.start.isoformat(),
                "to": None if self.end is None else self.end.isoformat(),
            },
            "by": self.by,
            **self.overall,
            "mql_to_sql": {
                "rate": rate,
                "typical": list(TYPICAL_MQL_TO_SQL),
                "note": typical_note(rate),
            },
            "sla": self.sla
            or {
                "recorded": False,
                "note": "no handoff tasks in the period (the service records them: leadgate serve)",
            },
            "groups": self.groups,
        }


_q = quote_ident


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _period(column: str, start: date | None, end: date | None) -> str:
    parts = []
    if start is not None:
        parts.append(f"CAST({column} AS DATE) >= DATE '{start.isoformat()}'")
    if end is not None:
        parts.append(f"CAST({column} AS DATE) <= DATE '{end.isoformat()}'")
    return " AND ".join(parts) or "TRUE"


def funnel_report(
    history: History,
    *,
    by: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> FunnelReport:
    """Compute the funnel from the stage history (see the module docstring)."""
    if by is not None and by not in DIMENSIONS:
        raise LeadgateError(f"--by {by}: choose one of {', '.join(DIMENSIONS)}")
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("leads_in", history.leads)
        con.register("changes_in", history.changes)
        order = ", ".join(f"('{stage}', {index})" for index, stage in enumerate(_STAGES))
        con.execute(
            f"""
            CREATE TEMP TABLE stage_order AS SELECT * FROM (VALUES {order}) t(stage, pos);
            -- the earliest forward stage each lead is on record in (where it entered)
            CREATE TEMP TABLE entry AS
            SELECT c.lead_id, min(r.pos) AS pos
            FROM changes_in c JOIN stage_order r ON r.stage = c.to_stage
            GROUP BY c.lead_id;
            -- first time each lead reached each forward stage, or a later one (a jump
            -- passes the stages between where the lead entered and where it landed)
            CREATE TEMP TABLE reached AS
            SELECT c.lead_id, o.stage, min(c."at") AS "at"
            FROM changes_in c
            JOIN stage_order r ON r.stage = c.to_stage
            JOIN entry e ON e.lead_id = c.lead_id
            JOIN stage_order o ON o.pos <= r.pos AND o.pos >= e.pos
            GROUP BY c.lead_id, o.stage;
            -- every stay in a stage: from its change to the lead's next change
            CREATE TEMP TABLE stays AS
            SELECT lead_id, to_stage AS stage, "at",
                   lead("at") OVER (PARTITION BY lead_id ORDER BY "at", seq) AS left_at
            FROM (SELECT *, row_number() OVER () AS seq FROM changes_in);
            """
        )
        overall = _section(con, "TRUE", start, end)
        report = FunnelReport(start=start, end=end, by=by, overall=overall)
        if history.tasks is not None and history.tasks.num_rows:
            report.sla = _sla(con, history.tasks, start, end)
        if by == "cohort":
            months = con.execute(
                f"SELECT DISTINCT strftime(a.at, '%Y-%m') FROM reached a "
                f"WHERE {_period('a.at', start, end)} ORDER BY 1"
            ).fetchall()
            for (month,) in months:
                section = _section(con, "TRUE", start, end, month=str(month))
                report.groups.append({"value": month, **section})
        elif by is not None:
            values = con.execute(
                f"SELECT DISTINCT coalesce({_q(by)}, '(none)') FROM leads_in ORDER BY 1"
            ).fetchall()
            for (value,) in values:
                where = f"coalesce(l.{_q(by)}, '(none)') = {_text(str(value))}"
                section = _section(con, where, start, end)
                if any(stage["entered"] for stage in section["stages"]):
                    report.groups.append({"value": value, **section})
            report.groups.sort(key=lambda group: -_entered(group, "mql"))
    finally:
        con.close()
    return report


def _sla(
    con: duckdb.DuckDBPyConnection, tasks: Any, start: date | None, end: date | None
) -> dict[str, Any]:
    """Handoff SLA compliance: tasks created in the period, met, missed, still running."""
    con.register("tasks_in", tasks)
    met, missed, running = con.execute(
        f"""
        SELECT count(*) FILTER (WHERE sla_met),
               count(*) FILTER (WHERE NOT sla_met),
               count(*) FILTER (WHERE sla_met IS NULL)
        FROM tasks_in t WHERE {_period("t.created_at", start, end)}
        """
    ).fetchall()[0]
    decided = int(met) + int(missed)
    if decided + int(running) == 0:
        return {}
    rate = round(int(met) / decided, 4) if decided else None
    return {
        "recorded": True,
        "handoffs": decided + int(running),
        "met": int(met),
        "missed": int(missed),
        "not_yet_due": int(running),
        "rate": rate,
        "note": "no handoff has reached its due time yet"
        if rate is None
        else f"{rate:.1%} of handoffs were worked within their SLA ({met} of {decided})",
    }


def _entered(section: dict[str, Any], stage: str) -> int:
    return next(int(s["entered"]) for s in section["stages"] if s["stage"] == stage)


def _section(
    con: duckdb.DuckDBPyConnection,
    lead_filter: str,
    start: date | None,
    end: date | None,
    *,
    month: str | None = None,
) -> dict[str, Any]:
    """Entries, conversions and time in stage for the leads ``lead_filter`` selects.

    With ``month``, only entries (cohorts, stays) in that calendar month count.
    """
    leads = f"(SELECT l.lead_id FROM leads_in l WHERE {lead_filter})"

    def entered_in(column: str) -> str:
        when = _period(column, start, end)
        if month is not None:
            when += f" AND strftime({column}, '%Y-%m') = {_text(month)}"
        return when

    counts = dict(
        con.execute(
            f"SELECT a.stage, count(*) FROM reached a "
            f"WHERE {entered_in('a.at')} AND a.lead_id IN {leads} GROUP BY a.stage"
        ).fetchall()
    )
    stages = [{"stage": stage, "entered": int(counts.get(stage, 0))} for stage in _STAGES]
    conversions = []
    for source, target in CONVERSIONS:
        cohort, converted = con.execute(
            f"""
            SELECT count(*), count(b.lead_id)
            FROM reached a
            LEFT JOIN reached b
              ON b.lead_id = a.lead_id AND b.stage = {_text(target)} AND b.at >= a.at
            WHERE a.stage = {_text(source)} AND {entered_in("a.at")} AND a.lead_id IN {leads}
            """
        ).fetchall()[0]
        conversions.append(
            {
                "from": source,
                "to": target,
                "cohort": int(cohort),
                "converted": int(converted),
                "rate": round(converted / cohort, 4) if cohort else None,
            }
        )
    rows = con.execute(
        f"""
        SELECT stage,
          quantile_cont(days, 0.5) FILTER (WHERE days IS NOT NULL),
          quantile_cont(days, 0.9) FILTER (WHERE days IS NOT NULL),
          count(days),
          count(*) - count(days)
        FROM (SELECT *, epoch(left_at - "at") / 86400.0 AS days FROM stays) s
        WHERE {entered_in("s.at")} AND s.lead_id IN {leads}
        GROUP BY s.stage
        """
    ).fetchall()
    by_stage = {row[0]: row[1:] for row in rows}
    times = []
    for stage in [*_STAGES, "nurture", "disqualified"]:
        if stage not in by_stage:
            continue
        median, p90, finished, still = by_stage[stage]
        times.append(
            {
                "stage": stage,
                "median_days": None if median is None else round(float(median), 2),
                "p90_days": None if p90 is None else round(float(p90), 2),
                "finished_stays": int(finished),
                "still_in_stage": int(still),
            }
        )
    return {"stages": stages, "conversions": conversions, "time_in_stage": times}
