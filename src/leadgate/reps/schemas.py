"""What the rep endpoints answer."""

from __future__ import annotations

from pydantic import BaseModel

__all__ = ["RepList", "RepOut", "RepUpserted"]


class RepOut(BaseModel):
    """A rep: territories, round-robin weight, availability, manager, leads assigned."""

    email: str
    name: str
    territories: list[dict[str, list[str]]]
    weight: int
    available: bool
    manager: str | None
    assigned: int


class RepUpserted(RepOut):
    created: bool


class RepList(BaseModel):
    reps: list[RepOut]
