"""What counts as a good MQL: reaching a funnel stage, or a value recorded on the lead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

from leadgate.common.text import parse_timestamp
from leadgate.exceptions import LeadgateError
from leadgate.lifecycle import FUNNEL_ORDER, Stage
from leadgate.reports.history import History, attribute_text

__all__ = ["FUNNEL_ORDER", "Outcome", "reached_at", "resolve_outcomes"]

_YES = frozenset({"true", "yes", "y", "1", "won", "converted"})
_NO = frozenset({"false", "no", "n", "0", "lost", ""})


@dataclass(frozen=True)
class Outcome:
    """A lead reached the outcome, ``at`` when known (None: a yes without a date)."""

    at: datetime | None


def reached_at(history: History, stage: Stage) -> dict[str, datetime]:
    """First time each lead entered ``stage`` or any later forward stage."""
    if stage not in FUNNEL_ORDER:
        raise LeadgateError(
            f"{stage.value} is not a forward funnel stage; use one of "
            + ", ".join(s.value for s in FUNNEL_ORDER)
        )
    later = {s.value for s in FUNNEL_ORDER[FUNNEL_ORDER.index(stage) :]}
    first: dict[str, datetime] = {}
    changes = history.changes
    for lead_id, to_stage, at in zip(
        changes.column("lead_id").to_pylist(),
        changes.column("to_stage").to_pylist(),
        changes.column("at").to_pylist(),
        strict=True,
    ):
        if to_stage in later and (lead_id not in first or at < first[lead_id]):
            first[lead_id] = at
    return first


def resolve_outcomes(history: History, outcome: str) -> dict[str, Outcome]:
    """Leads that reached ``outcome``: a stage name, or ``attributes.NAME`` (a date,
    a timestamp, or a yes/no value recorded on the lead)."""
    name = outcome.strip()
    try:
        stage = Stage(name.lower())
    except ValueError:
        stage = None
    if stage is not None:
        return {lead: Outcome(at) for lead, at in reached_at(history, stage).items()}
    key = name.removeprefix("attributes.")
    if not key:
        raise LeadgateError("--outcome: give a stage (sql, customer, ...) or attributes.NAME")
    leads = history.leads
    values = attribute_text(leads.column("attributes").to_pylist(), key).to_pylist()
    found: dict[str, Outcome] = {}
    seen_any = False
    for lead_id, value in zip(leads.column("lead_id").to_pylist(), values, strict=True):
        if value is None:
            continue
        seen_any = True
        text = value.strip()
        if text.lower() in _NO:
            continue
        if text.lower() in _YES:
            found[lead_id] = Outcome(None)
            continue
        try:
            at = parse_timestamp(text, assume_tz=UTC)
        except ValueError:
            raise LeadgateError(
                f"--outcome {outcome}: lead {lead_id} has {value!r}, which is neither a date "
                "nor a yes/no value"
            ) from None
        found[lead_id] = Outcome(at)
    if not seen_any:
        stages = ", ".join(s.value for s in FUNNEL_ORDER)
        raise LeadgateError(
            f"--outcome {outcome}: no lead has an attribute {key!r}; "
            f"use a stage ({stages}) or attributes.NAME"
        )
    return found


def outcome_table(outcomes: dict[str, Outcome]) -> pa.Table:
    """The outcomes as a table (lead_id, at)."""
    return pa.table(
        {
            "lead_id": pa.array(list(outcomes), pa.string()),
            "at": pa.array([o.at for o in outcomes.values()], pa.timestamp("us", tz="UTC")),
        }
    )
