"""Fixtures for the outbound tests: a simulated dealer system, a private Redis, real Celery processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from sync.simulator import DEMO_SECRET
from tests.support.servers import database_url
from tests.sync.outbound.harness import CeleryProcesses, RedisProcess, SimulatorProcess

# Short clocks for tests: the retry schedule runs in seconds, a dead worker's lease expires quickly.
FAST_ENV = {
    "SYNC_RETRY_SCALE": "0.0005",
    "SYNC_LEASE_SECONDS": "4",
    "SYNC_HTTP_TIMEOUT": "3",
    "SYNC_SWEEP_SECONDS": "0.5",
    "SYNC_INLINE_WAIT_SECONDS": "0.3",
    "SYNC_TASK_BUDGET_SECONDS": "5",
    "DB_POOL_MAX": "4",
}


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[SimulatorProcess]:
    sim = SimulatorProcess(DEMO_SECRET, tmp_path)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def broker() -> Iterator[RedisProcess]:
    """A private Redis for this test; this process's Celery app publishes to it too."""
    from crm.celery import publishing_to

    redis = RedisProcess()
    redis.start()
    with publishing_to(redis.url):
        yield redis
    redis.kill()


@pytest.fixture
def celery(transactional_db: None, broker: RedisProcess) -> Iterator[CeleryProcesses]:
    """Start workers/beat with ``celery.worker(name)`` / ``celery.beat()``; all stop before the database is flushed."""
    processes = CeleryProcesses(
        {"DATABASE_URL": database_url(connection.settings_dict), "REDIS_URL": broker.url, **FAST_ENV}
    )
    yield processes
    processes.stop_all()
