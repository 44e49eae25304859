"""Build the demo database: generate, store, replay history, score, summarise."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from leadgate.accounts.schemas import AccountCreate
from leadgate.accounts.service import upsert_account
from leadgate.actions.playbooks import default_playbooks
from leadgate.config import Settings
from leadgate.db.engine import Database, make_engine, open_database, sqlite_path
from leadgate.db.meta import MetaEntry
from leadgate.db.models import Base
from leadgate.demo.simulate import simulate_history
from leadgate.demo.world import REPS, World, generate_world
from leadgate.events.service import EventRow, insert_event_rows
from leadgate.exceptions import DemoError
from leadgate.leads.models import Lead, StageChange
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import change_stage, upsert_lead
from leadgate.lifecycle import Stage
from leadgate.qualification import BatchQualification, HandoffPolicy, qualify_all
from leadgate.reps.service import RepIn, upsert_rep
from leadgate.scorecards.service import ScoreRun, stage_counts
from leadgate.scoring import ScoringModel, default_model
from leadgate.users.service import create_user

__all__ = ["DEMO_URL", "DemoSummary", "build_demo", "funnel_conversion"]

DEMO_URL = "sqlite:///leadgate-demo.db"


@dataclass
class DemoSummary:
    """What the demo built and found."""

    database_url: str
    seed: int
    accounts: int
    leads: int
    events: int
    start: datetime
    end: datetime
    stages: dict[str, int]
    ever_mql: int
    ever_sql: int
    run: ScoreRun
    handoffs: BatchQualification = field(default_factory=BatchQualification)
    by_channel: dict[str, tuple[int, int]] = field(default_factory=dict)
    seconds: float = 0.0
    #: the web app's demo users (email: role) and their password
    logins: dict[str, str] = field(default_factory=dict)
    password: str = ""

    @property
    def mql_to_sql(self) -> float | None:
        return self.ever_sql / self.ever_mql if self.ever_mql else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "database_url": make_url(self.database_url).render_as_string(hide_password=True),
            "seed": self.seed,
            "accounts": self.accounts,
            "leads": self.leads,
            "events": self.events,
            "history_from": self.start.isoformat(),
            "history_to": self.end.isoformat(),
            "stages": self.stages,
            "ever_mql": self.ever_mql,
            "ever_sql": self.ever_sql,
            "mql_to_sql": self.mql_to_sql,
            "mql_to_sql_by_channel": {
                channel: {"mql": mql, "sql": sql, "rate": sql / mql if mql else None}
                for channel, (mql, sql) in self.by_channel.items()
            },
            "scoring": self.run.to_dict(),
            "handoff": self.handoffs.to_dict(),
            "seconds": round(self.seconds, 2),
            "logins": {"users": self.logins, "password": self.password},
        }


def _prepare(url: str) -> None:
    """Make ``url`` ready for a fresh demo, refusing to touch a database that is not free.

    Free means: absent, a previous demo, or a leadgate database without any
    leads, accounts or events (on PostgreSQL also a database without tables).
    Anything else, including a file that is not a leadgate database, is refused.
    """
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return
    if not _is_free(url, allow_no_tables=path is None):
        where = str(path) if path is not None else "the database"
        raise DemoError(
            f"{where} exists and is not a leadgate demo database; refusing to overwrite it. "
            "Move it away or pass --database-url sqlite:///another-file.db"
        )
    if path is not None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    engine = make_engine(url)
    try:
        Base.metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        engine.dispose()


def _is_free(url: str, *, allow_no_tables: bool) -> bool:
    engine = make_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        if not tables:
            return allow_no_tables
        if not {"leads", "accounts", "events", "alembic_version"} <= tables:
            return False
        with engine.connect() as conn:
            if "meta" in tables:
                kind = conn.execute(text("SELECT value FROM meta WHERE key = 'kind'")).scalar()
                if kind == "demo":
                    return True
            return all(
                conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
                for table in ("leads", "accounts", "events")
            )
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def _store_world(db: Database, world: World) -> None:
    with db.session() as session:
        session.add(MetaEntry(key="kind", value="demo"))
        session.add(MetaEntry(key="demo_seed", value=str(world.seed)))
        for account in world.accounts:
            upsert_account(
                session,
                data=AccountCreate(
                    id=account.id,
                    domain=account.domain,
                    name=account.name,
                    industry=account.industry,
                    employees=account.employees,
                    annual_revenue=account.annual_revenue,
                    country=account.country,
                    tier=account.tier,
                    owner=account.owner,
                ),
                now=world.start,
            )
        rows: list[EventRow] = []
        for lead in sorted(world.leads, key=lambda item: item.created_at):
            upsert_lead(
                session,
                data=LeadCreate(
                    id=lead.id,
                    email=lead.email,
                    first_name=lead.first_name,
                    last_name=lead.last_name,
                    title=lead.title,
                    seniority=lead.seniority,
                    department=lead.department,
                    country=lead.country,
                    source=lead.channel,
                    channel=lead.channel,
                    campaign=lead.campaign,
                    stage=Stage(lead.initial_stage),
                ),
                now=lead.created_at,
                actor="demo:signup",
            )
            rows.extend(
                (e.event_id, lead.id, e.type, e.ts, e.channel, e.campaign, e.properties)
                for e in lead.events
            )
        for start in range(0, len(rows), 5000):
            insert_event_rows(session, rows=rows[start : start + 5000], received_at=world.end)


#: The demo's sales team: (email, name, manager); the manager signs in too.
DEMO_MANAGER = ("sofia.lindqvist@sales.leadgate-demo.test", "Sofia Lindqvist")
DEMO_TEAM = (
    (REPS[0], "Petra Kralova", DEMO_MANAGER[0]),
    (REPS[1], "Ondrej Benes", DEMO_MANAGER[0]),
    (REPS[2], "Julia Hoffmann", None),
    (REPS[3], "Mark Evans", None),
)
#: Who can sign in to the demo's web app, with which role.
DEMO_USERS = (
    ("admin@leadgate-demo.test", "Alex Admin", "admin", None),
    (DEMO_MANAGER[0], DEMO_MANAGER[1], "manager", None),
    (REPS[0], "Petra Kralova", "rep", REPS[0]),
    ("mila.marketing@leadgate-demo.test", "Mila Marketing", "marketing", None),
)


def _store_team(db: Database, now: datetime) -> str:
    """The demo's reps and users; returns their one password (random per build,
    printed once: the demo database lives on a laptop, yet never ships a known one)."""
    password = "-".join(secrets.token_urlsafe(6) for _ in range(3))
    with db.session() as session:
        for email, name, manager in DEMO_TEAM:
            upsert_rep(session, data=RepIn(email=email, name=name, manager=manager), now=now)
        for email, name, role, rep in DEMO_USERS:
            create_user(
                session, email=email, name=name, role=role, password=password, now=now, rep=rep
            )
    return password


def funnel_conversion(db: Database) -> tuple[int, int, dict[str, tuple[int, int]]]:
    """Cohort MQL -> SQL: of the leads that ever entered MQL, how many ever reached SQL.

    Returns (ever MQL, ever SQL, {channel: (MQL, SQL)}).
    """
    with db.session() as session:
        mql_ids = set(
            session.scalars(select(StageChange.lead_id).where(StageChange.to_stage == "mql"))
        )
        sql_ids = (
            set(session.scalars(select(StageChange.lead_id).where(StageChange.to_stage == "sql")))
            & mql_ids
        )
        rows = session.execute(select(Lead.id, Lead.channel).where(Lead.id.in_(mql_ids)))
        channels: dict[str, str | None] = {row.id: row.channel for row in rows}
    by_channel: dict[str, tuple[int, int]] = {}
    for lead_id in mql_ids:
        channel = channels.get(lead_id) or "unknown"
        mql, sql = by_channel.get(channel, (0, 0))
        by_channel[channel] = (mql + 1, sql + (lead_id in sql_ids))
    ordered = dict(sorted(by_channel.items(), key=lambda item: -item[1][0]))
    return len(mql_ids), len(sql_ids), ordered


def build_demo(
    *,
    url: str = DEMO_URL,
    seed: int = 7,
    leads: int = 2400,
    accounts: int = 360,
    days: int = 180,
    end: datetime | None = None,
    model: ScoringModel | None = None,
) -> DemoSummary:
    """Create a fresh demo database at ``url`` and score it; returns the summary."""
    started = time.perf_counter()
    model = model or default_model()
    end = end or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    _prepare(url)
    world = generate_world(seed=seed, leads=leads, accounts=accounts, end=end, days=days)
    db = open_database(url)
    try:
        _store_world(db, world)
        password = _store_team(db, world.start)
        history = simulate_history(world, model, replay_until=end - timedelta(days=7))
        with db.session() as session:
            for lead_id, transitions in history.items():
                lead = session.get(Lead, lead_id)
                if lead is None:
                    continue
                for step in transitions:
                    change_stage(
                        session,
                        lead=lead,
                        to=step.to,
                        actor=step.actor,
                        at=step.at,
                        reason=step.reason,
                    )
        policy = HandoffPolicy(
            playbooks=default_playbooks(), fallback_owner=Settings().fallback_owner
        )
        with db.session() as session:
            # the world's own MQLs of today are handed to sales like any other
            run, handed = qualify_all(session, model=model, as_of=end, handoff=policy)
        with db.session() as session:
            stages = stage_counts(session)
        ever_mql, ever_sql, by_channel = funnel_conversion(db)
    finally:
        db.dispose()
    return DemoSummary(
        database_url=url,
        seed=seed,
        accounts=len(world.accounts),
        leads=len(world.leads),
        events=world.event_count,
        start=world.start,
        end=end,
        stages=stages,
        ever_mql=ever_mql,
        ever_sql=ever_sql,
        run=run,
        handoffs=handed,
        by_channel=by_channel,
        seconds=time.perf_counter() - started,
        logins={email: role for email, _, role, _ in DEMO_USERS},
        password=password,
    )
