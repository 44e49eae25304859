"""The transition table is explicit, and refusals name the allowed targets."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from leadgate.exceptions import TransitionError
from leadgate.lifecycle import (
    AUTO_QUALIFY_FROM,
    TRANSITIONS,
    Stage,
    allowed_targets,
    check_transition,
    is_allowed,
    recycled_at,
)


class TestTransitionTable:
    def test_every_stage_has_a_row(self) -> None:
        """No stage is missing from the table (a missing row would be a silent dead end)."""
        assert set(TRANSITIONS) == set(Stage)

    def test_sales_path_is_allowed(self) -> None:
        """mql -> sal -> sql -> opportunity -> customer is the happy path."""
        path = [Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER]
        for current, target in itertools.pairwise(path):
            assert is_allowed(current, target)

    def test_recycled_leads_can_qualify_again(self) -> None:
        """nurture -> mql exists: there is no once-ever limit."""
        assert is_allowed(Stage.NURTURE, Stage.MQL)
        assert Stage.NURTURE in AUTO_QUALIFY_FROM

    def test_sql_can_be_recycled(self) -> None:
        assert is_allowed(Stage.SQL, Stage.NURTURE)

    def test_customer_is_terminal(self) -> None:
        assert allowed_targets(Stage.CUSTOMER) == ()


class TestCheckTransition:
    def test_allowed_move_returns_the_target(self) -> None:
        assert check_transition("mql", "sal") is Stage.SAL

    def test_disallowed_move_names_allowed_targets(self) -> None:
        """lead -> customer is refused and the error lists where the lead may go."""
        with pytest.raises(TransitionError) as caught:
            check_transition("lead", "customer")
        assert caught.value.allowed == ("mql", "nurture", "disqualified")
        assert "allowed: mql, nurture, disqualified" in str(caught.value)

    def test_unknown_stage_is_refused(self) -> None:
        with pytest.raises(TransitionError, match="unknown stage 'won'"):
            check_transition("sql", "won")


class TestRecycledAt:
    def test_the_leads_in_nurture_at_the_instant_by_when_they_went(self) -> None:
        at = [datetime(2026, 1, day, tzinfo=UTC) for day in range(1, 6)]
        changes = [
            ("a", "mql", at[0]),
            ("a", "nurture", at[1]),
            ("b", "nurture", at[1]),
            ("b", "mql", at[2]),
            ("c", "nurture", at[4]),  # after the instant: not yet
        ]
        assert recycled_at(changes, at[3]) == {"a": at[1]}
        assert recycled_at(changes, at[1]) == {"a": at[1], "b": at[1]}
        assert recycled_at(changes, at[4]) == {"a": at[1], "c": at[4]}
