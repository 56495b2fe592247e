"""pytest-xdist workers share PostgreSQL and Redis servers but no database: each has its own of both."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from tests.support.servers import ROOT

_PRINT_REDIS_URL = "import crm.settings as s, os; print(s.REDIS_URL, os.environ['REDIS_URL'])"


def _settings_redis_urls(**environ: str) -> list[str]:
    """``REDIS_URL`` as the settings of a fresh process with ``environ`` see it, and as its children inherit it."""
    base = {
        key: value for key, value in os.environ.items() if key not in {"PYTEST_XDIST_WORKER", "CRM_TEST_REDIS_WORKER"}
    }
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", _PRINT_REDIS_URL],
        cwd=ROOT,
        env={**base, **environ},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.split()


def test_worker_k_uses_redis_db_15_minus_k_whatever_db_the_run_was_given() -> None:
    urls = _settings_redis_urls(DJANGO_ENV="test", PYTEST_XDIST_WORKER="gw2", REDIS_URL="redis://127.0.0.1:6379/6")
    assert urls == ["redis://127.0.0.1:6379/13", "redis://127.0.0.1:6379/13"]


def test_a_redis_url_handed_to_a_workers_subprocess_is_kept() -> None:
    """A test that starts a server on a private Redis names it; the worker's db must not replace it."""
    private = "redis://127.0.0.1:7777/0"
    urls = _settings_redis_urls(
        DJANGO_ENV="test", PYTEST_XDIST_WORKER="gw2", CRM_TEST_REDIS_WORKER="gw2", REDIS_URL=private
    )
    assert urls == [private, private]


def test_outside_tests_the_redis_url_is_as_given() -> None:
    given = "redis://127.0.0.1:6379/6"
    assert _settings_redis_urls(DJANGO_ENV="development", PYTEST_XDIST_WORKER="gw2", REDIS_URL=given) == [given, given]


def test_this_worker_has_its_own_database_and_redis_db(db: None) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        pytest.skip("not running under pytest-xdist")
    index = int(worker.removeprefix("gw"))
    assert connection.settings_dict["NAME"].endswith(f"_{worker}")
    assert settings.REDIS_URL.endswith(f"/{15 - index}")
    assert settings.CELERY_BROKER_URL == settings.CACHES["default"]["LOCATION"] == settings.REDIS_URL
    assert os.environ["REDIS_URL"] == settings.REDIS_URL  # what gunicorn and Celery started by a test inherit
