"""Read the funnel's history as Arrow: leads with their breakdown fields, and every stage move.

Both reports (funnel, backtest outcomes) work on these two tables, read in one
pass through the same ADBC readers as rescoring (no ORM objects).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlalchemy.engine import make_url

from leadgate.rescoring.reader import read_tables

__all__ = ["DIMENSIONS", "History", "attribute_text", "read_history", "read_scores"]

#: Breakdown fields of the reports and where each comes from.
DIMENSIONS: dict[str, str] = {
    "source": "the lead's source",
    "channel": "the lead's channel",
    "campaign": "the lead's campaign",
    "landing_page": "the lead's custom attribute landing_page",
    "industry": "the account's industry",
    "country": "the lead's country, else the account's",
    "tier": "the account's ABM tier",
    "owner": "the account's owner",
    "cohort": "the month the lead entered the conversion's first stage",
    "first_touch_channel": "the default channel group of the lead's first tracked touch",
    "first_touch_source": "the UTM source (else referring site) of the lead's first touch",
    "first_touch_medium": "the UTM medium of the lead's first touch",
    "first_touch_campaign": "the UTM campaign of the lead's first touch",
    "latest_touch_channel": "the default channel group of the lead's latest non-direct touch",
    "latest_touch_source": "the UTM source (else referring site) of the lead's latest touch",
    "latest_touch_medium": "the UTM medium of the lead's latest touch",
    "latest_touch_campaign": "the UTM campaign of the lead's latest touch",
}
#: The attribution breakdowns: ``leads`` columns of the same names (docs/website-tracking.md).
_TOUCH_COLUMNS = tuple(name for name in DIMENSIONS if name.startswith(("first_", "latest_")))

_TS = pa.timestamp("us", tz="UTC")
_LEAD_TYPES: dict[str, pa.DataType] = {
    "lead_id": pa.string(),
    "email": pa.string(),
    "created_at": _TS,
    "stage": pa.string(),
    "source": pa.string(),
    "channel": pa.string(),
    "campaign": pa.string(),
    "country": pa.string(),
    "industry": pa.string(),
    "tier": pa.string(),
    "owner": pa.string(),
    "account_id": pa.string(),
    "attributes": pa.string(),
    **dict.fromkeys(_TOUCH_COLUMNS, pa.string()),
}
_CHANGE_TYPES: dict[str, pa.DataType] = {
    "lead_id": pa.string(),
    "from_stage": pa.string(),
    "to_stage": pa.string(),
    "at": _TS,
}


_TASK_TYPES: dict[str, pa.DataType] = {
    "lead_id": pa.string(),
    "created_at": _TS,
    "due_at": _TS,
    "completed_at": _TS,
    "status": pa.string(),
    "sla_met": pa.bool_(),
}


@dataclass(frozen=True)
class History:
    """``leads``: one row per lead with the breakdown fields and ``attributes`` (JSON
    text); ``changes``: lead_id, from_stage, to_stage, at (UTC), in time order;
    ``tasks``: the handoff tasks with their SLA outcome (empty before the service ran)."""

    leads: pa.Table
    changes: pa.Table
    tasks: pa.Table | None = None


def attribute_text(documents: Iterable[str | None], key: str) -> pa.Array:
    """One custom attribute out of JSON documents, as text (numbers as written)."""
    values: list[str | None] = []
    for document in documents:
        parsed: Any = json.loads(document) if document else None
        value = parsed.get(key) if isinstance(parsed, dict) else None
        if value is None or isinstance(value, (dict, list)):
            values.append(None)
        elif isinstance(value, bool):
            values.append("true" if value else "false")
        else:
            values.append(str(value))
    return pa.array(values, type=pa.string())


def read_history(url: str) -> History:
    """Leads (with account fields, ``landing_page`` and their touches) and the stage history."""
    backend = make_url(url).get_backend_name()
    as_text = "{}" if backend == "sqlite" else "CAST({} AS TEXT)"
    tables = read_tables(
        url,
        {
            "leads": (
                "SELECT l.id AS lead_id, l.email, l.created_at, l.stage, l.source, l.channel, "
                "l.campaign, coalesce(l.country, a.country) AS country, a.industry, a.tier, "
                f"a.owner, l.account_id, {as_text.format('l.attributes')} AS attributes, "
                + ", ".join(f"l.{name}" for name in _TOUCH_COLUMNS)
                + " FROM leads l LEFT JOIN accounts a ON a.id = l.account_id ORDER BY l.id",
                _LEAD_TYPES,
            ),
            "changes": (
                "SELECT lead_id, from_stage, to_stage, at FROM stage_changes ORDER BY at, id",
                _CHANGE_TYPES,
            ),
            "tasks": (
                "SELECT lead_id, created_at, due_at, completed_at, status, sla_met FROM tasks",
                _TASK_TYPES,
            ),
        },
    )
    leads = tables["leads"]
    leads = leads.append_column(
        "landing_page", attribute_text(leads.column("attributes").to_pylist(), "landing_page")
    )
    return History(leads=leads, changes=tables["changes"], tasks=tables["tasks"])


def read_scores(url: str) -> dict[str, dict[str, float]]:
    """Each scored lead's latest group scores (from the stored scorecards)."""
    backend = make_url(url).get_backend_name()
    as_text = "{}" if backend == "sqlite" else "CAST({} AS TEXT)"
    table = read_tables(
        url,
        {
            "scores": (
                f"SELECT lead_id, {as_text.format('scores')} AS scores FROM scorecards",
                {"lead_id": pa.string(), "scores": pa.string()},
            )
        },
    )["scores"]
    return {
        lead_id: {str(k): float(v) for k, v in json.loads(doc).items() if v is not None}
        for lead_id, doc in zip(
            table.column("lead_id").to_pylist(), table.column("scores").to_pylist(), strict=True
        )
        if doc
    }
