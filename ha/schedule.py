"""Periodic jobs of the ha app (Celery beat entries; pure data, merged in crm/settings.py)."""

import os

BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "ha-prune-periodic-runs": {"task": "ha.tasks.prune_periodic_runs", "schedule": 3600.0},
    # Operator alerts (ha.alerts); HA_ALERT_SWEEP_SECONDS (env) sets the period.
    "ha-sweep-alerts": {
        "task": "ha.tasks.sweep_alerts",
        "schedule": float(os.environ.get("HA_ALERT_SWEEP_SECONDS") or 30.0),
    },
}
