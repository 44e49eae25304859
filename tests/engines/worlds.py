# ruff: noqa: RUF001  (Unicode look-alikes are the point of these tests)
"""Small worlds for engine parity: tables, their evaluator records, and hypothesis strategies.

``evaluate_tables`` is the reference: it turns the very Arrow tables an engine reads
into evaluator records (a cell is the Python value Arrow gives; decimals become
floats; ``properties`` JSON is parsed per event; score adjustments go on their
lead's record) and scores them with ``leadgate.scoring.evaluate_account``, one
account at a time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import yaml
from hypothesis import strategies as st

from leadgate.engines.compiler import ACCOUNT_RESERVED, EVENT_RESERVED, LEAD_RESERVED
from leadgate.engines.duckdb_engine import DuckDBEngine
from leadgate.scoring import (
    AccountRecord,
    Adjustment,
    EventRecord,
    LeadRecord,
    Scorecard,
    ScoringModel,
    evaluate_account,
    load_model,
)

AS_OF = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DAY = 86_400

_LEAD_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "title",
    "seniority",
    "department",
    "country",
    "source",
    "channel",
    "campaign",
)
_ACCOUNT_FIELDS = (
    "domain",
    "name",
    "industry",
    "employees",
    "annual_revenue",
    "country",
    "tier",
    "owner",
)


def _py(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return value


def _rows(table: pa.Table | None) -> list[dict[str, Any]]:
    if table is None:
        return []
    return [{k: _py(v) for k, v in row.items()} for row in table.to_pylist()]


def adjustments_from_table(table: pa.Table | None) -> dict[Any, tuple[Adjustment, ...]]:
    """The ``adjustments`` relation as each lead's evaluator records."""
    by_lead: dict[Any, list[Adjustment]] = {}
    for index, row in enumerate(_rows(table)):
        by_lead.setdefault(row["lead_id"], []).append(
            Adjustment(
                id=f"adj{index:03d}",
                group=row["group_name"],
                points=row["points"],
                at=row["at"],
                revoked_at=row.get("revoked_at"),
            )
        )
    return {lead_id: tuple(items) for lead_id, items in by_lead.items()}


def records_from_tables(
    events: pa.Table,
    leads: pa.Table,
    accounts: pa.Table | None,
    adjustments: pa.Table | None = None,
) -> list[tuple[AccountRecord | None, list[tuple[LeadRecord, list[EventRecord]]]]]:
    """The evaluator's view of the tables, grouped by account (a lead without one alone)."""
    adjusted = adjustments_from_table(adjustments)
    account_records: dict[Any, AccountRecord] = {}
    for row in _rows(accounts):
        account_records[row["account_id"]] = AccountRecord(
            id=row["account_id"],
            **{name: row.get(name) for name in _ACCOUNT_FIELDS},
            attributes={k: v for k, v in row.items() if k not in ACCOUNT_RESERVED},
        )
    json_layout = "properties" in events.column_names
    by_lead: dict[Any, list[EventRecord]] = {}
    for index, row in enumerate(_rows(events)):
        ts = row["ts"]
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)
        if json_layout:
            raw = row.get("properties")
            properties = {} if raw is None else json.loads(raw)
        else:
            properties = {k: v for k, v in row.items() if k not in EVENT_RESERVED}
        event_id = row.get("event_id")
        by_lead.setdefault(row["lead_id"], []).append(
            EventRecord(
                id=f"row{index:06d}" if event_id is None else str(event_id),
                type=row["type"],
                ts=ts,
                properties=properties,
                channel=row.get("channel"),
                campaign=row.get("campaign"),
            )
        )
    groups: dict[Any, list[tuple[LeadRecord, list[EventRecord]]]] = {}
    for row in _rows(leads):
        lead = LeadRecord(
            id=row["lead_id"],
            **{name: row.get(name) for name in _LEAD_FIELDS},
            do_not_email=bool(row.get("do_not_email") or False),
            do_not_call=bool(row.get("do_not_call") or False),
            account_id=row.get("account_id"),
            attributes={k: v for k, v in row.items() if k not in LEAD_RESERVED},
            predicted=row.get("predicted"),
            adjustments=adjusted.get(row["lead_id"], ()),
        )
        key = ("account", lead.account_id) if lead.account_id is not None else ("lead", lead.id)
        groups.setdefault(key, []).append((lead, by_lead.get(lead.id, [])))
    out = []
    for (kind, key), members in groups.items():
        account = account_records.get(key) if kind == "account" else None
        out.append((account, members))
    return out


def evaluate_tables(
    model: ScoringModel,
    events: pa.Table,
    leads: pa.Table,
    accounts: pa.Table | None,
    as_of: datetime,
    adjustments: pa.Table | None = None,
) -> dict[Any, Scorecard]:
    cards: dict[Any, Scorecard] = {}
    for account, members in records_from_tables(events, leads, accounts, adjustments):
        for card in evaluate_account(model, account, members, as_of):
            cards[card.lead_id] = card
    return cards


def run_duckdb(
    model: ScoringModel,
    events: pa.Table,
    leads: pa.Table,
    accounts: pa.Table | None,
    as_of: datetime,
    adjustments: pa.Table | None = None,
) -> dict[Any, dict[str, Any]]:
    with DuckDBEngine(threads=1) as engine:
        return run_engine(engine, model, events, leads, accounts, as_of, adjustments)


def run_engine(
    engine: Any,
    model: ScoringModel,
    events: pa.Table,
    leads: pa.Table,
    accounts: pa.Table | None,
    as_of: datetime,
    adjustments: pa.Table | None = None,
) -> dict[Any, dict[str, Any]]:
    """Rescore on any engine object (``DuckDBEngine``, ``SparkEngine``)."""
    table = engine.rescore(
        model,
        as_of=as_of,
        events=events,
        leads=leads,
        accounts=accounts,
        adjustments=adjustments,
    )
    return {row["lead_id"]: row for row in table.to_pylist()}


def close(a: float, b: float) -> bool:
    return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def assert_parity(
    model: ScoringModel,
    events: pa.Table,
    leads: pa.Table,
    accounts: pa.Table | None,
    as_of: datetime,
    *,
    run: Any = None,
    adjustments: pa.Table | None = None,
) -> dict[Any, dict[str, Any]]:
    """The engine (DuckDB unless ``run`` is given) agrees with the evaluator."""
    expected = evaluate_tables(model, events, leads, accounts, as_of, adjustments)
    got = (run or run_duckdb)(model, events, leads, accounts, as_of, adjustments)
    assert set(got) == set(expected)
    for lead_id, card in expected.items():
        row = got[lead_id]
        for group in model.group_names:
            assert close(row[group], card.scores[group]), (lead_id, group, row[group], card.scores)
        assert row["grade"] == card.grade, (lead_id, row, card.scores)
        assert row["mql"] == card.mql, (lead_id, row, card.verdict())
    return got


# -- building tables ------------------------------------------------------------------------


def table(rows: Sequence[Mapping[str, Any]], schema: Mapping[str, pa.DataType]) -> pa.Table:
    return pa.table(
        {
            name: pa.array([row.get(name) for row in rows], type=kind)
            for name, kind in schema.items()
        }
    )


EVENT_SCHEMA = {
    "event_id": pa.string(),
    "lead_id": pa.string(),
    "type": pa.string(),
    "ts": pa.timestamp("us", tz="UTC"),
    "channel": pa.string(),
    "campaign": pa.string(),
}


def events_table(rows: Sequence[Mapping[str, Any]], **extra: pa.DataType) -> pa.Table:
    return table(rows, {**EVENT_SCHEMA, **extra})


ADJUSTMENT_SCHEMA = {
    "lead_id": pa.string(),
    "group_name": pa.string(),
    "points": pa.float64(),
    "at": pa.timestamp("us", tz="UTC"),
    "revoked_at": pa.timestamp("us", tz="UTC"),
}


def adjustments_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    return table(rows, ADJUSTMENT_SCHEMA)


def model_from(doc: Mapping[str, Any]) -> ScoringModel:
    return load_model(yaml.safe_dump(dict(doc), sort_keys=False, allow_unicode=True))


# -- hypothesis strategies ---------------------------------------------------------------------

EVENT_TYPES = ("email.opened", "email.clicked", "page.viewed", "form.submitted", "webinar.attended")
TEXTS = (
    "CZ",
    "cz",
    "SK",
    "DE",
    "manufacturing",
    "Manufacturing",
    "Straße",
    "STRASSE",
    "strasse",
    "İstanbul",
    "istanbul",
    "ΣΑΣ",
    "σας",
    "ﬁnance",
    "finance",
    "Ǆ",
    "ǆ",
    "ꭰ",
    "Ꭰ",
    " 12 ",
    "12",
    "12.0",
    "1_000",
    "١٢",
    "5e1",
    "nan",
    "inf",
    "-0",
    "",
    "director",
    "VP",
    "/pricing",
    "https://x.io/Pricing?a=1",
    "/blog",
    "case_study",
    "true",
    "True",
    "a\nb",
    "line\n",
    "K",  # Kelvin sign
    "k",
)
NUMBERS = (0, 1, 5, 12, 50, 100, 1000, -3, 0.5, 12.0, 2.5, 1e-05, 1e16)
FLOATS = (0.0, -0.0, 12.0, 50.5, 1e-05, 1e16, float("nan"), float("inf"), 250.0, 0.1)
REGEXES = (
    "^cz$",
    "pric",
    "(?-i:CZ)",
    "^[a-z]+$",
    "stra(ss|ß)e",
    "\\d+",
    "^\\s*\\d",
    "[^a-z]",
    "k",
    "^$",
    "e$",
    "(?m)^b",
    "(?s)a.b",
    "a.b",
    "σ",
    "x{2,3}|y?",
    "[\\S]",
)
OPERAND_SCALARS = st.one_of(
    st.sampled_from(TEXTS), st.sampled_from(NUMBERS), st.booleans(), st.sampled_from(("12", "50"))
)


@st.composite
def predicates(draw: st.DrawFn, fields: Sequence[str], numeric_ok: Sequence[str]) -> dict[str, Any]:
    name = draw(st.sampled_from(fields))
    ops = ["eq", "ne", "in", "not_in", "contains", "starts_with", "ends_with", "regex", "exists"]
    ops += ["in_list", "not_in_list"]
    if name in numeric_ok:
        ops += ["gt", "gte", "lt", "lte", "between"]
    op = draw(st.sampled_from(ops))
    if op in ("eq", "ne"):
        operand: Any = draw(OPERAND_SCALARS)
    elif op in ("in", "not_in"):
        operand = draw(st.lists(OPERAND_SCALARS, min_size=1, max_size=3))
    elif op in ("in_list", "not_in_list"):
        operand = draw(st.sampled_from(["free_mail", "countries"]))
    elif op == "between":
        low, high = sorted(draw(st.lists(st.sampled_from(NUMBERS), min_size=2, max_size=2)))
        operand = [low, high]
    elif op in ("gt", "gte", "lt", "lte"):
        operand = draw(st.sampled_from(NUMBERS))
    elif op == "exists":
        operand = draw(st.booleans())
    elif op == "regex":
        operand = draw(st.sampled_from(REGEXES))
    else:
        operand = draw(st.sampled_from([t for t in TEXTS if t.strip()] + ["1", "0"]))
    return {name: {op: operand}}


@st.composite
def conditions(
    draw: st.DrawFn, fields: Sequence[str], numeric_ok: Sequence[str], depth: int = 2
) -> dict[str, Any]:
    if depth <= 0 or draw(st.integers(0, 3)) > 0:
        return draw(predicates(fields, numeric_ok))
    kind = draw(st.sampled_from(["all", "any", "not"]))
    if kind == "not":
        return {"not": draw(conditions(fields, numeric_ok, depth - 1))}
    children = draw(st.lists(conditions(fields, numeric_ok, depth - 1), min_size=1, max_size=3))
    return {kind: children}


ATTRIBUTE_FIELDS = (
    "lead.country",
    "lead.seniority",
    "lead.email_domain",
    "lead.do_not_email",
    "lead.attributes.score",
    "lead.attributes.segment",
    "lead.id",
    "account.country",
    "account.industry",
    "account.employees",
    "account.annual_revenue",
    "account.attributes.region",
    "account.attributes.rating",
    "account.id",
)
ATTRIBUTE_NUMERIC = (
    "lead.attributes.score",
    "lead.attributes.segment",
    "account.employees",
    "account.annual_revenue",
    "account.attributes.region",
    "account.attributes.rating",
)
EVENT_FIELDS = (
    "channel",
    "campaign",
    "type",
    "properties.url",
    "properties.kind",
    "properties.n",
    "properties.flag",
    "properties.utm.source",
)
EVENT_NUMERIC = ("properties.url", "properties.kind", "properties.n", "properties.flag")

points_values = st.one_of(
    st.integers(-40, 40).map(float),
    st.floats(min_value=-40, max_value=40, allow_nan=False, allow_infinity=False),
).filter(lambda p: p != 0)


@st.composite
def event_rule_docs(draw: st.DrawFn, rule_id: str) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": rule_id,
        "event": draw(st.lists(st.sampled_from(EVENT_TYPES), min_size=1, max_size=2, unique=True)),
        "points": draw(points_values),
    }
    if draw(st.booleans()):
        rule["where"] = draw(conditions(EVENT_FIELDS, EVENT_NUMERIC, depth=1))
    decay = draw(st.sampled_from(["group", "none", "own"]))
    if decay == "none":
        rule["decay"] = "none"
    elif decay == "own":
        rule["half_life_days"] = draw(st.floats(min_value=0.5, max_value=90))
    if draw(st.booleans()):
        rule["max_count"] = draw(st.integers(1, 3))
    if draw(st.booleans()):
        rule["within_days"] = draw(st.sampled_from([1, 7, 30.5, 200]))
    return rule


@st.composite
def model_docs(draw: st.DrawFn) -> dict[str, Any]:
    groups: dict[str, Any] = {}
    names = ["fit", "engagement", "extra"][: draw(st.integers(1, 3))]
    for name in names:
        rules = []
        for i in range(draw(st.integers(1, 4))):
            rid = f"{name}-{i}"
            if draw(st.booleans()):
                rules.append(
                    {
                        "id": rid,
                        "when": draw(conditions(ATTRIBUTE_FIELDS, ATTRIBUTE_NUMERIC)),
                        "points": draw(points_values),
                    }
                )
            else:
                rules.append(draw(event_rule_docs(rid)))
        body: dict[str, Any] = {"rules": rules}
        if draw(st.booleans()):
            body["half_life_days"] = draw(st.floats(min_value=1, max_value=60))
        low = draw(st.none() | st.integers(-60, 0).map(float))
        high = draw(st.none() | st.integers(0, 120).map(float))
        if low is not None:
            body["min_points"] = low
        if high is not None:
            body["max_points"] = high
        groups[name] = body
    if draw(st.booleans()):
        groups["account_roll"] = {
            "rollup": {
                "from": draw(st.sampled_from(names)),
                "how": draw(st.sampled_from(["sum", "max", "avg"])),
            },
            **({"max_points": 100} if draw(st.booleans()) else {}),
        }
    doc: dict[str, Any] = {
        "version": 1,
        "name": "parity",
        "lists": {"countries": ["CZ", "sk", "12", "50"]},
        "groups": groups,
    }
    grades = draw(st.booleans())
    if grades:
        doc["grades"] = {
            "group": draw(st.sampled_from(names)),
            "bands": {"gold": 30, "silver": 10, "bronze": 0},
            "otherwise": "lead",
        }
    leaves: list[st.SearchStrategy[Any]] = [
        st.builds(
            lambda g, t: {"score": g, "gte": t}, st.sampled_from(list(groups)), st.integers(-20, 60)
        ),
        st.builds(
            lambda gs, lo: {"score": gs, "between": [lo, lo + 40]},
            st.lists(st.sampled_from(list(groups)), min_size=1, max_size=2, unique=True),
            st.integers(-20, 40),
        ),
        st.builds(
            lambda types, within, count, after: {
                "any_event": types,
                **({"within_days": within} if within else {}),
                "min_count": count,
                **({"after": after} if after else {}),
            },
            st.lists(st.sampled_from(EVENT_TYPES), min_size=1, max_size=2, unique=True),
            st.sampled_from([None, 3, 30, 90]),
            st.integers(1, 2),
            st.none() | st.sampled_from(EVENT_TYPES),
        ),
        st.builds(
            lambda types, where: {"any_event": types, "where": where},
            st.lists(st.sampled_from(EVENT_TYPES), min_size=1, max_size=2, unique=True),
            conditions(EVENT_FIELDS, EVENT_NUMERIC, depth=1),
        ),
        st.builds(lambda v: {"predicted": {"gte": v}}, st.sampled_from([0.0, 0.3, 0.5])),
        conditions(ATTRIBUTE_FIELDS, ATTRIBUTE_NUMERIC, depth=1),
    ]
    if grades:
        leaves.append(
            st.lists(
                st.sampled_from(["gold", "silver", "bronze", "lead"]), min_size=1, max_size=2
            ).map(lambda g: {"grade": g})
        )
    if draw(st.integers(0, 5)) > 0:
        leaf = st.one_of(*leaves)
        doc["mql"] = draw(
            st.one_of(
                leaf,
                st.lists(leaf, min_size=1, max_size=3).map(lambda items: {"all": items}),
                st.lists(leaf, min_size=1, max_size=3).map(lambda items: {"any": items}),
                leaf.map(lambda item: {"not": item}),
            )
        )
    return doc


@dataclass
class World:
    events: pa.Table
    leads: pa.Table
    accounts: pa.Table | None
    as_of: datetime
    adjustments: pa.Table | None = None


JSON_VALUES = st.one_of(
    st.none(),
    st.sampled_from(TEXTS),
    st.sampled_from(NUMBERS),
    st.sampled_from([v for v in FLOATS if math.isfinite(v)]),
    st.booleans(),
    st.just(123456789012345678901234567890),
)


@st.composite
def worlds(draw: st.DrawFn, *, json_properties: bool | None = None) -> World:
    n_accounts = draw(st.integers(0, 3))
    account_ids = [f"acc{i}" for i in range(n_accounts)]
    accounts_rows = [
        {
            "account_id": account_id,
            "country": draw(st.none() | st.sampled_from(TEXTS)),
            "industry": draw(st.none() | st.sampled_from(TEXTS)),
            "employees": draw(st.none() | st.integers(0, 1000)),
            "annual_revenue": draw(st.none() | st.sampled_from(FLOATS)),
            "region": draw(st.none() | st.sampled_from(TEXTS)),
            "rating": draw(st.none() | st.sampled_from(FLOATS)),
        }
        for account_id in account_ids
    ]
    accounts = (
        table(
            accounts_rows,
            {
                "account_id": pa.string(),
                "country": pa.string(),
                "industry": pa.string(),
                "employees": pa.int64(),
                "annual_revenue": pa.float64(),
                "region": pa.string(),
                "rating": pa.float64(),
            },
        )
        if draw(st.booleans()) or n_accounts
        else None
    )
    n_leads = draw(st.integers(1, 5))
    emails = st.none() | st.sampled_from(
        [
            "a@gmail.com",
            "b@Acme.CZ",
            "c@ACME.cz ",
            "no-at-sign",
            "x@y@İstanbul.tr",
            "d@",
            "e@ \u00a0",
        ]
    )
    leads_rows = [
        {
            "lead_id": f"lead{i}",
            "account_id": draw(st.none() | st.sampled_from([*account_ids, "ghost"])),
            "email": draw(emails),
            "country": draw(st.none() | st.sampled_from(TEXTS)),
            "seniority": draw(st.none() | st.sampled_from(TEXTS)),
            "do_not_email": draw(st.none() | st.booleans()),
            "score": draw(st.none() | st.sampled_from(TEXTS)),
            "segment": draw(st.none() | st.integers(-5, 100)),
            "predicted": draw(st.none() | st.sampled_from([0.0, 0.29, 0.3, 0.7, float("nan")])),
        }
        for i in range(n_leads)
    ]
    leads = table(
        leads_rows,
        {
            "lead_id": pa.string(),
            "account_id": pa.string(),
            "email": pa.string(),
            "country": pa.string(),
            "seniority": pa.string(),
            "do_not_email": pa.bool_(),
            "score": pa.string(),
            "segment": pa.int64(),
            "predicted": pa.float64(),
        },
    )
    use_json = draw(st.booleans()) if json_properties is None else json_properties
    as_of = AS_OF + timedelta(seconds=draw(st.integers(-30 * DAY, 30 * DAY)))
    rows = []
    for index in range(draw(st.integers(0, 14))):
        offset = draw(st.integers(-300 * DAY, 5 * DAY) | st.integers(-300, 5).map(DAY.__mul__))
        row: dict[str, Any] = {
            "event_id": f"e{index:03d}",
            "lead_id": draw(st.sampled_from([r["lead_id"] for r in leads_rows] + ["nobody"])),
            "type": draw(st.sampled_from(EVENT_TYPES)),
            "ts": AS_OF + timedelta(seconds=offset),
            "channel": draw(st.none() | st.sampled_from(["email", "Web", "linkedin", "12"])),
            "campaign": draw(st.none() | st.sampled_from(TEXTS)),
        }
        if use_json:
            props: dict[str, Any] = {}
            for key in ("url", "kind", "n", "flag", "utm.source"):
                if draw(st.booleans()):
                    props[key] = draw(JSON_VALUES)
            if draw(st.booleans()):
                props["utm"] = {"source": draw(JSON_VALUES)}
            row["properties"] = json.dumps(props, ensure_ascii=draw(st.booleans()))
        else:
            row["url"] = draw(st.none() | st.sampled_from(TEXTS))
            row["kind"] = draw(st.none() | st.sampled_from(TEXTS))
            row["n"] = draw(st.none() | st.sampled_from(FLOATS))
            row["flag"] = draw(st.none() | st.booleans())
            row["utm.source"] = draw(st.none() | st.sampled_from(TEXTS))
        rows.append(row)
    if use_json:
        events = events_table(rows, properties=pa.string())
    else:
        events = events_table(
            rows,
            url=pa.string(),
            kind=pa.string(),
            n=pa.float64(),
            flag=pa.bool_(),
            **{"utm.source": pa.string()},
        )
    adjustments = None
    if draw(st.booleans()):
        adjustments = adjustments_table(
            [
                draw(adjustment_rows([r["lead_id"] for r in leads_rows], as_of))
                for _ in range(draw(st.integers(0, 5)))
            ]
        )
    return World(
        events=events, leads=leads, accounts=accounts, as_of=as_of, adjustments=adjustments
    )


#: Groups an adjustment may name: the drawn models' rule groups, their roll-up, and
#: one no model has.
ADJUSTED_GROUPS = ("fit", "engagement", "extra", "account_roll", "ghost")
_US = timedelta(microseconds=1)


@st.composite
def adjustment_rows(draw: st.DrawFn, lead_ids: Sequence[str], as_of: datetime) -> dict[str, Any]:
    """One adjustment around ``as_of``: made exactly at it, a microsecond either side,
    or any time; revoked never, at ``as_of`` (then it no longer counts), around it,
    or any time after it was made."""
    near = st.sampled_from([as_of, as_of - _US, as_of + _US])
    anywhere = st.integers(-300 * DAY, 5 * DAY).map(lambda s: AS_OF + timedelta(seconds=s))
    at = draw(near | anywhere)
    revoked = draw(
        st.none() | near | st.integers(0, 60 * DAY).map(lambda s: at + timedelta(seconds=s))
    )
    return {
        "lead_id": draw(st.sampled_from([*lead_ids, "nobody"])),
        "group_name": draw(st.sampled_from(ADJUSTED_GROUPS)),
        "points": draw(points_values | st.sampled_from([1000.0, -1000.0, 0.1])),
        "at": at,
        "revoked_at": revoked,
    }
