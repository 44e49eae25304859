"""Benchmark: rescore the operational database (diff only) through the compiled query.

Loads a seeded synthetic world (default 100,000 leads, 10,000 accounts,
1,000,000 events) into a fresh SQLite database (or the empty PostgreSQL database
given by ``--database-url``) with plain bulk inserts, then times, in one process:

* ``plan_rescore`` (what ``leadgate rescore --dry-run`` does): reading the rows
  into Arrow, scoring with DuckDB, and the diff against the stored stages;
* a baseline for the read: the bare driver fetching the same event columns
  (``SELECT ... FROM events``, ``fetchall``), nothing else;
* with ``--evaluator``, ``score_all`` (what ``leadgate score`` does: ORM loads and
  the pure evaluator per account) in a transaction that is rolled back.

    .venv/bin/python bench/rescore_db.py [--leads 100000] [--events 1000000] [--evaluator]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import insert, text

from leadgate.accounts.models import Account
from leadgate.db.engine import open_database
from leadgate.events.models import Event
from leadgate.leads.models import Lead
from leadgate.rescoring import plan_rescore
from leadgate.scorecards.service import score_all
from leadgate.scoring import default_model

START = datetime(2025, 1, 1, tzinfo=UTC)


def _rows(path: Path) -> list[dict[str, Any]]:
    table = pq.read_table(path)
    table = pa.table(
        [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in table.columns],
        names=table.column_names,
    )
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def load(url: str, world: Any) -> None:
    db = open_database(url)
    with db.session() as session:
        accounts = [
            {
                "id": row["account_id"],
                "domain": row["domain"],
                "industry": row["industry"],
                "employees": row["employees"],
                "country": row["country"],
                "tier": row["tier"],
                "attributes": {},
                "created_at": START,
                "updated_at": START,
            }
            for row in _rows(world.accounts)
        ]
        session.execute(insert(Account), accounts)
        leads = [
            {
                "id": row["lead_id"],
                "email": row["email"],
                "email_key": row["email"],
                "seniority": row["seniority"],
                "country": row["country"],
                "account_id": row["account_id"],
                "attributes": {},
                "do_not_email": False,
                "do_not_call": False,
                "stage": "lead",
                "stage_changed_at": START,
                "created_at": START,
                "updated_at": START,
            }
            for row in _rows(world.leads)
        ]
        session.execute(insert(Lead), leads)
    events = _rows(world.events)
    for start in range(0, len(events), 200_000):
        with db.session() as session:
            session.execute(
                insert(Event),
                [
                    {
                        "event_id": f"e{row['event_id']}",
                        "lead_id": row["lead_id"],
                        "type": row["type"],
                        "occurred_at": row["ts"],
                        "channel": None,
                        "campaign": None,
                        "properties": {
                            key: row[key] for key in ("url", "asset_type") if row[key] is not None
                        },
                        "received_at": row["ts"],
                    }
                    for row in events[start : start + 200_000]
                ],
            )
    db.dispose()


def bare_read(url: str) -> float:
    """The driver alone fetching the event columns: the floor for any reader."""
    db = open_database(url, migrate_schema=False)
    started = time.perf_counter()
    with db.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        cursor.execute(
            "SELECT lead_id, type, occurred_at, event_id, channel, campaign, properties FROM events"
        )
        cursor.fetchall()
    seconds = time.perf_counter() - started
    db.dispose()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: SQLite)")
    parser.add_argument("--evaluator", action="store_true", help="also time score_all")
    args = parser.parse_args()
    from leadgate.engines.synthetic import write_world

    folder = Path(tempfile.mkdtemp(prefix="leadgate-bench-db-"))
    world = write_world(
        folder / "world",
        leads=args.leads,
        accounts=args.accounts,
        events=args.events,
        seed=args.seed,
        as_of=START + timedelta(days=365),
    )
    url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
    started = time.perf_counter()
    load(url, world)
    print(
        f"loaded {args.events:,} events into {url.split(':')[0]} in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    model = default_model()
    as_of = world.as_of
    figures: dict[str, Any] = {"bare_read_seconds": round(bare_read(url), 3)}
    for attempt in range(3):
        started = time.perf_counter()
        plan = plan_rescore(url, model=model, as_of=as_of)
        figures[f"plan_{attempt}"] = {
            "total_seconds": round(time.perf_counter() - started, 3),
            "read_seconds": round(plan.read_seconds, 3),
            "score_seconds": round(plan.score_seconds, 3),
            "events_read": plan.events,
            "would_enter_mql": len(plan.enter),
        }
    if args.evaluator:
        db = open_database(url)
        with db.sessions() as session:
            session.begin()
            started = time.perf_counter()
            run = score_all(session, model=model, as_of=as_of)
            figures["score_all_seconds"] = round(time.perf_counter() - started, 3)
            figures["score_all_would_enter_mql"] = len(run.qualified)
            session.rollback()
        db.dispose()
    print(json.dumps(figures, indent=2))
    if url.startswith("postgresql"):
        db = open_database(url, migrate_schema=False)
        with db.engine.begin() as conn:
            conn.execute(text("TRUNCATE events, leads, accounts CASCADE"))
        db.dispose()


if __name__ == "__main__":
    main()
