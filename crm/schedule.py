"""Periodic jobs of the crm app (Celery beat entries; pure data, merged in crm/settings.py)."""

BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Daily: retention periods are months and years; a day late is no breach, a run per hour is waste.
    "crm-apply-retention-rules": {"task": "crm.tasks.apply_retention_rules", "schedule": 86400.0},
    # Each minute: a dashboard adds up a key's rows since the last fold, a few per lead moved meanwhile.
    "crm-fold-lead-counts": {"task": "crm.tasks.fold_lead_counts", "schedule": 60.0},
}
