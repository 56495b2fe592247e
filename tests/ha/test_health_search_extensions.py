"""/ha/health says when typo-tolerant search is off (no pg_trgm): degraded (warn), not failed."""

from __future__ import annotations

from django.db import connection


def test_search_extensions_pass_when_pg_trgm_is_installed(client, db) -> None:
    check = client.get("/ha/health", REMOTE_ADDR="127.0.0.1").json()["checks"]["search:extensions"][0]

    assert check["status"] == "pass"


def test_without_pg_trgm_health_warns_and_names_it(client, db) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DROP EXTENSION IF EXISTS pg_trgm CASCADE")  # rolled back with the test's transaction

    response = client.get("/ha/health", REMOTE_ADDR="127.0.0.1")

    check = response.json()["checks"]["search:extensions"][0]
    assert check["status"] == "warn"
    assert check["observedValue"] == ["pg_trgm"]
    assert "pg_trgm" in check["output"]
    assert response.status_code == 200  # degraded, not down: the node still serves
    assert response.json()["status"] == "warn"
