"""The live channel: changes published when their transaction commits (never on a
rollback), pushed to open pages as server-sent events, and the scheduler waking at
the next SLA deadline."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Sequence
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from leadgate.common.changes import FEED, Change, note_change
from leadgate.common.ids import utcnow
from leadgate.db.engine import Database
from leadgate.leads.models import Lead
from leadgate.tasks.models import Task
from leadgate.tasks.service import create_task
from tests.web.conftest import Web, qualifying_batch


class TestChangeFeed:
    def test_a_change_is_published_after_commit_and_never_after_rollback(
        self, db: Database
    ) -> None:
        got: list[Sequence[Change]] = []
        unsubscribe = FEED.subscribe(got.append)
        try:
            with db.session() as session:
                note_change(session, kind="lead.mql", lead_id="ld_1")
                assert got == []  # not before the commit
            assert [list(batch) for batch in got] == [[Change("lead.mql", "ld_1")]]
            with pytest.raises(RuntimeError), db.session() as session:
                note_change(session, kind="lead.mql", lead_id="ld_2")
                raise RuntimeError("the transaction fails")
            with db.session() as session:
                pass  # a later commit of the same kind of session publishes nothing stale
            assert len(got) == 1
        finally:
            unsubscribe()


def _listen(
    web: Web,
    cookies: httpx.Cookies,
    events: queue.Queue[dict[str, object]],
    ready: threading.Event,
    stop: threading.Event,
) -> None:
    with (
        httpx.Client(base_url=web.url, cookies=cookies, timeout=None) as client,
        client.stream("GET", "/stream") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in response.iter_lines():
            if line.startswith(": connected"):
                ready.set()
            elif line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: ") and name == "queue":
                events.put(json.loads(line.removeprefix("data: ")))
            if stop.is_set():
                return


class TestStream:
    def test_a_new_mql_reaches_an_open_stream_within_two_seconds(self, web: Web) -> None:
        client = web.login("rita@t.example")
        events: queue.Queue[dict[str, object]] = queue.Queue()
        ready, stop = threading.Event(), threading.Event()
        thread = threading.Thread(
            target=_listen, args=(web, client.cookies, events, ready, stop), daemon=True
        )
        thread.start()
        assert ready.wait(5)
        posted = time.monotonic()
        assert web.segment(qualifying_batch("live@lead.example")).status_code == 200
        event = events.get(timeout=2)
        assert time.monotonic() - posted < 2
        assert "lead.mql" in event["kinds"]  # type: ignore[operator]
        stop.set()
        web.segment(qualifying_batch("another@lead.example"))  # wakes the reader to stop

    def test_the_stream_needs_a_session(self, web: Web) -> None:
        with web.client() as client:
            assert client.get("/stream").status_code == 401


class TestDeadlines:
    def test_an_overdue_flip_is_escalated_and_pushed_at_its_time(self, web: Web) -> None:
        got: queue.Queue[Change] = queue.Queue()

        def collect(changes: Sequence[Change]) -> None:
            for change in changes:
                got.put(change)

        unsubscribe = FEED.subscribe(collect)
        try:
            assert web.segment(qualifying_batch("due@lead.example")).status_code == 200
            with web.database.session() as session:
                lead = session.scalar(select(Lead).where(Lead.email_key == "due@lead.example"))
                assert lead is not None
                task = create_task(
                    session,
                    lead=lead,
                    owner="rita@t.example",
                    title="call back quickly",
                    due_in=timedelta(seconds=1),
                    now=utcnow(),
                )
                task_id = task.id
            # the scheduler runs every 5 minutes; only the deadline can wake it this soon
            deadline = time.monotonic() + 5
            kinds = set()
            while "task.overdue" not in kinds and time.monotonic() < deadline:
                with contextlib.suppress(queue.Empty):
                    kinds.add(got.get(timeout=0.2).kind)
            assert "task.overdue" in kinds
            with web.database.session() as session:
                flipped = session.get(Task, task_id)
                assert flipped is not None and flipped.escalations == 1
                assert flipped.sla_met is False
        finally:
            unsubscribe()
