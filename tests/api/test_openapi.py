"""The OpenAPI document is the REST contract: every endpoint declares what it answers."""

from __future__ import annotations

from typing import Any

from leadgate.api import create_app
from leadgate.config import Settings
from leadgate.db.engine import Database
from leadgate.scoring import default_model
from tests.api.conftest import Service


class TestDeclaredResponses:
    def test_every_endpoint_declares_a_named_response_schema(
        self, db: Database, database_url: str
    ) -> None:
        app = create_app(
            settings=Settings(database_url=database_url), database=db, model=default_model()
        )
        spec: dict[str, Any] = app.openapi()
        undeclared = []
        checked = 0
        for path, operations in spec["paths"].items():
            if not path.startswith(("/api/v1", "/v1")):
                continue
            for method, operation in operations.items():
                success = next(
                    (
                        operation["responses"][c]
                        for c in ("200", "201")
                        if c in operation["responses"]
                    ),
                    None,
                )
                schema = (
                    (success or {}).get("content", {}).get("application/json", {}).get("schema")
                )
                checked += 1
                if not schema or "$ref" not in schema:
                    undeclared.append(f"{method.upper()} {path}")
        assert checked >= 20
        assert undeclared == []

    def test_a_declared_model_lists_its_fields(self, db: Database, database_url: str) -> None:
        app = create_app(
            settings=Settings(database_url=database_url), database=db, model=default_model()
        )
        schemas = app.openapi()["components"]["schemas"]
        assert {"id", "stage", "allowed_moves", "tasks", "scorecard"} <= set(
            schemas["LeadDetail"]["properties"]
        )
        assert schemas["IngestAnswer"]["required"] == [
            "stored",
            "duplicates",
            "event_ids",
            "leads",
            "qualified",
        ]


class TestAnswersMatchTheirModels:
    def test_report_and_segment_answers(self, service: Service) -> None:
        """Endpoints the other API tests do not call answer through their models too."""
        with service.client("admin") as admin:
            assert admin.put("/api/v1/leads", json={"email": "jana@acme.cz"}).status_code == 200
        with service.client("ingest") as ingest:
            answer = ingest.post(
                "/v1/batch",
                json={
                    "batch": [
                        {"type": "track", "userId": "jana@acme.cz", "event": "Email Clicked"},
                        {"type": "track", "event": "Email Clicked"},
                    ]
                },
            )
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["success"] is True and body["accepted"] == 1
            assert [item["index"] for item in body["rejected"]] == [1]
            single = ingest.post("/v1/track", json={"userId": "jana@acme.cz", "event": "x"})
            assert single.json() == {"success": True}
        with service.client("sales") as sales:
            funnel = sales.get("/api/v1/reports/funnel", params={"by": "channel"})
            assert funnel.status_code == 200, funnel.text
            report = funnel.json()
            assert report["by"] == "channel" and isinstance(report["groups"], list)
            assert report["mql_to_sql"]["typical"] == [0.1, 0.15]
            assert {"stages", "conversions", "time_in_stage"} <= set(report)  # overall, kept
