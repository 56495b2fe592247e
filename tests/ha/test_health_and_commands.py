"""/ha/health and ``manage.py ha probe|drain|undrain`` (docs/high-availability.md)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from ha.probe import drain_flag
from tests.support.servers import ROOT, database_url, gunicorn


def test_health_shows_checks_to_loopback_callers(client, db) -> None:
    response = client.get("/ha/health", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/health+json"
    body = response.json()
    assert body["status"] in {"pass", "warn"}
    for check in ("database:connection", "database:role", "migrations:applied", "broker:connection", "disk:free"):
        assert check in body["checks"]
    assert body["checks"]["database:connection"][0]["status"] == "pass"


def test_health_hides_checks_from_strangers_without_the_token(client, db, settings) -> None:
    settings.HA_TOKEN = "s3cret"
    stranger = client.get("/ha/health", REMOTE_ADDR="203.0.113.9")
    assert set(stranger.json()) == {"status", "role", "state", "releaseId"}
    with_token = client.get("/ha/health", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret")
    assert "checks" in with_token.json()


def test_in_production_a_loopback_peer_without_the_token_sees_only_the_minimal_body(client, db, settings) -> None:
    """Behind a reverse proxy on the same host every request comes from loopback (issue 9, item 5)."""
    settings.HA_TOKEN = "h" * 40
    settings.HA_ALLOWED_NETWORKS = []  # the production default

    for address in ("127.0.0.1", "::1"):
        body = client.get("/ha/health", REMOTE_ADDR=address).json()
        assert set(body) == {"status", "role", "state", "releaseId"}
    with_token = client.get("/ha/health", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {'h' * 40}")
    assert "checks" in with_token.json()


def test_forwarded_for_headers_never_open_health_details(client, db, settings) -> None:
    settings.HA_TOKEN = "h" * 40
    settings.HA_ALLOWED_NETWORKS = ["10.0.0.0/8"]

    spoofed = client.get("/ha/health", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="10.0.0.5")

    assert "checks" not in spoofed.json()
    assert "checks" in client.get("/ha/health", REMOTE_ADDR="10.0.0.5").json()


def test_a_wrong_token_or_scheme_does_not_open_health_details(client, db, settings) -> None:
    settings.HA_TOKEN = "h" * 40
    settings.HA_ALLOWED_NETWORKS = []

    for header in (f"Bearer {'h' * 39}", f"Bearer {'h' * 40}x", f"Basic {'h' * 40}", "h" * 40, "Bearer "):
        assert "checks" not in client.get("/ha/health", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=header).json()


def test_drain_and_undrain(client, db, settings, tmp_path) -> None:
    settings.HA_STATE_DIR = tmp_path
    call_command("ha", "drain", "--timeout", "1")
    assert drain_flag().exists()
    assert client.get("/ha/ready").status_code == 503
    call_command("ha", "undrain")
    assert client.get("/ha/ready").status_code == 200


def test_bad_action_is_one_line_and_exit_2() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "ha", "bogus"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_action_raises_command_error_in_process() -> None:
    with pytest.raises(CommandError):
        call_command("ha", "bogus")


@pytest.mark.django_db(transaction=True)
def test_probe_exit_codes_follow_ocf() -> None:
    env = {"DATABASE_URL": database_url(connection.settings_dict)}

    def probe(url: str) -> tuple[int, dict]:
        result = subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", "ha", "probe", "--url", url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            env={**__import__("os").environ, "DJANGO_ENV": "test", **env},
        )
        return result.returncode, json.loads(result.stdout)

    code, verdict = probe("http://127.0.0.1:9/ha/live")
    assert (code, verdict["web"]) == (7, "down")  # web not running: not running
    with gunicorn(env) as base:
        code, verdict = probe(f"{base}/ha/live")
    assert (code, verdict["role"]) == (8, "primary")  # running as primary
