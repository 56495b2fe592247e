"""Periodic jobs of the inbound side (Celery beat entries; pure data, merged in crm/settings.py)."""

BEAT_SCHEDULE: dict[str, dict[str, object]] = {}
