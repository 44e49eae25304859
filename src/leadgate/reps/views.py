"""Thin router for sales reps."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from leadgate.api.deps import AdminKey, SalesKey, snapshot, transaction
from leadgate.common.ids import utcnow
from leadgate.reps.schemas import RepList, RepUpserted
from leadgate.reps.service import RepIn, list_reps, rep_dict, upsert_rep

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/reps", tags=["reps"])


@router.put(
    "",
    response_model=RepUpserted,
    summary="Create or update a rep (name, email, territories, weight, available)",
)
def put_rep(data: RepIn, request: Request, caller: AdminKey) -> dict[str, Any]:
    with transaction(request) as db:
        rep, created = upsert_rep(db, data=data, now=utcnow())
        return {"created": created, **rep_dict(rep)}


@router.get("", response_model=RepList, summary="All reps")
def get_reps(request: Request, caller: SalesKey) -> dict[str, Any]:
    with snapshot(request) as db:
        return {"reps": [rep_dict(rep) for rep in list_reps(db)]}
