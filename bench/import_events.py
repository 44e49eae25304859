"""Benchmark: ``import_file`` of a large events CSV, with in-process baselines.

Generates (seeded) a leads CSV and an events CSV in a temporary folder, imports the
leads, then times the import of the events into a fresh database and compares it with
two baselines run in the same process on the same file:

* ``csv-read``: Python's csv module merely reading every row (the floor for any
  importer that parses CSV in Python);
* ``sqlite-raw``: csv read plus a raw ``sqlite3`` ``executemany`` of the same rows
  into a bare table with a unique event id (the floor for storing them in SQLite).

Usage::

    python bench/import_events.py                  # 1,000,000 events over 20,000 leads
    python bench/import_events.py --events 100000 --profile
    python bench/import_events.py --database-url postgresql+psycopg://u:p@host/emptydb

``--database-url`` must name an empty database (it is migrated, never cleaned up).
Not collected by pytest (bench/ is outside testpaths).
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import os
import platform
import pstats
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from leadgate.db.engine import Database, open_database
from leadgate.events.models import Event
from leadgate.imports import import_file

EVENT_TYPES = (
    "email.opened",
    "email.clicked",
    "page.viewed",
    "page.viewed",
    "page.viewed",
    "form.submitted",
    "webinar.attended",
    "content.downloaded",
)
CHANNELS = ("email", "web", "paid", "social", "")
PAGES = ("/", "/pricing", "/docs", "/blog/lead-scoring", "/demo", "/ceník", "")
FREE_MAIL = ("gmail.com", "seznam.cz", "outlook.com")


def generate_leads(path: Path, count: int, rng: random.Random) -> None:
    """``count`` leads; about one in eight uses a free-mail address."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "email", "first_name", "last_name", "country", "company_size"])
        for i in range(count):
            domain = rng.choice(FREE_MAIL) if rng.random() < 0.125 else f"firm{i % 2_500}.example"
            writer.writerow(
                [f"L{i:07d}", f"user{i}@{domain}", f"Jméno{i}", "Novák", "CZ", rng.randint(1, 5000)]
            )


def generate_events(path: Path, count: int, leads: int, rng: random.Random) -> None:
    """``count`` valid events with unique ids; 30 % name their lead by email."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    span = 365 * 24 * 3600
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["event_id", "lead_id", "email", "type", "occurred_at", "channel", "campaign", "page"]
        )
        rows = []
        for i in range(count):
            lead = rng.randrange(leads)
            at = start + timedelta(seconds=rng.randrange(span))
            by_email = rng.random() < 0.3
            rows.append(
                (
                    f"ev{i:09d}",
                    "" if by_email else f"L{lead:07d}",
                    f"user{lead}@x" if by_email else "",
                    rng.choice(EVENT_TYPES),
                    at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    rng.choice(CHANNELS),
                    f"campaign-{rng.randrange(40)}" if rng.random() < 0.4 else "",
                    rng.choice(PAGES),
                )
            )
            if len(rows) >= 50_000:
                writer.writerows(rows)
                rows.clear()
        writer.writerows(rows)


def fix_emails(events: Path, leads: Path) -> None:
    """Replace the ``userN@x`` placeholders with the leads' real addresses."""
    emails: dict[str, str] = {}
    with leads.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            local = row["email"].split("@", 1)[0]
            emails[local + "@x"] = row["email"]
    tmp = events.with_suffix(".tmp")
    with (
        events.open(encoding="utf-8", newline="") as source,
        tmp.open("w", encoding="utf-8", newline="") as target,
    ):
        reader = csv.reader(source)
        writer = csv.writer(target)
        writer.writerow(next(reader))
        for row in reader:
            if row[2]:
                row[2] = emails[row[2]]
            writer.writerow(row)
    tmp.replace(events)


def baseline_csv_read(path: Path) -> tuple[float, int]:
    """Seconds for the csv module to read every row (nothing else)."""
    started = time.perf_counter()
    rows = 0
    with path.open(encoding="utf-8", newline="") as handle:
        for _ in csv.reader(handle):
            rows += 1
    return time.perf_counter() - started, rows - 1


def baseline_sqlite_raw(path: Path, folder: Path) -> tuple[float, int]:
    """Seconds to read the CSV and executemany it into a bare SQLite table (WAL, one commit)."""
    db_path = folder / "raw-baseline.db"
    connection = sqlite3.connect(db_path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(
        "CREATE TABLE events (pk INTEGER PRIMARY KEY, event_id VARCHAR(255) UNIQUE NOT NULL, "
        "lead_ref VARCHAR(320), type VARCHAR(200), occurred_at VARCHAR(40), channel VARCHAR(200), "
        "campaign VARCHAR(300), page TEXT)"
    )
    sql = (
        "INSERT INTO events (event_id, lead_ref, type, occurred_at, channel, campaign, page) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING"
    )
    started = time.perf_counter()
    inserted = 0
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        batch: list[tuple[str, ...]] = []
        for row in reader:
            batch.append((row[0], row[1] or row[2], row[3], row[4], row[5], row[6], row[7]))
            if len(batch) >= 5_000:
                inserted += connection.executemany(sql, batch).rowcount
                batch.clear()
        inserted += connection.executemany(sql, batch).rowcount
    connection.commit()
    seconds = time.perf_counter() - started
    connection.close()
    return seconds, inserted


def count_events(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Event)) or 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events to import")
    parser.add_argument("--leads", type=int, default=20_000, help="leads the events refer to")
    parser.add_argument("--seed", type=int, default=20261124, help="random seed of the data")
    parser.add_argument(
        "--database-url", help="database to import into (default: fresh SQLite in the temp dir)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (files and db)")
    parser.add_argument(
        "--profile",
        type=Path,
        nargs="?",
        const=Path("import-events.prof"),
        default=None,
        help="cProfile the events import; write stats to this file and print the top 25",
    )
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="leadgate-bench-"))
    rng = random.Random(args.seed)
    leads_csv, events_csv = folder / "leads.csv", folder / "events.csv"
    try:
        started = time.perf_counter()
        generate_leads(leads_csv, args.leads, rng)
        generate_events(events_csv, args.events, args.leads, rng)
        fix_emails(events_csv, leads_csv)
        size_mb = events_csv.stat().st_size / 1e6
        print(
            f"generated {args.leads:,} leads and {args.events:,} events "
            f"({size_mb:.1f} MB) in {time.perf_counter() - started:.1f} s  [{folder}]"
        )

        url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
        db = open_database(url)
        try:
            report = import_file(db, kind="leads", path=leads_csv, rejects_path=folder / "lr.csv")
            print(
                f"leads:  {report.created:,} created, {report.rejected} rejected "
                f"in {report.seconds:.2f} s ({report.rows / report.seconds:,.0f} rows/s)"
            )
            before = count_events(db)
            profiler = cProfile.Profile() if args.profile else None
            if profiler is not None:
                profiler.enable()
            cpu = time.process_time()
            report = import_file(db, kind="events", path=events_csv, rejects_path=folder / "er.csv")
            cpu = time.process_time() - cpu
            if profiler is not None:
                profiler.disable()
            stored = count_events(db) - before
        finally:
            db.dispose()
        rate = report.rows / report.seconds
        print(
            f"events: {report.created:,} created, {report.skipped:,} skipped, "
            f"{report.rejected:,} rejected in {report.seconds:.2f} s "
            f"(CPU {cpu:.2f} s: {report.rows / cpu:,.0f} events per CPU-second)"
        )
        if report.rejected or stored != args.events:
            print(f"WARNING: expected {args.events:,} stored events, found {stored:,}")

        read_s, read_rows = baseline_csv_read(events_csv)
        raw_s, raw_rows = baseline_sqlite_raw(events_csv, folder)
        print()
        print(f"{'measure':<32}{'seconds':>10}{'events/s':>14}{'import / this':>16}")
        for name, seconds, rows in (
            ("import_file (leadgate)", report.seconds, report.rows),
            ("baseline: csv module read only", read_s, read_rows),
            ("baseline: csv + raw sqlite3", raw_s, raw_rows),
        ):
            ratio = report.seconds / seconds
            print(f"{name:<32}{seconds:>10.2f}{rows / seconds:>14,.0f}{ratio:>15.1f}x")
        print()
        print(
            f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
            f"{os.cpu_count()} cpus, {platform.machine()} {platform.system()}, "
            f"database {url.split('://', 1)[0]}, {datetime.now(UTC):%Y-%m-%d}"
        )
        print(
            f"RESULT events_per_second={rate:,.0f} target=50,000 "
            f"{'OK' if rate >= 50_000 else 'BELOW'}"
        )
        if profiler is not None:
            profiler.dump_stats(args.profile)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
