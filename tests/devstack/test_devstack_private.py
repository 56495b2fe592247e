"""The private servers under the state directory: real binaries, real connections, data kept across restarts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import redis

from devstack import broker, postgres
from devstack.config import REPO_ROOT, Source, var_dir
from devstack.net import is_listening
from devstack.resolve import broker_steps, database_steps, resolve

needs_postgres_binaries = pytest.mark.skipif(
    postgres.find_system_bindir() is None, reason="no PostgreSQL server binaries installed"
)
needs_redis_binary = pytest.mark.skipif(broker.find_system_server() is None, reason="no redis-server on PATH")


def _port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


@needs_postgres_binaries
def test_private_postgres_starts_accepts_connections_keeps_data_and_stops(clean_environ: dict[str, str]) -> None:
    var = var_dir(clean_environ)
    steps = database_steps(dbname="crm", environ=clean_environ, var=var)

    first = resolve("PostgreSQL", steps, force=Source.PRIVATE)
    assert first.stop is not None
    with psycopg.connect(first.url, autocommit=True) as conn:
        assert conn.execute("select current_database()").fetchone() == ("crm",)
        conn.execute("create table kept (value text)")
        conn.execute("insert into kept values ('survives a restart')")
    first.stop()
    assert not is_listening(_port(first.url))

    second = resolve("PostgreSQL", steps, force=Source.PRIVATE)
    try:
        with psycopg.connect(second.url) as conn:
            assert conn.execute("select value from kept").fetchall() == [("survives a restart",)]
    finally:
        assert second.stop is not None
        second.stop()
    assert (var / "pg" / "PG_VERSION").exists()


@needs_redis_binary
def test_private_redis_starts_answers_keeps_data_and_stops(clean_environ: dict[str, str]) -> None:
    steps = broker_steps(db=0, environ=clean_environ, var=var_dir(clean_environ))

    first = resolve("Redis", steps, force=Source.PRIVATE)
    assert first.stop is not None
    client = redis.Redis.from_url(first.url)
    client.set("kept", "survives a restart")
    client.close()
    first.stop()
    assert not is_listening(_port(first.url))

    second = resolve("Redis", steps, force=Source.PRIVATE)
    try:
        client = redis.Redis.from_url(second.url)
        assert client.get("kept") == b"survives a restart"
        client.close()
    finally:
        assert second.stop is not None
        second.stop()


def _devstack(*args: str, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "devstack", *args],
        cwd=REPO_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@needs_postgres_binaries
@needs_redis_binary
def test_exec_hands_the_private_servers_to_the_command_then_stops_them(clean_environ: dict[str, str]) -> None:
    script = (
        "import json, os, sys, psycopg;"
        "psycopg.connect(os.environ['DATABASE_URL']).close();"
        "print(json.dumps({k: os.environ[k] for k in ('DATABASE_URL', 'REDIS_URL', 'DJANGO_ENV')}));"
        "sys.exit(7)"
    )
    environ = {**clean_environ, "CRM_DEVSTACK_FORCE": "private"}

    result = _devstack("exec", "--test", "--", sys.executable, "-c", script, environ=environ)

    assert result.returncode == 7, result.stderr
    seen = json.loads(result.stdout)
    assert seen["DJANGO_ENV"] == "test"
    assert seen["REDIS_URL"].endswith("/15")
    assert seen["DATABASE_URL"].endswith("/crm")
    assert not is_listening(_port(seen["DATABASE_URL"]))
    assert not is_listening(_port(seen["REDIS_URL"]))


@needs_postgres_binaries
@needs_redis_binary
def test_env_leaves_its_servers_running_for_the_shell_and_stop_ends_them(clean_environ: dict[str, str]) -> None:
    environ = {**clean_environ, "CRM_DEVSTACK_FORCE": "private"}

    printed = _devstack("env", environ=environ)
    try:
        assert printed.returncode == 0, printed.stderr
        exports = dict(line.removeprefix("export ").split("=", 1) for line in printed.stdout.splitlines())
        assert exports["DJANGO_ENV"] == "development"
        assert is_listening(_port(exports["DATABASE_URL"]))
        assert is_listening(_port(exports["REDIS_URL"]))

        adopted = _devstack("exec", "--", sys.executable, "-c", "pass", environ=environ)
        assert adopted.returncode == 0, adopted.stderr
        assert "Reusing PostgreSQL" in adopted.stderr
        assert is_listening(_port(exports["DATABASE_URL"])), "exec stopped a server it did not start"
    finally:
        stopped = _devstack("stop", environ=environ)
    assert stopped.returncode == 0, stopped.stderr
    assert not is_listening(_port(exports["DATABASE_URL"]))
    assert not is_listening(_port(exports["REDIS_URL"]))
    assert Path(environ["CRM_VAR_DIR"], "pg", "PG_VERSION").exists()
