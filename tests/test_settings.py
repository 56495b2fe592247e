"""Production refuses to start without real secrets; Celery is configured to lose nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.security.production import PRODUCTION_ENV
from tests.support.settings_process import run_with_settings

ROOT = Path(__file__).resolve().parents[1]


def _load_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_with_settings(env, drop=lambda name: name in PRODUCTION_ENV or name.endswith("_ALLOWED_NETWORKS"))


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"DJANGO_ENV": "production", "ALLOWED_HOSTS": "crm.example"}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_ENV": "production", "DJANGO_SECRET_KEY": "s" * 50}, "ALLOWED_HOSTS"),
        ({"DJANGO_ENV": "production", "DJANGO_SECRET_KEY": "s" * 50, "ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS"),
        ({"DJANGO_ENV": "staging"}, "DJANGO_ENV"),
    ],
)
def test_production_refuses_to_start_without_real_settings(env: dict[str, str], complaint: str) -> None:
    result = _load_settings(env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert complaint in result.stderr


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"HA_TOKEN": ""}, "HA_TOKEN"),
        ({"METRICS_TOKEN": ""}, "METRICS_TOKEN"),
        ({"HA_TOKEN": "h" * 31}, "HA_TOKEN"),
        ({"METRICS_TOKEN": "m" * 31}, "METRICS_TOKEN"),
        # without it the tombstones are keyed by DJANGO_SECRET_KEY, and rotating that key loses every one
        ({"ERASURE_TOMBSTONE_KEY": ""}, "ERASURE_TOMBSTONE_KEY"),
        ({"METRICS_ALLOWED_NETWORKS": "10.0.0.0/8,proxy.example"}, "METRICS_ALLOWED_NETWORKS"),
        ({"HA_ALLOWED_NETWORKS": "not-a-network"}, "HA_ALLOWED_NETWORKS"),
    ],
)
def test_production_refuses_to_start_without_operator_tokens(env: dict[str, str], complaint: str) -> None:
    """/metrics and /ha/health details would otherwise be open to whoever shares the host (issue 9, item 8)."""
    result = _load_settings({**PRODUCTION_ENV, **env})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert complaint in result.stderr


def test_production_starts_with_real_settings() -> None:
    result = _load_settings(PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr


def test_production_trusts_no_network_for_operator_endpoints_unless_told() -> None:
    result = run_with_settings(
        PRODUCTION_ENV,
        "print(settings.HA_ALLOWED_NETWORKS, settings.METRICS_ALLOWED_NETWORKS)",
        drop=lambda name: name.endswith("_ALLOWED_NETWORKS"),
    )
    assert result.stdout.strip() == "[] []", result.stderr


def test_celery_is_configured_to_lose_nothing() -> None:
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert settings.CELERY_ACCEPT_CONTENT == ["json"]
    assert settings.CELERY_TASK_TIME_LIMIT > settings.CELERY_TASK_SOFT_TIME_LIMIT
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > settings.CELERY_TASK_TIME_LIMIT


def test_german_first_berlin_time() -> None:
    assert (settings.LANGUAGE_CODE, settings.TIME_ZONE, settings.USE_TZ) == ("de", "Europe/Berlin", True)
    assert settings.DATABASES["default"]["OPTIONS"]["pool"]


def _lintmigrations(*args: str) -> subprocess.CompletedProcess[str]:
    from django.db import connection

    from tests.support.servers import database_url

    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "lintmigrations", "--settings", "crm.settings_lint", "--skip-checks", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url(connection.settings_dict)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.django_db
def test_migration_linter_passes_our_migrations_with_the_reviewed_exceptions() -> None:
    result = _lintmigrations("--warnings-as-errors")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Erroneous migrations: 0/" in result.stdout


@pytest.mark.django_db
def test_migration_linter_fails_a_table_rewrite_that_nobody_reviewed() -> None:
    """dealers 0003 rewrites a table (jsonb to text): only its entry in the reviewed list lets it pass."""
    result = _lintmigrations(
        "--warnings-as-errors", "--ignore-name", "none", "--include-name", "0003_idempotency_body_text"
    )
    assert result.returncode == 1
    assert "ALTERING columns" in result.stdout


def test_production_settings_do_not_install_the_migration_linter() -> None:
    assert "django_migration_linter" not in settings.INSTALLED_APPS


def test_links_in_mails_name_the_sites_address_in_production_by_default() -> None:
    """Without CRM_PUBLIC_BASE_URL a production node links to its first host name over HTTPS."""
    for env, expected in (
        ({}, "https://crm.example/"),
        ({"CRM_PUBLIC_BASE_URL": "https://vertrieb.example/crm/"}, "https://vertrieb.example/crm/"),
    ):
        result = run_with_settings(
            {**PRODUCTION_ENV, **env}, "print(settings.CRM_PUBLIC_BASE_URL)", drop="CRM_PUBLIC_BASE_URL".__eq__
        )
        assert result.stdout.strip() == expected, result.stderr
