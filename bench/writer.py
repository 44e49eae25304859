"""Benchmark: the ingest writer alone, in this process (no HTTP, no second process).

Groups of ``--requests`` requests of ``--events`` events, every event for another
of ``--leads`` leads (the hard case of ``bench/serve.py``), go through
``ingest_requests`` as the service's group commit does: leads kept in memory and
taken on trust as the writer does while nothing else writes. A few groups warm
the memory first. Prints events per second; run it alternately against another
tree (``PYTHONPATH=OTHER/src``) to compare two versions on a noisy machine.

With ``--cold`` every event is for a lead the memory has not seen yet (a restart,
or a lead base larger than the memory), so each one is loaded from the database.
With ``--floor`` it then times only the SQL those groups must run (events, the
leads' event counters, the scorecards as the writer stored them), with every row
encoded beforehand: the floor under any request path on this schema, and the
writer's share of it.

    .venv/bin/python bench/writer.py [--groups 40] [--requests 16] [--events 100]
        [--leads 2000] [--untrusted] [--cold] [--floor]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serve import MODEL, bench_leads  # the model and leads of bench/serve.py


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=40)
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument(
        "--untrusted", action="store_true", help="check every kept lead (as on PostgreSQL)"
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="then run only the SQL each group must run, with its rows built beforehand",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="every event for a lead not in memory yet (a restart, a large lead base)",
    )
    args = parser.parse_args()
    if args.cold:  # enough leads that none gets a second event
        args.leads = max(args.leads, (args.groups + 2) * args.requests * args.events)

    from leadgate.common.ids import utcnow
    from leadgate.db.engine import open_database
    from leadgate.events.schemas import EventCreate
    from leadgate.ingest.live import LiveLeads
    from leadgate.ingest.service import ingest_requests
    from leadgate.scoring import load_model

    gc.set_threshold(50_000, 20, 100)  # as `leadgate serve` does
    folder = Path(tempfile.mkdtemp(prefix="leadgate-bench-writer-"))
    database = open_database(f"sqlite:///{folder / 'writer.db'}")
    now = utcnow()
    with database.session() as session:
        session.add_all(bench_leads(args.leads, now))
    model = load_model(MODEL)
    live = LiveLeads(model)
    counter = iter(range(10**9))

    def group() -> list[list[EventCreate]]:
        requests = []
        for _ in range(args.requests):
            events = []
            for _ in range(args.events):
                i = next(counter)
                events.append(
                    EventCreate(
                        event_id=f"b{i}",
                        lead_id=f"L{i % args.leads}",
                        type="email.opened",
                        occurred_at=datetime.now(UTC),
                    )
                )
            requests.append(events)
        return requests

    warm = -(-args.leads // (args.requests * args.events)) + 1
    if args.cold:  # no warm-up: the memory starts empty and fills as it goes
        warm = 2
    prepared = [group() for _ in range(args.groups + warm)]

    def apply(requests: list[list[EventCreate]]) -> None:
        with database.session() as session:
            ingest_requests(
                session,
                requests=requests,
                model=model,
                now=utcnow(),
                live=live,
                trusted=not args.untrusted,
            )

    for requests in prepared[:warm]:
        apply(requests)
    started = time.perf_counter()
    for requests in prepared[warm:]:
        apply(requests)
    seconds = time.perf_counter() - started
    events = args.groups * args.requests * args.events
    writer = {
        "name": "writer alone"
        + (", untrusted" if args.untrusted else "")
        + (", cold leads" if args.cold else "")
        + f", groups of {args.requests} x {args.events}",
        "events_per_second": round(events / seconds),
        "ms_per_group": round(seconds / args.groups * 1000, 1),
    }
    print(json.dumps(writer))
    if args.floor:
        floor = sql_floor(database, folder, prepared[warm:], leads=args.leads)
        print(
            json.dumps(
                {
                    "name": "SQL floor: the same groups' statements, rows built beforehand",
                    "events_per_second": round(events / floor),
                    "ms_per_group": round(floor / args.groups * 1000, 1),
                    "writer_share_of_floor": round(floor / seconds, 3),
                }
            )
        )
    database.dispose()


def sql_floor(written: Any, folder: Path, groups: list[Any], *, leads: int) -> float:
    """Seconds that only the writes of ``groups`` take in a fresh database: the event
    insert, the leads' event counters and the scorecard upsert, each one statement
    per group as the writer runs them, with every row (the scorecards as the writer
    stored them, breakdown included) encoded before the clock starts. No part of
    leadgate's request path can be faster than this."""
    from leadgate.common.ids import utcnow
    from leadgate.db.engine import open_database
    from leadgate.events.service import _SQLITE_INSERT, _json_text, sqlite_time
    from leadgate.scorecards.store import _SQLITE_UPSERT

    with written.session() as session:
        cards = {
            row[0]: row
            for row in session.connection().exec_driver_sql(
                "SELECT lead_id, model_name, model_version, as_of, scores, grade, mql, "
                "breakdown, computed_at, inputs_digest, counted_events FROM scorecards"
            )
        }
    database = open_database(f"sqlite:///{folder / 'floor.db'}")
    now = utcnow()
    with database.session() as session:
        session.add_all(bench_leads(leads, now))
    with database.session() as session:  # the scorecards exist already, as for the writer
        session.connection().exec_driver_sql(_SQLITE_UPSERT, [tuple(c) for c in cards.values()])
    received = sqlite_time(now)
    prepared = []
    for requests in groups:
        events = [event for request in requests for event in request]
        prepared.append(
            (
                [
                    (
                        e.event_id,
                        e.lead_id,
                        e.type,
                        sqlite_time(e.occurred_at),
                        e.channel,
                        e.campaign,
                        _json_text(e.properties),
                        received,
                    )
                    for e in events
                ],
                [(n, lead_id) for lead_id, n in sorted(Counter(e.lead_id for e in events).items())],
                [tuple(cards[lead_id]) for lead_id in sorted({e.lead_id for e in events})],
            )
        )
    spent = [0.0, 0.0, 0.0]  # events, counters, scorecards (the commit goes with the last)
    started = time.perf_counter()
    for rows, counts, upserts in prepared:
        with database.session() as session:
            connection = session.connection()
            t0 = time.perf_counter()
            connection.exec_driver_sql(_SQLITE_INSERT, rows)
            t1 = time.perf_counter()
            connection.exec_driver_sql(
                "UPDATE leads SET events_stored = events_stored + ? WHERE id = ?", counts
            )
            t2 = time.perf_counter()
            connection.exec_driver_sql(_SQLITE_UPSERT, upserts)
            session.commit()
            t3 = time.perf_counter()
        spent[0] += t1 - t0
        spent[1] += t2 - t1
        spent[2] += t3 - t2
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "floor_split": {
                    "event_insert": round(spent[0] / seconds, 3),
                    "event_counters": round(spent[1] / seconds, 3),
                    "scorecard_upsert_and_commit": round(spent[2] / seconds, 3),
                }
            }
        )
    )
    database.dispose()
    return seconds


if __name__ == "__main__":
    main()
