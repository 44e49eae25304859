"""Thin router for tasks: list and complete."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request

from leadgate.api.deps import SalesKey, snapshot, transaction
from leadgate.common.ids import utcnow
from leadgate.tasks.schemas import TaskList, TaskOut
from leadgate.tasks.service import complete_task, list_tasks, task_dict

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
        tasks = list_tasks(db, owner=owner, status=status, lead_id=lead_id, limit=limit)
        return {"tasks": [task_dict(task) for task in tasks]}


@router.post(
    "/{task_id}/complete",
    response_model=TaskOut,
    summary="Complete a task (records whether the SLA was met)",
)
def post_complete(task_id: str, request: Request, caller: SalesKey) -> dict[str, Any]:
    with transaction(request) as db:
        return task_dict(complete_task(db, task_id=task_id, now=utcnow()))
