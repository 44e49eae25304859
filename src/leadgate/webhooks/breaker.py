"""A circuit breaker per subscription, so one failing receiver does not hold the workers.

A subscription's circuit opens after ``threshold`` consecutive failed attempts
(timeouts, connection errors, non-2xx answers). While open, none of its
deliveries is sent: they stay pending, due, and keep their place. When the
cool-down has passed the circuit is half-open: one delivery is sent as a probe;
its success closes the circuit, its failure opens it again for twice as long
(at most ``max_cooldown``). Any success resets the count.

The state lives in the memory of one worker process (not thread-safe on its own:
the dispatcher calls it under its lock).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = ["Breaker"]


@dataclass
class _Circuit:
    failures: int = 0
    opened: int = 0  # times opened since the last success
    open_until: datetime | None = None
    last_error: str | None = None


@dataclass
class Breaker:
    """Consecutive-failure circuit breakers keyed by subscription id."""

    threshold: int = 3
    cooldown: timedelta = timedelta(seconds=10)
    max_cooldown: timedelta = timedelta(minutes=5)
    _circuits: dict[str, _Circuit] = field(default_factory=dict)

    def room(self, subscription_id: str, *, now: datetime, limit: int, in_flight: int) -> int:
        """How many more attempts ``subscription_id`` may have in flight now."""
        circuit = self._circuits.get(subscription_id)
        if circuit is None or circuit.open_until is None:
            return max(limit - in_flight, 0)
        if now < circuit.open_until:
            return 0
        return 1 if in_flight == 0 else 0  # half-open: one probe at a time

    def is_open(self, subscription_id: str, *, now: datetime) -> bool:
        """True while the circuit is open (not yet half-open)."""
        circuit = self._circuits.get(subscription_id)
        return circuit is not None and circuit.open_until is not None and now < circuit.open_until

    def open_circuits(self, *, now: datetime) -> dict[str, str | None]:
        """The subscriptions whose circuit is open, with their last error."""
        return {
            sub: circuit.last_error
            for sub, circuit in self._circuits.items()
            if circuit.open_until is not None and now < circuit.open_until
        }

    def success(self, subscription_id: str) -> None:
        """An attempt succeeded: the circuit closes and its count starts again."""
        self._circuits.pop(subscription_id, None)

    def failure(self, subscription_id: str, *, now: datetime, error: str) -> bool:
        """An attempt failed; returns True when this failure opened the circuit."""
        circuit = self._circuits.setdefault(subscription_id, _Circuit())
        circuit.failures += 1
        circuit.last_error = error
        if circuit.open_until is not None and now < circuit.open_until:
            return False  # a straggler finishing while already open
        if circuit.open_until is None and circuit.failures < self.threshold:
            return False
        # the threshold reached, or the half-open probe failed
        wait = min(self.cooldown * 2 ** min(circuit.opened, 16), self.max_cooldown)
        circuit.opened += 1
        circuit.open_until = now + wait
        return True
