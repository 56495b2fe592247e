"""Periodic jobs of the outbound side (Celery beat entries; pure data, merged in crm/settings.py).

The sweep catches lost wake-ups and retries whose time has come; ``SYNC_SWEEP_SECONDS`` in the
environment shortens it (tests).
"""

import os

BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "sync-outbound-sweep": {
        "task": "sync.outbound.tasks.sweep_outbox",
        "schedule": float(os.environ.get("SYNC_SWEEP_SECONDS") or 10.0),
        "options": {"expires": 30},
    },
}
