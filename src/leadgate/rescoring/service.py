"""Rescore every stored lead through the compiled query: diff first, then apply in bulk.

:func:`plan_rescore` reads the operational database as Arrow (see
:mod:`leadgate.rescoring.reader`), runs the model compiled for the chosen
engine, and compares the verdicts with the stages on record: who would enter
MQL, who sits in MQL without meeting the definition any more, by grade and by
channel. :func:`apply_plan` then writes the stage changes and their history
rows in the caller's transaction, re-checking each lead's stage first so that a
change made since the plan was read is never overwritten.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from leadgate.engines.checks import run_checked
from leadgate.engines.compiler import (
    compile_model,
)
from leadgate.engines.runner import open_engine
from leadgate.leads.models import Lead, StageChange
from leadgate.lifecycle import AUTO_QUALIFY_FROM, Stage, check_transition
from leadgate.rescoring.reader import OperationalTables, operational_schema, read_operational
from leadgate.scoring.nodes import ScoringModel

__all__ = [
    "LeadChange",
    "RescorePlan",
    "StoredScores",
    "apply_plan",
    "plan_rescore",
    "score_stored",
]

_BATCH = 5_000


@dataclass(frozen=True)
class LeadChange:
    """One lead's stage change that the plan proposes."""

    lead_id: str
    email: str
    from_stage: str
    to_stage: str
    grade: str | None
    channel: str | None
    scores: dict[str, float]
    stage_changed_at: datetime  # as read: a later change means someone moved the lead since


@dataclass
class RescorePlan:
    """What rescoring the stored leads with ``model`` as of ``as_of`` would change."""

    model: str
    as_of: datetime
    engine: str
    leads: int = 0
    events: int = 0
    mql_verdicts: int = 0
    enter: list[LeadChange] = field(default_factory=list)
    leave: list[LeadChange] = field(default_factory=list)
    not_moved_stale: int = 0
    grades: Counter[str] = field(default_factory=Counter)
    read_seconds: float = 0.0
    score_seconds: float = 0.0

    def breakdown(self, changes: Sequence[LeadChange], key: str) -> dict[str, int]:
        counts = Counter(str(getattr(change, key) or "(none)") for change in changes)
        return dict(counts.most_common())

    def to_dict(self, *, examples: int = 10) -> dict[str, Any]:
        return {
            "model": self.model,
            "as_of": self.as_of.isoformat(),
            "engine": self.engine,
            "leads": self.leads,
            "events_read": self.events,
            "mql_verdicts": self.mql_verdicts,
            "would_enter_mql": len(self.enter),
            "would_leave_mql": len(self.leave),
            "enter_by_grade": self.breakdown(self.enter, "grade"),
            "enter_by_channel": self.breakdown(self.enter, "channel"),
            "leave_by_grade": self.breakdown(self.leave, "grade"),
            "leave_by_channel": self.breakdown(self.leave, "channel"),
            "not_moved_as_of_before_stage_change": self.not_moved_stale,
            "grades": dict(sorted(self.grades.items())),
            "read_seconds": round(self.read_seconds, 3),
            "score_seconds": round(self.score_seconds, 3),
            "enter_examples": [change.email for change in self.enter[:examples]],
            "leave_examples": [change.email for change in self.leave[:examples]],
        }


def _attributes_named(model: ScoringModel, as_of: datetime) -> tuple[list[str], list[str]]:
    """Custom attributes the model reads: the columns the built-in layout lacks."""
    missing = compile_model(model, as_of=as_of, schema=operational_schema()).missing_columns
    leads = [name.split(".", 1)[1] for name in missing if name.startswith("leads.")]
    accounts = [name.split(".", 1)[1] for name in missing if name.startswith("accounts.")]
    return leads, accounts


@dataclass(frozen=True)
class StoredScores:
    """Every stored lead scored by the compiled model: one row per lead (``lead_id``,
    a column per group, ``grade``, ``mql``), the tables read, and how long it took."""

    scored: pa.Table
    tables: OperationalTables
    engine: str
    read_seconds: float
    score_seconds: float


def score_stored(
    database_url: str,
    *,
    model: ScoringModel,
    as_of: datetime,
    engine: str = "duckdb",
    spark_master: str | None = None,
    progress: Callable[[float], None] | None = None,
) -> StoredScores:
    """Score every stored lead as of ``as_of`` through the compiled query (the same
    counted-events rule as the evaluator: see :mod:`leadgate.rescoring.reader`)."""
    lead_attributes, account_attributes = _attributes_named(model, as_of)
    started = time.perf_counter()
    query_for_types = compile_model(
        model,
        as_of=as_of,
        schema=operational_schema(
            lead_attributes=lead_attributes, account_attributes=account_attributes
        ),
    )
    tables = read_operational(
        database_url,
        as_of=as_of,
        event_types=query_for_types.event_types,
        event_columns=query_for_types.event_columns,
        lead_attributes=lead_attributes,
        account_attributes=account_attributes,
    )
    read_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with open_engine(engine, spark_master=spark_master) as runner:
        runner.register("events", tables.events)
        runner.register("leads", tables.leads)
        runner.register("accounts", tables.accounts)
        runner.register("adjustments", tables.adjustments)
        query = runner.compile(model, as_of)
        scored = run_checked(runner, query, progress=progress)
        engine_name = runner.name
    return StoredScores(
        scored=scored,
        tables=tables,
        engine=engine_name,
        read_seconds=read_seconds,
        score_seconds=time.perf_counter() - started,
    )


def plan_rescore(
    database_url: str,
    *,
    model: ScoringModel,
    as_of: datetime,
    engine: str = "duckdb",
    spark_master: str | None = None,
    progress: Callable[[float], None] | None = None,
) -> RescorePlan:
    """Score every stored lead with the compiled model and compare with the stages."""
    result = score_stored(
        database_url,
        model=model,
        as_of=as_of,
        engine=engine,
        spark_master=spark_master,
        progress=progress,
    )
    plan = RescorePlan(
        model=model.label,
        as_of=as_of,
        engine=result.engine,
        leads=result.scored.num_rows,
        events=result.tables.events.num_rows,
        read_seconds=result.read_seconds,
        score_seconds=result.score_seconds,
    )
    _compare(plan, result.scored, result.tables.stages, model.group_names)
    return plan


def _compare(plan: RescorePlan, scored: pa.Table, stages: pa.Table, groups: Sequence[str]) -> None:
    on_record = {row["lead_id"]: row for row in stages.to_pylist()}
    for row in scored.to_pylist():
        record = on_record[row["lead_id"]]
        if row["grade"] is not None:
            plan.grades[row["grade"]] += 1
        stage = Stage(record["stage"])
        scores = {group: float(row[group]) for group in groups}
        if row["mql"]:
            plan.mql_verdicts += 1
            if stage not in AUTO_QUALIFY_FROM:
                continue
            if record["stage_changed_at"] > plan.as_of:
                plan.not_moved_stale += 1
                continue
            target = Stage.MQL
            bucket = plan.enter
        elif stage is Stage.MQL:
            target = Stage.NURTURE
            bucket = plan.leave
        else:
            continue
        bucket.append(
            LeadChange(
                lead_id=row["lead_id"],
                email=record["email"],
                from_stage=stage.value,
                to_stage=target.value,
                grade=row["grade"],
                channel=record["channel"],
                scores=scores,
                stage_changed_at=record["stage_changed_at"],
            )
        )


def _reason(plan: RescorePlan, change: LeadChange) -> str:
    scores = ", ".join(f"{name} {value:g}" for name, value in change.scores.items())
    grade = f", grade {change.grade}" if change.grade else ""
    run = f"(bulk rescore as of {plan.as_of.isoformat()}): {scores}{grade}"
    if change.to_stage == Stage.MQL.value:
        return f"qualified by {plan.model} {run}"
    return f"no longer meets the MQL definition of {plan.model} {run}"


def apply_plan(
    session: Session,
    plan: RescorePlan,
    *,
    actor: str | None = None,
    demote: bool = False,
) -> dict[str, int]:
    """Write the plan's stage changes with history rows, in bulk, in ``session``'s transaction.

    Leads entering MQL move always; leads that no longer meet the definition move
    to ``nurture`` only with ``demote`` (sales may already be working them). A
    lead whose stage changed since the plan was read is skipped and counted.
    """
    actor = actor or f"system:{plan.model}"
    changes = list(plan.enter) + (list(plan.leave) if demote else [])
    applied = Counter[str]()
    for start in range(0, len(changes), _BATCH):
        batch = changes[start : start + _BATCH]
        current = {
            row.id: (row.stage, row.stage_changed_at)
            for row in session.execute(
                select(Lead.id, Lead.stage, Lead.stage_changed_at).where(
                    Lead.id.in_([change.lead_id for change in batch])
                )
            )
        }
        ready = []
        for change in batch:
            stage, changed_at = current.get(change.lead_id, (None, None))
            if stage != change.from_stage or changed_at != change.stage_changed_at:
                applied["skipped_changed_since"] += 1
                continue
            check_transition(change.from_stage, change.to_stage)
            ready.append(change)
        for target in {change.to_stage for change in ready}:
            ids = [change.lead_id for change in ready if change.to_stage == target]
            session.execute(
                update(Lead)
                .where(Lead.id.in_(ids))
                .values(stage=target, stage_changed_at=plan.as_of, updated_at=plan.as_of)
                .execution_options(synchronize_session=False)
            )
            applied[f"moved_to_{target}"] += len(ids)
        if ready:
            session.execute(
                insert(StageChange),
                [
                    {
                        "lead_id": change.lead_id,
                        "from_stage": change.from_stage,
                        "to_stage": change.to_stage,
                        "at": plan.as_of,
                        "actor": actor,
                        "reason": _reason(plan, change),
                    }
                    for change in ready
                ],
            )
    return dict(applied)
