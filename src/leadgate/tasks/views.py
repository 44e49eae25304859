"""Thin router for tasks: list and complete."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request

from leadgate.api.deps import SalesKey, snapshot, transaction
from leadgate.common.ids import utcnow
from leadgate.qualification.sales import complete_lead_task
from leadgate.tasks.schemas import TaskList, TaskOut
from leadgate.tasks.service import list_tasks, task_dict

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])


@router.get("", response_model=TaskList, summary="Tasks, soonest due first")
def get_tasks(
    request: Request,
    caller: SalesKey,
    owner: str | None = Query(None, max_length=320),
    status: Literal["open", "done"] | None = None,
    lead_id: str | None = Query(None, max_length=64),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    with snapshot(request) as db:
        team = None if caller.viewer is None else caller.viewer.team
        tasks = list_tasks(db, owner=owner, status=status, lead_id=lead_id, limit=limit, team=team)
        return {"tasks": [task_dict(task) for task in tasks]}


@router.post(
    "/{task_id}/complete",
    response_model=TaskOut,
    summary="Complete a task (records whether the SLA was met)",
)
def post_complete(task_id: str, request: Request, caller: SalesKey) -> dict[str, Any]:
    with transaction(request) as db:
        task = complete_lead_task(
            db, viewer=caller.viewer, actor=caller.actor, task_id=task_id, now=utcnow()
        )
        return task_dict(task)
