"""The streaming readers: whole-file problems raise, single bad rows are yielded with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadgate.exceptions import ImportFileError
from leadgate.imports.readers import SourceRow, detect_format, read_rows


def _rows(path: Path, fmt: str) -> tuple[list[str] | None, list[SourceRow]]:
    header, rows = read_rows(path, fmt)
    return header, list(rows)


def _write(path: Path, data: str | bytes) -> Path:
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", newline="")
    else:
        path.write_bytes(data)
    return path


class TestDetectFormat:
    """The format comes from --format, else from the file extension."""

    @pytest.mark.parametrize(
        ("name", "expected"),
        [("a.csv", "csv"), ("a.TXT", "csv"), ("a.jsonl", "jsonl"), ("a.NDJSON", "jsonl")],
    )
    def test_extension_decides(self, name: str, expected: str) -> None:
        """Known extensions map to csv or jsonl, case-insensitively."""
        assert detect_format(Path(name)) == expected

    def test_explicit_format_wins_over_extension(self) -> None:
        """An explicit format is used even when the extension says otherwise."""
        assert detect_format(Path("data.csv"), "jsonl") == "jsonl"

    def test_unknown_explicit_format_is_refused(self) -> None:
        """Only csv and jsonl are formats; anything else is one clear error."""
        with pytest.raises(ImportFileError, match="unknown format 'xml'"):
            detect_format(Path("data.csv"), "xml")

    def test_unknown_extension_asks_for_format(self) -> None:
        """A file whose extension says nothing needs --format."""
        with pytest.raises(ImportFileError, match="--format"):
            detect_format(Path("data.xlsx"))


class TestCsvReader:
    """CSV: header first, rows with their physical line numbers, per-row problems."""

    def test_header_and_rows_with_line_numbers(self, tmp_path: Path) -> None:
        """Rows are dicts keyed by the header; line numbers count the header as line 1."""
        path = _write(tmp_path / "a.csv", "email,name\na@x.cz,A\nb@x.cz,B\n")
        header, rows = _rows(path, "csv")
        assert header == ["email", "name"]
        assert [(r.line, r.values) for r in rows] == [
            (2, {"email": "a@x.cz", "name": "A"}),
            (3, {"email": "b@x.cz", "name": "B"}),
        ]
        assert all(r.problem is None for r in rows)

    @pytest.mark.parametrize("delimiter", [";", "\t"])
    def test_semicolon_and_tab_delimiters_are_detected(
        self, tmp_path: Path, delimiter: str
    ) -> None:
        """Semicolon (Excel in many locales) and tab separated files read like commas."""
        path = _write(tmp_path / "a.csv", f"email{delimiter}name\na@x.cz{delimiter}A, Jr.\n")
        header, rows = _rows(path, "csv")
        assert header == ["email", "name"]
        assert rows[0].values == {"email": "a@x.cz", "name": "A, Jr."}

    def test_bom_and_crlf_are_handled(self, tmp_path: Path) -> None:
        """A UTF-8 BOM does not leak into the first column name; CRLF endings are fine."""
        path = _write(tmp_path / "a.csv", "\ufeffemail,name\r\na@x.cz,A\r\n".encode())
        header, rows = _rows(path, "csv")
        assert header == ["email", "name"]
        assert rows[0].values == {"email": "a@x.cz", "name": "A"}

    def test_header_names_are_trimmed(self, tmp_path: Path) -> None:
        """Spaces around header names are removed."""
        path = _write(tmp_path / "a.csv", " email , name \na@x.cz,A\n")
        header, _ = _rows(path, "csv")
        assert header == ["email", "name"]

    def test_blank_lines_are_skipped_and_numbering_continues(self, tmp_path: Path) -> None:
        """Empty lines are not rows, but they still count for line numbers."""
        path = _write(tmp_path / "a.csv", "email\na@x.cz\n\n\nb@x.cz\n")
        _, rows = _rows(path, "csv")
        assert [(r.line, r.values["email"]) for r in rows] == [(2, "a@x.cz"), (5, "b@x.cz")]

    def test_wrong_field_count_is_a_row_problem(self, tmp_path: Path) -> None:
        """A row with too many or too few fields is yielded with a problem, not raised."""
        path = _write(tmp_path / "a.csv", "email,name\na@x.cz,A,extra\nb@x.cz\nc@x.cz,C\n")
        _, rows = _rows(path, "csv")
        assert [r.problem for r in rows] == [
            "has 3 fields, the header has 2",
            "has 1 fields, the header has 2",
            None,
        ]
        assert rows[1].values == {"email": "b@x.cz"}
        assert rows[2].values == {"email": "c@x.cz", "name": "C"}

    def test_quoted_cells_keep_commas_quotes_and_newlines(self, tmp_path: Path) -> None:
        """Standard CSV quoting: commas, doubled quotes and line breaks inside a cell."""
        path = _write(tmp_path / "a.csv", 'email,note\na@x.cz,"one, ""two""\nthree"\n')
        _, rows = _rows(path, "csv")
        assert rows[0].values["note"] == 'one, "two"\nthree'

    def test_unicode_round_trips_exactly(self, tmp_path: Path) -> None:
        """Czech diacritics and emoji come out exactly as written."""
        text = "Žluťoučký kůň úpěl ďábelské ódy 🚀👩‍💻"
        path = _write(tmp_path / "a.csv", f"email,name\na@x.cz,{text}\n")
        _, rows = _rows(path, "csv")
        assert rows[0].values["name"] == text

    def test_one_megabyte_cell_is_read_whole(self, tmp_path: Path) -> None:
        """A 1 MB cell is below the field size limit and is read intact."""
        big = "x" * 1_000_000
        path = _write(tmp_path / "a.csv", f"email,note\na@x.cz,{big}\n")
        _, rows = _rows(path, "csv")
        assert rows[0].values["note"] == big

    def test_empty_file_is_refused(self, tmp_path: Path) -> None:
        """An empty file has no header: one clear error."""
        path = _write(tmp_path / "a.csv", b"")
        with pytest.raises(ImportFileError, match="empty"):
            read_rows(path, "csv")

    def test_whitespace_only_file_is_refused(self, tmp_path: Path) -> None:
        """A file holding only blank space is as empty as an empty one."""
        path = _write(tmp_path / "a.csv", "  \n\n")
        with pytest.raises(ImportFileError, match="empty"):
            read_rows(path, "csv")

    def test_header_only_file_has_no_rows(self, tmp_path: Path) -> None:
        """A header without rows is a valid, empty data set."""
        path = _write(tmp_path / "a.csv", "email,name\n")
        header, rows = _rows(path, "csv")
        assert header == ["email", "name"]
        assert rows == []

    def test_empty_column_name_is_refused(self, tmp_path: Path) -> None:
        """Every column needs a name; the message says which column is unnamed."""
        path = _write(tmp_path / "a.csv", "email,,name\n")
        with pytest.raises(ImportFileError, match="empty column name \\(column 2\\)"):
            read_rows(path, "csv")

    def test_repeated_column_is_refused(self, tmp_path: Path) -> None:
        """Two columns with one name would silently drop one of them: refused."""
        path = _write(tmp_path / "a.csv", "email,name,name\n")
        with pytest.raises(ImportFileError, match="repeats column 'name'"):
            read_rows(path, "csv")

    def test_invalid_utf8_in_header_is_refused_at_open(self, tmp_path: Path) -> None:
        """A Latin-2/cp1250 file fails before any row is read, naming the bad byte."""
        path = _write(tmp_path / "a.csv", "email,jméno\na@x.cz,Jiří\n".encode("cp1250"))
        with pytest.raises(ImportFileError, match="not UTF-8 text \\(invalid byte 0xe9\\)"):
            read_rows(path, "csv")

    def test_invalid_utf8_near_the_end_is_refused_while_reading(self, tmp_path: Path) -> None:
        """A bad byte far beyond the first buffer still makes the whole file an error."""
        good = "".join(f"u{i}@x.cz,{'n' * 50}\n" for i in range(5_000))
        path = _write(tmp_path / "a.csv", ("email,name\n" + good).encode() + b"z@x.cz,\xff\n")
        _, rows = read_rows(path, "csv")
        with pytest.raises(ImportFileError, match="not UTF-8"):
            list(rows)

    def test_nul_bytes_at_the_start_mean_binary(self, tmp_path: Path) -> None:
        """A binary file (NUL bytes) is refused at once."""
        path = _write(tmp_path / "a.csv", b"PK\x03\x04\x00\x00binary")
        with pytest.raises(ImportFileError, match="binary data"):
            read_rows(path, "csv")

    def test_nul_byte_deep_in_the_file_means_binary(self, tmp_path: Path) -> None:
        """A NUL byte anywhere, not only in the first block, makes the file binary."""
        good = "".join(f"u{i}@x.cz,{'n' * 50}\n" for i in range(5_000))
        path = _write(tmp_path / "a.csv", ("email,name\n" + good).encode() + b"z@x.cz,a\x00b\n")
        _, rows = read_rows(path, "csv")
        with pytest.raises(ImportFileError, match="binary data"):
            list(rows)

    def test_on_bytes_reports_the_whole_file(self, tmp_path: Path) -> None:
        """Progress callbacks add up to the file size once the rows are consumed."""
        path = _write(tmp_path / "a.csv", "email\n" + "".join(f"u{i}@x.cz\n" for i in range(9_999)))
        seen: list[int] = []
        _, rows = read_rows(path, "csv", on_bytes=seen.append)
        assert len(list(rows)) == 9_999
        assert sum(seen) == path.stat().st_size

    def test_missing_file_is_one_clear_error(self, tmp_path: Path) -> None:
        """A file that cannot be opened is an ImportFileError, not an OSError."""
        with pytest.raises(ImportFileError, match="cannot open"):
            read_rows(tmp_path / "nope.csv", "csv")


class TestJsonlReader:
    """JSON Lines: one object per line; the first line decides whether it is JSON at all."""

    def test_objects_with_line_numbers_and_raw_text(self, tmp_path: Path) -> None:
        """Each object is a row; its line and raw text are kept for the rejects file."""
        path = _write(tmp_path / "a.jsonl", '{"a": 1}\n\n{"b": "ž"}\n')
        header, rows = _rows(path, "jsonl")
        assert header is None
        assert [(r.line, r.values, r.raw) for r in rows] == [
            (1, {"a": 1}, '{"a": 1}'),
            (3, {"b": "ž"}, '{"b": "ž"}'),
        ]

    def test_invalid_line_in_the_middle_is_one_row_problem(self, tmp_path: Path) -> None:
        """A broken line after valid ones is rejected alone; the lines around it still read."""
        path = _write(tmp_path / "a.jsonl", '{"a": 1}\n{"a": oops}\n{"a": 3}\n')
        _, rows = _rows(path, "jsonl")
        assert [r.line for r in rows] == [1, 2, 3]
        assert rows[1].problem is not None
        assert rows[1].problem.startswith("invalid JSON")
        assert rows[1].raw == '{"a": oops}'
        assert rows[2].values == {"a": 3}

    def test_line_that_is_not_an_object_is_a_row_problem(self, tmp_path: Path) -> None:
        """Arrays, strings and numbers are JSON but not records."""
        path = _write(tmp_path / "a.jsonl", '{"a": 1}\n[1, 2]\n"text"\n')
        _, rows = _rows(path, "jsonl")
        assert [r.problem for r in rows] == [
            None,
            "a line must hold a JSON object",
            "a line must hold a JSON object",
        ]

    def test_first_line_not_json_means_not_jsonl(self, tmp_path: Path) -> None:
        """A CSV passed as JSON Lines fails as a whole instead of rejecting every line."""
        path = _write(tmp_path / "a.jsonl", "email,name\na@x.cz,A\n")
        _, rows = read_rows(path, "jsonl")
        with pytest.raises(ImportFileError, match=":1: not JSON Lines"):
            list(rows)

    def test_first_non_blank_line_counts_as_the_first_line(self, tmp_path: Path) -> None:
        """Leading blank lines do not turn a non-JSON file into a file of rejected rows."""
        path = _write(tmp_path / "a.jsonl", "\n\nemail,name\n")
        _, rows = read_rows(path, "jsonl")
        with pytest.raises(ImportFileError, match=":3: not JSON Lines"):
            list(rows)

    @pytest.mark.parametrize("content", ["", "\n  \n\n"])
    def test_empty_file_is_refused(self, tmp_path: Path, content: str) -> None:
        """No records at all is one clear error."""
        path = _write(tmp_path / "a.jsonl", content)
        _, rows = read_rows(path, "jsonl")
        with pytest.raises(ImportFileError, match="empty"):
            list(rows)

    @pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
    def test_non_finite_numbers_are_row_problems(self, tmp_path: Path, number: str) -> None:
        """NaN and infinite numbers are not portable JSON (PostgreSQL JSONB refuses them)."""
        path = _write(tmp_path / "a.jsonl", f'{{"a": 1}}\n{{"a": {number}}}\n{{"a": 2.5}}\n')
        _, rows = _rows(path, "jsonl")
        assert rows[0].problem is None
        assert rows[1].problem is not None
        assert rows[1].problem.startswith("invalid JSON")
        assert rows[2].values == {"a": 2.5}

    def test_nul_escape_is_a_row_problem(self, tmp_path: Path) -> None:
        """A \\u0000 escape (a NUL character in a value or key) is rejected for that line."""
        path = _write(
            tmp_path / "a.jsonl", '{"a": 1}\n{"a": "x\\u0000y"}\n{"b": {"k\\u0000": 1}}\n'
        )
        _, rows = _rows(path, "jsonl")
        assert [r.problem for r in rows] == [
            None,
            "a value holds a NUL character",
            "a value holds a NUL character",
        ]

    def test_escaped_backslash_before_u0000_is_plain_text(self, tmp_path: Path) -> None:
        """``\\\\u0000`` is a backslash followed by text, not a NUL: accepted."""
        path = _write(tmp_path / "a.jsonl", '{"a": "\\\\u0000"}\n')
        _, rows = _rows(path, "jsonl")
        assert rows[0].problem is None
        assert rows[0].values == {"a": "\\u0000"}

    def test_invalid_utf8_near_the_end_is_refused(self, tmp_path: Path) -> None:
        """A bad byte in the last line makes the whole file an error."""
        good = "".join(f'{{"i": {i}, "pad": "{"p" * 40}"}}\n' for i in range(5_000))
        path = _write(tmp_path / "a.jsonl", good.encode() + b'{"i": "\xe9"}\n')
        _, rows = read_rows(path, "jsonl")
        with pytest.raises(ImportFileError, match="not UTF-8"):
            list(rows)

    def test_unicode_and_nested_values_round_trip(self, tmp_path: Path) -> None:
        """Nested objects, Czech text and emoji come out exactly as written."""
        path = _write(
            tmp_path / "a.jsonl",
            '{"name": "Řehoř Čapek 🎉", "properties": {"tags": ["á", "😀"]}}\n',
        )
        _, rows = _rows(path, "jsonl")
        assert rows[0].values == {"name": "Řehoř Čapek 🎉", "properties": {"tags": ["á", "😀"]}}
