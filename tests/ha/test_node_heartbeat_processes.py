"""Issue 14 item 4: the real web, worker and scheduler processes register their node and keep beating.

gunicorn, a Celery worker and beat run as subprocesses against the test database (as the application
role, under row-level security) with a short heartbeat period.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection

from ha.models import ClusterNode
from tests.support.servers import database_url, gunicorn
from tests.sync.outbound.harness import CeleryProcesses, RedisProcess, eventually

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _processes(name: str) -> set[str]:
    node = ClusterNode.objects.filter(name=name).first()
    return set(node.processes) if node else set()


@pytest.fixture
def redis() -> Iterator[RedisProcess]:
    server = RedisProcess()
    server.start()
    yield server
    server.kill()


def test_web_worker_and_scheduler_processes_beat_under_their_node_name(redis: RedisProcess) -> None:
    env = {
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": redis.url,
        "HA_NODE_NAME": "app-7",
        "HA_NODE_HEARTBEAT_SECONDS": "0.5",
        "RELEASE_ID": "2026.12.7",
    }
    celery = CeleryProcesses(env)
    try:
        with gunicorn(env):
            eventually(lambda: "web" in _processes("app-7"), timeout=30, what="the web process's heartbeat")
        celery.worker("hb")
        celery.beat()
        eventually(
            lambda: {"worker", "scheduler"} <= _processes("app-7"),
            timeout=60,
            what=lambda: f"worker and scheduler heartbeats; seen {_processes('app-7')}\n{celery.tail()}",
        )
    finally:
        celery.stop_all()

    node = ClusterNode.objects.get(name="app-7")
    assert (node.role, node.release, node.state) == ("primary", "2026.12.7", "running")
