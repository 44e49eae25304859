"""Benchmark: events per second through ``leadgate serve`` (one uvicorn worker, SQLite).

Builds a fresh SQLite database with leads and an ingest key, starts
``leadgate serve`` in its own process, and loads it from this process over
127.0.0.1 with keep-alive connections (a small asyncio HTTP/1.1 client: the load
generator must cost less than the server it measures). Measured:

* single-event requests (``POST /api/v1/events``): events/s and latency p50/p99;
* 100-event batches (``POST /api/v1/events/batch``): events/s and latency, with
  every event for another lead (the hard case: 100 leads scored per request), and
  with 10 events for each of 10 leads (a tracking SDK flushing visitors' sessions);
* the qualifying request: when the response of the event that makes a lead an MQL
  arrives, its task and its ``lead.mql`` outbox message are already committed;
* the baseline, same generator, same machine: a bare FastAPI endpoint on uvicorn
  that only inserts the event into SQLite.

    .venv/bin/python bench/serve.py [--seconds 10] [--connections 16] [--leads 2000]
        [--history 0]  # events per lead before the runs: does ingest slow as leads age?
        [--only single|batch|sessions ...] [--skip-bare]
        [--readers 0]  # connections reading leads meanwhile: do reads hold up ingest?
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


async def _request(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    path: str,
    body: bytes | None,
    key: str,
) -> int:
    """POST ``body`` to ``path`` (GET without a body) and read the answer; its status."""
    head = "POST" if body is not None else "GET"
    body = body or b""
    writer.write(
        (
            f"{head} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
    )
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def load(
    port: int,
    path: str,
    bodies: Any,
    key: str,
    seconds: float,
    connections: int,
    reads: Any = None,
    readers: int = 0,
) -> tuple[int, list[float], int, list[float], int]:
    """Send requests for ``seconds`` on ``connections`` keep-alive connections; with
    ``readers``, as many more connections GET the paths ``reads(index, n)`` gives
    meanwhile. Returns the requests, their latencies and errors, then the reads'
    latencies and errors."""
    latencies: list[float] = []
    read_latencies: list[float] = []
    errors = 0
    read_errors = 0
    stop = time.perf_counter() + seconds

    async def reader_worker(index: int) -> None:
        nonlocal read_errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = 0
        while time.perf_counter() < stop:
            started = time.perf_counter()
            status = await _request(reader, writer, reads(index, n), None, key)
            n += 1
            read_latencies.append(time.perf_counter() - started)
            if status >= 300:
                read_errors += 1
        writer.close()

    async def worker(index: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = 0
        while time.perf_counter() < stop:
            body = bodies(index, n)
            n += 1
            started = time.perf_counter()
            status = await _request(reader, writer, path, body, key)
            latencies.append(time.perf_counter() - started)
            if status >= 300:
                errors += 1
        writer.close()

    await asyncio.gather(
        *(worker(i) for i in range(connections)), *(reader_worker(i) for i in range(readers))
    )
    return len(latencies), latencies, errors, read_latencies, read_errors


def opened(event_id: str, **who: str) -> dict[str, Any]:
    """An ``email.opened`` event happening now, for ``lead_id=`` or ``email=``."""
    return {
        "event_id": event_id,
        **who,
        "type": "email.opened",
        "occurred_at": datetime.now(UTC).isoformat(),
    }


def report(
    name: str, requests: int, latencies: list[float], errors: int, seconds: float, per_request: int
) -> dict[str, Any]:
    ordered = sorted(latencies)
    p99 = ordered[int(len(ordered) * 0.99) - 1] if ordered else float("nan")
    out = {
        "name": name,
        "requests": requests,
        "errors": errors,
        "events_per_second": round(requests * per_request / seconds),
        "p50_ms": round(statistics.median(ordered) * 1000, 2) if ordered else None,
        "p99_ms": round(p99 * 1000, 2),
    }
    print(json.dumps(out))
    return out


#: Opens count little (never an MQL alone); a click plus a pricing visit qualify.
MODEL = """
version: 1
name: bench
groups:
  engagement:
    half_life_days: 30
    rules:
      - {id: open, event: email.opened, points: 1, max_count: 3}
      - {id: click, event: email.clicked, points: 15}
      - {id: pricing, event: page.viewed, where: {properties.url: {contains: /pricing}}, points: 25}
mql: {score: engagement, gte: 35}
"""


def bench_leads(count: int, now: datetime) -> list[Any]:
    """``count`` leads ``L0``... in stage ``lead``, 300 companies' e-mail domains."""
    from leadgate.leads.models import Lead

    return [
        Lead(
            id=f"L{i}",
            email=f"lead{i}@acme{i % 300}.example",
            email_key=f"lead{i}@acme{i % 300}.example",
            stage="lead",
            stage_changed_at=now,
            created_at=now,
            updated_at=now,
            do_not_email=False,
            do_not_call=False,
            attributes={},
        )
        for i in range(count)
    ]


BARE_APP = textwrap.dedent(
    """
    import sqlite3, threading, json
    from fastapi import FastAPI, Request
    db = sqlite3.connect(DB, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS ev "
        "(id TEXT PRIMARY KEY, lead TEXT, type TEXT, ts TEXT, props TEXT)"
    )
    lock = threading.Lock()
    app = FastAPI()
    def row(e):
        props = json.dumps(e.get("properties", {}))
        return (e["event_id"], e["email"], e["type"], e["occurred_at"], props)
    INSERT = "INSERT OR IGNORE INTO ev VALUES (?,?,?,?,?)"
    @app.post("/api/v1/events")
    async def one(request: Request):
        e = await request.json()
        with lock:
            db.execute(INSERT, row(e))
        return {"stored": 1}
    @app.post("/api/v1/events/batch")
    async def many(request: Request):
        body = await request.json()
        rows = [row(e) for e in body["events"]]
        with lock:
            db.execute("BEGIN")
            db.executemany(INSERT, rows)
            db.execute("COMMIT")
        return {"stored": len(rows)}
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        help="events each lead already has (spread over the past 90 days) before the runs",
    )
    parser.add_argument(
        "--readers",
        type=int,
        default=0,
        help="connections reading leads (GET /api/v1/leads/ID) during each leadgate run",
    )
    parser.add_argument("--skip-bare", action="store_true")
    parser.add_argument(
        "--only",
        choices=["single", "batch", "sessions"],
        action="append",
        help="run only these leadgate runs (repeatable; default: all three)",
    )
    args = parser.parse_args()

    from leadgate.common.ids import utcnow
    from leadgate.db.engine import open_database
    from leadgate.events.service import insert_event_rows
    from leadgate.keys import create_key
    from leadgate.webhooks.service import SubscriptionIn, create_subscription

    folder = Path(tempfile.mkdtemp(prefix="leadgate-bench-serve-"))
    url = f"sqlite:///{folder / 'serve.db'}"
    database = open_database(url)
    now = utcnow()
    with database.session() as session:
        _, key = create_key(session, name="bench", scope="admin", now=now)
        create_subscription(
            session,
            data=SubscriptionIn(url="http://127.0.0.1:9/hook", events=["lead.mql"]),
            now=now,
        )
        session.add_all(bench_leads(args.leads, now))
    for first in range(0, args.leads if args.history else 0, 50):
        with database.session() as session:
            past = [
                (
                    f"h{i}-{k}",
                    f"L{i}",
                    "email.opened",
                    now - timedelta(days=90 * (k + 1) / (args.history + 1)),
                    None,
                    None,
                    {},
                )
                for i in range(first, min(first + 50, args.leads))
                for k in range(args.history)
            ]
            insert_event_rows(session, rows=past, received_at=now)
    database.dispose()
    model_file = folder / "model.yaml"
    model_file.write_text(MODEL, "utf-8")
    print(
        f"machine: {os.cpu_count()} CPUs; database {url}; {args.leads:,} leads "
        f"with {args.history:,} events each; "
        f"{args.connections} connections, {args.seconds:g} s per run"
    )
    port = free_port()
    env = {
        **os.environ,
        "LEADGATE_DATABASE_URL": url,
        "LEADGATE_SCHEDULER_INTERVAL_SECONDS": "3600",
    }
    server = subprocess.Popen(
        [PY, "-m", "leadgate.cli", "serve", "--port", str(port), "--model", str(model_file)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    results = []
    try:
        wait_up(port)
        counter = iter(range(10**9))

        def single(index: int, n: int) -> bytes:
            i = next(counter)
            return json.dumps(opened(f"s{i}", lead_id=f"L{i % args.leads}")).encode()

        def batch(index: int, n: int) -> bytes:
            events = []
            for _ in range(100):
                i = next(counter)
                events.append(opened(f"b{i}", lead_id=f"L{i % args.leads}"))
            return json.dumps({"events": events}).encode()

        def sessions(index: int, n: int) -> bytes:
            events = []
            for _ in range(10):
                lead = f"L{next(counter) % args.leads}"
                events.extend(opened(f"v{next(counter)}", lead_id=lead) for _ in range(10))
            return json.dumps({"events": events}).encode()

        for kind, name, path, bodies, per in (
            ("single", "leadgate single", "/api/v1/events", single, 1),
            ("batch", "leadgate batch of 100, 100 leads", "/api/v1/events/batch", batch, 100),
            (
                "sessions",
                "leadgate batch of 100, 10 leads x 10",
                "/api/v1/events/batch",
                sessions,
                100,
            ),
        ):
            if args.only and kind not in args.only:
                continue
            requests, latencies, errors, read_latencies, read_errors = asyncio.run(
                load(
                    port,
                    path,
                    bodies,
                    key,
                    args.seconds,
                    args.connections,
                    reads=lambda index, n: f"/api/v1/leads/L{(index * 7919 + n) % args.leads}",
                    readers=args.readers,
                )
            )
            results.append(report(name, requests, latencies, errors, args.seconds, per))
            if args.readers:
                report(
                    f"  {args.readers} readers meanwhile (GET lead)",
                    len(read_latencies),
                    read_latencies,
                    read_errors,
                    args.seconds,
                    1,
                )
        # the qualifying request: its task and webhook message are committed on response
        events = [
            {
                "event_id": f"q{k}",
                "lead_id": "L1",
                "type": kind,
                "occurred_at": datetime.now(UTC).isoformat(),
                "properties": {"url": "/pricing", "asset_type": "case_study"},
            }
            for k, kind in enumerate(
                ["email.clicked", "page.viewed", "webinar.attended", "email.opened"]
            )
        ]
        status = asyncio.run(
            _one(port, "/api/v1/events/batch", json.dumps({"events": events}).encode(), key)
        )
        reader = sqlite3.connect(str(folder / "serve.db"))
        stage = reader.execute("SELECT stage FROM leads WHERE id = 'L1'").fetchone()[0]
        tasks = reader.execute("SELECT count(*) FROM tasks WHERE lead_id = 'L1'").fetchone()[0]
        messages = reader.execute(
            "SELECT count(*) FROM outbox_messages WHERE lead_id = 'L1' AND event_type = 'lead.mql'"
        ).fetchone()[0]
        print(
            json.dumps(
                {
                    "qualifying_request": status,
                    "stage": stage,
                    "tasks": tasks,
                    "lead.mql messages": messages,
                }
            )
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    if not args.skip_bare:
        bare_db = folder / "bare.db"
        app_file = folder / "bare_app.py"
        app_file.write_text(f"DB = {str(bare_db)!r}\n" + BARE_APP, "utf-8")
        port = free_port()
        bare = subprocess.Popen(
            [PY, "-m", "uvicorn", "bare_app:app", "--port", str(port), "--log-level", "warning"],
            cwd=folder,
        )
        try:
            wait_up(port)
            counter = iter(range(10**9))

            def bare_single(index: int, n: int) -> bytes:
                i = next(counter)
                return json.dumps(opened(f"s{i}", email=f"lead{i}@x.example")).encode()

            def bare_batch(index: int, n: int) -> bytes:
                events = []
                for _ in range(100):
                    i = next(counter)
                    events.append(opened(f"b{i}", email=f"lead{i}@x.example"))
                return json.dumps({"events": events}).encode()

            for name, path, bodies, per in (
                ("bare insert single", "/api/v1/events", bare_single, 1),
                ("bare insert batch of 100", "/api/v1/events/batch", bare_batch, 100),
            ):
                requests, latencies, errors, _, _ = asyncio.run(
                    load(port, path, bodies, "x", args.seconds, args.connections)
                )
                results.append(report(name, requests, latencies, errors, args.seconds, per))
        finally:
            bare.terminate()
            bare.wait(timeout=30)


async def _one(port: int, path: str, body: bytes, key: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    status = await _request(reader, writer, path, body, key)
    writer.close()
    return status


if __name__ == "__main__":
    main()
