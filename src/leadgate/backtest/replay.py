"""Point-in-time replay: when would each lead first have met a model's MQL definition?

A lead's verdict on day *d* is the compiled model evaluated at the end of *d*
(UTC) over the events up to that instant, nothing later: the same query as a
rescore, run in checkpoint mode (:func:`leadgate.engines.compile_model` with
``checkpoints=True``) so that one query scores many (lead, instant) pairs.

What keeps it fast (see :mod:`leadgate.backtest.shape`):

* a lead is checked only on the days that can change its verdict: days it (or,
  with roll-ups, its account) did something the model reads or had a score
  adjustment made or revoked, and the day it was created, when the definition can
  only fall between them; every day otherwise;
* days are replayed in windows, oldest first, and a lead that has qualified is
  not checked again (with roll-ups, once its whole account has);
* each window reads only the events of the leads it checks, up to its last day.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from leadgate.backtest.shape import ModelShape, model_shape
from leadgate.common.sql import quote_ident, quote_text
from leadgate.engines.compiler import (
    CHECKPOINT_COLUMN,
    COUNTED_SINCE_COLUMN,
    EVERY_EVENT_COUNTS,
    compile_model,
)
from leadgate.engines.duckdb_engine import DuckDBEngine
from leadgate.lifecycle import Stage
from leadgate.scoring.nodes import ScoringModel

__all__ = [
    "DAY_US",
    "ReplayInput",
    "ReplayResult",
    "day_end",
    "epoch_us",
    "nurture_spans",
    "replay",
]

DAY_US = 86_400_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_us(moment: datetime) -> int:
    """Microseconds since the epoch (UTC) of an aware datetime."""
    return (moment.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1)


def day_end(day: int) -> datetime:
    """The last microsecond of UTC day number ``day`` (days since 1970-01-01)."""
    return _EPOCH + timedelta(microseconds=(day + 1) * DAY_US - 1)


@dataclass(frozen=True)
class ReplayInput:
    """The relations the compiled model reads, plus when each lead came to exist.

    ``events``/``leads``/``accounts`` have the layout of a rescore; ``starts`` has
    ``lead_id`` and ``start`` (a UTC timestamp, e.g. the lead's creation); a lead
    absent from it starts at its first event.
    """

    events: pa.Table
    leads: pa.Table
    accounts: pa.Table | None
    starts: pa.Table | None = None
    #: ``lead_id``, ``from``, ``until`` (UTC timestamps; ``until`` null while open): the
    #: spans a lead sat in nurture. At an instant inside one, only the lead's events
    #: (and score adjustments) after ``from`` count, as for a recycled lead today
    #: (None: every event counts).
    recycled: pa.Table | None = None
    #: score adjustments (``lead_id``, ``group_name``, ``points``, ``at``,
    #: ``revoked_at``): each counts from its ``at`` until its ``revoked_at``
    adjustments: pa.Table | None = None


@dataclass(frozen=True)
class ReplayResult:
    """Rows the replay kept, and what it cost."""

    hits: pa.Table  # lead_id, as_of_us, group scores, grade, mql (+ what keep selected)
    checkpoints: int
    windows: int
    every_day: bool
    seconds: float


_q = quote_ident


def _with_counted_since(instants: str) -> str:
    """The checkpoints with ``since_us``: when the lead sits in nurture at that instant,
    the moment it was recycled (only later events count), else every event counts."""
    return (
        f"SELECT k.lead_id, k.{CHECKPOINT_COLUMN}, "
        f'coalesce(max(epoch_us(r."from")), {EVERY_EVENT_COUNTS}) AS {COUNTED_SINCE_COLUMN} '
        f"FROM ({instants}) k LEFT JOIN recycled__raw r ON r.lead_id = k.lead_id "
        f'AND epoch_us(r."from") <= k.{CHECKPOINT_COLUMN} '
        f'AND (r."until" IS NULL OR k.{CHECKPOINT_COLUMN} < epoch_us(r."until")) '
        f"GROUP BY k.lead_id, k.{CHECKPOINT_COLUMN}"
    )


def _adjustment_days(end_us: int, columns: dict[str, str] | None) -> str:
    """The days a score adjustment was made or revoked (each may change a verdict), as
    a ``UNION`` onto the activity days (nothing without adjustments)."""
    if columns is None:
        return ""
    moments = [
        name
        for name in ("at", "revoked_at")
        if columns.get(name, "").upper().startswith("TIMESTAMP")
    ]
    return "".join(
        f"\n            UNION SELECT lead_id, "
        f"CAST(floor(epoch_us({_q(name)}) / {DAY_US}) AS BIGINT) "
        f"FROM adjustments WHERE epoch_us({_q(name)}) <= {end_us}"
        for name in moments
    )


def nurture_spans(changes: pa.Table) -> pa.Table:
    """From stage changes (``lead_id``, ``to_stage``, ``at``, in time order), the spans
    each lead sat in nurture: ``lead_id``, ``from``, ``until`` (null while open)."""
    spans: list[dict[str, object]] = []
    open_since: dict[str, int] = {}
    for row in changes.select(["lead_id", "to_stage", "at"]).to_pylist():
        lead, stage, at = row["lead_id"], row["to_stage"], row["at"]
        if lead in open_since:
            spans[open_since.pop(lead)]["until"] = at
        if stage == Stage.NURTURE.value:
            open_since[lead] = len(spans)
            spans.append({"lead_id": lead, "from": at, "until": None})
    moment = pa.timestamp("us", tz="UTC")
    return pa.Table.from_pylist(
        spans, schema=pa.schema([("lead_id", pa.string()), ("from", moment), ("until", moment)])
    )


def replay(
    model: ScoringModel,
    data: ReplayInput,
    *,
    end: datetime,
    keep: str = '"mql"',
    done: str = '"mql"',
    window_days: int = 28,
    shape: ModelShape | None = None,
    threads: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> ReplayResult:
    """Evaluate ``model`` at the end of each candidate day up to ``end``.

    ``keep`` (SQL over the output columns) selects the rows returned; once a row
    satisfies ``done`` its lead is not checked on later days. The defaults give
    the first day each lead met the MQL definition.
    """
    started = time.perf_counter()
    shape = shape or model_shape(model)
    end_us = epoch_us(end)
    end_day = end_us // DAY_US
    engine = DuckDBEngine(threads=threads)
    try:
        con = engine.con
        engine.register("events", data.events)
        engine.register("leads", data.leads)
        if data.accounts is not None:
            engine.register("accounts", data.accounts)
        adjusted = data.adjustments is not None
        if data.adjustments is not None:
            engine.register("adjustments", data.adjustments)
        starts = data.starts
        if starts is None:
            starts = pa.table(
                {
                    "lead_id": pa.array([], pa.string()),
                    "start": pa.array([], pa.timestamp("us", tz="UTC")),
                }
            )
        con.register("starts__raw", starts)
        recycled = data.recycled is not None and data.recycled.num_rows > 0
        if recycled:
            con.register("recycled__raw", data.recycled)
        query = compile_model(
            model,
            as_of=end,
            schema=engine.schema(),
            dialect="duckdb",
            tables={"events": "bt_events", "checkpoints": "checkpoints"},
            checkpoints=True,
            counted_since=recycled,
        )
        types = list(query.event_types)
        type_filter = (
            "type IN (" + ", ".join(quote_text(t) for t in types) + ")" if types else "FALSE"
        )
        account = "account_id" if "account_id" in engine.describe("leads") else "NULL"
        con.execute(
            f"""
            CREATE TEMP TABLE lead_days AS
            SELECT DISTINCT lead_id, CAST(floor(epoch_us(ts) / {DAY_US}) AS BIGINT) AS day
            FROM events WHERE epoch_us(ts) <= {end_us} AND {type_filter}
            {_adjustment_days(end_us, engine.describe("adjustments") if adjusted else None)};
            CREATE TEMP TABLE lead_info AS
            SELECT l.lead_id, CAST({account} AS VARCHAR) AS account_id,
                   least(s.day, d.day) AS first_day
            FROM leads l
            LEFT JOIN (
                SELECT lead_id, min(CAST(floor(epoch_us(start) / {DAY_US}) AS BIGINT)) AS day
                FROM starts__raw GROUP BY lead_id
            ) s ON s.lead_id = l.lead_id
            LEFT JOIN (SELECT lead_id, min(day) AS day FROM lead_days GROUP BY lead_id) d
              ON d.lead_id = l.lead_id;
            CREATE TEMP TABLE done (lead_id VARCHAR);
            """
        )
        if shape.event_days_suffice:
            con.execute(
                """
                CREATE TEMP TABLE cand AS
                SELECT lead_id, day FROM lead_days
                UNION SELECT lead_id, first_day FROM lead_info WHERE first_day IS NOT NULL
                """
            )
            if shape.uses_account:
                con.execute(
                    """
                    INSERT INTO cand
                    SELECT i.lead_id, c.day
                    FROM cand c JOIN lead_info a ON a.lead_id = c.lead_id
                    JOIN lead_info i ON i.account_id = a.account_id
                    WHERE a.account_id IS NOT NULL
                    EXCEPT SELECT lead_id, day FROM cand
                    """
                )
        first = con.execute("SELECT min(first_day) FROM lead_info").fetchall()[0]
        first_day = None if first is None or first[0] is None else int(first[0])
        hits: list[pa.Table] = []
        checkpoints = windows = 0
        day = first_day if first_day is not None else end_day + 1
        while day <= end_day:
            last = min(day + window_days - 1, end_day)
            active = "lead_id NOT IN (SELECT lead_id FROM done)"
            if shape.uses_account:
                active = (
                    "(lead_id NOT IN (SELECT lead_id FROM done) OR account_id IN ("
                    "SELECT account_id FROM lead_info WHERE account_id IS NOT NULL "
                    "AND lead_id NOT IN (SELECT lead_id FROM done)))"
                )
            if shape.event_days_suffice:
                days = (
                    f"SELECT c.lead_id, c.day FROM cand c JOIN lead_info USING (lead_id) "
                    f"WHERE c.day BETWEEN {day} AND {last} AND {active}"
                )
            else:
                days = (
                    f"SELECT lead_id, r.range AS day FROM lead_info, range({day}, {last + 1}) r "
                    f"WHERE first_day IS NOT NULL AND r.range >= first_day AND {active}"
                )
            instants = (
                f"SELECT lead_id, least((day + 1) * {DAY_US} - 1, {end_us}) AS "
                f"{CHECKPOINT_COLUMN} FROM ({days})"
            )
            if recycled:
                instants = _with_counted_since(instants)
            con.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE checkpoints AS {instants};
                CREATE OR REPLACE TEMP VIEW bt_events AS
                SELECT * FROM events
                WHERE epoch_us(ts) <= {min((last + 1) * DAY_US - 1, end_us)}
                  AND lead_id IN (SELECT lead_id FROM checkpoints);
                """
            )
            count = con.execute("SELECT count(*) FROM checkpoints").fetchall()[0]
            windows += 1
            found = 0 if count is None else int(count[0])
            checkpoints += found
            if found:
                wrapped = dataclasses.replace(
                    query, sql=f"SELECT * FROM (\n{query.sql}) WHERE {keep}"
                )
                table = engine.execute(wrapped)
                if table.num_rows:
                    hits.append(table)
                    con.register("window_hits", table)
                    con.execute(
                        f"INSERT INTO done SELECT DISTINCT lead_id FROM window_hits WHERE {done}"
                    )
                    con.unregister("window_hits")
            if progress is not None and first_day is not None:
                progress(100.0 * (last - first_day + 1) / (end_day - first_day + 1))
            day = last + 1
    finally:
        engine.close()
    columns = list(query.output_columns)
    if hits:
        result = pa.concat_tables(hits)
    else:
        result = pa.table(
            {
                name: pa.array([], pa.string() if name in ("lead_id", "grade") else pa.float64())
                for name in columns
            }
        )
    return ReplayResult(
        hits=result,
        checkpoints=checkpoints,
        windows=windows,
        every_day=not shape.event_days_suffice,
        seconds=time.perf_counter() - started,
    )
