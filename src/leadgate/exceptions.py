"""The error hierarchy: every deliberate leadgate error derives from :class:`LeadgateError`."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DemoError",
    "ImportFileError",
    "LeadgateError",
    "ModelError",
    "NotFoundError",
    "PermissionDeniedError",
    "TransitionError",
    "UnsupportedConstructError",
]


class LeadgateError(Exception):
    """Root of all deliberate leadgate errors; the CLI turns these into one clear message."""


class ConfigError(LeadgateError):
    """A setting is missing or invalid."""


class ModelError(LeadgateError):
    """A scoring model (or other YAML definition) is invalid.

    Carries the file, the path inside the document (``groups.engagement.rules[3].where``)
    and the line when known, so the message points at the exact spot.
    """

    def __init__(
        self, message: str, *, file: str | None = None, path: str = "", line: int | None = None
    ) -> None:
        self.message = message
        self.file = file
        self.path = path
        self.line = line
        super().__init__(self.render())

    def render(self) -> str:
        where = self.file or "<model>"
        if self.line is not None:
            where += f":{self.line}"
        if self.path:
            where += f": {self.path}"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "path": self.path, "line": self.line, "message": self.message}


class UnsupportedConstructError(LeadgateError):
    """A back end cannot express a model construct; never silently approximated."""


class ImportFileError(LeadgateError):
    """An import file cannot be read at all (encoding, format, header); nothing was written."""


class NotFoundError(LeadgateError):
    """A lead, account or other record does not exist."""


class TransitionError(LeadgateError):
    """A lifecycle stage change is not allowed."""

    def __init__(self, message: str, *, allowed: tuple[str, ...] = ()) -> None:
        self.allowed = allowed
        super().__init__(message)


class BusyError(LeadgateError):
    """The database stayed locked by another writer: nothing was stored, try again (503)."""


class DemoError(LeadgateError):
    """The demo refuses to run (for example it would overwrite a real database)."""


class PermissionDeniedError(LeadgateError):
    """The caller is known but their role does not allow this (a 403)."""
