"""Periodic jobs of the dealers app (Celery beat entries; pure data, merged in crm/settings.py)."""

BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "dealers-prune-idempotency-records": {
        "task": "dealers.tasks.prune_expired_idempotency_records",
        "schedule": 3600.0,
    },
}
