"""The one place configuration is read: environment variables prefixed ``LEADGATE_``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from leadgate.common.origins import normalize_origin
from leadgate.exceptions import LeadgateError

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """leadgate's settings.

    ``database_url`` defaults to a SQLite file ``leadgate.db`` in the working
    directory; set ``LEADGATE_DATABASE_URL=postgresql+psycopg://...`` for PostgreSQL.
    """

    model_config = SettingsConfigDict(env_prefix="LEADGATE_", extra="ignore")

    database_url: str = Field(default="sqlite:///leadgate.db")
    model_path: Path | None = Field(
        default=None, description="Scoring model used when a command gets no --model."
    )
    playbooks_path: Path | None = Field(
        default=None,
        description="Handoff playbooks used when a command gets no --playbooks "
        "(default: the shipped playbooks).",
    )
    sql_echo: bool = False
    max_body_bytes: int = Field(
        default=2_000_000, ge=1_000, description="Largest request body the service accepts (413)."
    )
    segment_event_names: dict[str, str] = Field(
        default_factory=dict,
        description="Extra Segment track names -> leadgate event types (JSON), over the defaults.",
    )
    fallback_owner: str = Field(
        default="queue:unassigned", description="Owner when no rep is available (a queue)."
    )
    anonymous_retention_days: float = Field(
        default=30,
        gt=0,
        description="How long tracking calls of visitors not identified yet are kept.",
    )
    screen_bots: bool = Field(
        default=True,
        description="Tracking calls whose context.userAgent is a known crawler or automated "
        "browser are acknowledged and counted, not stored.",
    )
    consent_required: str = Field(
        default="analytics,marketing",
        description="Consent categories (names or ids, comma-separated, any case) a visitor "
        "must grant when their call carries a consent context; empty: consent is not read.",
    )
    telemetry: bool = Field(
        default=False,
        description="FastAPI's OpenTelemetry spans, metrics and logs for every request.",
    )
    live_leads: int = Field(
        default=100_000,
        ge=1,
        description="Leads serve keeps in memory with their indexed history (LRU).",
    )
    scheduler_interval_seconds: float = Field(
        default=300, gt=0, description="How often serve re-checks time-dependent work."
    )
    sla_reassign_after_minutes: float = Field(
        default=60, gt=0, description="An overdue task still open this long after is reassigned."
    )
    mql_expiry_days: float | None = Field(
        default=None,
        gt=0,
        description="An MQL not accepted in N days and decayed under the "
        "definition returns to nurture (off when unset).",
    )
    rejection_reasons: list[str] = Field(
        default_factory=lambda: [
            "not a fit",
            "no budget",
            "bad timing",
            "no contact",
            "competitor",
            "duplicate",
            "student or job seeker",
        ],
        description="Reasons sales may give when sending an MQL back (JSON list).",
    )

    session_hours: float = Field(
        default=12, gt=0, description="A web sign-in lasts at most this long."
    )
    session_idle_minutes: float = Field(
        default=120, gt=0, description="A web sign-in unused this long ends."
    )
    public_url: str | None = Field(
        default=None,
        description="Where people reach the app (links in emails; https makes cookies Secure).",
    )
    smtp_url: str | None = Field(
        default=None,
        description="SMTP server: smtp://host:port, smtp+starttls://user:pass@host:587, "
        "smtps://user:pass@host:465 (password reset emails; unset: no email).",
    )
    mail_from: str = Field(
        default="leadgate@localhost", description="The From address of emails leadgate sends."
    )
    abm_min_engaged: int = Field(
        default=2,
        ge=1,
        description="The ABM queue (/accounts) lists accounts with at least this many "
        "engaged contacts: leads whose stored scorecard meets the MQL definition, active "
        "within LEADGATE_ABM_WINDOW_DAYS, not disqualified (docs/ui.md).",
    )
    abm_window_days: float = Field(
        default=30, gt=0, description="How recent an engaged contact's last event must be (days)."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Sites (comma-separated origins, https://www.example.com) whose pages "
        "may call the tracking endpoints with any ingest key that names no origins of its "
        "own (keys created with --origin name theirs).",
    )
    public_key_rate: int = Field(
        default=600,
        ge=1,
        description="Tracking calls per minute one public (browser) key may make from one "
        "client address (429 with Retry-After beyond).",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _normal_origins(cls, value: list[str]) -> list[str]:
        try:
            return sorted({normalize_origin(origin) for origin in value})
        except LeadgateError as exc:
            raise ValueError(f"LEADGATE_CORS_ORIGINS: {exc}") from None

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        value = value.strip()
        if value.startswith("postgres://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgres://")
        elif value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        if not value.startswith(("sqlite://", "postgresql+psycopg://")):
            raise ValueError(
                "LEADGATE_DATABASE_URL must start with sqlite:// or postgresql:// "
                f"(got {value.split('://', 1)[0]!r})"
            )
        return value


def get_settings() -> Settings:
    """Settings read from the environment now (cheap; tests change the environment)."""
    return Settings()
