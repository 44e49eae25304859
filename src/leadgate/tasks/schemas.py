"""What the task endpoints answer (declared so the OpenAPI document is the contract)."""

from __future__ import annotations

from pydantic import BaseModel

__all__ = ["TaskList", "TaskOut"]


class TaskOut(BaseModel):
    """A handoff task with its SLA due time and outcome (times in ISO 8601, UTC)."""

    id: str
    lead_id: str
    owner: str
    title: str
    status: str
    created_at: str
    due_at: str
    completed_at: str | None
    sla_met: bool | None
    escalations: int


class TaskList(BaseModel):
    tasks: list[TaskOut]
