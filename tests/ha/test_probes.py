"""Probe endpoints tell the cluster manager the truth about this node."""

from __future__ import annotations

import time

import httpx
import pytest
from django.db import connection

from ha.probe import drain_flag
from tests.support.servers import database_url, gunicorn
from tests.support.tcp_proxy import TcpProxy


@pytest.mark.parametrize("path", ["/ha/live", "/ha/ready", "/ha/primary"])
def test_probe_answers_200_with_minimal_uncached_json(path: str, client, db) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"status", "role", "state", "releaseId"}
    assert body["status"] == "pass"
    assert body["state"] == "running"


def test_probes_answer_head_without_a_session(client, db) -> None:
    response = client.head("/ha/ready")
    assert response.status_code == 200
    assert "Set-Cookie" not in response


def test_probes_refuse_writes(client, db) -> None:
    assert client.post("/ha/ready").status_code == 405


def test_primary_database_is_not_a_replica(client, db) -> None:
    assert client.get("/ha/ready").json()["role"] == "primary"
    assert client.get("/ha/replica").status_code == 503


def test_draining_node_is_live_but_not_ready(client, db, settings, tmp_path) -> None:
    settings.HA_STATE_DIR = tmp_path
    drain_flag().touch()
    assert client.get("/ha/live").status_code == 200
    ready = client.get("/ha/ready")
    assert ready.status_code == 503
    assert ready.json()["state"] == "draining"


def test_unapplied_migration_makes_node_unready(client, transactional_db) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = 'dealers' AND name = '0001_initial'")
    try:
        assert client.get("/ha/ready").status_code == 503
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO django_migrations (app, name, applied) VALUES ('dealers', '0001_initial', now())"
            )
    assert client.get("/ha/ready").status_code == 200


def test_ready_turns_503_within_5s_when_database_goes_away_while_live_stays_200(transactional_db) -> None:
    """Acceptance of issue 3, against a real gunicorn whose database link we cut."""
    settings_dict = connection.settings_dict
    proxy = TcpProxy(settings_dict.get("HOST") or "127.0.0.1", int(settings_dict.get("PORT") or 5432))
    env = {"DATABASE_URL": database_url(settings_dict, host="127.0.0.1", port=proxy.port)}
    with gunicorn(env) as base:
        assert httpx.get(f"{base}/ha/ready", timeout=5).status_code == 200
        proxy.cut()
        started = time.monotonic()
        response = httpx.get(f"{base}/ha/ready", timeout=10)
        assert response.status_code == 503
        assert time.monotonic() - started < 5
        assert response.json()["role"] == "unknown"
        assert httpx.get(f"{base}/ha/live", timeout=5).status_code == 200
