"""Streaming readers for CSV and JSON Lines files with byte-level progress.

A file that cannot be read as a whole (wrong encoding, binary content, broken
header) raises :class:`ImportFileError`; a single bad row is yielded with its
problem so the importer can reject just that row.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from leadgate.exceptions import ImportFileError

__all__ = ["SourceRow", "detect_format", "read_rows"]

csv.field_size_limit(16 * 1024 * 1024)


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One record of the file: its line number, its values, or why it is unreadable."""

    line: int
    values: dict[str, Any]
    raw: str | None = None
    problem: str | None = None


class _CountingReader(io.RawIOBase):
    """Counts bytes as they are read, so progress follows the file, not the rows.

    It also refuses NUL bytes anywhere in the file, not only near its start: text
    files never hold them, and PostgreSQL cannot store them.
    """

    def __init__(
        self, inner: BinaryIO, on_bytes: Callable[[int], None] | None, path: Path, fmt: str
    ) -> None:
        self.inner = inner
        self.on_bytes = on_bytes
        self.path = path
        self.fmt = fmt

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        size = len(data)
        if b"\x00" in data:
            raise _binary(self.path, self.fmt)
        buffer[:size] = data
        if self.on_bytes is not None and size:
            self.on_bytes(size)
        return size


def _binary(path: Path, fmt: str) -> ImportFileError:
    return ImportFileError(f"{path}: binary data (NUL bytes) — not a {fmt.upper()} text file")


def detect_format(path: Path, explicit: str | None = None) -> str:
    """``csv`` or ``jsonl``, from ``explicit`` or the file extension."""
    if explicit:
        if explicit not in ("csv", "jsonl"):
            raise ImportFileError(f"unknown format {explicit!r}; use csv or jsonl")
        return explicit
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise ImportFileError(
        f"{path}: cannot tell the format from {suffix or 'no extension'!r}; pass --format csv|jsonl"
    )


def read_rows(
    path: Path, fmt: str, *, on_bytes: Callable[[int], None] | None = None
) -> tuple[list[str] | None, Iterator[SourceRow]]:
    """Open ``path`` and return (CSV header or None, row iterator)."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot open: {exc.strerror or exc}") from None
    head = handle.read(4096)
    handle.seek(0)
    if b"\x00" in head:
        handle.close()
        raise _binary(path, fmt)
    text = io.TextIOWrapper(
        io.BufferedReader(_CountingReader(handle, on_bytes, path, fmt), 1 << 16),
        encoding="utf-8-sig",
        errors="strict",
        newline="",
    )
    if fmt == "csv":
        return _csv(path, text)
    return None, _jsonl(path, text)


def _decode_guard(
    path: Path, rows: Iterator[SourceRow], text: io.TextIOWrapper
) -> Iterator[SourceRow]:
    try:
        yield from rows
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"{path}: not UTF-8 text (invalid byte 0x{exc.object[exc.start]:02x}); "
            "re-save the file as UTF-8"
        ) from None
    except csv.Error as exc:
        raise ImportFileError(f"{path}: not a readable CSV file: {exc}") from None
    finally:
        text.close()


def _csv(path: Path, text: io.TextIOWrapper) -> tuple[list[str], Iterator[SourceRow]]:
    try:
        sample = text.readline()
    except UnicodeDecodeError as exc:
        text.close()
        raise ImportFileError(
            f"{path}: not UTF-8 text (invalid byte 0x{exc.object[exc.start]:02x}); "
            "re-save the file as UTF-8"
        ) from None
    except ImportFileError:
        text.close()
        raise
    if not sample.strip():
        text.close()
        raise ImportFileError(f"{path}: the file is empty (no header line)")
    delimiter = ";" if sample.count(";") > sample.count(",") and sample.count(";") >= 1 else ","
    if "\t" in sample and sample.count("\t") > sample.count(delimiter):
        delimiter = "\t"
    try:
        header = next(csv.reader([sample], delimiter=delimiter))
    except csv.Error as exc:
        text.close()
        raise ImportFileError(f"{path}: header is not valid CSV: {exc}") from None
    header = [name.strip() for name in header]
    if any(not name for name in header):
        text.close()
        raise ImportFileError(
            f"{path}: the header has an empty column name (column {header.index('') + 1})"
        )
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        text.close()
        raise ImportFileError(f"{path}: the header repeats column {duplicates[0]!r}")

    def rows() -> Iterator[SourceRow]:
        reader = csv.reader(text, delimiter=delimiter)
        width = len(header)
        for values in reader:
            line = reader.line_num + 1
            if not values or (len(values) == 1 and not values[0].strip()):
                continue
            if len(values) != width:
                yield SourceRow(
                    line,
                    dict(zip(header, values, strict=False)),
                    problem=f"has {len(values)} fields, the header has {width}",
                )
                continue
            yield SourceRow(line, dict(zip(header, values, strict=True)))

    return header, _decode_guard(path, rows(), text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def _jsonl(path: Path, text: io.TextIOWrapper) -> Iterator[SourceRow]:
    """Rows of a JSON Lines file.

    The first non-blank line must be JSON (else the file is refused); a later bad
    line is one rejected row. NaN, infinite numbers and ``\\u0000`` are rejected
    per line: they are not portable JSON, and PostgreSQL's JSONB cannot hold them.
    """

    def rows() -> Iterator[SourceRow]:
        seen_any = False
        for number, line in enumerate(text, start=1):
            if not line.strip():
                continue
            first, seen_any = not seen_any, True
            raw = line.rstrip("\r\n")
            try:
                value = json.loads(line, parse_constant=_no_constant, parse_float=_finite_float)
            except ValueError as exc:
                message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                if first:
                    raise ImportFileError(f"{path}:{number}: not JSON Lines: {message}") from None
                yield SourceRow(number, {}, raw=raw, problem=f"invalid JSON: {message}")
                continue
            if not isinstance(value, dict):
                yield SourceRow(number, {}, raw=raw, problem="a line must hold a JSON object")
                continue
            if "\\u0000" in line and _has_nul(value):
                yield SourceRow(number, {}, raw=raw, problem="a value holds a NUL character")
                continue
            yield SourceRow(number, value, raw=raw)
        if not seen_any:
            raise ImportFileError(f"{path}: the file is empty")

    return _decode_guard(path, rows(), text)
