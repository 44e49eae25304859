"""Importing CRM history: creation and stage times, made-up e-mails from templates,
renamed custom attributes, and reserved domains that never become accounts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from leadgate.accounts.models import Account
from leadgate.cli import app
from leadgate.db.engine import Database
from leadgate.exceptions import ModelError
from leadgate.imports.mapping import load_mapping
from leadgate.leads.models import Lead, StageChange
from leadgate.reference import is_reserved_domain

MQLS = "mql_id,first_contact_date,landing_page_id,origin\nm1,2018-02-01,lp9,social\n"
DEALS = "mql_id,won_date,segment\nm1,2018-03-05 14:30:00,pet\n"
MQL_MAP = """
kind: leads
columns: {id: mql_id, channel: origin, created_at: first_contact_date,
          attributes.landing_page: landing_page_id}
templates: {email: "{mql_id}@crm.invalid"}
constants: {stage: mql}
assume_tz: America/Sao_Paulo
"""
DEAL_MAP = """
kind: leads
columns: {id: mql_id, stage_at: won_date}
templates: {email: "{mql_id}@crm.invalid"}
constants: {stage: customer}
assume_tz: America/Sao_Paulo
"""


def _import(cli: CliRunner, tmp_path: Path, name: str, data: str, mapping: str) -> dict:  # type: ignore[type-arg]
    source = tmp_path / f"{name}.csv"
    source.write_text(data, "utf-8")
    mapping_file = tmp_path / f"{name}.yaml"
    mapping_file.write_text(mapping, "utf-8")
    result = cli.invoke(app, ["import", "leads", str(source), "--map", str(mapping_file), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


class TestHistoryImport:
    def test_created_in_a_stage_then_moved_at_the_recorded_time(
        self, cli: CliRunner, db: Database, tmp_path: Path
    ) -> None:
        """The lead is created as an MQL at first contact (summer-time midnight, 02:00 UTC),
        then a deal moves it to customer at won_date, outside the transition table, once."""
        _import(cli, tmp_path, "mqls", MQLS, MQL_MAP)
        for _ in range(2):  # re-importing the deal records it once
            _import(cli, tmp_path, "deals", DEALS, DEAL_MAP)
        with db.session() as session:
            lead = session.get(Lead, "m1")
            assert lead is not None
            assert lead.email == "m1@crm.invalid"
            assert lead.account_id is None
            assert lead.attributes == {"landing_page": "lp9", "segment": "pet"}
            assert lead.created_at == datetime(2018, 2, 1, 2, 0, tzinfo=UTC)
            assert lead.stage == "customer"
            moves = session.execute(
                select(StageChange.from_stage, StageChange.to_stage, StageChange.at)
                .where(StageChange.lead_id == "m1")
                .order_by(StageChange.at)
            ).all()
            assert [tuple(m) for m in moves] == [
                (None, "mql", datetime(2018, 2, 1, 2, 0, tzinfo=UTC)),
                ("mql", "customer", datetime(2018, 3, 5, 17, 30, tzinfo=UTC)),
            ]
            assert session.scalar(select(func.count()).select_from(Account)) == 0

    def test_an_earlier_recorded_move_does_not_become_the_current_stage(
        self, cli: CliRunner, db: Database, tmp_path: Path
    ) -> None:
        early = "mql_id,won_date,segment\nm1,2018-01-05 10:00:00,pet\n"
        _import(cli, tmp_path, "mqls", MQLS, MQL_MAP)
        _import(cli, tmp_path, "deals", early, DEAL_MAP)
        with db.session() as session:
            lead = session.get(Lead, "m1")
            assert lead is not None and lead.stage == "mql"
            count = session.scalar(
                select(func.count()).select_from(StageChange).where(StageChange.lead_id == "m1")
            )
            assert count == 2

    def test_a_template_naming_a_missing_column_rejects_the_row(
        self, cli: CliRunner, tmp_path: Path
    ) -> None:
        source = tmp_path / "bad.csv"
        source.write_text("mql_id,first_contact_date\n,2018-02-01\n", "utf-8")
        mapping = tmp_path / "bad.yaml"
        mapping.write_text(
            'kind: leads\ntemplates: {email: "{id}@crm.invalid"}\nassume_tz: UTC\n', "utf-8"
        )
        result = cli.invoke(app, ["import", "leads", str(source), "--map", str(mapping), "--json"])
        assert result.exit_code == 1
        out = json.loads(result.output)
        assert out["rejected"] == 1


class TestMappingValidation:
    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ('templates: {email: "plain"}', "at least one {column}"),
            ('templates: {email: "{broken"}', "bad template"),
            ("columns: {props.x: y}", "unknown leads field"),
        ],
    )
    def test_bad_mappings_name_the_path(self, tmp_path: Path, text: str, message: str) -> None:
        path = tmp_path / "m.yaml"
        path.write_text(text + "\n", "utf-8")
        with pytest.raises(ModelError, match=message):
            load_mapping(path, kind="leads")


@pytest.mark.parametrize(
    ("domain", "reserved"),
    [
        ("crm.invalid", True),
        ("example.com", True),
        ("shop.example", True),
        ("acme.test", True),
        ("acme.cz", False),
        ("example.com.br", False),
        (None, False),
    ],
)
def test_reserved_domains(domain: str | None, reserved: bool) -> None:
    assert is_reserved_domain(domain) is reserved
