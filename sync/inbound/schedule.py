"""Periodic jobs of the inbound side (Celery beat entries; pure data, merged in crm/settings.py)."""

BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "inbound-first-contact-sla": {"task": "sync.inbound.tasks.check_first_contact_sla", "schedule": 60.0},
    "inbound-unrouted-leads": {"task": "sync.inbound.tasks.alert_unrouted_leads", "schedule": 60.0},
    "inbound-drop-folders": {"task": "sync.inbound.tasks.scan_inbound_drop_folders", "schedule": 60.0},
    "inbound-requeue-imports": {"task": "sync.inbound.tasks.requeue_stalled_imports", "schedule": 60.0},
}
