"""A seeded synthetic world of leads, accounts and a year of events, as files.

For trying ``leadgate rescore`` at scale and for the rescoring benchmark: the
same seed always gives the same files. Activity is skewed (a few leads do most
of it, as on real sites), a dozen event types appear in realistic proportions,
page views carry a URL with a pricing-page share, downloads an asset type, and
a share of leads use free-mail addresses. Events are written in chunks, so
50,000,000 of them need about as much memory as one chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

__all__ = ["EVENT_MIX", "WorldFiles", "write_world"]

#: Event types and their share of all events.
EVENT_MIX: tuple[tuple[str, float], ...] = (
    ("email.opened", 0.30),
    ("page.viewed", 0.28),
    ("email.clicked", 0.10),
    ("email.delivered", 0.10),
    ("content.downloaded", 0.05),
    ("form.submitted", 0.04),
    ("webinar.registered", 0.03),
    ("webinar.attended", 0.02),
    ("email.unsubscribed", 0.01),
    ("chat.started", 0.03),
    ("trial.started", 0.02),
    ("meeting.booked", 0.02),
)
URLS = (
    "/pricing",
    "/pricing/enterprise",
    "/",
    "/blog/lead-scoring-101",
    "/blog/mql-vs-sql",
    "/product",
    "/product/integrations",
    "/customers",
    "/careers",
    "/docs/getting-started",
)
URL_WEIGHTS = (0.07, 0.03, 0.25, 0.15, 0.1, 0.15, 0.08, 0.07, 0.04, 0.06)
ASSETS = ("case_study", "whitepaper", "ebook", "checklist")
ASSET_WEIGHTS = (0.3, 0.3, 0.25, 0.15)
INDUSTRIES = (
    "manufacturing",
    "software",
    "retail",
    "logistics",
    "finance",
    "healthcare",
    "energy",
    "education",
    "construction",
    "media",
    "telecom",
    "public sector",
)
COUNTRIES = ("CZ", "SK", "DE", "PL", "AT", "HU", "GB", "US", "FR", "NL")
COUNTRY_WEIGHTS = (0.25, 0.08, 0.2, 0.1, 0.07, 0.05, 0.08, 0.1, 0.04, 0.03)
SENIORITIES = ("individual", "manager", "director", "vp", "c-level")
SENIORITY_WEIGHTS = (0.45, 0.3, 0.15, 0.06, 0.04)
FREE_MAIL = ("gmail.com", "seznam.cz", "outlook.com", "yahoo.com")
TIERS = ("1", "2", "3")

_CHUNK = 2_000_000


@dataclass(frozen=True)
class WorldFiles:
    """Where a generated world was written, and the instant its year ends."""

    events: Path
    leads: Path
    accounts: Path
    as_of: datetime
    csv: dict[str, Path]


def _choice(rng: np.random.Generator, size: int, weights: Sequence[float]) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(p), size=size, p=p / p.sum()).astype(np.int32)


def _dictionary(
    indices: np.ndarray, values: Sequence[str], mask: np.ndarray | None = None
) -> pa.Array:
    arr = pa.array(indices, type=pa.int32(), mask=mask)
    return pa.DictionaryArray.from_arrays(arr, pa.array(list(values), type=pa.string()))


def _ids(prefix: str, count: int) -> pa.Array:
    width = max(6, len(str(count)))
    return pa.array([f"{prefix}{i:0{width}d}" for i in range(count)], type=pa.string())


def write_world(
    directory: Path,
    *,
    leads: int = 10_000,
    accounts: int = 1_000,
    events: int = 500_000,
    days: int = 365,
    seed: int = 20261128,
    as_of: datetime = datetime(2026, 1, 1, tzinfo=UTC),
    csv: bool = False,
) -> WorldFiles:
    """Write ``accounts.parquet``, ``leads.parquet`` and ``events.parquet`` (and CSV
    copies when ``csv``) into ``directory``; return their paths."""
    if leads < 1 or accounts < 1 or events < 0:
        raise ValueError("a world needs at least one lead and one account")
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    account_ids = _ids("A", accounts)
    employees = np.clip(rng.lognormal(4.2, 1.6, accounts), 1, 200_000).astype(np.int64)
    account_table = pa.table(
        {
            "account_id": account_ids,
            "domain": pa.array([f"company{i}.example" for i in range(accounts)]),
            "industry": _dictionary(rng.integers(0, len(INDUSTRIES), accounts), INDUSTRIES).cast(
                pa.string()
            ),
            "employees": pa.array(employees),
            "country": _dictionary(_choice(rng, accounts, COUNTRY_WEIGHTS), COUNTRIES).cast(
                pa.string()
            ),
            "tier": _dictionary(_choice(rng, accounts, (0.05, 0.2, 0.75)), TIERS).cast(pa.string()),
        }
    )
    # accounts differ in size: a few have many contacts
    account_weight = rng.pareto(1.5, accounts) + 1
    lead_account = rng.choice(accounts, size=leads, p=account_weight / account_weight.sum())
    lead_ids = _ids("L", leads)
    free = rng.random(leads) < 0.15
    free_domain = rng.integers(0, len(FREE_MAIL), leads)
    emails = [
        f"person{i}@{FREE_MAIL[free_domain[i]] if free[i] else f'company{lead_account[i]}.example'}"
        for i in range(leads)
    ]
    no_account = rng.random(leads) < 0.05
    lead_table = pa.table(
        {
            "lead_id": lead_ids,
            "account_id": pa.array(account_ids.take(pa.array(lead_account)), mask=no_account),
            "email": pa.array(emails),
            "seniority": _dictionary(_choice(rng, leads, SENIORITY_WEIGHTS), SENIORITIES).cast(
                pa.string()
            ),
            "country": account_table.column("country").take(pa.array(lead_account)),
        }
    )

    # skewed activity: lead weights from a heavy-tailed distribution
    lead_weight = rng.pareto(1.2, leads) + 0.05
    lead_p = lead_weight / lead_weight.sum()
    type_names = [name for name, _ in EVENT_MIX]
    type_weights = [share for _, share in EVENT_MIX]
    page = type_names.index("page.viewed")
    download = type_names.index("content.downloaded")
    end_us = int(as_of.timestamp() * 1_000_000)
    span_us = days * 86_400 * 1_000_000
    schema = pa.schema(
        [
            ("event_id", pa.int64()),
            ("lead_id", pa.string()),
            ("type", pa.dictionary(pa.int32(), pa.string())),
            ("ts", pa.timestamp("us", tz="UTC")),
            ("url", pa.dictionary(pa.int32(), pa.string())),
            ("asset_type", pa.dictionary(pa.int32(), pa.string())),
        ]
    )
    events_path = directory / "events.parquet"
    written = 0
    with pq.ParquetWriter(events_path, schema, compression="zstd") as writer:
        while written < events:
            size = min(_CHUNK, events - written)
            lead_index = rng.choice(leads, size=size, p=lead_p)
            types = _choice(rng, size, type_weights)
            # more activity lately: the age is the year's length times u**1.5
            age = (rng.random(size) ** 1.5 * span_us).astype(np.int64)
            urls = _choice(rng, size, URL_WEIGHTS)
            assets = _choice(rng, size, ASSET_WEIGHTS)
            batch = pa.record_batch(
                [
                    pa.array(np.arange(written, written + size, dtype=np.int64)),
                    lead_ids.take(pa.array(lead_index)),
                    _dictionary(types, type_names),
                    pa.array(end_us - age, type=pa.int64()).cast(pa.timestamp("us", tz="UTC")),
                    _dictionary(urls, URLS, mask=types != page),
                    _dictionary(assets, ASSETS, mask=types != download),
                ],
                schema=schema,
            )
            writer.write_batch(batch)
            written += size
    paths = {
        "events": events_path,
        "leads": directory / "leads.parquet",
        "accounts": directory / "accounts.parquet",
    }
    pq.write_table(lead_table, paths["leads"])
    pq.write_table(account_table, paths["accounts"])
    csv_paths: dict[str, Path] = {}
    if csv:
        for role, path in paths.items():
            data = pq.read_table(path)
            data = pa.table(
                [
                    column.cast(column.type.value_type)
                    if pa.types.is_dictionary(column.type)
                    else column
                    for column in data.columns
                ],
                names=data.column_names,
            )
            csv_paths[role] = directory / f"{role}.csv"
            pa_csv.write_csv(data, csv_paths[role])
    return WorldFiles(
        events=paths["events"],
        leads=paths["leads"],
        accounts=paths["accounts"],
        as_of=as_of + timedelta(0),
        csv=csv_paths,
    )
