"""``/ha/health``: the node's checks in ``application/health+json`` (draft-inadarei-api-health-check).

Public callers get status, role, state and releaseId only; the checks need the HA token
(``Authorization: Bearer <HA_TOKEN>``) or a caller from ``HA_ALLOWED_NETWORKS`` (crm.operator_access).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils.module_loading import import_string

from crm.operator_access import operator_may_read
from dealers.extensions import SEARCH_EXTENSIONS, missing_extensions
from ha.probe import NodeStatus

Check = dict[str, Any]
WORST = {"pass": 0, "warn": 1, "fail": 2}


def _check(status: str, **fields: Any) -> Check:
    return {"status": status, "time": datetime.now(UTC).isoformat(timespec="seconds"), **fields}


def database_checks(status: NodeStatus) -> dict[str, list[Check]]:
    db = status.database
    checks: dict[str, list[Check]] = {
        "database:connection": [_check("pass" if db.reachable else "fail", output=db.error)],
        "database:role": [_check("pass" if db.reachable else "warn", observedValue=db.role)],
        "migrations:applied": [_check("pass" if status.migrations_applied else "fail")],
    }
    if db.role == "replica":
        lag = db.replay_lag_seconds
        limit = getattr(settings, "HA_REPLICA_LAG_WARN_SECONDS", 30)
        checks["database:replicationLag"] = [
            _check("warn" if lag is None or lag > limit else "pass", observedValue=lag, observedUnit="s")
        ]
    return checks


def broker_check() -> dict[str, list[Check]]:
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=0.3, socket_timeout=0.3)
        client.ping()
    except redis.RedisError as error:
        return {"broker:connection": [_check("warn", output=type(error).__name__)]}
    return {"broker:connection": [_check("pass")]}


def scheduler_lease_check(status: NodeStatus) -> dict[str, list[Check]]:
    if not status.database.reachable:
        return {"scheduler:lease": [_check("warn", output="database unreachable")]}
    with connection.cursor() as cursor:
        cursor.execute("SELECT epoch, holder, acquired_at FROM ha_schedulerlease WHERE id = 1")
        row = cursor.fetchone()
    if row is None:
        return {"scheduler:lease": [_check("warn", output="no scheduler has held the lease yet")]}
    epoch, holder, acquired_at = row
    return {"scheduler:lease": [_check("pass", observedValue=holder, epoch=epoch, acquiredAt=str(acquired_at))]}


def search_extensions_check() -> dict[str, list[Check]]:
    """``warn`` (degraded, not failed) when this database lacks an extension search uses, naming it."""
    missing = missing_extensions(SEARCH_EXTENSIONS)
    if missing:
        output = f"missing {', '.join(missing)}: prospect search matches exact substrings only (no typo tolerance)"
        return {"search:extensions": [_check("warn", observedValue=missing, output=output)]}
    return {"search:extensions": [_check("pass", observedValue=[])]}


def disk_check() -> dict[str, list[Check]]:
    usage = shutil.disk_usage(settings.BASE_DIR)
    free_ratio = usage.free / usage.total
    status = "fail" if free_ratio < 0.02 else "warn" if free_ratio < 0.10 else "pass"
    return {"disk:free": [_check(status, observedValue=round(free_ratio * 100, 1), observedUnit="%")]}


def extra_checks() -> dict[str, list[Check]]:
    """Checks other apps contribute through ``HA_HEALTH_CHECKS`` (dotted paths), e.g. the outbox backlog."""
    checks: dict[str, list[Check]] = {}
    for path in getattr(settings, "HA_HEALTH_CHECKS", []):
        check: Callable[[], dict[str, list[Check]]] = import_string(path)
        try:
            checks.update(check())
        except Exception as error:  # a failing contributed check is reported, never a 500
            checks[path] = [_check("warn", output=type(error).__name__)]
    return checks


def health_report(status: NodeStatus) -> tuple[str, dict[str, list[Check]]]:
    checks = database_checks(status)
    checks.update(broker_check())
    checks.update(disk_check())
    if status.database.reachable:
        checks.update(scheduler_lease_check(status))
        checks.update(search_extensions_check())
        checks.update(extra_checks())
    overall = max((c["status"] for entries in checks.values() for c in entries), key=WORST.__getitem__)
    if status.state != "running" and overall == "pass":
        overall = "warn"
    return overall, checks


def may_see_details(meta: dict[str, Any]) -> bool:
    """The HA token, or a peer in ``HA_ALLOWED_NETWORKS`` (empty in production unless the operator sets it)."""
    return operator_may_read(meta, token=settings.HA_TOKEN, networks=settings.HA_ALLOWED_NETWORKS)
