"""``ha probe`` finds the local web server where its address was set, not at an assumed port 8000 (issue 14, item 5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.db import connection

from devstack.serve import Ports, child_env
from ha.probe import local_web_url
from tests.support.servers import ROOT, database_url, free_port


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        ({}, "http://127.0.0.1:8000/ha/live"),
        ({"PORT": "8123"}, "http://127.0.0.1:8123/ha/live"),
        ({"GUNICORN_CMD_ARGS": "--workers 4 --bind 0.0.0.0:9001", "PORT": "8123"}, "http://127.0.0.1:9001/ha/live"),
        ({"GUNICORN_CMD_ARGS": "--bind=10.0.0.11:8443"}, "http://10.0.0.11:8443/ha/live"),
        ({"GUNICORN_CMD_ARGS": "-b [::]:8080"}, "http://[::1]:8080/ha/live"),
        ({"GUNICORN_CMD_ARGS": "-b unix:/run/crm.sock -b 127.0.0.1:8200"}, "http://127.0.0.1:8200/ha/live"),
        ({"GUNICORN_CMD_ARGS": "--bind fd://3", "PORT": "8124"}, "http://127.0.0.1:8124/ha/live"),
        ({"GUNICORN_CMD_ARGS": "--bind 127.0.0.1"}, "http://127.0.0.1:8000/ha/live"),
    ],
)
def test_the_probe_url_follows_the_web_servers_address(environ: dict[str, str], url: str, settings) -> None:
    settings.HA_LOCAL_URL = ""
    assert local_web_url(environ) == url


def test_ha_local_url_wins(settings) -> None:
    settings.HA_LOCAL_URL = "http://10.0.0.11:8000/ha/live"
    assert local_web_url({"PORT": "9999"}) == "http://10.0.0.11:8000/ha/live"


def test_make_run_passes_the_port_it_bound_to_its_children(tmp_path: Path) -> None:
    """The port ``make run`` took (the next free one when PORT was busy) is the PORT its children see."""
    from devstack.config import Source
    from devstack.resolve import Service, Stack

    stack = Stack(
        database=Service("postgres", "postgres://postgres@127.0.0.1:5432/crm", Source.ENV),
        broker=Service("redis", "redis://127.0.0.1:6379/0", Source.ENV),
    )
    env = child_env(stack, {"PORT": "8000"}, ports=Ports(web=8321), var=tmp_path)
    assert env["PORT"] == "8321"


@pytest.fixture
def web_on_another_port() -> Iterator[dict[str, str]]:
    """gunicorn started with ``GUNICORN_CMD_ARGS=--bind 127.0.0.1:<free port>``: the environment it ran with."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DATABASE_URL": database_url(connection.settings_dict),
        "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port} --workers 1 --log-level warning",
    }
    env.pop("PORT", None)
    env.pop("HA_LOCAL_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "crm.wsgi"], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ha/live", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "gunicorn exited during start-up"
            assert time.monotonic() < deadline, "gunicorn did not answer within 60 s"
            time.sleep(0.2)
        yield env
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_probe_finds_a_web_server_started_on_another_port_without_being_told(
    web_on_another_port: dict[str, str],
) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "ha", "probe"],  # no --url: the environment gunicorn started with
        cwd=ROOT,
        env=web_on_another_port,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    verdict = json.loads(result.stdout)
    assert verdict["web"] == "up", result.stdout + result.stderr
    assert (result.returncode, verdict["role"]) == (8, "primary")  # running as primary
