"""``leadgate backtest``: replay one or two models over the stored history and score them."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as day_time
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from leadgate.backtest.metrics import ModelScore, Period, describe_only, only_in, score_mqls
from leadgate.backtest.outcomes import Outcome, resolve_outcomes
from leadgate.backtest.replay import ReplayInput, ReplayResult, nurture_spans, replay
from leadgate.backtest.shape import model_shape
from leadgate.engines.compiler import CHECKPOINT_COLUMN, compile_model
from leadgate.exceptions import LeadgateError
from leadgate.lifecycle import Stage
from leadgate.reports.history import DIMENSIONS, History, read_history
from leadgate.rescoring.reader import operational_schema, read_operational
from leadgate.scoring.nodes import ScoringModel

__all__ = [
    "BacktestData",
    "BacktestReport",
    "ModelRun",
    "first_mql_times",
    "load_backtest_data",
    "parse_day",
    "period_end",
    "run_backtest",
]


@dataclass(frozen=True)
class BacktestData:
    """Everything a replay needs, read once: the model inputs and the history."""

    replay: ReplayInput
    history: History
    read_seconds: float


def _attributes_named(models: Sequence[ScoringModel], as_of: datetime) -> tuple[set[str], set[str]]:
    leads: set[str] = set()
    accounts: set[str] = set()
    for model in models:
        missing = compile_model(model, as_of=as_of, schema=operational_schema()).missing_columns
        leads |= {name.split(".", 1)[1] for name in missing if name.startswith("leads.")}
        accounts |= {name.split(".", 1)[1] for name in missing if name.startswith("accounts.")}
    return leads, accounts


def load_backtest_data(
    database_url: str, models: Sequence[ScoringModel], *, end: datetime
) -> BacktestData:
    """Read the events the models mention (every lead's whole history up to ``end``),
    the leads and accounts, and the stage history."""
    started = time.perf_counter()
    lead_attributes, account_attributes = _attributes_named(models, end)
    schema = operational_schema(
        lead_attributes=lead_attributes, account_attributes=account_attributes
    )
    types: set[str] = set()
    columns: set[str] = set()
    for model in models:
        query = compile_model(model, as_of=end, schema=schema)
        types.update(query.event_types)
        columns.update(query.event_columns)
    tables = read_operational(
        database_url,
        as_of=end,
        event_types=types,
        event_columns=columns,
        lead_attributes=lead_attributes,
        account_attributes=account_attributes,
        since_recycling=False,
    )
    history = read_history(database_url)
    starts = history.leads.select(["lead_id", "created_at"]).rename_columns(["lead_id", "start"])
    # predictions on record were made with later knowledge: never part of a replay
    leads = tables.leads.drop_columns(["predicted"])
    return BacktestData(
        replay=ReplayInput(
            events=tables.events,
            leads=leads,
            accounts=tables.accounts,
            starts=starts,
            # a recycled lead counts only what it did after recycling, as scoring does
            recycled=nurture_spans(history.changes),
            # made at a known instant: a replay sees each from its ``at`` only
            adjustments=tables.adjustments,
        ),
        history=history,
        read_seconds=time.perf_counter() - started,
    )


def first_mql_times(result: ReplayResult) -> dict[str, datetime]:
    """Each lead's first MQL instant out of a replay's kept rows."""
    hits = result.hits
    if hits.num_rows == 0:
        return {}
    grouped = hits.group_by("lead_id").aggregate([(CHECKPOINT_COLUMN, "min")])
    instants = pc.cast(grouped.column(f"{CHECKPOINT_COLUMN}_min"), pa.int64())
    as_ts = instants.cast(pa.timestamp("us", tz="UTC"))
    return dict(zip(grouped.column("lead_id").to_pylist(), as_ts.to_pylist(), strict=True))


@dataclass
class ModelRun:
    """One model's replay and its score."""

    model: ScoringModel
    result: ReplayResult
    first_mql: dict[str, datetime]
    score: ModelScore


@dataclass
class BacktestReport:
    """The replay of one or two models over a period, against an outcome."""

    period: Period
    outcome: str
    leads: int
    events: int
    runs: list[ModelRun]
    recorded: ModelScore
    read_seconds: float
    compare: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": {"from": self.period.start.isoformat(), "to": self.period.end.isoformat()},
            "outcome": self.outcome,
            "by": self.recorded.by,
            "leads": self.leads,
            "events_read": self.events,
            "read_seconds": round(self.read_seconds, 3),
            "models": [
                {
                    "model": run.model.label,
                    "checkpoints": run.result.checkpoints,
                    "days_checked": "every day" if run.result.every_day else "activity days",
                    "replay_seconds": round(run.result.seconds, 3),
                    **run.score.to_dict(),
                }
                for run in self.runs
            ],
            "on_record": self.recorded.to_dict(),
            "compare": self.compare,
        }


def period_end(period: Period) -> datetime:
    """The last microsecond of the period's last day (UTC)."""
    return datetime.combine(period.end, day_time.max, tzinfo=UTC)


def _recorded_mqls(history: History) -> dict[str, datetime]:
    first: dict[str, datetime] = {}
    changes = history.changes
    for lead_id, to_stage, at in zip(
        changes.column("lead_id").to_pylist(),
        changes.column("to_stage").to_pylist(),
        changes.column("at").to_pylist(),
        strict=True,
    ):
        if to_stage == Stage.MQL.value and (lead_id not in first or at < first[lead_id]):
            first[lead_id] = at
    return first


def run_backtest(
    data: BacktestData,
    models: Sequence[ScoringModel],
    *,
    outcome: str,
    period: Period,
    progress: Callable[[str, float], None] | None = None,
    by: str = "channel",
) -> BacktestReport:
    """Replay each model up to the period's end and score its MQLs against ``outcome``,
    overall and per value of the report breakdown ``by`` (a lead field of DIMENSIONS)."""
    if by not in DIMENSIONS or by == "cohort":
        choices = ", ".join(name for name in DIMENSIONS if name != "cohort")
        raise LeadgateError(f"--by {by}: choose one of {choices}")
    if len({model.label for model in models}) < len(models):
        raise LeadgateError(
            f"--compare: both models are {models[0].label}; raise the version "
            "of the changed one so the two can be told apart"
        )
    for model in models:
        model_shape(model)  # refuse what cannot be replayed before any work
    outcomes: dict[str, Outcome] = resolve_outcomes(data.history, outcome)
    leads = data.history.leads
    groups = dict(
        zip(leads.column("lead_id").to_pylist(), leads.column(by).to_pylist(), strict=True)
    )
    emails = dict(
        zip(leads.column("lead_id").to_pylist(), leads.column("email").to_pylist(), strict=True)
    )
    runs = []
    for model in models:
        tick = None if progress is None else (lambda p, label=model.label: progress(label, p))
        result = replay(model, data.replay, end=period_end(period), progress=tick)
        first = first_mql_times(result)
        score = score_mqls(model.label, first, outcomes, groups, period, by=by)
        runs.append(ModelRun(model=model, result=result, first_mql=first, score=score))
    recorded = score_mqls(
        "on record", _recorded_mqls(data.history), outcomes, groups, period, by=by
    )
    report = BacktestReport(
        period=period,
        outcome=outcome,
        leads=leads.num_rows,
        events=data.replay.events.num_rows,
        runs=runs,
        recorded=recorded,
        read_seconds=data.read_seconds,
    )
    if len(runs) == 2:
        first_run, second_run = runs

        only_first = only_in(first_run.score, second_run.first_mql, period)
        only_second = only_in(second_run.score, first_run.first_mql, period)
        both = len(first_run.score.mql_leads) - len(only_first)
        report.compare = {
            "both": both,
            "only_" + first_run.model.label: describe_only(only_first, outcomes, emails),
            "only_" + second_run.model.label: describe_only(only_second, outcomes, emails),
        }
    return report


def parse_day(value: str, option: str) -> date:
    """A ``YYYY-MM-DD`` option value."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise LeadgateError(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from None
