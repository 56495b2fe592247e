"""The application role for servers the suite starts: they connect as production does, under RLS.

The suite itself (fixtures, factories, in-process test clients) stays on the owning superuser
connection, which row-level security does not restrict, because fixtures create rows across
dealerships. gunicorn, Celery workers and commands run in subprocesses connect as ``crm_app``
(devstack.approle) so the policies are exercised for real.
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

from devstack.approle import app_password, app_role_name, ensure_app_role
from devstack.config import var_dir


def owner_url(settings_dict: dict, *, host: str | None = None, port: int | None = None) -> str:
    user = settings_dict.get("USER") or "postgres"
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    return (
        f"postgres://{user}{password}@{host or settings_dict.get('HOST') or '127.0.0.1'}:"
        f"{port or settings_dict.get('PORT') or 5432}/{settings_dict['NAME']}"
    )


def app_credentials() -> tuple[str, str]:
    password = os.environ.get("DATABASE_APP_PASSWORD") or app_password(var_dir())
    return app_role_name(), password


@cache
def _provisioned(url: str) -> None:
    role, password = app_credentials()
    ensure_app_role(url, role=role, password=password)


def app_url(settings_dict: dict, *, host: str | None = None, port: int | None = None) -> str:
    """The test database as the application role (created and granted on first use)."""
    _provisioned(owner_url(settings_dict))
    role, password = app_credentials()
    owner = owner_url(settings_dict, host=host, port=port)
    _scheme, _sep, rest = owner.partition("://")
    return f"postgres://{role}:{password}@{rest.rpartition('@')[2]}"


def plan_as_application(sql: str, params: Any = (), *, dealer_id: int | None = None) -> dict[str, Any]:
    """``EXPLAIN (FORMAT JSON)`` of ``sql`` as the application role runs it: under row-level security, in
    ``dealer_id``'s scope or (None) the manufacturer-wide scope. The owner's plan can differ: a condition
    with a function that is not leakproof cannot be an index condition under a policy."""
    from django.db import connection, transaction

    from dealers.rls import DEALER_SETTING, MANUFACTURER, SCOPE_SETTING

    _provisioned(owner_url(connection.settings_dict))
    with transaction.atomic():
        # Rolled back to, not released: a transaction-local setting outlives a released savepoint, and the
        # rest of the test would run as the application role.
        savepoint = transaction.savepoint()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('role', %s, true)", [app_role_name()])
                scope = ("" if dealer_id is None else str(dealer_id), MANUFACTURER if dealer_id is None else "")
                cursor.execute("SELECT set_config(%s, %s, true)", [DEALER_SETTING, scope[0]])
                cursor.execute("SELECT set_config(%s, %s, true)", [SCOPE_SETTING, scope[1]])
                cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
                raw = cursor.fetchone()[0]
        finally:
            transaction.savepoint_rollback(savepoint)
    return (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]


def index_conditions(plan: dict[str, Any]) -> list[str]:
    """Every node's index condition in ``plan`` (for a plan test: which columns an index narrows by)."""
    nodes, conditions = [plan], []
    while nodes:
        node = nodes.pop()
        nodes += node.get("Plans", [])
        if "Index Cond" in node:
            conditions.append(node["Index Cond"])
    return conditions
