"""``leadgate import leads|accounts|events``: end to end through the command line.

Good rows are committed, bad rows are rejected with line and reason (exit 1), and a
malformed file is one clear error (exit 2) that writes nothing at all.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from leadgate.accounts.models import Account
from leadgate.cli import app
from leadgate.db.engine import Database
from leadgate.events.models import Event
from leadgate.leads.models import Lead, LeadAlias, StageChange
from leadgate.leads.service import find_lead

LEADS_CSV = (
    "id,email,first_name,last_name,title,company_size\n"
    "L1,jana.novakova@acme.cz,Jana,Nováková,CTO,50\n"
    "L2,petr@gmail.com,Petr,Černý,,\n"
    "L3,eva@beta.io,Eva,Svobodová,Engineer,\n"
)
CZECH = "Žofie Řeháčková-Ďurišová 🚀👩‍💻"


def _write(path: Path, data: str | bytes) -> Path:
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", newline="")
    else:
        path.write_bytes(data)
    return path


def _import(cli: CliRunner, kind: str, path: Path, *options: str) -> tuple[int, dict[str, Any]]:
    """Run ``leadgate import KIND PATH --json``; return the exit code and the JSON output."""
    result = cli.invoke(app, ["import", kind, str(path), *options, "--json"])
    assert result.stdout, result.output
    payload = json.loads(result.stdout)
    assert isinstance(payload, dict)
    return result.exit_code, payload


def _counts(db: Database) -> dict[str, int]:
    with db.session() as session:
        return {
            model.__tablename__: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Lead, LeadAlias, StageChange, Account, Event)
        }


def _rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _leads(cli: CliRunner, tmp_path: Path, text: str = LEADS_CSV) -> None:
    code, payload = _import(cli, "leads", _write(tmp_path / "base-leads.csv", text))
    assert code == 0, payload


def _events(db: Database) -> list[Event]:
    with db.session() as session:
        return sorted(session.scalars(select(Event)).all(), key=lambda e: e.event_id)


class TestImportLeads:
    """Leads: identity by email in any case, accounts by domain, custom attributes."""

    def test_good_file_creates_leads_and_exits_zero(self, cli: CliRunner, db: Database) -> None:
        """Every row is created; the JSON report counts them and names no rejects file."""
        path = _write(Path("leads.csv"), LEADS_CSV)
        code, payload = _import(cli, "leads", path)
        assert code == 0
        assert payload["ok"] is True
        assert (payload["rows"], payload["created"], payload["updated"]) == (3, 3, 0)
        assert (payload["rejected"], payload["rejects_file"]) == (0, None)
        assert _counts(db)["leads"] == 3

    def test_reimport_updates_instead_of_duplicating(self, cli: CliRunner, db: Database) -> None:
        """The same file twice: the second run updates the three leads, creates none."""
        path = _write(Path("leads.csv"), LEADS_CSV)
        _import(cli, "leads", path)
        before = _counts(db)
        code, payload = _import(cli, "leads", path)
        assert code == 0
        assert (payload["created"], payload["updated"]) == (0, 3)
        assert _counts(db) == before

    def test_email_in_any_case_is_one_lead(self, cli: CliRunner, db: Database) -> None:
        """Two spellings of one address in one file are one lead, updated by the second row."""
        path = _write(Path("leads.csv"), "email,title\nJana@Acme.CZ,CTO\n jana@acme.cz ,CEO\n")
        code, payload = _import(cli, "leads", path)
        assert code == 0
        assert (payload["created"], payload["updated"]) == (1, 1)
        with db.session() as session:
            lead = session.scalars(select(Lead)).one()
            assert (lead.email, lead.email_key, lead.title) == (
                "jana@acme.cz",
                "jana@acme.cz",
                "CEO",
            )

    def test_unmapped_columns_become_attributes(self, cli: CliRunner, db: Database) -> None:
        """Columns that are not lead fields are kept as custom attributes; blanks are dropped."""
        _import(cli, "leads", _write(Path("leads.csv"), LEADS_CSV))
        with db.session() as session:
            jana = find_lead(session, ref="L1")
            petr = find_lead(session, ref="L2")
            assert jana is not None
            assert petr is not None
            assert jana.attributes == {"company_size": "50"}
            assert petr.attributes == {}

    def test_corporate_domains_join_accounts_free_mail_never(
        self, cli: CliRunner, db: Database
    ) -> None:
        """acme.cz and beta.io become accounts; gmail.com neither creates nor joins one."""
        _import(
            cli,
            "leads",
            _write(Path("leads.csv"), LEADS_CSV + "L4,karel@ACME.cz,Karel,Novák,,\n"),
        )
        with db.session() as session:
            domains = set(session.scalars(select(Account.domain)).all())
            assert domains == {"acme.cz", "beta.io"}
            leads = {lead.id: lead for lead in session.scalars(select(Lead))}
            assert leads["L2"].account_id is None
            assert leads["L1"].account_id is not None
            assert leads["L1"].account_id == leads["L4"].account_id
            assert leads["L3"].account_id not in (None, leads["L1"].account_id)

    def test_free_mail_account_domain_is_rejected(self, cli: CliRunner, db: Database) -> None:
        """Naming a free-mail domain as the account is a rejected row, not an account."""
        path = _write(Path("leads.csv"), "email,account_domain\nx@acme.cz,gmail.com\n")
        code, payload = _import(cli, "leads", path)
        assert code == 1
        assert "free-mail domain" in payload["first_rejects"][0]["reason"]
        assert _counts(db)["accounts"] == 0

    def test_id_and_email_of_two_leads_merge_them(
        self, cli: CliRunner, db: Database, tmp_path: Path
    ) -> None:
        """A row whose id is one lead and whose email is another merges the two: events
        move to the survivor and the other id and email keep resolving to it."""
        _leads(cli, tmp_path)
        events = _write(
            Path("ev.csv"),
            "event_id,lead_id,type,occurred_at\n"
            "e1,L1,email.opened,2026-01-15T10:00:00Z\n"
            "e2,L3,page.viewed,2026-01-16T10:00:00Z\n",
        )
        assert _import(cli, "events", events)[0] == 0
        code, payload = _import(cli, "leads", _write(Path("m.csv"), "id,email\nL1,eva@beta.io\n"))
        assert code == 0
        assert payload["updated"] == 1
        with db.session() as session:
            survivor = find_lead(session, ref="L1")
            assert survivor is not None
            assert find_lead(session, ref="L3") is survivor
            assert find_lead(session, ref="EVA@beta.io") is survivor
            assert find_lead(session, ref="jana.novakova@acme.cz") is survivor
            assert session.get(Lead, "L3") is None
            assert survivor.email == "eva@beta.io"
        assert {e.lead_id for e in _events(db)} == {"L1"}
        assert _counts(db)["leads"] == 2

    def test_rejected_rows_exit_one_and_go_to_the_rejects_file(
        self, cli: CliRunner, db: Database, tmp_path: Path
    ) -> None:
        """Missing or invalid emails are rejected with line and reason; good rows are
        committed; the rejects file goes to the working directory (not beside the input)
        and keeps the original values."""
        (tmp_path / "in").mkdir()
        path = _write(
            tmp_path / "in" / "leads.csv",
            "email,first_name,stage,do_not_email\n"
            "ok@acme.cz,Ok,,yes\n"
            ",NoEmail,,\n"
            "not-an-email,Bad,,\n"
            "st@acme.cz,Stage,bogus,\n"
            "mql@acme.cz,Mql,mql,\n",
        )
        code, payload = _import(cli, "leads", path)
        assert code == 1
        assert payload["ok"] is False
        assert (payload["rows"], payload["created"], payload["rejected"]) == (5, 2, 3)
        lines = [(r["line"], r["reason"].split(":")[0]) for r in payload["first_rejects"]]
        assert lines == [(3, "email"), (4, "email"), (5, "stage")]
        assert payload["rejects_file"] == str(tmp_path / "leads.rejects.csv")
        rows = _rejects(tmp_path / "leads.rejects.csv")
        assert [r["_line"] for r in rows] == ["3", "4", "5"]
        assert rows[0]["_reason"] == "email: email is required"
        assert rows[1]["_reason"] == "email: 'not-an-email' is not an email address"
        assert (rows[2]["email"], rows[2]["first_name"], rows[2]["stage"]) == (
            "st@acme.cz",
            "Stage",
            "bogus",
        )
        with db.session() as session:
            ok = find_lead(session, ref="ok@acme.cz")
            mql = find_lead(session, ref="mql@acme.cz")
            assert ok is not None
            assert mql is not None
            assert (ok.do_not_email, ok.stage, mql.stage) == (True, "lead", "mql")

    def test_rejects_option_chooses_the_path(self, cli: CliRunner, tmp_path: Path) -> None:
        """--rejects PATH writes the rejects there (creating folders) instead of ./NAME."""
        path = _write(Path("leads.csv"), "email\n\nnope\n")
        target = tmp_path / "out" / "bad.csv"
        code, payload = _import(cli, "leads", path, "--rejects", str(target))
        assert code == 1
        assert payload["rejects_file"] == str(target)
        assert [r["_line"] for r in _rejects(target)] == ["3"]
        assert not (tmp_path / "leads.rejects.csv").exists()

    def test_rejects_option_naming_a_folder_is_refused_up_front(
        self, cli: CliRunner, db: Database, tmp_path: Path
    ) -> None:
        """--rejects pointing at a folder is an error before anything is imported."""
        path = _write(Path("leads.csv"), "email\nok@acme.cz\nnope\n")
        code, payload = _import(cli, "leads", path, "--rejects", str(tmp_path))
        assert code == 2
        assert "is a folder" in payload["error"]["message"]
        assert _counts(db)["leads"] == 0

    def test_unwritable_rejects_file_is_a_clear_error(
        self, cli: CliRunner, db: Database, tmp_path: Path
    ) -> None:
        """When the rejects file cannot be written, one message says so (no traceback) and
        that the good rows were imported."""
        path = _write(Path("leads.csv"), "email\nok@acme.cz\nnope\n")
        blocker = _write(tmp_path / "blocker", "a file, not a folder")
        code, payload = _import(cli, "leads", path, "--rejects", str(blocker / "r.csv"))
        assert code == 2
        message = payload["error"]["message"]
        assert "the other rows were imported" in message
        assert "1 rejected rows cannot be written" in message
        assert _counts(db)["leads"] == 1

    def test_human_output_lists_rejects(self, cli: CliRunner) -> None:
        """Without --json the table is followed by each rejected line and the rejects file."""
        path = _write(Path("leads.csv"), "email\nok@acme.cz\nnope\n")
        result = cli.invoke(app, ["import", "leads", str(path)])
        assert result.exit_code == 1
        assert "line 3: email: 'nope' is not an email address" in result.output
        assert "leads.rejects.csv" in result.output

    def test_czech_names_and_emoji_round_trip(self, cli: CliRunner, db: Database) -> None:
        """Unicode in fields, attributes and the email's local part is stored exactly."""
        path = _write(
            Path("leads.csv"),
            f"email,first_name,last_name,poznámka\nřehoř@acme.cz,Řehoř,{CZECH},Čaj ☕\n",
        )
        code, _ = _import(cli, "leads", path)
        assert code == 0
        with db.session() as session:
            lead = find_lead(session, ref="ŘEHOŘ@acme.cz".lower())
            assert lead is not None
            assert (lead.email, lead.first_name, lead.last_name) == (
                "řehoř@acme.cz",
                "Řehoř",
                CZECH,
            )
            assert lead.attributes == {"poznámka": "Čaj ☕"}

    def test_one_megabyte_field_is_rejected_by_its_max_length(
        self, cli: CliRunner, db: Database
    ) -> None:
        """A 1 MB first_name exceeds max_length=200: that row is rejected with the limit as
        the reason, the rejects file keeps the whole value, the other row is imported."""
        big = "Ž" * 1_000_000
        path = _write(Path("leads.csv"), f"email,first_name\nbig@acme.cz,{big}\nok@acme.cz,Ok\n")
        code, payload = _import(cli, "leads", path)
        assert code == 1
        assert payload["first_rejects"] == [
            {"line": 2, "reason": "first_name: String should have at most 200 characters"}
        ]
        assert _rejects(Path("leads.rejects.csv"))[0]["first_name"] == big
        assert _counts(db)["leads"] == 1

    def test_one_megabyte_custom_attribute_is_stored_whole(
        self, cli: CliRunner, db: Database
    ) -> None:
        """Custom attributes have no size limit: a 1 MB note is stored and read back intact."""
        big = "poznámka 🚀 " * 90_000
        path = _write(Path("leads.csv"), f"email,note\nbig@acme.cz,{big}\n")
        code, _ = _import(cli, "leads", path)
        assert code == 0
        with db.session() as session:
            lead = find_lead(session, ref="big@acme.cz")
            assert lead is not None
            assert lead.attributes["note"] == big.strip()

    def test_one_megabyte_email_is_rejected(self, cli: CliRunner, db: Database) -> None:
        """An absurdly long email is not an email address; the reason quotes only its start."""
        path = _write(Path("leads.csv"), f"email\n{'a' * 1_000_000}@acme.cz\n")
        code, payload = _import(cli, "leads", path)
        assert code == 1
        reason = payload["first_rejects"][0]["reason"]
        assert reason.endswith("is not an email address")
        assert len(reason) < 200
        assert _counts(db)["leads"] == 0


class TestImportAccounts:
    """Accounts: matched by id, else by domain; free-mail domains are refused."""

    def test_accounts_created_then_updated(self, cli: CliRunner, db: Database) -> None:
        """Domains are normalised (URL, case, www); a second file updates by id or domain."""
        first = _write(
            Path("acc.csv"),
            "id,domain,name,employees,segment\n"
            "A1,https://www.ACME.cz/about,Acme,120,SMB\n"
            ",beta.io,Beta,,\n",
        )
        code, payload = _import(cli, "accounts", first)
        assert code == 0
        assert payload["created"] == 2
        second = _write(Path("acc2.csv"), "id,domain,tier\nA1,,gold\n,BETA.io,silver\n")
        code, payload = _import(cli, "accounts", second)
        assert code == 0
        assert (payload["created"], payload["updated"]) == (0, 2)
        with db.session() as session:
            acme = session.get(Account, "A1")
            assert acme is not None
            assert (acme.domain, acme.name, acme.employees, acme.tier) == (
                "acme.cz",
                "Acme",
                120,
                "gold",
            )
            assert acme.attributes == {"segment": "SMB"}
            beta = session.scalars(select(Account).where(Account.domain == "beta.io")).one()
            assert beta.tier == "silver"

    def test_bad_account_rows_are_rejected(self, cli: CliRunner, db: Database) -> None:
        """Free-mail domains, rows without id or domain, and bad numbers are rejected."""
        path = _write(
            Path("acc.csv"),
            "id,domain,name,employees\n"
            ",gmail.com,Gmail,\n"
            ",,Nameless,\n"
            ",gamma.cz,Gamma,many\n"
            ",delta.cz,Delta,99999999999\n"
            ",ok.cz,Ok,10\n",
        )
        code, payload = _import(cli, "accounts", path)
        assert code == 1
        reasons = [r["reason"] for r in payload["first_rejects"]]
        assert [r["line"] for r in payload["first_rejects"]] == [2, 3, 4, 5]
        assert "free-mail domain" in reasons[0]
        assert "needs an id or a domain" in reasons[1]
        assert reasons[2].startswith("employees:")
        assert reasons[3].startswith("employees:")
        assert _counts(db)["accounts"] == 1

    def test_leads_join_an_imported_account_by_id(self, cli: CliRunner, db: Database) -> None:
        """account_id links a lead to that account even when its email is free mail."""
        _import(cli, "accounts", _write(Path("acc.csv"), "id,domain\nA1,acme.cz\n"))
        path = _write(Path("leads.csv"), "email,account_id\nboss@gmail.com,A1\nx@y.cz,NOPE\n")
        code, payload = _import(cli, "leads", path)
        assert code == 1
        assert payload["first_rejects"] == [{"line": 3, "reason": "unknown account 'NOPE'"}]
        with db.session() as session:
            lead = find_lead(session, ref="boss@gmail.com")
            assert lead is not None
            assert lead.account_id == "A1"


class TestImportEvents:
    """Events: idempotent on event_id, strict about time zones and lead references."""

    def test_events_are_stored_with_properties(
        self, cli: CliRunner, db: Database, tmp_path: Path
    ) -> None:
        """Leads are found by id or by email in any case; extra columns become properties."""
        _leads(cli, tmp_path)
        path = _write(
            Path("ev.csv"),
            "event_id,lead_id,email,type,occurred_at,channel,campaign,subject\n"
            "e1,L1,,email.opened,2026-01-15T10:00:00Z,email,spring,Hi 👋\n"
            "e2,,JANA.NOVAKOVA@acme.cz,email.clicked,2026-01-15T10:05:00+01:00,,,\n",
        )
        code, payload = _import(cli, "events", path)
        assert code == 0
        assert (payload["created"], payload["skipped_already_stored"]) == (2, 0)
        e1, e2 = _events(db)
        assert (e1.lead_id, e1.type, e1.channel, e1.campaign) == (
            "L1",
            "email.opened",
            "email",
            "spring",
        )
        assert e1.properties == {"subject": "Hi 👋"}
        assert (e2.lead_id, e2.channel, e2.properties) == ("L1", None, {})
        assert e2.occurred_at == datetime(2026, 1, 15, 9, 5, tzinfo=UTC)

    def test_reimport_adds_nothing(self, cli: CliRunner, db: Database, tmp_path: Path) -> None:
        """The same events twice: the second run stores nothing and counts them as skipped."""
        _leads(cli, tmp_path)
        path = _write(
            Path("ev.csv"),
            "event_id,lead_id,type,occurred_at\n"
            + "".join(
                f"e{i},L{1 + i % 3},page.viewed,2026-01-15T10:00:{i:02d}Z\n" for i in range(30)
            ),
        )
        assert _import(cli, "events", path)[1]["created"] == 30
        code, payload = _import(cli, "events", path)
        assert code == 0
        assert (payload["created"], payload["skipped_already_stored"]) == (0, 30)
        assert _counts(db)["events"] == 30

    def test_events_without_id_are_idempotent_too(
        self, cli: CliRunner, db: Database, tmp_path: Path
    ) -> None:
        """Without event_id a stable id is derived (lead, type, time, properties): a second
        import, even spelling the email in another case, adds nothing."""
        _leads(cli, tmp_path)
        first = _write(
            Path("ev.csv"),
            "email,type,occurred_at,page\n"
            "jana.novakova@acme.cz,page.viewed,2026-01-15T10:00:00Z,/pricing\n"
            "jana.novakova@acme.cz,page.viewed,2026-01-15T10:00:00Z,/docs\n"
            "eva@beta.io,page.viewed,2026-01-15T10:00:00Z,/pricing\n",
        )
        assert _import(cli, "events", first)[1]["created"] == 3
        again = _write(
            Path("ev2.csv"), first.read_text("utf-8").replace("jana.novakova", "JANA.Novakova")
        )
        code, payload = _import(cli, "events", again)
        assert code == 0
        assert (payload["created"], payload["skipped_already_stored"]) == (0, 3)
        ids = [e.event_id for e in _events(db)]
        assert len(set(ids)) == 3
        assert all(event_id.startswith("h_") for event_id in ids)

    def test_duplicate_event_id_in_one_file_is_rejected(
        self, cli: CliRunner, db: Database, tmp_path: Path
    ) -> None:
        """The second row with an id already seen in the file is rejected, naming the first."""
        _leads(cli, tmp_path)
        path = _write(
            Path("ev.csv"),
            "event_id,lead_id,type,occurred_at\n"
            "e1,L1,email.opened,2026-01-15T10:00:00Z\n"
            "e2,L1,email.opened,2026-01-15T11:00:00Z\n"
            "e1,L3,form.submitted,2026-01-15T12:00:00Z\n",
        )
        code, payload = _import(cli, "events", path)
        assert code == 1
        assert payload["created"] == 2
        assert payload["first_rejects"] == [
            {"line": 4, "reason": "duplicate event id 'e1' in this file (first on line 2)"}
        ]
        assert [(e.event_id, e.lead_id, e.type) for e in _events(db)] == [
            ("e1", "L1", "email.opened"),
            ("e2", "L1", "email.opened"),
        ]

    def test_bad_event_rows_are_rejected_with_reasons(
        self, cli: CliRunner, db: Database, tmp_path: Path
    ) -> None:
        """Unknown leads, bad types, unparseable or zone-less timestamps and wrong field
        counts are each rejected with their line; the good row is committed."""
        _leads(cli, tmp_path)
        path = _write(
            Path("ev.csv"),
            "event_id,lead_id,type,occurred_at\n"
            "e1,L1,email.opened,2026-01-15T10:00:00Z\n"
            "e2,L99,email.opened,2026-01-15T10:00:00Z\n"
            "e3,L1,email opened!,2026-01-15T10:00:00Z\n"
            "e4,L1,email.opened,yesterday\n"
            "e5,L1,email.opened,2026-01-15 10:00:00\n"
            "e6,L1,email.opened\n"
            "e7,L1,email.opened,0001-01-01T00:00:00+01:00\n"
            "e8,,email.opened,2026-01-15T10:00:00Z\n",
        )
        code, payload = _import(cli, "events", path)
        assert code == 1
        assert (payload["rows"], payload["created"], payload["rejected"]) == (8, 1, 7)
        reasons = {r["line"]: r["reason"] for r in payload["first_rejects"]}
        assert reasons[3] == "unknown lead 'L99' (import the lead first)"
        assert reasons[4].startswith("event type 'email opened!' must be")
        assert reasons[5] == "'yesterday' is not an ISO 8601 timestamp"
        assert "has no time zone" in reasons[6]
        assert "--assume-tz" in reasons[6]
        assert reasons[7] == "has 3 fields, the header has 4"
        assert reasons[8].endswith("is out of range")
        assert reasons[9] == "no lead_id or email"
        assert [r["_line"] for r in _rejects(Path("ev.rejects.csv"))] == [
            "3",
            "4",
            "5",
            "6",
            "7",
            "8",
            "9",
        ]
        assert [e.event_id for e in _events(db)] == ["e1"]

    def test_assume_tz_converts_local_times_to_utc(
        self, cli: CliRunner, db: Database, tmp_path: Path
    ) -> None:
        """--assume-tz Europe/Prague reads zone-less times as Prague time (CET in winter,
        CEST in summer); timestamps that carry a zone keep it."""
        _leads(cli, tmp_path)
        path = _write(
            Path("ev.csv"),
            "event_id,lead_id,type,occurred_at\n"
            "winter,L1,email.opened,2026-01-15 10:00:00\n"
            "summer,L1,email.opened,2026-07-15T10:00:00\n"
            "zoned,L1,email.opened,2026-07-15T10:00:00+00:00\n",
        )
        code, payload = _import(cli, "events", path)
        assert code == 1
        assert payload["rejected"] == 2
        code, payload = _import(cli, "events", path, "--assume-tz", "Europe/Prague")
        assert code == 0
        assert (payload["created"], payload["skipped_already_stored"]) == (2, 1)
        times = {e.event_id: e.occurred_at for e in _events(db)}
        assert times == {
            "summer": datetime(2026, 7, 15, 8, 0, tzinfo=UTC),
            "winter": datetime(2026, 1, 15, 9, 0, tzinfo=UTC),
            "zoned": datetime(2026, 7, 15, 10, 0, tzinfo=UTC),
        }
        assert all(t.utcoffset() is not None for t in times.values())

    def test_unknown_assume_tz_is_exit_two(self, cli: CliRunner, tmp_path: Path) -> None:
        """An unknown zone name is refused before anything is read."""
        path = _write(Path("ev.csv"), "lead_id,type,occurred_at\nL1,a,2026-01-15 10:00\n")
        code, payload = _import(cli, "events", path, "--assume-tz", "Europe/Atlantis")
        assert code == 2
        assert "unknown time zone 'Europe/Atlantis'" in payload["error"]["message"]

    def test_jsonl_with_an_invalid_line_in_the_middle(
        self, cli: CliRunner, db: Database, tmp_path: Path
    ) -> None:
        """One broken JSON line is rejected (its raw text kept in NAME.rejects.jsonl);
        the lines before and after it are imported."""
        _leads(cli, tmp_path)
        path = _write(
            Path("ev.jsonl"),
            '{"event_id": "j1", "lead_id": "L1", "type": "email.opened",'
            ' "occurred_at": "2026-01-15T10:00:00Z"}\n'
            '{"event_id": "j2", "lead_id": "L1", "type": \n'
            '{"event_id": "j3", "email": "eva@beta.io", "type": "page.viewed",'
            ' "occurred_at": "2026-01-15T10:00:00Z", "properties": {"path": "/ceník", "n": 2},'
            ' "extra": "✓"}\n',
        )
        code, payload = _import(cli, "events", path)
        assert code == 1
        assert (payload["created"], payload["rejected"]) == (2, 1)
        assert payload["first_rejects"][0]["line"] == 2
        assert payload["first_rejects"][0]["reason"].startswith("invalid JSON")
        rejects = [
            json.loads(line) for line in Path("ev.rejects.jsonl").read_text("utf-8").splitlines()
        ]
        assert rejects == [
            {
                "_line": 2,
                "_reason": payload["first_rejects"][0]["reason"],
                "_raw": '{"event_id": "j2", "lead_id": "L1", "type": ',
            }
        ]
        j1, j3 = _events(db)
        assert (j1.event_id, j3.event_id, j3.lead_id) == ("j1", "j3", "L3")
        assert j3.properties == {"path": "/ceník", "n": 2, "extra": "✓"}

    def test_one_megabyte_cells_in_events(
        self, cli: CliRunner, db: Database, tmp_path: Path
    ) -> None:
        """A 1 MB property is stored whole; a 1 MB type, channel or event_id exceeds its
        column and the row is rejected with the limit in the reason (never truncated)."""
        _leads(cli, tmp_path)
        big = "ř" * 1_000_000
        path = _write(
            Path("ev.csv"),
            "event_id,lead_id,type,occurred_at,channel,body\n"
            f"e1,L1,email.opened,2026-01-15T10:00:00Z,email,{big}\n"
            f"e2,L1,{big},2026-01-15T10:00:00Z,,\n"
            f"e3,L1,email.opened,2026-01-15T10:00:00Z,{big},\n"
            f"{big},L1,email.opened,2026-01-15T10:00:00Z,,\n",
        )
        code, payload = _import(cli, "events", path)
        assert code == 1
        reasons = {r["line"]: r["reason"] for r in payload["first_rejects"]}
        assert "must be 1-200 letters" in reasons[3]
        assert reasons[4] == "channel is longer than 200 characters"
        assert reasons[5] == "event_id is longer than 255 characters"
        assert all(len(reason) < 300 for reason in reasons.values())
        (event,) = _events(db)
        assert event.properties == {"body": big}

    def test_unicode_event_values_round_trip(
        self, cli: CliRunner, db: Database, tmp_path: Path
    ) -> None:
        """Czech text and emoji in ids, campaigns and properties are stored exactly."""
        _leads(cli, tmp_path)
        path = _write(
            Path("ev.csv"),
            "event_id,lead_id,type,occurred_at,campaign,title\n"
            f"ú-1,L1,webinar.attended,2026-01-15T10:00:00Z,Jaro 🌷,{CZECH}\n",
        )
        assert _import(cli, "events", path)[0] == 0
        (event,) = _events(db)
        assert (event.event_id, event.campaign, event.properties) == (
            "ú-1",
            "Jaro 🌷",
            {"title": CZECH},
        )


def _good_rows(kind: str, fmt: str, count: int) -> str:
    """``count`` valid rows of ``kind`` (long enough to span many read buffers)."""
    pad = "p" * 60
    if fmt == "jsonl":
        return "".join(
            json.dumps(
                {
                    "event_id": f"big{i}",
                    "lead_id": "L1",
                    "type": "page.viewed",
                    "occurred_at": "2026-01-15T10:00:00Z",
                    "pad": pad,
                }
            )
            + "\n"
            for i in range(count)
        )
    if kind == "leads":
        return "email,first_name,note\n" + "".join(
            f"u{i}@firm{i % 40}.cz,N{i},{pad}\n" for i in range(count)
        )
    if kind == "accounts":
        return "domain,name,note\n" + "".join(f"firm{i}.cz,Firm {i},{pad}\n" for i in range(count))
    return "event_id,lead_id,type,occurred_at,note\n" + "".join(
        f"big{i},L{1 + i % 3},page.viewed,2026-01-15T10:00:00Z,{pad}\n" for i in range(count)
    )


#: (kind, format, rows): enough rows that writes happen before the bad last line is read
#: (events are written in batches of thousands).
_LARGE = [("leads", "csv", 1_500), ("accounts", "csv", 1_500), ("events", "csv", 25_000)]
_LARGE_IDS = [f"{kind}-{fmt}" for kind, fmt, _ in _LARGE]


class TestMalformedFiles:
    """A file that cannot be read as a whole exits 2 with one message and writes nothing:
    no rows (database counts unchanged, even after many good rows) and no rejects file."""

    def _check_nothing_written(
        self, cli: CliRunner, db: Database, kind: str, path: Path, message: str
    ) -> None:
        before = _counts(db)
        code, payload = _import(cli, kind, path)
        assert code == 2, payload
        assert payload["ok"] is False
        assert message in payload["error"]["message"]
        assert _counts(db) == before
        assert not list(Path.cwd().glob("*.rejects.*"))

    @pytest.mark.parametrize(("kind", "fmt", "count"), _LARGE, ids=_LARGE_IDS)
    def test_invalid_utf8_in_the_last_line(
        self, cli: CliRunner, db: Database, tmp_path: Path, kind: str, fmt: str, count: int
    ) -> None:
        """Thousands of good rows, then one Latin-2 byte in the last line: nothing is kept."""
        _leads(cli, tmp_path)
        data = _good_rows(kind, fmt, count).encode() + "Jiří,".encode("cp1250") + b"x\n"
        self._check_nothing_written(cli, db, kind, _write(Path(f"big.{fmt}"), data), "not UTF-8")

    def test_invalid_utf8_in_the_last_line_of_jsonl(
        self, cli: CliRunner, db: Database, tmp_path: Path
    ) -> None:
        """The same for JSON Lines events."""
        _leads(cli, tmp_path)
        data = _good_rows("events", "jsonl", 25_000).encode() + b'{"lead_id": "L\xe9"}\n'
        self._check_nothing_written(cli, db, "events", _write(Path("big.jsonl"), data), "not UTF-8")

    @pytest.mark.parametrize(("kind", "fmt", "count"), _LARGE, ids=_LARGE_IDS)
    def test_nul_byte_in_the_last_line(
        self, cli: CliRunner, db: Database, tmp_path: Path, kind: str, fmt: str, count: int
    ) -> None:
        """A NUL byte deep in an otherwise good file makes it binary: nothing is kept."""
        _leads(cli, tmp_path)
        data = _good_rows(kind, fmt, count).encode() + b"x\x00y,z\n"
        self._check_nothing_written(cli, db, kind, _write(Path(f"big.{fmt}"), data), "binary data")

    @pytest.mark.parametrize("kind", ["leads", "accounts", "events"])
    def test_binary_file(self, cli: CliRunner, db: Database, tmp_path: Path, kind: str) -> None:
        """A binary file (here a PNG header) is not CSV."""
        _leads(cli, tmp_path)
        path = _write(Path("image.csv"), b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
        self._check_nothing_written(cli, db, kind, path, "binary data (NUL bytes)")

    @pytest.mark.parametrize("kind", ["leads", "accounts", "events"])
    def test_latin2_file(self, cli: CliRunner, db: Database, tmp_path: Path, kind: str) -> None:
        """A file saved in a legacy encoding is refused with advice to re-save as UTF-8."""
        _leads(cli, tmp_path)
        text = "email,domain,type,occurred_at,lead_id,jméno\nx@acme.cz,acme.cz,a,b,L1,Jiří\n"
        path = _write(Path("legacy.csv"), text.encode("cp1250"))
        self._check_nothing_written(cli, db, kind, path, "re-save the file as UTF-8")

    @pytest.mark.parametrize(
        ("kind", "name"),
        [("leads", "e.csv"), ("accounts", "e.csv"), ("events", "e.csv"), ("events", "e.jsonl")],
    )
    def test_empty_file(
        self, cli: CliRunner, db: Database, tmp_path: Path, kind: str, name: str
    ) -> None:
        """An empty file is an error, not a successful import of nothing."""
        _leads(cli, tmp_path)
        self._check_nothing_written(cli, db, kind, _write(Path(name), b""), "empty")

    @pytest.mark.parametrize(
        ("kind", "header", "missing"),
        [
            ("leads", "mail,name", "'email'"),
            ("accounts", "name,industry", "'id or domain'"),
            ("events", "lead_id,type,timestamp", "'occurred_at'"),
            ("events", "type,occurred_at,user", "'lead_id or email'"),
        ],
    )
    def test_header_lacking_a_required_column(
        self, cli: CliRunner, db: Database, tmp_path: Path, kind: str, header: str, missing: str
    ) -> None:
        """A header without a required column names the column and lists what it found."""
        _leads(cli, tmp_path)
        path = _write(
            Path("wrong.csv"), f"{header}\n" + ",".join(["x"] * len(header.split(","))) + "\n"
        )
        self._check_nothing_written(cli, db, kind, path, f"lacks column {missing}")

    def test_jsonl_whose_first_line_is_not_json(
        self, cli: CliRunner, db: Database, tmp_path: Path
    ) -> None:
        """A CSV given as JSON Lines fails as a whole."""
        _leads(cli, tmp_path)
        path = _write(Path("ev.jsonl"), "lead_id,type,occurred_at\nL1,a.b,2026-01-15T10:00:00Z\n")
        self._check_nothing_written(cli, db, "events", path, "not JSON Lines")

    def test_csv_forced_as_jsonl_with_format(
        self, cli: CliRunner, db: Database, tmp_path: Path
    ) -> None:
        """--format overrides the extension, so a CSV read as jsonl is refused too."""
        _leads(cli, tmp_path)
        before = _counts(db)
        path = _write(Path("ev.csv"), "lead_id,type,occurred_at\nL1,a.b,2026-01-15T10:00:00Z\n")
        code, payload = _import(cli, "events", path, "--format", "jsonl")
        assert code == 2
        assert "not JSON Lines" in payload["error"]["message"]
        assert _counts(db) == before

    def test_missing_file_and_unknown_extension(self, cli: CliRunner, tmp_path: Path) -> None:
        """A missing file or one whose format cannot be told is exit 2 with a message."""
        code, payload = _import(cli, "leads", tmp_path / "nope.csv")
        assert code == 2
        assert "no such file" in payload["error"]["message"]
        code, payload = _import(cli, "leads", _write(Path("leads.xlsx"), "email\n"))
        assert code == 2
        assert "--format" in payload["error"]["message"]

    def test_malformed_file_message_without_json(self, cli: CliRunner) -> None:
        """Without --json the error is one line on stderr, no traceback."""
        path = _write(Path("leads.csv"), b"")
        result = cli.invoke(app, ["import", "leads", str(path)])
        assert result.exit_code == 2
        assert "error:" in result.stderr
        assert "empty" in result.stderr
        assert "Traceback" not in result.output
