"""Rendering pages: one Jinja environment with autoescaping on for every template,
and the filters the templates use (times in the viewer's zone, countdowns, numbers)."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import HTMLResponse

__all__ = ["ASSETS", "render", "templates"]

_HERE = files("leadgate.web")
ASSETS = str(_HERE / "static")


def _when(value: datetime | str | None, zone: str = "UTC") -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def _iso(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def _until(value: datetime | None, now: datetime) -> str:
    """The countdown as the server renders it (the page's script keeps it running)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = (value - now).total_seconds()
    minutes = abs(seconds) / 60
    amount = f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.1f} h"
    return f"due in {amount}" if seconds >= 0 else f"overdue by {amount}"


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:.1f}".rstrip("0").rstrip(".")


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.0f}%"


templates = Environment(
    loader=FileSystemLoader(str(_HERE / "templates")),
    autoescape=True,  # every value is escaped unless a template says otherwise (none do)
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters.update(when=_when, iso=_iso, until=_until, number=_number, percent=_percent)


def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The template ``name`` as an HTML response."""
    return HTMLResponse(templates.get_template(name).render(**context), status_code=status)
