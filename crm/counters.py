"""Network-wide counts of rare operational events, kept in PostgreSQL so ``/metrics`` on any node reports them.

A process-local Prometheus counter would count per gunicorn worker, and each scrape would see one
worker's figure; one row per event name, bumped by an upsert, gives every scrape the same total.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, transaction
from django.utils import timezone

from crm.models import OperationalCounter

logger = logging.getLogger(__name__)

API_RATE_LIMIT_UNAVAILABLE = "api_rate_limit_unavailable"


def increment(name: str) -> None:
    """Add one to ``name``; a failure is logged, never raised (counting must not fail the request it counts)."""
    table = OperationalCounter._meta.db_table
    try:
        # a savepoint when the caller is in a transaction, so a failed upsert does not poison it
        with transaction.atomic(), transaction.get_connection().cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (name, value, changed_at) VALUES (%s, 1, %s) "  # noqa: S608 (our table name)
                f"ON CONFLICT (name) DO UPDATE SET value = {table}.value + 1, changed_at = EXCLUDED.changed_at",
                [name, timezone.now()],
            )
    except DatabaseError:
        logger.exception("operational_counter_failed", extra={"counter": name})


def totals() -> dict[str, int]:
    """Every counter by name (for ``/metrics``)."""
    return dict(OperationalCounter.objects.values_list("name", "value"))
