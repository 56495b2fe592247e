"""The Celery app can be pointed at another broker for a while (tests with a private Redis)."""

from __future__ import annotations

from crm.celery import app, publishing_to

ELSEWHERE = "redis://127.0.0.1:1/0"  # never connected to: the pool hands out connections lazily


def _pooled_broker() -> str:
    with app.pool.acquire(block=True) as connection:
        return f"redis://{connection.hostname}:{connection.port}/{connection.virtual_host}"


def test_publishing_to_switches_pooled_connections_to_the_broker_and_back() -> None:
    before = _pooled_broker()  # fills the pool with a connection to the configured broker
    assert before != ELSEWHERE

    with publishing_to(ELSEWHERE):
        assert _pooled_broker() == ELSEWHERE

    assert _pooled_broker() == before
