"""``leadgate demo`` (placeholder wiring; filled in by the demo module)."""

from __future__ import annotations

from leadgate.demo.command import demo

__all__ = ["demo"]
