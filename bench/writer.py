"""Benchmark: the ingest writer alone, in this process (no HTTP, no second process).

Groups of ``--requests`` requests of ``--events`` events, every event for another
of ``--leads`` leads (the hard case of ``bench/serve.py``), go through
``ingest_requests`` as the service's group commit does: leads kept in memory and
taken on trust as the writer does while nothing else writes. A few groups warm
the memory first. Prints events per second; run it alternately against another
tree (``PYTHONPATH=OTHER/src``) to compare two versions on a noisy machine.

    .venv/bin/python bench/writer.py [--groups 40] [--requests 16] [--events 100]
        [--leads 2000] [--untrusted]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

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
    args = parser.parse_args()

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
    print(
        json.dumps(
            {
                "name": "writer alone"
                + (", untrusted" if args.untrusted else "")
                + f", groups of {args.requests} x {args.events}",
                "events_per_second": round(events / seconds),
                "ms_per_group": round(seconds / args.groups * 1000, 1),
            }
        )
    )
    database.dispose()


if __name__ == "__main__":
    main()
