"""Pydantic shapes of an account for input (Create) and output (Read)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from leadgate.common.text import blank_to_none, normalize_domain
from leadgate.reference import is_free_mail

__all__ = ["AccountCreate", "AccountRead", "AccountUpserted"]


class AccountCreate(BaseModel):
    """A company to create or update, identified by ``id`` or by ``domain``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str | None = Field(default=None, max_length=64)
    domain: str | None = Field(default=None, max_length=255)
    name: str | None = Field(default=None, max_length=500)
    industry: str | None = Field(default=None, max_length=200)
    employees: int | None = Field(default=None, ge=0, le=2_147_483_647)
    annual_revenue: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    country: str | None = Field(default=None, max_length=100)
    tier: str | None = Field(default=None, max_length=50)
    owner: str | None = Field(default=None, max_length=320)
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator(
        "id",
        "domain",
        "name",
        "industry",
        "employees",
        "annual_revenue",
        "country",
        "tier",
        "owner",
        mode="before",
    )
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return blank_to_none(value)

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is None:
            return None
        domain = normalize_domain(value)
        if is_free_mail(domain):
            raise ValueError(f"{domain} is a free-mail domain and cannot be an account")
        return domain

    @model_validator(mode="after")
    def _identified(self) -> AccountCreate:
        if self.id is None and self.domain is None:
            raise ValueError("an account needs an id or a domain")
        return self


class AccountRead(BaseModel):
    """An account as the API and ``--json`` output show it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    domain: str | None
    name: str | None
    industry: str | None
    employees: int | None
    annual_revenue: float | None
    country: str | None
    tier: str | None
    owner: str | None
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class AccountUpserted(AccountRead):
    """An account after ``PUT``, and whether it was created."""

    created: bool
