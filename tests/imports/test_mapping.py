"""Column mappings: validated like models, and applied to imports (rename, fix, translate)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from leadgate.db.engine import Database
from leadgate.events.models import Event
from leadgate.exceptions import ImportFileError, ModelError
from leadgate.imports import ImportMapping, import_file, load_mapping
from leadgate.leads.models import Lead


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


class TestLoadMapping:
    """load_mapping reads a YAML mapping and refuses anything it does not understand."""

    def test_full_mapping_is_read(self, tmp_path: Path) -> None:
        """columns, constants, values, ignore and assume_tz are all read."""
        path = _write(
            tmp_path / "m.yaml",
            "kind: events\n"
            "columns: {event_id: messageId, email: userEmail, type: event, occurred_at: ts}\n"
            "constants: {channel: email}\n"
            "values:\n  type: {'Email Opened': email.opened, 'Link Clicked': email.clicked}\n"
            "ignore: [internal_note]\n"
            "assume_tz: Europe/Prague\n",
        )
        mapping = load_mapping(path, kind="events")
        assert mapping.columns == {
            "event_id": "messageId",
            "email": "userEmail",
            "type": "event",
            "occurred_at": "ts",
        }
        assert mapping.constants == {"channel": "email"}
        assert mapping.values == {
            "type": {"Email Opened": "email.opened", "Link Clicked": "email.clicked"}
        }
        assert mapping.ignore == frozenset({"internal_note"})
        assert mapping.assume_tz == ZoneInfo("Europe/Prague")
        assert mapping.source_for("type") == "event"
        assert mapping.source_for("campaign") == "campaign"

    def test_utc_is_a_time_zone(self, tmp_path: Path) -> None:
        """``assume_tz: UTC`` is the UTC zone."""
        mapping = load_mapping(_write(tmp_path / "m.yaml", "assume_tz: UTC\n"), kind="events")
        assert mapping.assume_tz is UTC

    def test_empty_mapping_is_identity(self) -> None:
        """Without a mapping every field is read from the column of the same name."""
        mapping = ImportMapping()
        assert mapping.source_for("email") == "email"
        assert mapping.assume_tz is None

    def test_unknown_key_names_the_key_and_the_allowed_ones(self, tmp_path: Path) -> None:
        """A typo in a top-level key is an error naming the key and its line."""
        path = _write(tmp_path / "m.yaml", "columns: {email: E-mail}\ncolums: {}\n")
        with pytest.raises(ModelError) as info:
            load_mapping(path, kind="leads")
        assert info.value.path == "colums"
        assert info.value.line == 2
        assert "unknown key 'colums'" in info.value.message
        assert "allowed: assume_tz, columns" in info.value.message

    def test_mapping_for_another_kind_is_refused(self, tmp_path: Path) -> None:
        """A mapping declaring ``kind: events`` cannot be used to import leads."""
        path = _write(tmp_path / "m.yaml", "kind: events\n")
        with pytest.raises(ModelError, match="this mapping is for 'events', not 'leads'"):
            load_mapping(path, kind="leads")

    @pytest.mark.parametrize("key", ["columns", "constants", "values"])
    def test_unknown_field_is_refused(self, tmp_path: Path, key: str) -> None:
        """Targets must be leadgate fields of the kind being imported."""
        value = "{a: b}" if key == "values" else "x"
        path = _write(tmp_path / "m.yaml", f"{key}:\n  shoe_size: {value}\n")
        with pytest.raises(ModelError, match="unknown leads field 'shoe_size'") as info:
            load_mapping(path, kind="leads")
        assert info.value.path == f"{key}.shoe_size"

    def test_unknown_time_zone_is_refused(self, tmp_path: Path) -> None:
        """assume_tz must be an IANA zone name."""
        path = _write(tmp_path / "m.yaml", "assume_tz: Mars/Olympus\n")
        with pytest.raises(ModelError, match="unknown time zone 'Mars/Olympus'"):
            load_mapping(path, kind="events")

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("- email\n", "must be a YAML mapping"),
            ("columns: [email]\n", "'columns' must map leadgate fields"),
            ("values: [x]\n", "'values' must map fields"),
            ("values: {type: opened}\n", "expected {source value: leadgate value}"),
            ("ignore: internal_note\n", "'ignore' must be a list"),
            ("columns: {email: [a, b]}\n", "expected a column name or value as text"),
        ],
    )
    def test_wrong_shapes_are_refused(self, tmp_path: Path, text: str, message: str) -> None:
        """Each section has one shape; anything else is an error saying which."""
        with pytest.raises(ModelError, match=message.replace("[", "\\[").replace("{", "\\{")):
            load_mapping(_write(tmp_path / "m.yaml", text), kind="events")

    def test_unreadable_mapping_file(self, tmp_path: Path) -> None:
        """A mapping that is missing or not UTF-8 is a ModelError naming the file."""
        with pytest.raises(ModelError, match="cannot read mapping"):
            load_mapping(tmp_path / "missing.yaml", kind="leads")
        bad = tmp_path / "bad.yaml"
        bad.write_bytes(b"columns: {email: \xe9}\n")
        with pytest.raises(ModelError, match="cannot read mapping"):
            load_mapping(bad, kind="leads")


class TestMappingApplied:
    """import_file applies a mapping: renamed columns, constants, translations, ignores."""

    def _lead(self, db: Database, tmp_path: Path) -> None:
        path = _write(tmp_path / "leads.csv", "email\njana@acme.cz\n")
        assert import_file(db, kind="leads", path=path).rejected == 0

    def test_events_through_a_mapping(self, db: Database, tmp_path: Path) -> None:
        """Source names map to fields, values translate, constants fill gaps, ignored
        columns vanish and other columns become properties; assume_tz comes from the mapping."""
        self._lead(db, tmp_path)
        mapping = load_mapping(
            _write(
                tmp_path / "m.yaml",
                "columns: {event_id: messageId, email: userEmail, type: event, occurred_at: ts}\n"
                "constants: {channel: email}\n"
                "values: {type: {'Email Opened': email.opened}}\n"
                "ignore: [internal_note]\n"
                "assume_tz: Europe/Prague\n",
            ),
            kind="events",
        )
        path = _write(
            tmp_path / "ev.csv",
            "messageId,userEmail,event,ts,internal_note,subject\n"
            "m1,JANA@acme.cz,Email Opened,2026-01-15 10:00:00,secret,Hello\n"
            "m2,jana@acme.cz,form.submitted,2026-07-15T10:00:00+02:00,,\n",
        )
        report = import_file(db, kind="events", path=path, mapping=mapping)
        assert (report.created, report.rejected) == (2, 0)
        with db.session() as session:
            events = session.scalars(select(Event).order_by(Event.event_id)).all()
            lead_id = session.scalars(select(Lead.id)).one()
        assert [(e.event_id, e.type, e.channel, e.lead_id) for e in events] == [
            ("m1", "email.opened", "email", lead_id),
            ("m2", "form.submitted", "email", lead_id),
        ]
        assert events[0].occurred_at == datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
        assert events[0].properties == {"subject": "Hello"}
        assert events[1].properties == {}

    def test_constant_does_not_override_a_value_in_the_file(
        self, db: Database, tmp_path: Path
    ) -> None:
        """A constant only fills a field the row leaves empty."""
        self._lead(db, tmp_path)
        mapping = ImportMapping(constants={"channel": "email"})
        path = _write(
            tmp_path / "ev.csv",
            "event_id,email,type,occurred_at,channel\n"
            "e1,jana@acme.cz,page.viewed,2026-01-15T10:00:00Z,web\n"
            "e2,jana@acme.cz,email.opened,2026-01-15T10:00:00Z,\n",
        )
        import_file(db, kind="events", path=path, mapping=mapping)
        with db.session() as session:
            channels = session.execute(
                select(Event.event_id, Event.channel).order_by(Event.event_id)
            ).all()
        assert [tuple(row) for row in channels] == [("e1", "web"), ("e2", "email")]

    def test_constant_satisfies_a_required_column(self, db: Database, tmp_path: Path) -> None:
        """A required field given as a constant need not be a column of the file."""
        self._lead(db, tmp_path)
        mapping = ImportMapping(constants={"type": "email.opened"})
        path = _write(tmp_path / "ev.csv", "email,occurred_at\njana@acme.cz,2026-01-15T10:00:00Z\n")
        report = import_file(db, kind="events", path=path, mapping=mapping)
        assert (report.created, report.rejected) == (1, 0)

    def test_missing_mapped_column_names_the_source_column(
        self, db: Database, tmp_path: Path
    ) -> None:
        """When a mapped source column is absent, the error names that source column."""
        mapping = ImportMapping(columns={"email": "E-mail"})
        path = _write(tmp_path / "leads.csv", "email,name\na@acme.cz,A\n")
        with pytest.raises(ImportFileError, match="lacks column 'E-mail'"):
            import_file(db, kind="leads", path=path, mapping=mapping)

    def test_leads_through_a_mapping(self, db: Database, tmp_path: Path) -> None:
        """Renamed lead columns are read; unmapped ones become attributes."""
        mapping = ImportMapping(
            columns={"email": "E-mail", "first_name": "Jméno"},
            values={"country": {"Česko": "CZ"}},
        )
        path = _write(
            tmp_path / "leads.csv", "E-mail,Jméno,country,Obor\nb@acme.cz,Běla,Česko,IT\n"
        )
        report = import_file(db, kind="leads", path=path, mapping=mapping)
        assert report.created == 1
        with db.session() as session:
            lead = session.scalars(select(Lead)).one()
        assert (lead.email, lead.first_name, lead.country) == ("b@acme.cz", "Běla", "CZ")
        assert lead.attributes == {"Obor": "IT"}

    def test_explicit_assume_tz_wins_over_the_mapping(self, db: Database, tmp_path: Path) -> None:
        """--assume-tz (the assume_tz argument) overrides the mapping's zone."""
        self._lead(db, tmp_path)
        mapping = ImportMapping(assume_tz=ZoneInfo("Europe/Prague"))
        path = _write(
            tmp_path / "ev.csv",
            "event_id,email,type,occurred_at\ne1,jana@acme.cz,email.opened,2026-01-15 10:00:00\n",
        )
        import_file(db, kind="events", path=path, mapping=mapping, assume_tz=UTC)
        with db.session() as session:
            event = session.scalars(select(Event)).one()
        assert event.occurred_at == datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
