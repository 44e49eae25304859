"""Funnel analytics over the stored history."""

from leadgate.reports.history import DIMENSIONS, History, read_history

__all__ = ["DIMENSIONS", "History", "read_history"]
