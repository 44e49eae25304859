"""Build, or reuse from a cache, the world of the web-app benchmark (bench/ui.py) on SQLite.

A seeded B2B world: leads (default 1,000,000) at accounts (one per ten leads,
heavy-tailed sizes, tiers 1-3, 5 % of leads without one), their events (default
50,000,000 over the last 180 days, more of them lately: the types and shares of
``leadgate.engines.synthetic.EVENT_MIX``: e-mail opens, clicks, page views with a
share on the pricing pages, downloads with an asset type, forms, webinars, ...;
activity skewed, lognormal per lead), 50 reps under 5 managers, a stage mix
(mostly ``lead``, ``subscriber`` and ``nurture``; a few % ``mql``, each with an
open call task due one hour after the entry; ``sal`` ... ``customer`` and
``disqualified`` with their ``stage_changes`` history and done tasks), and one
stored scorecard per lead. ``leads.events_stored`` is each lead's event count.

The schema is the project's own (``open_database`` runs the migrations); the rows
are written with plain ``executemany``, one transaction per chunk of accounts, WAL
and ``synchronous=OFF`` while building. Events of a chunk are written in time
order, so a lead's events are spread over the chunk's pages as in a database
filled over time.

Scorecards are what the service stores: each account's leads are scored
together (roll-ups) by the project's pure evaluator
(``scoring.evaluator.evaluate_account``, behind ``leadgate score``, the ingest
path and the cards ``rescore --yes`` stores) with the shipped model, over their
counted events (``scorecards.service.counted_since``: a ``nurture`` lead counts
what it did since) as of the world's end, and stored as ``upsert_scorecards``
writes them. Only the events of the types the model reads are handed to it (the
compiled query's ``event_types``, as ``leadgate rescore`` reads them). A lead
whose verdict holds in a stage scoring promotes from is moved to ``mql``, as the
service would have done. ``--check N`` recomputes N leads through the service's
own path (``evaluate_leads`` over the stored rows) and compares.

Not written: action runs, outbox messages and webhook deliveries of past handoffs.

The database is cached by seed and sizes (``~/.cache/leadgate-bench/ui-world-
<seed>-<leads>-<events>.db``); a JSON marker next to it, written last, says it is
complete. Never run in CI.

    .venv/bin/python bench/ui_world.py --leads 20000 --events 1000000   # a quick one
    .venv/bin/python bench/ui_world.py                                  # 1M leads, 50M events
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from leadgate.engines.synthetic import (
    ASSET_WEIGHTS,
    ASSETS,
    COUNTRIES,
    COUNTRY_WEIGHTS,
    EVENT_MIX,
    FREE_MAIL,
    INDUSTRIES,
    SENIORITIES,
    SENIORITY_WEIGHTS,
    URL_WEIGHTS,
    URLS,
)
from leadgate.scorecards.service import counted_since
from leadgate.scoring import default_model
from leadgate.scoring.evaluator import Member, evaluate_account
from leadgate.scoring.nodes import ScoringModel
from leadgate.scoring.records import AccountRecord, EventRecord, LeadRecord
from leadgate.scoring.scorecard import Scorecard

DEFAULT_CACHE = Path.home() / ".cache" / "leadgate-bench"
DAYS = 180
REPS = 50
MANAGERS = 5
CHUNK_EVENTS = 1_000_000
ACTIVITY_SIGMA = 1.6  # lognormal activity per lead: the busiest 10 % make over half the events
LARGEST_ACCOUNT = 1_500  # about the most contacts an account has (heavy-tailed below)
AGE_POWER = 1.2  # an event's age is the window times u ** this (more activity lately)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US_PER_DAY = 86_400_000_000

#: stage drawn for a lead (before scoring moves qualifying ones to ``mql``)
STAGE_MIX: tuple[tuple[str, float], ...] = (
    ("subscriber", 0.12),
    ("lead", 0.708),
    ("nurture", 0.08),
    ("mql", 0.01),
    ("sal", 0.01),
    ("sql", 0.012),
    ("opportunity", 0.006),
    ("customer", 0.004),
    ("disqualified", 0.05),
)
#: the funnel after ``mql`` (each later stage passed through the ones before)
FUNNEL = ("mql", "sal", "sql", "opportunity", "customer")
AUTO_QUALIFY = ("subscriber", "lead", "nurture")
REJECTIONS = ("not a fit", "no budget", "bad timing", "no contact", "competitor")
FIRST = (
    "jana", "petr", "anna", "tomas", "eva", "martin", "lucie", "jakub", "katerina",
    "david", "marie", "pavel", "tereza", "michal", "lenka", "jan", "klara", "ondrej",
    "sophie", "max", "emma", "leon", "julia", "paul", "piotr", "zofia", "john", "sarah",
    "lukas", "hana", "marek", "ewa", "jonas", "laura", "adam", "nina",
)  # fmt: skip
LAST = (
    "novak", "svoboda", "dvorak", "cerny", "prochazka", "kucera", "vesely", "horak",
    "muller", "schmidt", "schneider", "fischer", "weber", "kowalski", "nowak", "wisniewski",
    "smith", "jones", "taylor", "brown", "martin", "bernard", "dubois", "devries", "jansen",
    "horvath", "nagy", "kovacs", "gruber", "huber", "bauer", "wagner",
)  # fmt: skip
STEMS = (
    "acme", "bluetech", "nordic", "alpine", "vltava", "danube", "morava", "tatra",
    "baltic", "carpathia", "silesia", "bohemia", "praha", "brno", "rhein", "elbe",
)  # fmt: skip
SUFFIXES = ("components", "systems", "logistics", "machines", "software", "group", "industries")
TLDS = ("cz", "sk", "de", "pl", "at", "hu", "co.uk", "com", "fr", "nl")
DEPARTMENTS = ("marketing", "sales", "it", "operations", "finance", "engineering")
TITLES = {
    "individual": "Specialist",
    "manager": "Manager",
    "director": "Director",
    "vp": "VP",
    "c-level": "Chief Officer",
}
CHANNELS = ("organic_search", "paid_search", "referral", "social", "email", "display", "direct")
CHANNEL_WEIGHTS = (0.3, 0.15, 0.1, 0.1, 0.15, 0.05, 0.15)
SOURCES = ("website", "webinar", "import", "event", "partner")
SOURCE_WEIGHTS = (0.6, 0.1, 0.15, 0.1, 0.05)


@dataclass(frozen=True)
class World:
    """A complete world database and what its marker says about it."""

    path: Path
    meta: dict[str, Any]

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"


def world_path(cache: Path, seed: int, leads: int, events: int) -> Path:
    """Where the world of these sizes and seed is cached."""
    return cache / f"ui-world-{seed}-{leads}-{events}.db"


def marker_path(path: Path) -> Path:
    """The marker written once the database at ``path`` is complete."""
    return path.with_name(path.name + ".json")


def ensure_world(
    *, leads: int, events: int, seed: int, cache: Path = DEFAULT_CACHE, rebuild: bool = False
) -> World:
    """The cached world of these sizes and seed, built first when missing or incomplete."""
    path = world_path(cache, seed, leads, events)
    marker = marker_path(path)
    if marker.exists() and path.exists() and not rebuild:
        meta = json.loads(marker.read_text("utf-8"))
        print(f"reusing {path} (built {meta['built_at']} in {meta['build_seconds']:.0f} s)")
        _backfill_inputs_digests(path, meta)
        return World(path, meta)
    cache.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    building = path.with_name(path.name + ".building")
    started = time.perf_counter()
    meta = build(building, leads=leads, events=events, seed=seed)
    _backfill_inputs_digests(building, meta)
    building.rename(path)
    meta["build_seconds"] = round(time.perf_counter() - started, 1)
    marker.write_text(json.dumps(meta, indent=2), "utf-8")
    print(f"built {path} in {meta['build_seconds']:.0f} s", flush=True)
    return World(path, meta)


def _backfill_inputs_digests(path: Path, meta: dict[str, Any]) -> None:
    """Each card the builder wrote gets its inputs digest (``scorecards.inputs``): the
    builder scored every stored event of each lead, as its row says, as of the world's
    end. Cards the service rewrote since (a benchmark's posted events) carry their own.
    Worlds cached before the digest existed get it here too, with their cards'
    counted events taken from their breakdowns."""
    from leadgate.common.driver_sql import time_reader
    from leadgate.events.service import sqlite_time
    from leadgate.scorecards.inputs import row_inputs

    _schema(path)  # the project's migrations add the columns
    db = _connect(path)
    try:
        end = sqlite_time(datetime.fromisoformat(meta["world_end"]))
        rows = db.execute(
            "SELECT s.lead_id, l.events_stored, l.updated_at, l.stage, l.stage_changed_at, "
            "l.account_id, a.updated_at, p.probability, s.counted_events IS NULL "
            "FROM scorecards s "
            "JOIN leads l ON l.id = s.lead_id LEFT JOIN accounts a ON a.id = l.account_id "
            "LEFT JOIN predictions p ON p.lead_id = l.id "
            "WHERE s.inputs_digest IS NULL AND s.computed_at = ?",
            (end,),
        ).fetchall()
        if not rows:
            return
        read_time = time_reader("sqlite")
        db.execute("BEGIN")
        db.executemany(
            "UPDATE scorecards SET inputs_digest = ? WHERE lead_id = ?",
            ((row_inputs(read_time, *row[1:8]), row[0]) for row in rows),
        )
        missing = [(row[0],) for row in rows if row[8]]
        for start in range(0, len(missing), 10_000):
            part = missing[start : start + 10_000]
            marks = ", ".join("?" * len(part))
            found = db.execute(
                f"SELECT lead_id, breakdown FROM scorecards WHERE lead_id IN ({marks})",
                [lead_id for (lead_id,) in part],
            ).fetchall()
            db.executemany(
                "UPDATE scorecards SET counted_events = ? WHERE lead_id = ?",
                ((_counted_from_breakdown(breakdown), lead_id) for lead_id, breakdown in found),
            )
        db.execute("COMMIT")
        print(f"inputs digests written on {len(rows):,} cards the builder wrote", flush=True)
    finally:
        db.close()


def _counted_from_breakdown(breakdown: str) -> str:
    """``Scorecard.counted_json`` of a stored breakdown."""
    rules = orjson.loads(breakdown)["rules"]
    return orjson.dumps(
        {
            rule["rule_id"]: [
                rule["matched_count"],
                [[event["ts"], event["event_id"], event["type"]] for event in rule["events"]],
            ]
            for rule in rules
            if rule["kind"] == "event"
        }
    ).decode()


def _choice(rng: np.random.Generator, size: int, weights: Sequence[float]) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(p), size=size, p=p / p.sum()).astype(np.int32)


def _texts(us: np.ndarray) -> list[str]:
    """Microseconds since the epoch as the text SQLAlchemy stores on SQLite."""
    return [
        text.replace("T", " ")
        for text in np.datetime_as_string(us.astype("datetime64[us]"), unit="us").tolist()
    ]


def _text(us: int) -> str:
    return _texts(np.array([us], dtype=np.int64))[0]


def _instant(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=int(us))


def _schema(path: Path) -> None:
    """The project's schema, by its own migrations."""
    from leadgate.db.engine import open_database

    open_database(f"sqlite:///{path}").dispose()


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-1000000")  # 1 GB while building
    db.execute("PRAGMA temp_store=MEMORY")
    return db


def _insert(
    db: sqlite3.Connection, table: str, columns: str, rows: Sequence[tuple[Any, ...]]
) -> None:
    marks = ", ".join("?" * len(columns.split(",")))
    db.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)


@dataclass
class _People:
    """Lead-level arrays (index = lead number) drawn once for the whole world."""

    count: int
    account: np.ndarray  # account number, -1 without one
    events: np.ndarray  # events per lead
    created_us: np.ndarray
    stage: np.ndarray  # index into STAGE_MIX
    seniority: np.ndarray
    first: np.ndarray
    last: np.ndarray
    free: np.ndarray
    free_domain: np.ndarray
    department: np.ndarray
    channel: np.ndarray
    source: np.ndarray


@dataclass
class _Accounts:
    count: int
    employees: np.ndarray
    industry: np.ndarray
    country: np.ndarray
    tier: np.ndarray
    stem: np.ndarray
    suffix: np.ndarray
    owner: list[str | None]
    first_lead: np.ndarray  # lead number of each account's first lead


def _accounts_and_people(
    rng: np.random.Generator, leads: int, events: int, now_us: int, reps: dict[str, list[str]]
) -> tuple[_Accounts, _People]:
    count = max(1, leads // 10)
    employees = np.clip(rng.lognormal(4.2, 1.6, count), 1, 200_000).astype(np.int64)
    industry = rng.integers(0, len(INDUSTRIES), count)
    country = _choice(rng, count, COUNTRY_WEIGHTS)
    tier = _choice(rng, count, (0.05, 0.2, 0.75))
    owner: list[str | None] = [
        str(rng.choice(reps[COUNTRIES[c]])) if t == 0 else None
        for c, t in zip(country.tolist(), tier.tolist(), strict=True)
    ]
    with_account = leads - round(leads * 0.05)
    weight = rng.pareto(1.5, count) + 1
    weight = np.minimum(weight, LARGEST_ACCOUNT * weight.sum() / with_account)
    sizes = rng.multinomial(with_account, weight / weight.sum())
    first_lead = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    account = np.concatenate(
        [np.repeat(np.arange(count), sizes), np.full(leads - with_account, -1)]
    ).astype(np.int64)
    activity = rng.lognormal(0.0, ACTIVITY_SIGMA, leads)
    per_lead = rng.multinomial(events, activity / activity.sum())
    created_days = rng.uniform(1, 720, leads)
    people = _People(
        count=leads,
        account=account,
        events=per_lead,
        created_us=now_us - (created_days * US_PER_DAY).astype(np.int64),
        stage=_choice(rng, leads, [share for _, share in STAGE_MIX]),
        seniority=_choice(rng, leads, SENIORITY_WEIGHTS),
        first=rng.integers(0, len(FIRST), leads),
        last=rng.integers(0, len(LAST), leads),
        free=rng.random(leads) < 0.15,
        free_domain=rng.integers(0, len(FREE_MAIL), leads),
        department=rng.integers(0, len(DEPARTMENTS), leads),
        channel=_choice(rng, leads, CHANNEL_WEIGHTS),
        source=_choice(rng, leads, SOURCE_WEIGHTS),
    )
    accounts = _Accounts(
        count=count,
        employees=employees,
        industry=industry,
        country=country,
        tier=tier,
        stem=rng.integers(0, len(STEMS), count),
        suffix=rng.integers(0, len(SUFFIXES), count),
        owner=owner,
        first_lead=first_lead,
    )
    return accounts, people


def _cuts(people: _People, accounts: _Accounts, target: int) -> list[int]:
    """Lead numbers where chunks start: at account boundaries, about ``target`` events each."""
    with_account = int((people.account >= 0).sum())
    allowed = np.unique(
        np.concatenate([accounts.first_lead, np.arange(with_account, people.count + 1)])
    )
    allowed = allowed[allowed <= people.count]
    cumulative = np.concatenate([[0], np.cumsum(people.events)])
    at_allowed = cumulative[allowed]
    wanted = np.arange(target, int(cumulative[-1]), target)
    picked = allowed[np.minimum(np.searchsorted(at_allowed, wanted), len(allowed) - 1)]
    return sorted({0, people.count, *picked.tolist()})


def _account_id(number: int) -> str:
    return f"A{number:07d}"


def _lead_id(number: int) -> str:
    return f"L{number:08d}"


def _domain(accounts: _Accounts, number: int) -> str:
    stem, suffix = STEMS[accounts.stem[number]], SUFFIXES[accounts.suffix[number]]
    return f"{stem}{suffix}{number}.{TLDS[accounts.country[number]]}"


@dataclass
class _Move:
    frm: str | None
    to: str
    at: int
    actor: str
    reason: str | None


class _Builder:
    """Writes one chunk of accounts after another into an open connection."""

    def __init__(
        self,
        db: sqlite3.Connection,
        model: ScoringModel,
        now_us: int,
        people: _People,
        accounts: _Accounts,
        reps: dict[str, list[str]],
        seed: int,
    ) -> None:
        self.db = db
        self.model = model
        self.now_us = now_us
        self.now = _instant(now_us)
        self.now_text = _text(now_us)
        self.people = people
        self.accounts = accounts
        self.reps = reps
        self.all_reps = sorted({rep for group in reps.values() for rep in group})
        self.seed = seed
        self.type_names = [name for name, _ in EVENT_MIX]
        self.page = self.type_names.index("page.viewed")
        self.download = self.type_names.index("content.downloaded")
        types = _model_event_types(model)
        self.scored_types = np.array(
            [types is None or name in types for name in self.type_names], dtype=bool
        )
        self.next_event = 0
        self.next_change = 1
        self.stages: Counter[str] = Counter()
        self.assigned: Counter[str] = Counter()
        self.verdicts = 0
        self.promoted = 0
        self.score_seconds = 0.0

    def chunk(self, number: int, lo: int, hi: int) -> None:
        rng = np.random.default_rng((self.seed, number))
        events = self._events(rng, lo, hi)
        props = self._properties(events)
        moves = self._history(rng, lo, hi)
        started = time.perf_counter()
        cards = self._score(lo, hi, events, props, moves)
        self.score_seconds += time.perf_counter() - started
        owners = self._owners(rng, lo, hi, moves)
        self.db.execute("BEGIN")
        self._write_events(events, props)
        self._write_leads(lo, hi, moves, owners)
        self._write_history(rng, lo, hi, moves, owners)
        self._write_cards(cards)
        self.db.execute("COMMIT")

    def _events(self, rng: np.random.Generator, lo: int, hi: int) -> dict[str, np.ndarray]:
        counts = self.people.events[lo:hi]
        lead = np.repeat(np.arange(lo, hi), counts)
        size = len(lead)
        window = np.minimum(DAYS * US_PER_DAY, self.now_us - self.people.created_us[lead])
        ts = self.now_us - (rng.random(size) ** AGE_POWER * window).astype(np.int64)
        order = np.argsort(ts, kind="stable")
        return {
            "lead": lead[order],
            "ts": ts[order],
            "type": _choice(rng, size, [share for _, share in EVENT_MIX]),
            "url": _choice(rng, size, URL_WEIGHTS),
            "asset": _choice(rng, size, ASSET_WEIGHTS),
            "id": np.arange(self.next_event, self.next_event + size),
        }

    def _properties(self, events: dict[str, np.ndarray]) -> list[dict[str, str]]:
        url = [{"url": value} for value in URLS]
        asset = [{"asset_type": value} for value in ASSETS]
        empty: dict[str, str] = {}
        return [
            url[u] if t == self.page else asset[a] if t == self.download else empty
            for t, u, a in zip(
                events["type"].tolist(),
                events["url"].tolist(),
                events["asset"].tolist(),
                strict=True,
            )
        ]

    def _write_events(self, events: dict[str, np.ndarray], props: list[dict[str, str]]) -> None:
        texts = _texts(events["ts"])
        encoded = {id(value): json.dumps(value) for value in props}  # as insert_event_rows
        properties = [encoded[id(value)] for value in props]
        types = events["type"].tolist()
        channel = ["email" if self.type_names[t].startswith("email.") else "web" for t in types]
        rows = zip(
            [f"ev{i:010d}" for i in events["id"].tolist()],
            [_lead_id(i) for i in events["lead"].tolist()],
            [self.type_names[t] for t in types],
            texts,
            channel,
            [None] * len(texts),
            properties,
            texts,
            strict=True,
        )
        _insert(
            self.db,
            "events",
            "event_id, lead_id, type, occurred_at, channel, campaign, properties, received_at",
            list(rows),
        )
        self.next_event += len(texts)

    def _history(self, rng: np.random.Generator, lo: int, hi: int) -> dict[int, list[_Move]]:
        """Each lead's stage moves, oldest first (before scoring promotes anyone)."""
        moves: dict[int, list[_Move]] = {}
        system = f"system:{self.model.label}"
        for i in range(lo, hi):
            created = int(self.people.created_us[i])
            stage = STAGE_MIX[self.people.stage[i]][0]
            first = "subscriber" if stage == "subscriber" else "lead"
            path = [_Move(None, first, created, "import", "created")]
            span = self.now_us - created
            if (
                stage in FUNNEL
                or stage == "nurture"
                or (stage == "disqualified" and rng.random() < 0.5)
            ):
                if stage == "mql":  # the queue: entered lately
                    at = self.now_us - int(min(rng.exponential(4.0) * US_PER_DAY, span * 0.9))
                else:
                    at = created + int(span * rng.uniform(0.2, 0.8))
                path.append(_Move("lead", "mql", at, system, "qualified by " + self.model.label))
                later = FUNNEL[1 : FUNNEL.index(stage) + 1] if stage in FUNNEL else (stage,)
                for target in later:
                    gap = self.now_us - path[-1].at
                    at = path[-1].at + int(gap * rng.uniform(0.05, 0.5))
                    rep = "rep"  # replaced by the owner when written
                    reason = (
                        rng.choice(REJECTIONS) if target in ("nurture", "disqualified") else None
                    )
                    path.append(
                        _Move(path[-1].to, target, at, rep, None if reason is None else str(reason))
                    )
            elif stage == "disqualified":
                at = created + int(span * rng.uniform(0.1, 0.9))
                path.append(_Move(first, "disqualified", at, "rep", "not a fit"))
            moves[i] = path
        return moves

    def _record(self, i: int) -> LeadRecord:
        p = self.people
        number = int(p.account[i])
        domain = (
            FREE_MAIL[p.free_domain[i]]
            if p.free[i] or number < 0
            else _domain(self.accounts, number)
        )
        seniority = SENIORITIES[p.seniority[i]]
        return LeadRecord(
            id=_lead_id(i),
            email=f"{FIRST[p.first[i]]}.{LAST[p.last[i]]}{i}@{domain}",
            first_name=FIRST[p.first[i]].title(),
            last_name=LAST[p.last[i]].title(),
            title=f"{DEPARTMENTS[p.department[i]].title()} {TITLES[seniority]}",
            seniority=seniority,
            department=DEPARTMENTS[p.department[i]],
            country=COUNTRIES[self.accounts.country[number]] if number >= 0 else None,
            source=SOURCES[p.source[i]],
            channel=CHANNELS[p.channel[i]],
            campaign=None,
            account_id=_account_id(number) if number >= 0 else None,
        )

    def _account_record(self, number: int) -> AccountRecord:
        a = self.accounts
        return AccountRecord(
            id=_account_id(number),
            domain=_domain(a, number),
            name=f"{STEMS[a.stem[number]].title()} {SUFFIXES[a.suffix[number]].title()} {number}",
            industry=INDUSTRIES[a.industry[number]],
            employees=int(a.employees[number]),
            annual_revenue=float(a.employees[number]) * 120_000.0,
            country=COUNTRIES[a.country[number]],
            tier=str(a.tier[number] + 1),
            owner=a.owner[number],
        )

    def _score(
        self,
        lo: int,
        hi: int,
        events: dict[str, np.ndarray],
        all_props: list[dict[str, str]],
        moves: dict[int, list[_Move]],
    ) -> dict[int, Scorecard]:
        """Every lead's scorecard (and the promotions scoring makes), account by account."""
        keep = self.scored_types[events["type"]]
        lead = events["lead"][keep]
        order = np.argsort(lead, kind="stable")  # by lead, each in time order
        lead = lead[order]
        ids = events["id"][keep][order].tolist()
        types = events["type"][keep][order].tolist()
        stamps = events["ts"][keep][order].tolist()
        props = [p for p, k in zip(all_props, keep.tolist(), strict=True) if k]
        props = [props[j] for j in order.tolist()]
        records = [
            EventRecord(f"ev{n:010d}", self.type_names[t], EPOCH + timedelta(microseconds=us), prop)
            for n, t, us, prop in zip(ids, types, stamps, props, strict=True)
        ]
        bounds = np.searchsorted(lead, np.arange(lo, hi + 1))
        history = {i: records[bounds[i - lo] : bounds[i - lo + 1]] for i in range(lo, hi)}
        groups: dict[int, list[int]] = {}
        for i in range(lo, hi):
            number = int(self.people.account[i])
            groups.setdefault(number if number >= 0 else -1 - i, []).append(i)
        cards: dict[int, Scorecard] = {}
        for number, members in groups.items():
            scored = self._evaluate(number, members, history, moves)
            again = False
            for i in members:
                path = moves[i]
                if scored[i].mql:
                    self.verdicts += 1
                if scored[i].mql and path[-1].to in AUTO_QUALIFY:
                    span = self.now_us - path[-1].at
                    at = path[-1].at + int(span * (0.5 + 0.5 * ((i * 7919) % 1000) / 1000))
                    reason = "qualified by " + self.model.label
                    again = again or path[-1].to == "nurture"
                    path.append(_Move(path[-1].to, "mql", at, f"system:{self.model.label}", reason))
                    self.promoted += 1
            if again:  # back from nurture the whole history counts again
                scored = self._evaluate(number, members, history, moves)
            cards.update(scored)
        return cards

    def _evaluate(
        self,
        number: int,
        members: list[int],
        history: dict[int, list[EventRecord]],
        moves: dict[int, list[_Move]],
    ) -> dict[int, Scorecard]:
        group: list[Member] = [
            (
                self._record(i),
                counted_since(moves[i][-1].to, _instant(moves[i][-1].at), history[i]),
            )
            for i in members
        ]
        account = self._account_record(number) if number >= 0 else None
        return dict(
            zip(members, evaluate_account(self.model, account, group, self.now), strict=True)
        )

    def _owners(
        self, rng: np.random.Generator, lo: int, hi: int, moves: dict[int, list[_Move]]
    ) -> dict[int, str]:
        owners: dict[int, str] = {}
        for i in range(lo, hi):
            if not any(move.to == "mql" for move in moves[i]):
                continue
            number = int(self.people.account[i])
            if number >= 0 and self.accounts.owner[number]:
                owner = str(self.accounts.owner[number])
            elif number >= 0:
                owner = str(rng.choice(self.reps[COUNTRIES[self.accounts.country[number]]]))
            else:
                owner = str(rng.choice(self.all_reps))
            owners[i] = owner
            self.assigned[owner] += 1
        return owners

    def _write_leads(
        self, lo: int, hi: int, moves: dict[int, list[_Move]], owners: dict[int, str]
    ) -> None:
        rows = []
        for i in range(lo, hi):
            record = self._record(i)
            last = moves[i][-1]
            created = _text(int(self.people.created_us[i]))
            self.stages[last.to] += 1
            rows.append(
                (
                    record.id,
                    record.email,
                    record.email.lower() if record.email else "",
                    record.first_name,
                    record.last_name,
                    record.title,
                    record.seniority,
                    record.department,
                    record.country,
                    record.source,
                    record.channel,
                    None,
                    0,
                    0,
                    "{}",
                    record.account_id,
                    owners.get(i),
                    last.to,
                    _text(last.at),
                    created,
                    _text(max(last.at, int(self.people.created_us[i]))),
                    int(self.people.events[i]),
                )
            )
        _insert(
            self.db,
            "leads",
            "id, email, email_key, first_name, last_name, title, seniority, department, "
            "country, source, channel, campaign, do_not_email, do_not_call, attributes, "
            "account_id, owner, stage, stage_changed_at, created_at, updated_at, events_stored",
            rows,
        )

    def _write_history(
        self,
        rng: np.random.Generator,
        lo: int,
        hi: int,
        moves: dict[int, list[_Move]],
        owners: dict[int, str],
    ) -> None:
        changes = []
        tasks = []
        for i in range(lo, hi):
            lead_id = _lead_id(i)
            path = moves[i]
            for k, move in enumerate(path):
                actor = owners.get(i, "import") if move.actor == "rep" else move.actor
                changes.append(
                    (
                        self.next_change,
                        lead_id,
                        move.frm,
                        move.to,
                        _text(move.at),
                        actor,
                        move.reason,
                    )
                )
                if move.to == "mql":
                    tasks.append(
                        self._task(
                            rng, i, move, path[k + 1] if k + 1 < len(path) else None, owners[i]
                        )
                    )
                self.next_change += 1
        _insert(
            self.db,
            "stage_changes",
            "id, lead_id, from_stage, to_stage, at, actor, reason",
            changes,
        )
        _insert(
            self.db,
            "tasks",
            "id, lead_id, stage_change_id, owner, title, status, created_at, due_at, "
            "sla_seconds, completed_at, sla_met, escalations, escalated_at",
            tasks,
        )

    def _task(
        self, rng: np.random.Generator, i: int, entry: _Move, after: _Move | None, owner: str
    ) -> tuple[Any, ...]:
        """The call task of an MQL entry: open while the lead is an MQL, else done."""
        due = entry.at + 3_600_000_000
        record = self._record(i)
        common = (
            f"tk_{i:010x}{self.next_change:010x}",
            record.id,
            self.next_change,
            owner,
            f"Call {record.email} (new MQL)",
        )
        if after is None:
            overdue = due < self.now_us
            return (
                *common,
                "open",
                _text(entry.at),
                _text(due),
                3600,
                None,
                0 if overdue else None,
                1 if overdue else 0,
                _text(due) if overdue else None,
            )
        done = entry.at + int(rng.exponential(3 * 3_600_000_000))
        done = min(done, after.at)
        return (
            *common,
            "done",
            _text(entry.at),
            _text(due),
            3600,
            _text(done),
            int(done <= due),
            0,
            None,
        )

    def _write_cards(self, cards: dict[int, Scorecard]) -> None:
        as_of = self.now_text
        rows = [
            (
                card.lead_id,
                card.model_name,
                card.model_version,
                as_of,
                orjson.dumps(card.scores).decode(),
                card.grade,
                int(card.mql),
                card.to_json().decode(),
                as_of,
                card.counted_json().decode(),
            )
            for _, card in sorted(cards.items())
        ]
        _insert(
            self.db,
            "scorecards",
            "lead_id, model_name, model_version, as_of, scores, grade, mql, breakdown, "
            "computed_at, counted_events",
            rows,
        )


def _model_event_types(model: ScoringModel) -> set[str] | None:
    """The event types the compiled query reads (None: every type)."""
    from leadgate.engines.compiler import compile_model
    from leadgate.rescoring.reader import operational_schema

    compiled = compile_model(model, as_of=datetime.now(UTC), schema=operational_schema())
    return set(compiled.event_types) or None


def _reps(rng: np.random.Generator) -> tuple[list[tuple[Any, ...]], dict[str, list[str]]]:
    """50 reps under 5 managers, each with a country territory (more for the big ones)."""
    by_country: dict[str, list[str]] = {country: [] for country in COUNTRIES}
    shares = np.asarray(COUNTRY_WEIGHTS) / sum(COUNTRY_WEIGHTS)
    countries = [COUNTRIES[k] for k in range(len(COUNTRIES))]
    countries += [str(c) for c in rng.choice(COUNTRIES, REPS - len(COUNTRIES), p=shares)]
    rows = []
    for k, country in enumerate(countries):
        email = f"rep{k + 1:02d}@sales.example"
        by_country[country].append(email)
        rows.append(
            (
                email,
                f"{FIRST[k % len(FIRST)].title()} {LAST[k % len(LAST)].title()}",
                json.dumps([{"country": [country]}]),
                int(rng.integers(1, 4)),
                1,
                manager_email(k % MANAGERS),
            )
        )
    return rows, by_country


def manager_email(number: int) -> str:
    """The e-mail of manager ``number`` (0-based), the ``manager`` of every tenth rep."""
    return f"manager{number + 1}@sales.example"


def build(path: Path, *, leads: int, events: int, seed: int) -> dict[str, Any]:
    """Write the world into a new database at ``path``; returns its description."""
    started = time.perf_counter()
    path.unlink(missing_ok=True)
    _schema(path)
    now_us = int(time.time()) * 1_000_000
    rng = np.random.default_rng(seed)
    rep_rows, reps = _reps(rng)
    accounts, people = _accounts_and_people(rng, leads, events, now_us, reps)
    db = _connect(path)
    model = default_model()
    builder = _Builder(db, model, now_us, people, accounts, reps, seed)
    db.execute("BEGIN")
    _insert(
        db,
        "accounts",
        "id, domain, name, industry, employees, annual_revenue, country, tier, owner, "
        "attributes, created_at, updated_at",
        [
            (
                record.id,
                record.domain,
                record.name,
                record.industry,
                record.employees,
                record.annual_revenue,
                record.country,
                record.tier,
                record.owner,
                "{}",
                builder.now_text,
                builder.now_text,
            )
            for record in map(builder._account_record, range(accounts.count))
        ],
    )
    db.execute("COMMIT")
    cuts = _cuts(people, accounts, CHUNK_EVENTS)
    for number, (lo, hi) in enumerate(itertools.pairwise(cuts)):
        builder.chunk(number, lo, hi)
        elapsed = time.perf_counter() - started
        print(
            f"  {hi:,} of {leads:,} leads, {builder.next_event:,} events, {elapsed:.0f} s "
            f"(scoring {builder.score_seconds:.0f} s)",
            flush=True,
        )
    db.execute("BEGIN")
    _insert(
        db,
        "reps",
        "email, name, territories, weight, available, manager, assigned, created_at, updated_at",
        [(*row, builder.assigned[row[0]], builder.now_text, builder.now_text) for row in rep_rows],
    )
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    seconds = time.perf_counter() - started
    meta = {
        "seed": seed,
        "leads": leads,
        "accounts": accounts.count,
        "events": builder.next_event,
        "reps": REPS,
        "managers": [manager_email(k) for k in range(MANAGERS)],
        "model": model.label,
        "world_end": _instant(now_us).isoformat(),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "stages": dict(builder.stages.most_common()),
        "mql_verdicts": builder.verdicts,
        "promoted_by_scoring": builder.promoted,
        "largest_account_leads": int(np.bincount(people.account[people.account >= 0]).max()),
        "leads_in_accounts_of_500_or_more": int(
            (np.bincount(people.account[people.account >= 0]) >= 500)[
                people.account[people.account >= 0]
            ].sum()
        ),
        "most_events_per_lead": int(people.events.max()),
        "scoring_seconds": round(builder.score_seconds, 1),
        "size_bytes": path.stat().st_size,
        "build_seconds": round(seconds, 1),
    }
    print(
        f"{leads:,} leads, {accounts.count:,} accounts, {builder.next_event:,} events "
        f"written in {seconds:.0f} s (scoring {builder.score_seconds:.0f} s); "
        f"{path.stat().st_size / 1e9:.1f} GB; stages {meta['stages']}",
        flush=True,
    )
    return meta


def check(world: World, sample: int, seed: int) -> int:
    """Recompute ``sample`` leads' scorecards through the service's path; the mismatches."""
    from sqlalchemy import text

    from leadgate.db.engine import open_database
    from leadgate.scorecards.service import evaluate_leads

    database = open_database(world.url)
    as_of = datetime.fromisoformat(world.meta["world_end"])
    rng = np.random.default_rng(seed)
    ids = [_lead_id(int(i)) for i in rng.choice(world.meta["leads"], sample, replace=False)]
    bad = 0
    compared = 0
    with database.session() as session:
        for stage in ("mql", "nurture", "sal"):  # the moved ones, too
            ids += list(
                session.scalars(
                    text("SELECT id FROM leads WHERE stage = :s ORDER BY id LIMIT 5"), {"s": stage}
                )
            )
        for lead_id in ids:
            _, cards = evaluate_leads(
                session, lead_ids=[lead_id], model=default_model(), as_of=as_of
            )
            for card in cards:
                stored, stored_count = session.execute(
                    text(
                        "SELECT breakdown, events_stored FROM scorecards JOIN leads "
                        "ON leads.id = scorecards.lead_id WHERE lead_id = :id"
                    ),
                    {"id": card.lead_id},
                ).one()
                count = session.scalar(
                    text("SELECT count(*) FROM events WHERE lead_id = :id"), {"id": card.lead_id}
                )
                compared += 1
                if json.loads(stored) != json.loads(card.to_json()) or count != stored_count:
                    bad += 1
                    if bad <= 3:
                        print(f"  mismatch for {card.lead_id}")
    database.dispose()
    print(f"check: {compared} scorecards recomputed by evaluate_leads, {bad} differ", flush=True)
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=50_000_000)
    parser.add_argument("--seed", type=int, default=20261210)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--rebuild", action="store_true", help="build even when cached")
    parser.add_argument(
        "--check", type=int, default=0, help="recompute N leads through evaluate_leads"
    )
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    world = ensure_world(
        leads=args.leads,
        events=args.events,
        seed=args.seed,
        cache=args.cache_dir,
        rebuild=args.rebuild,
    )
    print(json.dumps(world.meta, indent=2))
    if args.check:
        raise SystemExit(1 if check(world, args.check, args.seed) else 0)


if __name__ == "__main__":
    main()
