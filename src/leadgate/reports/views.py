"""Thin router for reports: the funnel as the CLI's ``report funnel --json`` gives it."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict

from leadgate.api.deps import SalesKey, state
from leadgate.exceptions import LeadgateError
from leadgate.reports.funnel import funnel_report
from leadgate.reports.history import DIMENSIONS, read_history

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


class FunnelAnswer(BaseModel):
    """``leadgate report funnel --json``: the period, the grouping, the overall stage
    entries and conversions (further keys, see docs/backtesting.md), MQL to SQL
    against the typical band, handoff SLA compliance, and the same per group."""

    model_config = ConfigDict(extra="allow")

    period: dict[str, str | None]
    by: str | None
    mql_to_sql: dict[str, Any]
    sla: dict[str, Any]
    groups: list[dict[str, Any]]


@router.get(
    "/funnel",
    response_model=FunnelAnswer,
    summary="Stage entries, cohort conversions, time in stage, SLA",
)
def get_funnel(
    request: Request,
    caller: SalesKey,
    by: Annotated[str | None, Query(description="One of: " + ", ".join(DIMENSIONS))] = None,
    start: Annotated[date | None, Query(alias="from", description="First day (UTC)")] = None,
    end: Annotated[date | None, Query(alias="to", description="Last day (UTC)")] = None,
) -> dict[str, Any]:
    if start is not None and end is not None and end < start:
        raise LeadgateError(f"from/to: the period ends ({end}) before it starts ({start})")
    history = read_history(state(request).settings.database_url)
    return funnel_report(history, by=by, start=start, end=end).to_dict()
