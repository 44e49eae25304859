"""Import of leads, accounts and events from files."""

from __future__ import annotations

from leadgate.imports.mapping import ImportMapping, load_mapping
from leadgate.imports.runner import ImportReport, Reject, import_file

__all__ = ["ImportMapping", "ImportReport", "Reject", "import_file", "load_mapping"]
