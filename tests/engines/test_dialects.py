"""Dialects declare what they cannot run; the compiler refuses such a model first."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import ClassVar

import pytest

from leadgate.engines.compiler import DUCKDB, DuckDBDialect, compile_model, dialect_for
from leadgate.engines.spark_sql import SparkDialect
from leadgate.exceptions import UnsupportedConstructError
from leadgate.scoring import load_model
from leadgate.scoring.nodes import EventOccurred, EventRule, NotOf

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
MODEL = load_model(
    """
version: 1
name: dialects
groups:
  engagement:
    rules:
      - {id: click, event: email.clicked, points: 15}
mql:
  all:
    - {score: engagement, gte: 10}
    - not: {any_event: form.submitted, after: webinar.attended}
"""
)


class _Limited(DuckDBDialect):
    name = "limited"
    unsupported: ClassVar[Mapping[type, str]] = {
        EventOccurred: "no ordered event tests",
        NotOf: "no negation",
        EventRule: "no event rules",
    }


class _NoEventTests(DuckDBDialect):
    name = "no-event-tests"
    unsupported: ClassVar[Mapping[type, str]] = {EventOccurred: "no ordered event tests"}


class TestDeclaredUnsupported:
    def test_the_shipped_dialects_run_every_node(self) -> None:
        assert dict(DUCKDB.unsupported) == {}
        assert dict(SparkDialect.unsupported) == {}
        assert compile_model(MODEL, as_of=AS_OF, dialect=dialect_for("duckdb")).sql

    def test_an_unsupported_rule_kind_is_refused_by_rule(self) -> None:
        with pytest.raises(UnsupportedConstructError) as caught:
            compile_model(MODEL, as_of=AS_OF, dialect=_Limited())
        message = str(caught.value)
        assert "rule 'click'" in message
        assert "the limited engine cannot run EventRule: no event rules" in message

    def test_an_unsupported_condition_is_refused_with_its_mql_path(self) -> None:
        with pytest.raises(UnsupportedConstructError) as caught:
            compile_model(MODEL, as_of=AS_OF, dialect=_NoEventTests())
        message = str(caught.value)
        assert "mql.all[1].not" in message
        assert "cannot run EventOccurred: no ordered event tests" in message

    def test_spark_declares_its_inexact_sums(self) -> None:
        assert DUCKDB.exact_sums is True
        assert SparkDialect.exact_sums is False
