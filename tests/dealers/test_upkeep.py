"""Periodic upkeep: expired idempotency records go; the job is on the beat schedule."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from dealers.actors import Actor
from dealers.api_keys import create_api_key
from dealers.models import IdempotencyRecord
from dealers.tasks import prune_expired_idempotency_records


def test_prune_job_is_scheduled() -> None:
    entries = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "dealers.tasks.prune_expired_idempotency_records" in entries


def test_unknown_api_address_answers_problem_json(client, db) -> None:
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_records_older_than_a_day_are_pruned(dealer_a) -> None:
    key = create_api_key(dealer=dealer_a.dealer, name="DMS", scopes=["prospects:read"], actor=Actor.system("t")).api_key
    old = IdempotencyRecord.objects.create(
        api_key=key, key="old", fingerprint="f", created_at=timezone.now() - timedelta(hours=25)
    )
    fresh = IdempotencyRecord.objects.create(api_key=key, key="fresh", fingerprint="f")

    assert prune_expired_idempotency_records() == 1

    assert not IdempotencyRecord.objects.filter(pk=old.pk).exists()
    assert IdempotencyRecord.objects.filter(pk=fresh.pk).exists()
