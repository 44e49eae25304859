"""The built-in actions: owner.assign, task.create, webhook.send, sequence.enroll."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from leadgate.accounts.models import Account
from leadgate.actions.models import SequenceEnrollment
from leadgate.actions.registry import ActionContext, register
from leadgate.reps.service import choose_owner
from leadgate.tasks.service import create_task, task_dict
from leadgate.webhooks.service import EVENT_TYPES, enqueue

__all__ = ["OwnerAssign", "SequenceEnroll", "TaskCreate", "WebhookSend", "lead_payload"]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OwnerAssign(_Config):
    """Give the lead an owner (kept when it already has one, unless ``reassign``)."""

    reassign: bool = False


class TaskCreate(_Config):
    """A task for the lead's owner, due ``due_in_minutes`` from the stage entry."""

    title: str = Field(default="Follow up with {lead.email}", min_length=1, max_length=500)
    due_in_minutes: int = Field(default=60, ge=1, le=60 * 24 * 30)


class WebhookSend(_Config):
    """Send an event to the subscribed webhooks."""

    event: str

    @field_validator("event")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in EVENT_TYPES:
            raise ValueError(f"unknown event {value!r}; events: {', '.join(EVENT_TYPES)}")
        return value


class SequenceEnroll(_Config):
    """Enroll the lead in a named sequence (the campaign tool hears it by webhook)."""

    sequence: str = Field(min_length=1, max_length=200)


def lead_payload(ctx: ActionContext) -> dict[str, Any]:
    lead = ctx.lead
    account = ctx.session.get(Account, lead.account_id) if lead.account_id else None
    return {
        "lead": {
            "id": lead.id,
            "email": lead.email,
            "first_name": lead.first_name,
            "last_name": lead.last_name,
            "title": lead.title,
            "stage": lead.stage,
            "owner": lead.owner,
            "channel": lead.channel,
        },
        "account": None
        if account is None
        else {
            "id": account.id,
            "name": account.name,
            "domain": account.domain,
            "tier": account.tier,
        },
        "stage_change": {
            "from": ctx.change.from_stage,
            "to": ctx.change.to_stage,
            "at": ctx.change.at.isoformat(),
            "actor": ctx.change.actor,
            "reason": ctx.change.reason,
        },
    }


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _title(template: str, ctx: ActionContext) -> str:
    lead = ctx.lead
    account = ctx.session.get(Account, lead.account_id) if lead.account_id else None
    values = _Fields(
        {
            "lead.email": lead.email,
            "lead.first_name": lead.first_name or "",
            "lead.last_name": lead.last_name or "",
            "lead.title": lead.title or "",
            "account.name": (account.name if account else None) or "",
            "stage": ctx.change.to_stage,
        }
    )
    out = template
    for key, value in values.items():
        out = out.replace("{" + key + "}", str(value))
    return out.strip()


@register("owner.assign", OwnerAssign, "account owner, else territory, else weighted round robin")
def owner_assign(ctx: ActionContext, config: OwnerAssign) -> dict[str, Any]:
    if ctx.lead.owner and not config.reassign:
        return {"owner": ctx.lead.owner, "how": "kept"}
    owner, how = choose_owner(ctx.session, lead=ctx.lead, fallback=ctx.fallback_owner, now=ctx.now)
    ctx.lead.owner = owner
    return {"owner": owner, "how": how}


@register("task.create", TaskCreate, "a task for the owner with an SLA due time")
def task_create(ctx: ActionContext, config: TaskCreate) -> dict[str, Any]:
    owner = ctx.lead.owner
    if owner is None:
        owner, _ = choose_owner(
            ctx.session, lead=ctx.lead, fallback=ctx.fallback_owner, now=ctx.now
        )
        ctx.lead.owner = owner
    task = create_task(
        ctx.session,
        lead=ctx.lead,
        owner=owner,
        title=_title(config.title, ctx),
        due_in=timedelta(minutes=config.due_in_minutes),
        now=ctx.now,
        stage_change_id=ctx.change.id,
    )
    return {"task": task_dict(task)}


@register("webhook.send", WebhookSend, "send an event to the subscribed webhooks")
def webhook_send(ctx: ActionContext, config: WebhookSend) -> dict[str, Any]:
    message = enqueue(
        ctx.session,
        event_type=config.event,
        data=lead_payload(ctx),
        now=ctx.now,
        lead_id=ctx.lead.id,
    )
    return {"message_id": None if message is None else message.id, "event": config.event}


@register("sequence.enroll", SequenceEnroll, "enroll in a sequence; lead.sequence_enrolled is sent")
def sequence_enroll(ctx: ActionContext, config: SequenceEnroll) -> dict[str, Any]:
    exists = ctx.session.scalar(
        select(SequenceEnrollment.id).where(
            SequenceEnrollment.lead_id == ctx.lead.id,
            SequenceEnrollment.sequence == config.sequence,
            SequenceEnrollment.stage_change_id == ctx.change.id,
        )
    )
    if exists is None:
        ctx.session.add(
            SequenceEnrollment(
                lead_id=ctx.lead.id,
                sequence=config.sequence,
                stage_change_id=ctx.change.id,
                at=ctx.now,
            )
        )
    data = {**lead_payload(ctx), "sequence": config.sequence}
    enqueue(
        ctx.session,
        event_type="lead.sequence_enrolled",
        data=data,
        now=ctx.now,
        lead_id=ctx.lead.id,
    )
    return {"sequence": config.sequence}
