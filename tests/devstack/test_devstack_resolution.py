"""Which PostgreSQL and Redis the stack picks, in the order of docs/development.md."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import redis

from devstack import broker, postgres
from devstack.config import DevstackError, Source, forced_source
from devstack.net import free_port, is_listening
from devstack.resolve import Service, open_stack, resolve


def test_urls_from_the_environment_win_and_nothing_is_started(clean_environ: dict[str, str]) -> None:
    environ = {
        **clean_environ,
        "DATABASE_URL": "postgres://app@db.invalid:6543/crm",
        "REDIS_URL": "redis://cache.invalid:6390/3",
    }

    with open_stack(environ=environ) as stack:
        assert stack.env() == {"DATABASE_URL": environ["DATABASE_URL"], "REDIS_URL": environ["REDIS_URL"]}
        assert (stack.database.source, stack.broker.source) == (Source.ENV, Source.ENV)
        assert stack.database.stop is None
        assert stack.broker.stop is None
    assert list(Path(environ["CRM_VAR_DIR"]).iterdir()) == []


def test_local_postgres_probe_lets_us_in_and_creates_the_database(scratch_database: str) -> None:
    url = postgres.probe_local(scratch_database)

    assert url is not None
    assert url.startswith("postgres://")
    assert url.endswith(f"@127.0.0.1:5432/{scratch_database}")
    with psycopg.connect(url, connect_timeout=2) as conn:
        assert conn.execute("select current_database()").fetchone() == (scratch_database,)


def test_local_redis_probe_uses_the_requested_database_number() -> None:
    if not is_listening(broker.LOCAL_PORT):
        pytest.skip("no Redis on localhost:6379")

    url = broker.probe_local(15)

    assert url == "redis://127.0.0.1:6379/15"
    client = redis.Redis.from_url(url)
    assert client.ping()
    assert client.connection_pool.connection_kwargs["db"] == 15
    client.close()


def test_local_probes_find_nothing_on_a_port_without_a_server() -> None:
    port = free_port()

    assert postgres.probe_local("crm", port=port) is None
    assert broker.probe_local(0, port=port) is None


def test_forcing_the_local_step_ignores_urls_in_the_environment(clean_environ: dict[str, str]) -> None:
    if not (is_listening(postgres.LOCAL_PORT) and is_listening(broker.LOCAL_PORT)):
        pytest.skip("needs PostgreSQL and Redis on localhost")
    environ = {
        **clean_environ,
        "CRM_DEVSTACK_FORCE": "local",
        "DATABASE_URL": "postgres://app@db.invalid/crm",
        "REDIS_URL": "redis://cache.invalid/0",
    }

    with open_stack(environ=environ, redis_db=15) as stack:
        assert "@127.0.0.1:5432/crm" in stack.database.url
        assert stack.broker.url == "redis://127.0.0.1:6379/15"
        assert (stack.database.source, stack.broker.source) == (Source.LOCAL, Source.LOCAL)


def test_a_step_that_fails_hands_over_to_the_next() -> None:
    def broken() -> Service | None:
        raise DevstackError("initdb failed")

    steps = {
        Source.ENV: lambda: None,
        Source.LOCAL: broken,
        Source.PRIVATE: lambda: Service("PostgreSQL", "postgres://x@127.0.0.1:1/crm", Source.PRIVATE),
        Source.EMBEDDED: lambda: pytest.fail("must not be reached"),
    }

    assert resolve("PostgreSQL", steps, force=None).source == Source.PRIVATE


def test_a_forced_step_that_finds_nothing_fails_instead_of_falling_back() -> None:
    steps = {source: (lambda: None) for source in Source}

    with pytest.raises(DevstackError, match="CRM_DEVSTACK_FORCE=embedded"):
        resolve("Redis", steps, force=Source.EMBEDDED)


def test_an_unknown_forced_step_is_refused_with_the_choices() -> None:
    with pytest.raises(DevstackError, match="env, local, private, embedded"):
        forced_source({"CRM_DEVSTACK_FORCE": "docker"})
