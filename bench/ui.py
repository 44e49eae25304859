"""Benchmark: the web app's pages and live channel against the REST calls they match.

Starts ``leadgate serve`` on 127.0.0.1 over the world of ``bench/ui_world.py``
(built first, or reused from its cache; default 1,000,000 leads and 50,000,000
events on SQLite) and measures over loopback, one request at a time, the
endpoints taking turns (so that drift hits them alike):

* REST with an admin key: the MQL list ``GET /api/v1/leads?stage=mql&limit=50``
  and one lead ``GET /api/v1/leads/{id}``;
* the pages, signed in as a manager (``leadgate users create``, then the login
  form): the queue ``GET /queue``, its rows ``GET /queue/rows`` and a lead's page
  ``GET /leads/{id}``; lead ids are drawn at random, a different one per request.

For each it reports p50/p95/p99 of the server time (``Server-Timing: app;dur=``)
and of the client's latency, and the ratio page / REST. Then the live channel:
``--streams`` concurrent ``GET /stream`` (server-sent events) for the same user;
a lead that is not yet an MQL is made one by posting events for it through the
Segment-compatible ``POST /v1/batch`` (ingest key, Basic auth), and each stream's
time from the POST's answer to its ``event: queue`` is taken; max and p95 over
the streams, for ``--rounds`` leads.

While the pages are not there yet, it says which part is missing and still runs
the REST part. Never in CI.

    .venv/bin/python bench/ui.py --leads 20000 --events 1000000 --requests 100  # quick
    .venv/bin/python bench/ui.py                                   # 1M leads, 50M events
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import secrets
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from ui_world import DEFAULT_CACHE, World, ensure_world  # bench/ is the script's folder

PY = sys.executable
TARGET_MS = 150.0
SSE_TARGET_S = 2.0
_TIMING = re.compile(r"app;dur=([0-9.]+)")
_CSRF = re.compile(r"<input[^>]*name=\"csrf_token\"[^>]*>")
_VALUE = re.compile(r"value=\"([^\"]*)\"")


def warm_page_cache(path: Path) -> int:
    """Read the database file (and its WAL) through once; the bytes read."""
    size = 0
    for part in (path, path.with_name(path.name + "-wal")):
        if not part.exists():
            continue
        with part.open("rb", buffering=0) as handle:
            while chunk := handle.read(16 * 2**20):
                size += len(chunk)
    return size


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(port: int, server: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait until the server answers HTTP (migrations on a big world take a while)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"leadgate serve exited with {server.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answers on {port} after {timeout:.0f} s")


def cli(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``leadgate ARGS`` against the world; its completed process."""
    return subprocess.run(
        [PY, "-m", "leadgate.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def create_key(env: dict[str, str], scope: str) -> str:
    """A new API key of ``scope`` (``leadgate keys create --json``)."""
    done = cli(env, "keys", "create", "--scope", scope, "--name", f"ui-bench-{scope}", "--json")
    if done.returncode != 0:
        raise RuntimeError(f"keys create failed: {done.stderr or done.stdout}")
    return str(json.loads(done.stdout)["key"])


def create_user(env: dict[str, str], email: str, password: str) -> str | None:
    """Create the benchmark's manager; None when done, else why not."""
    done = cli(
        env,
        "users",
        "create",
        "--email",
        email,
        "--name",
        "UI Bench Manager",
        "--role",
        "manager",
        "--password-stdin",
        stdin=password + "\n",
    )
    if done.returncode == 0:
        return None
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit {done.returncode}"


def remove_user(path: Path, email: str) -> None:
    """Forget an earlier run's user of this e-mail (and its sessions) in the world."""
    db = sqlite3.connect(path)
    try:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "users" not in tables:
            return
        ids = [row[0] for row in db.execute("SELECT id FROM users WHERE email = ?", (email,))]
        for user_id in ids:
            if "web_sessions" in tables:
                db.execute("DELETE FROM web_sessions WHERE user_id = ?", (user_id,))
            if "api_keys" in tables:
                columns = {row[1] for row in db.execute("PRAGMA table_info(api_keys)")}
                if "user_id" in columns:
                    db.execute("UPDATE api_keys SET user_id = NULL WHERE user_id = ?", (user_id,))
            db.execute("DELETE FROM users WHERE id = ?", (user_id,))
        db.commit()
    finally:
        db.close()


def sign_in(base: str, email: str, password: str) -> tuple[httpx.Cookies | None, str]:
    """The session cookies after the login form, or None and why not."""
    with httpx.Client(base_url=base, timeout=30) as client:
        try:
            page = client.get("/login")
        except httpx.HTTPError as exc:
            return None, f"GET /login failed: {exc!r}"
        if page.status_code != 200:
            return None, f"GET /login answered {page.status_code}"
        tag = _CSRF.search(page.text)
        value = _VALUE.search(tag.group(0)) if tag else None
        if value is None:
            return None, "GET /login has no csrf_token input"
        answer = client.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": value.group(1)},
            follow_redirects=False,
        )
        if "leadgate_session" not in client.cookies:
            return None, f"POST /login answered {answer.status_code} without a session cookie"
        return client.cookies, ""


@dataclass
class Series:
    """One endpoint's measurements."""

    name: str
    client_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    errors: Counter[int] = field(default_factory=Counter)
    by_path: list[tuple[str, float]] = field(default_factory=list)  # (path, server ms)

    def add(self, path: str, response: httpx.Response, seconds: float) -> None:
        if response.status_code != 200:
            self.errors[response.status_code] += 1
            return
        self.client_ms.append(seconds * 1000)
        match = _TIMING.search(response.headers.get("server-timing", ""))
        if match:
            self.server_ms.append(float(match.group(1)))
            self.by_path.append((path, float(match.group(1))))


def quantiles(values: list[float]) -> dict[str, float | None]:
    """p50, p95 and p99 (nearest rank), in the values' unit."""
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))], 2)

    return {"p50": round(statistics.median(ordered), 2), "p95": rank(0.95), "p99": rank(0.99)}


def visible_ids(
    world: World, manager: str, count: int, seed: int
) -> tuple[list[str], dict[str, int]]:
    """``count`` different lead ids drawn at random from the leads ``manager`` may open
    (no owner, a queue, or one of their reps: the app's team rule), the same for REST;
    and each one's number of contacts at its account (scoring a lead scores them all)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    total = int(world.meta["leads"])
    db = sqlite3.connect(f"file:{world.path}?mode=ro", uri=True)
    try:
        team = {
            row[0] for row in db.execute("SELECT email FROM reps WHERE manager = ?", (manager,))
        }
        team.add(manager)
        drawn = [f"L{int(i):08d}" for i in rng.choice(total, min(3 * count, total), replace=False)]
        owners: dict[str, str | None] = {}
        contacts: dict[str, int] = {}
        for start in range(0, len(drawn), 500):
            part = drawn[start : start + 500]
            marks = ", ".join("?" * len(part))
            for lead_id, owner, mates in db.execute(
                "SELECT id, owner, (SELECT count(*) FROM leads m WHERE m.account_id = "
                f"leads.account_id) FROM leads WHERE id IN ({marks})",
                part,
            ):
                owners[lead_id] = owner
                contacts[lead_id] = max(1, mates)
    finally:
        db.close()
    seen = [
        lead_id
        for lead_id in drawn
        if owners.get(lead_id) is None
        or str(owners[lead_id]).startswith("queue:")
        or owners[lead_id] in team
    ]
    return seen[:count], contacts


#: contacts at a lead's account: the buckets the lead endpoints are also reported by
BUCKETS = ((1, 99), (100, 499), (500, 10**9))


def by_account_size(series: Series, contacts: dict[str, int]) -> list[dict[str, Any]]:
    """The lead endpoint's server time by the number of contacts at the lead's account."""
    rows = []
    for low, high in BUCKETS:
        times = [
            ms for path, ms in series.by_path if low <= contacts[path.rsplit("/", 1)[1]] <= high
        ]
        label = f"{low}-{high}" if high < 10**9 else f">= {low}"
        rows.append(
            {"endpoint": series.name, "contacts": label, "n": len(times), **quantiles(times)}
        )
    return rows


def measure(
    base: str,
    endpoints: list[tuple[Series, Callable[[int], str], dict[str, Any]]],
    requests: int,
    warmup: int,
) -> None:
    """``requests`` sequential requests per endpoint, the endpoints taking turns."""
    with httpx.Client(base_url=base, timeout=120) as client:
        for n in range(-warmup, requests):
            for series, path_of, options in endpoints:
                path = path_of(n + warmup)
                started = time.perf_counter()
                response = client.get(path, **options)
                elapsed = time.perf_counter() - started
                if n >= 0:
                    series.add(path, response, elapsed)


def candidates(path: Path, manager: str, count: int) -> list[str]:
    """Leads that scoring has not qualified yet and that a few events will: grade A or B,
    in a stage scoring promotes from, at an account owned by one of ``manager``'s reps
    (so the new MQL is in that manager's queue)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT l.id FROM leads l JOIN accounts a ON a.id = l.account_id "
            "JOIN reps r ON r.email = a.owner JOIN scorecards s ON s.lead_id = l.id "
            "WHERE r.manager = ? AND l.stage IN ('lead', 'subscriber') AND s.mql = 0 "
            "AND s.grade IN ('A', 'B') AND json_extract(s.scores, '$.engagement') >= 0 "
            "ORDER BY l.id LIMIT ?",
            (manager, count * 20),
        ).fetchall()
    finally:
        db.close()
    ids = [row[0] for row in rows]
    return ids[:: max(1, len(ids) // max(1, count))][:count]


def qualifying_batch(lead_id: str, round_no: int) -> bytes:
    """Segment messages that make a grade A/B lead an MQL under the shipped model:
    two webinars (+30 each), two pricing-page views (+25 each), a click (+15)."""
    now = datetime.now(UTC).isoformat()
    stamp = f"{int(time.time() * 1000)}-{round_no}"
    messages: list[dict[str, Any]] = [
        {"type": "track", "event": "Webinar Attended", "userId": lead_id},
        {"type": "track", "event": "Webinar Attended", "userId": lead_id},
        {"type": "page", "userId": lead_id, "properties": {"url": "/pricing"}},
        {"type": "page", "userId": lead_id, "properties": {"url": "/pricing/enterprise"}},
        {"type": "track", "event": "Email Link Clicked", "userId": lead_id},
    ]
    for k, message in enumerate(messages):
        message["messageId"] = f"ui-bench-{stamp}-{k}"
        message["timestamp"] = now
    return json.dumps({"batch": messages}).encode()


async def fan_out(
    base: str,
    cookies: httpx.Cookies,
    ingest_key: str,
    admin_key: str,
    leads: list[str],
    streams: int,
) -> dict[str, Any]:
    """Open ``streams`` SSE streams; per lead, post its qualifying events and time each
    stream's ``event: queue`` from the POST's answer."""
    arrivals: list[list[float]] = [[] for _ in range(streams)]
    connected = 0
    ready = asyncio.Event()
    limits = httpx.Limits(max_connections=streams + 10, max_keepalive_connections=streams + 10)
    timeout = httpx.Timeout(30.0, read=None)

    async def reader(index: int, client: httpx.AsyncClient) -> None:
        nonlocal connected
        async with client.stream("GET", "/stream", headers={"Accept": "text/event-stream"}) as r:
            if r.status_code != 200:
                raise RuntimeError(f"GET /stream answered {r.status_code}")
            first = True
            async for line in r.aiter_lines():
                if first:
                    first = False
                    connected += 1
                    if connected == streams:
                        ready.set()
                if line.startswith("event: queue"):
                    arrivals[index].append(time.perf_counter())

    basic = base64.b64encode(f"{ingest_key}:".encode()).decode()
    rounds: list[dict[str, Any]] = []
    async with (
        httpx.AsyncClient(base_url=base, cookies=cookies, limits=limits, timeout=timeout) as sse,
        httpx.AsyncClient(base_url=base, timeout=60) as poster,
    ):
        tasks = [asyncio.create_task(reader(i, sse)) for i in range(streams)]
        opened = time.perf_counter()
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait([waiter, *tasks], timeout=120, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done() and task.exception() is not None:
                raise RuntimeError(f"stream failed: {task.exception()!r}")
        if not ready.is_set():
            raise RuntimeError(f"only {connected} of {streams} streams connected in 120 s")
        open_seconds = time.perf_counter() - opened
        await asyncio.sleep(1.0)
        for round_no, lead_id in enumerate(leads):
            before = [len(times) for times in arrivals]
            sent = time.perf_counter()
            answer = await poster.post(
                "/v1/batch",
                content=qualifying_batch(lead_id, round_no),
                headers={"Authorization": f"Basic {basic}", "Content-Type": "application/json"},
            )
            answered = time.perf_counter()
            deadline = answered + 10
            while time.perf_counter() < deadline and any(
                len(arrivals[i]) <= before[i] for i in range(streams)
            ):
                await asyncio.sleep(0.005)
            got = [arrivals[i][before[i]] for i in range(streams) if len(arrivals[i]) > before[i]]
            after = sorted(t - answered for t in got)
            detail = await poster.get(
                f"/api/v1/leads/{lead_id}", headers={"Authorization": f"Bearer {admin_key}"}
            )
            stage = detail.json().get("stage") if detail.status_code == 200 else None
            rounds.append(
                {
                    "lead": lead_id,
                    "post_status": answer.status_code,
                    "post_ms": round((answered - sent) * 1000, 1),
                    "stage_after": stage,
                    "streams_reached": len(got),
                    "max_s": round(after[-1], 3) if after else None,
                    "p95_s": round(after[min(len(after) - 1, round(0.95 * len(after)) - 1)], 3)
                    if after
                    else None,
                    "min_s": round(after[0], 3) if after else None,
                }
            )
            print(json.dumps({"sse_round": rounds[-1]}), flush=True)
            await asyncio.sleep(1.0)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {"streams": streams, "open_seconds": round(open_seconds, 2), "rounds": rounds}


def table(series: list[Series], pairs: dict[str, str]) -> list[dict[str, Any]]:
    """One row per endpoint: server and client quantiles, and page / REST ratios."""
    by_name = {s.name: s for s in series}
    rows = []
    for s in series:
        server, client = quantiles(s.server_ms), quantiles(s.client_ms)
        row: dict[str, Any] = {
            "endpoint": s.name,
            "n": len(s.client_ms),
            "errors": dict(s.errors),
            **{f"server_{k}_ms": v for k, v in server.items()},
            **{f"client_{k}_ms": v for k, v in client.items()},
        }
        rest = by_name.get(pairs.get(s.name, ""))
        if rest is not None:
            rest_server, rest_client = quantiles(rest.server_ms), quantiles(rest.client_ms)
            for q in ("p50", "p95"):
                if server[q] and rest_server[q]:
                    row[f"server_{q}_vs_rest"] = round(server[q] / rest_server[q], 2)
                if client[q] and rest_client[q]:
                    row[f"client_{q}_vs_rest"] = round(client[q] / rest_client[q], 2)
            row["compared_with"] = rest.name
        rows.append(row)
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    head = (
        f"{'endpoint':<34} {'n':>5} | {'server p50':>10} {'p95':>8} {'p99':>8} | "
        f"{'client p50':>10} {'p95':>8} {'p99':>8} | {'p95 vs REST':>11}"
    )
    print(head)
    print("-" * len(head))
    for row in rows:

        def cell(key: str, row: dict[str, Any] = row) -> str:
            value = row.get(key)
            return "-" if value is None else f"{value:.1f}"

        ratio = row.get("server_p95_vs_rest")
        print(
            f"{row['endpoint']:<34} {row['n']:>5} | {cell('server_p50_ms'):>10} "
            f"{cell('server_p95_ms'):>8} {cell('server_p99_ms'):>8} | "
            f"{cell('client_p50_ms'):>10} {cell('client_p95_ms'):>8} {cell('client_p99_ms'):>8} | "
            f"{'' if ratio is None else f'{ratio:.2f}x':>11}"
            + (f"  errors {row['errors']}" if row["errors"] else "")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=50_000_000)
    parser.add_argument("--seed", type=int, default=20261210)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--requests", type=int, default=300, help="per endpoint")
    parser.add_argument("--warmup", type=int, default=5, help="requests per endpoint first")
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5, help="MQLs sent to the streams")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--sample-seed", type=int, help="which leads are asked for (default: --seed)"
    )
    parser.add_argument(
        "--warm",
        action="store_true",
        help="read the world's database file once first, as a server that has been "
        "running holds it in the page cache (otherwise most rows come from disk)",
    )
    args = parser.parse_args()

    world = ensure_world(leads=args.leads, events=args.events, seed=args.seed, cache=args.cache_dir)
    env = {
        **os.environ,
        "LEADGATE_DATABASE_URL": world.url,
        # no scheduler pass (SLA escalation of the world's overdue tasks) during the runs
        "LEADGATE_SCHEDULER_INTERVAL_SECONDS": "36000",
    }
    print(
        f"machine: {os.cpu_count()} CPUs; world {world.path.name}: {world.meta['leads']:,} leads, "
        f"{world.meta['accounts']:,} accounts, {world.meta['events']:,} events, "
        f"{world.meta['stages'].get('mql', 0):,} MQLs",
        flush=True,
    )
    if args.warm:
        started = time.perf_counter()
        size = warm_page_cache(world.path)
        seconds = time.perf_counter() - started
        print(f"read {size / 2**30:.1f} GiB into the page cache in {seconds:.0f} s", flush=True)
    started = time.perf_counter()
    admin_key = create_key(env, "admin")  # also brings the schema to the newest migration
    ingest_key = create_key(env, "ingest")
    print(f"keys created (migrations included) in {time.perf_counter() - started:.1f} s")
    email = str(world.meta["managers"][0])  # the manager of a tenth of the reps
    password = secrets.token_urlsafe(18)
    remove_user(world.path, email)
    missing: list[str] = []
    why = create_user(env, email, password)
    if why is not None:
        missing.append(f"users create: {why}")
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [PY, "-m", "leadgate.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    results: dict[str, Any] = {
        "warm": args.warm,
        "world": world.meta,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "requests_per_endpoint": args.requests,
    }
    try:
        started = time.perf_counter()
        wait_up(port, server, timeout=900)
        print(f"server up in {time.perf_counter() - started:.1f} s", flush=True)
        cookies = None
        if not missing:
            cookies, why = sign_in(base, email, password)
            if cookies is None:
                missing.append(f"sign-in: {why}")
        bearer = {"headers": {"Authorization": f"Bearer {admin_key}"}}
        sample_seed = args.seed if args.sample_seed is None else args.sample_seed
        ids, contacts = visible_ids(world, email, 2 * (args.requests + args.warmup), sample_seed)
        rest_ids, page_ids = ids[0::2], ids[1::2]
        rest_list = Series("REST GET /api/v1/leads?stage=mql")
        rest_lead = Series("REST GET /api/v1/leads/{id}")
        endpoints: list[tuple[Series, Callable[[int], str], dict[str, Any]]] = [
            (rest_list, lambda n: "/api/v1/leads?stage=mql&limit=50", bearer),
            (rest_lead, lambda n: f"/api/v1/leads/{rest_ids[n]}", bearer),
        ]
        pairs: dict[str, str] = {}
        if cookies is not None:
            cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
            web = {"headers": {"Cookie": cookie}}
            queue = Series("page GET /queue")
            rows = Series("page GET /queue/rows")
            lead = Series("page GET /leads/{id}")
            endpoints += [
                (queue, lambda n: "/queue", web),
                (rows, lambda n: "/queue/rows", web),
                (lead, lambda n: f"/leads/{page_ids[n]}", web),
            ]
            pairs = {
                queue.name: rest_list.name,
                rows.name: rest_list.name,
                lead.name: rest_lead.name,
            }
        else:
            print(f"WEB PAGES NOT AVAILABLE ({'; '.join(missing)}): REST only", flush=True)
        started = time.perf_counter()
        load_before = os.getloadavg()[0]
        measure(base, endpoints, args.requests, args.warmup)
        results["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        print(
            f"measured in {time.perf_counter() - started:.0f} s; 1-minute load average "
            f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after",
            flush=True,
        )
        rows_out = table([e[0] for e in endpoints], pairs)
        print_table(rows_out)
        results["endpoints"] = rows_out
        results["lead_by_account_size"] = []
        for series in (e[0] for e in endpoints):
            if series.name.endswith("{id}"):
                for row in by_account_size(series, contacts):
                    results["lead_by_account_size"].append(row)
                    print(
                        f"  {row['endpoint']:<32} contacts {row['contacts']:>9}: n {row['n']:>4}, "
                        f"server p50 {row['p50']} ms, p95 {row['p95']} ms"
                    )
        for row in rows_out:
            p95 = row.get("server_p95_ms")
            if row["endpoint"].startswith("page") and p95 is not None and p95 >= TARGET_MS:
                print(f"OVER TARGET: {row['endpoint']} server p95 {p95:.0f} ms >= {TARGET_MS:.0f}")
        if cookies is not None:
            leads = candidates(world.path, email, args.rounds)
            try:
                results["sse"] = asyncio.run(
                    fan_out(base, cookies, ingest_key, admin_key, leads, args.streams)
                )
            except RuntimeError as exc:
                print(f"LIVE CHANNEL NOT AVAILABLE: {exc}", flush=True)
                results["sse"] = {"error": str(exc)}
            else:
                summary = [r["max_s"] for r in results["sse"]["rounds"] if r["max_s"] is not None]
                worst = max(summary) if summary else None
                print(
                    f"SSE: {args.streams} streams; max over streams per round (s): {summary}; "
                    f"worst {worst} (target < {SSE_TARGET_S:g} s)",
                    flush=True,
                )
        else:
            results["missing"] = missing
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), "utf-8")


if __name__ == "__main__":
    main()
