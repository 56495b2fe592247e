"""Periodic jobs of the notifications app (Celery beat entries; pure data, merged in crm/settings.py)."""

BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Every five minutes: a task due within the hour, a first-contact deadline within half an hour.
    "notifications-create-due": {"task": "crm.notifications.tasks.create_due_notifications", "schedule": 300.0},
    # Hourly: each person's digest goes out once a day, at the first run after NOTIFICATIONS_DIGEST_HOUR.
    "notifications-send-digests": {"task": "crm.notifications.tasks.send_daily_digests", "schedule": 3600.0},
    # Daily: reminders are kept NOTIFICATIONS_KEEP_DAYS (90), then deleted.
    "notifications-purge": {"task": "crm.notifications.tasks.purge_old_notifications", "schedule": 86400.0},
}
