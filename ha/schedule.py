"""Periodic jobs of the ha app (Celery beat entries; pure data, merged in crm/settings.py)."""

BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "ha-prune-periodic-runs": {"task": "ha.tasks.prune_periodic_runs", "schedule": 3600.0},
}
