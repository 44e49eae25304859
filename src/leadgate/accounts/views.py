"""Thin router for accounts: upsert and read."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from leadgate.accounts.models import Account
from leadgate.accounts.schemas import AccountCreate, AccountRead, AccountUpserted
from leadgate.accounts.service import upsert_account
from leadgate.api.deps import AdminKey, SalesKey, snapshot, transaction
from leadgate.common.ids import utcnow
from leadgate.exceptions import NotFoundError

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/accounts", tags=["accounts"])


@router.put(
    "", response_model=AccountUpserted, summary="Create or update an account (by id, else domain)"
)
def upsert(data: AccountCreate, request: Request, caller: AdminKey) -> dict[str, Any]:
    with transaction(request) as db:
        account, created = upsert_account(db, data=data, now=utcnow())
        return {"created": created, **AccountRead.model_validate(account).model_dump(mode="json")}


@router.get("/{account_id}", response_model=AccountRead, summary="One account")
def get_account(account_id: str, request: Request, caller: SalesKey) -> dict[str, Any]:
    with snapshot(request) as db:
        account = db.get(Account, account_id)
        if account is None:
            raise NotFoundError(f"no account {account_id!r}")
        return AccountRead.model_validate(account).model_dump(mode="json")
