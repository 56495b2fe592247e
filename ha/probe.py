"""What this node can tell the cluster manager about itself.

The checks use one dedicated database connection per process, outside Django's pool: a
probe must answer within 100 ms whether the pool is exhausted or the server is gone, and
the pool's wait for a connection (seconds) would make a dead database look like a hung node.
"""

from __future__ import annotations

import os
import shlex
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import psycopg
from django.conf import settings
from django.db import connections

Role = Literal["primary", "replica", "unknown"]
State = Literal["running", "draining", "maintenance"]

PROBE_CONNECT_TIMEOUT_S = 1
PROBE_STATEMENT_TIMEOUT_MS = 500


@dataclass
class DatabaseFacts:
    reachable: bool
    role: Role = "unknown"
    applied_migrations: frozenset[tuple[str, str]] = frozenset()
    replay_lag_seconds: float | None = None
    error: str = ""


@dataclass
class NodeStatus:
    database: DatabaseFacts
    state: State
    migrations_applied: bool
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.database.reachable and self.migrations_applied and self.state == "running"

    @property
    def role(self) -> Role:
        return self.database.role


def direct_connection(**overrides: Any) -> psycopg.Connection[Any]:
    """An autocommit connection to the default database that bypasses Django's pool and adapters."""
    params = connections["default"].get_connection_params()
    for key in ("context", "cursor_factory", "prepare_threshold"):
        params.pop(key, None)
    return psycopg.connect(autocommit=True, **{**params, **overrides})


class _ProbeConnection:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None

    def _connect(self) -> psycopg.Connection[Any]:
        return direct_connection(
            application_name="crm-probe",
            connect_timeout=PROBE_CONNECT_TIMEOUT_S,
            options=f"-c statement_timeout={PROBE_STATEMENT_TIMEOUT_MS}",
        )

    def facts(self) -> DatabaseFacts:
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = self._connect()
                with self._conn.cursor() as cur:
                    cur.execute(
                        "SELECT pg_is_in_recovery(), "
                        "CASE WHEN pg_is_in_recovery() "
                        "THEN EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END"
                    )
                    in_recovery, lag = cur.fetchone()  # type: ignore[misc]
                    cur.execute("SELECT app, name FROM django_migrations")
                    applied = frozenset((app, name) for app, name in cur.fetchall())
            except psycopg.Error as error:
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                return DatabaseFacts(reachable=False, error=type(error).__name__)
        return DatabaseFacts(
            reachable=True,
            role="replica" if in_recovery else "primary",
            applied_migrations=applied,
            replay_lag_seconds=float(lag) if lag is not None else None,
        )


_probe_connection = _ProbeConnection()


@cache
def migrations_on_disk() -> frozenset[tuple[str, str]]:
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    return frozenset(loader.disk_migrations)


DEFAULT_WEB_PORT = 8000  # gunicorn's, when neither --bind nor PORT says otherwise
_ANY_ADDRESS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "*": "127.0.0.1", "[::]": "[::1]"}  # noqa: S104


def local_web_url(environ: Mapping[str, str] | None = None) -> str:
    """This node's liveness URL, found where the web server's own address was set (``ha probe``'s default).

    ``HA_LOCAL_URL`` when set; else the first TCP address of ``--bind``/``-b`` in ``GUNICORN_CMD_ARGS``;
    else ``PORT`` (gunicorn binds ``0.0.0.0:$PORT`` then, and ``make run`` passes its web port so);
    else gunicorn's default port 8000. A wildcard host is probed on loopback.
    """
    if settings.HA_LOCAL_URL:
        return str(settings.HA_LOCAL_URL)
    environ = os.environ if environ is None else environ
    address = _tcp_bind(environ.get("GUNICORN_CMD_ARGS", ""))
    if address is None:
        address = f"127.0.0.1:{environ.get('PORT') or DEFAULT_WEB_PORT}"
    return f"http://{address}/ha/live"


def _tcp_bind(args: str) -> str | None:
    try:
        words = shlex.split(args)
    except ValueError:
        return None
    for index, word in enumerate(words):
        if word in {"--bind", "-b"}:
            value = words[index + 1] if index + 1 < len(words) else ""
        elif word.startswith("--bind="):
            value = word.removeprefix("--bind=")
        elif word.startswith("-b") and len(word) > 2:
            value = word[2:]
        else:
            continue
        if value and not value.startswith(("unix:", "fd://")):
            host, sep, port = value.rpartition(":")
            if not sep or not port.isdigit():  # a host alone: gunicorn's default port
                host, port = value, str(DEFAULT_WEB_PORT)
            return f"{_ANY_ADDRESS.get(host, host)}:{port}"
    return None


def drain_flag() -> Path:
    return Path(settings.HA_STATE_DIR) / "draining"


def maintenance_flag() -> Path:
    return Path(settings.HA_STATE_DIR) / "maintenance"


def node_state() -> State:
    if maintenance_flag().exists():
        return "maintenance"
    if drain_flag().exists():
        return "draining"
    return "running"


def refuses_writes() -> bool:
    """Writes get 503: in maintenance, or draining for longer than ``HA_DRAIN_GRACE_SECONDS``.

    A drain makes ``/ha/ready`` answer 503 at once, but the load balancer notices only on its next
    failed checks (HAProxy: ``inter`` x ``fall``). Until then the node keeps serving what still reaches
    it, so a planned switch costs clients no error answers, only the in-flight wait.
    """
    if maintenance_flag().exists():
        return True
    try:
        drained_at = drain_flag().stat().st_mtime
    except FileNotFoundError:
        return False
    return time.time() - drained_at >= settings.HA_DRAIN_GRACE_SECONDS


def node_status() -> NodeStatus:
    facts = _probe_connection.facts()
    return NodeStatus(
        database=facts,
        state=node_state(),
        migrations_applied=facts.reachable and migrations_on_disk() <= facts.applied_migrations,
    )
