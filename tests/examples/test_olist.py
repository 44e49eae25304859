"""The real Olist marketing funnel through the shipped mappings: import, funnel by
origin, and a backtest of the fit model against closed deals, each checked against
numbers computed here straight from the CSV files."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from leadgate.cli import app
from tests.conftest import REPO, datasets_dir

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
FIT = {"organic_search": 25, "paid_search": 20, "direct_traffic": 20}  # >= 20 in the model
PERIOD = (date(2017, 6, 1), date(2018, 5, 31))


def _json(cli: CliRunner, *args: str) -> Any:
    result = cli.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SAO_PAULO).astimezone(UTC)


@pytest.mark.slow
def test_olist_funnel_and_backtest(cli: CliRunner) -> None:
    folder = datasets_dir("olist-marketing-funnel")
    mqls_csv = folder / "olist_marketing_qualified_leads_dataset.csv"
    deals_csv = folder / "olist_closed_deals_dataset.csv"
    examples = REPO / "examples" / "olist"
    with mqls_csv.open(encoding="utf-8") as handle:
        mqls = list(csv.DictReader(handle))
    with deals_csv.open(encoding="utf-8") as handle:
        deals = {row["mql_id"]: row for row in csv.DictReader(handle)}

    imported = _json(cli, "import", "leads", str(mqls_csv), "--map", str(examples / "mqls.yaml"))
    assert (imported["created"], imported["rejected"]) == (len(mqls), 0)
    updated = _json(cli, "import", "leads", str(deals_csv), "--map", str(examples / "deals.yaml"))
    assert (updated["updated"], updated["rejected"]) == (len(deals), 0)
    events = _json(
        cli, "import", "events", str(mqls_csv), "--map", str(examples / "form-submissions.yaml")
    )
    assert events["created"] == len(mqls)

    # -- funnel by origin: every lead entered as an MQL; a closed deal counts as SQL passed
    funnel = _json(cli, "report", "funnel", "--by", "channel")
    entered = {s["stage"]: s["entered"] for s in funnel["stages"]}
    assert entered["mql"] == len(mqls)
    assert entered["customer"] == entered["sql"] == len(deals)
    origin = {row["mql_id"]: row["origin"] or "(none)" for row in mqls}
    contact = {row["mql_id"]: _local(row["first_contact_date"]) for row in mqls}
    won = {mql_id: _local(row["won_date"]) for mql_id, row in deals.items()}
    mql_count = Counter(origin.values())
    # one deal is dated before its lead's first contact; reaching customer implies having
    # passed MQL by then, so it still counts as a conversion of the MQL cohort
    assert sum(1 for m in deals if won[m] < contact[m]) == 1
    won_count = Counter(origin[m] for m in deals)
    for group in funnel["groups"]:
        rate = next(c for c in group["conversions"] if (c["from"], c["to"]) == ("mql", "sql"))
        assert (rate["cohort"], rate["converted"]) == (
            mql_count[group["value"]],
            won_count[group["value"]],
        ), group["value"]
    overall = funnel["mql_to_sql"]["rate"]
    assert overall == pytest.approx(len(deals) / len(mqls), abs=1e-4)
    assert "within" in funnel["mql_to_sql"]["note"]  # 10.5 %

    # -- backtest of the fit model against the closed deals
    start, end = PERIOD
    report = _json(
        cli,
        "backtest",
        "--model",
        str(examples / "fit-model.yaml"),
        "--outcome",
        "customer",
        "--from",
        start.isoformat(),
        "--to",
        end.isoformat(),
    )
    (model,) = report["models"]
    would = {
        mql_id
        for mql_id in contact
        if origin[mql_id] in FIT and start <= contact[mql_id].date() <= end
    }
    reached = {mql_id for mql_id in would if mql_id in won}
    outcome_leads = {mql_id for mql_id, moment in won.items() if start <= moment.date() <= end}
    caught = {
        mql_id
        for mql_id in outcome_leads
        if origin[mql_id] in FIT and contact[mql_id].date() <= won[mql_id].date()
    }
    assert model["mqls"] == len(would)
    assert model["reached_outcome"] == len(reached)
    assert model["outcome_leads"] == len(outcome_leads)
    assert model["mql_first"] == len(caught)
    assert model["precision"] == pytest.approx(len(reached) / len(would), abs=1e-4)
    day_end = timedelta(hours=23, minutes=59, seconds=59, microseconds=999_999)
    lead_times = sorted(
        (won[m] - (datetime.combine(contact[m].date(), datetime.min.time(), UTC) + day_end))
        / timedelta(days=1)
        for m in reached
        if won[m].date() >= contact[m].date()
    )
    middle = len(lead_times) // 2
    median = (
        lead_times[middle]
        if len(lead_times) % 2
        else (lead_times[middle - 1] + lead_times[middle]) / 2
    )
    assert model["median_days_mql_to_outcome"] == round(median, 1)
    # the model is more selective than "every MQL": a higher precision than on record
    assert model["precision"] > report["on_record"]["precision"]


def test_mappings_are_valid() -> None:
    """The shipped mappings load (their keys, fields and templates are checked)."""
    from leadgate.imports.mapping import load_mapping

    folder = REPO / "examples" / "olist"
    assert load_mapping(folder / "mqls.yaml", kind="leads").templates["email"].endswith(".invalid")
    assert load_mapping(folder / "deals.yaml", kind="leads").columns["stage_at"] == "won_date"
    assert load_mapping(folder / "form-submissions.yaml", kind="events").constants["type"] == (
        "form.submitted"
    )
