"""Which MQL definitions can only fall between a lead's events (activity days suffice)."""

from __future__ import annotations

import pytest

from leadgate.backtest import Trend, model_shape
from leadgate.scoring import load_model

GROUPS = """
groups:
  fit:
    rules:
      - {id: cz, when: {account.country: CZ}, points: 20}
  engagement:
    half_life_days: 30
    rules:
      - {id: pricing, event: page.viewed, points: 25}
      - {id: unsub, event: email.unsubscribed, points: -50, decay: none}
  penalty:
    rules:
      - {id: fading, event: email.unsubscribed, points: -20, half_life_days: 10}
  team:
    rollup: {from: engagement, how: sum}
grades: {A: 20, B: 10}
"""


@pytest.mark.parametrize(
    ("mql", "trend", "uses_account"),
    [
        ("{score: engagement, gte: 60}", Trend.FALLING, False),
        ("{score: engagement, lt: 10}", Trend.RISING, False),
        ("{score: engagement, between: [10, 60]}", Trend.ANY, False),
        ("{score: fit, gte: 20}", Trend.CONSTANT, False),
        ("{grade: [A]}", Trend.CONSTANT, False),
        ("{score: penalty, gte: -5}", Trend.RISING, False),
        ("{any_event: [email.opened], within_days: 30}", Trend.FALLING, False),
        ("{not: {any_event: [email.opened], within_days: 30}}", Trend.RISING, False),
        ("{all: [{score: engagement, gte: 60}, {grade: [A, B]}]}", Trend.FALLING, False),
        ("{any: [{score: engagement, gte: 60}, {score: penalty, gte: 0}]}", Trend.ANY, False),
        ("{score: team, gte: 100}", Trend.FALLING, True),
    ],
)
def test_trend_of_the_mql_definition(mql: str, trend: Trend, uses_account: bool) -> None:
    shape = model_shape(load_model(f"version: 1\nname: m\n{GROUPS}mql: {mql}\n"))
    assert shape.trend is trend
    assert shape.uses_account is uses_account
    assert shape.event_days_suffice is (trend in (Trend.CONSTANT, Trend.FALLING))
