"""Reads that may come from a streaming replica: reports, exports and the change feed (docs/performance.md).

One place decides where such a read goes: :func:`read_alias` answers ``"replica"`` when
``DATABASE_REPLICA_URL`` is set (settings add the ``replica`` alias) and the standby is reachable,
streaming and behind by at most ``DATABASE_REPLICA_MAX_LAG_SECONDS``; else ``"default"`` (the
primary). The answer is checked over a connection of its own, outside Django's pool (as
``ha.probe`` does: a pool's wait would make a dead standby cost seconds), and reused for
``DATABASE_REPLICA_CHECK_SECONDS`` per process. :func:`read_with_fallback` runs a read there and,
when the replica fails under it (gone, or a query cancelled by a recovery conflict), runs it again on
the primary, so a request never fails because of the replica.

Callers pick the alias explicitly (``queryset.using(alias)``); nothing else reads from the replica.
Everything that writes, and every read whose answer a write in the same request depends on, stays
on the primary: :class:`PrimaryWritesRouter` sends every write to the primary whatever database an
instance was read from, and never migrates the replica.

Lag is ``0`` while the standby has replayed all WAL it received, else the age of the last transaction
it replayed (``pg_last_xact_replay_timestamp``). The second term overstates the lag after the primary
was idle (the last replayed commit is old), which errs towards the primary, never towards stale data.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, connections

logger = logging.getLogger(__name__)

REPLICA = "replica"
PRIMARY = DEFAULT_DB_ALIAS
CHECK_CONNECT_TIMEOUT_S = 1
CHECK_STATEMENT_TIMEOUT_MS = 500
QUERY_CANCELED = "57014"  # statement_timeout: the same query would time out on the primary too

T = TypeVar("T")

# In recovery, streaming (a WAL receiver runs; its row is visible to every role), and seconds behind.
_CHECK_SQL = (
    "SELECT pg_is_in_recovery(), EXISTS (SELECT FROM pg_stat_wal_receiver), "
    "CASE WHEN pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0 "
    "ELSE EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()) END"
)


class ReplicaBehind(Exception):
    """Raised by a read on the replica that cannot answer yet (e.g. a change feed cursor it has not replayed)."""


@dataclass(frozen=True)
class ReplicaState:
    usable: bool
    reason: str  # "ok", "lag", "not_streaming", "not_in_recovery", "unreachable", "read_failed", "unknown_lag"
    lag_seconds: float | None
    checked_at: float


class _Checker:
    """The replica's state for this process, checked at most every ``DATABASE_REPLICA_CHECK_SECONDS``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._state: ReplicaState | None = None

    def state(self) -> ReplicaState:
        with self._lock:
            now = time.monotonic()
            if self._state is None or now - self._state.checked_at >= settings.DATABASE_REPLICA_CHECK_SECONDS:
                previous = self._state
                self._state = self._check(now)
                if previous is None or previous.usable != self._state.usable:
                    logger.info(
                        "replica_state",
                        extra={
                            "usable": self._state.usable,
                            "reason": self._state.reason,
                            "lag": self._state.lag_seconds,
                        },
                    )
            return self._state

    def mark_failed(self) -> None:
        """A read on the replica failed: the primary serves until the next check."""
        with self._lock:
            self._state = ReplicaState(False, "read_failed", None, time.monotonic())
            self._close()

    def reset(self) -> None:
        with self._lock:
            self._state = None
            self._close()

    def _check(self, now: float) -> ReplicaState:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = _direct_connection()
            row = self._conn.execute(_CHECK_SQL).fetchone()
        except psycopg.Error as error:
            logger.debug("replica_check_failed", extra={"error": type(error).__name__})
            self._close()
            return ReplicaState(False, "unreachable", None, now)
        in_recovery, streaming, lag = row if row is not None else (False, False, None)
        lag_seconds = None if lag is None else float(lag)
        if not in_recovery:
            return ReplicaState(False, "not_in_recovery", lag_seconds, now)
        if not streaming:
            return ReplicaState(False, "not_streaming", lag_seconds, now)
        if lag_seconds is None:
            return ReplicaState(False, "unknown_lag", None, now)
        if lag_seconds > settings.DATABASE_REPLICA_MAX_LAG_SECONDS:
            return ReplicaState(False, "lag", lag_seconds, now)
        return ReplicaState(True, "ok", lag_seconds, now)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None


def _direct_connection() -> psycopg.Connection[Any]:
    params = connections[REPLICA].get_connection_params()
    for key in ("context", "cursor_factory", "prepare_threshold"):
        params.pop(key, None)
    params.update(
        application_name="crm-replica-check",
        connect_timeout=CHECK_CONNECT_TIMEOUT_S,
        options=f"-c statement_timeout={CHECK_STATEMENT_TIMEOUT_MS}",
    )
    return psycopg.connect(autocommit=True, **params)


_checker = _Checker()


def configured() -> bool:
    return REPLICA in settings.DATABASES


def state() -> ReplicaState | None:
    """The replica's last checked state (checking again if it is older than the interval); None without one."""
    return _checker.state() if configured() else None


def read_alias() -> str:
    """Where a replica-eligible read goes now: ``"replica"`` within the lag bound, else ``"default"``."""
    current = state()
    return REPLICA if current is not None and current.usable else PRIMARY


def read_with_fallback(read: Callable[[str], T]) -> T:
    """``read(alias)`` on the replica when it is usable, else, or if the replica fails under it, on the primary.

    ``read`` must only read (it may run twice) and must finish its queries before returning (a lazy
    queryset or a generator would escape the fallback). It raises :class:`ReplicaBehind` to ask for the
    primary when the replica cannot answer yet.
    """
    alias = read_alias()
    if alias == PRIMARY:
        return read(PRIMARY)
    try:
        return read(REPLICA)
    except ReplicaBehind:
        return read(PRIMARY)
    except (OperationalError, InterfaceError) as error:
        if getattr(error.__cause__, "sqlstate", None) == QUERY_CANCELED:
            raise
        logger.warning("replica_read_failed", extra={"error": type(error.__cause__ or error).__name__})
        _checker.mark_failed()
        _discard_replica_connection()
        return read(PRIMARY)


def _discard_replica_connection() -> None:
    # A dead connection may fail to close; Django forgets it either way and the pool discards it.
    with contextlib.suppress(DatabaseError):
        connections[REPLICA].close()


class PrimaryWritesRouter:
    """Writes go to the primary whatever database an instance was read from; the replica is never migrated."""

    def db_for_read(self, model: type, **hints: Any) -> str | None:
        return None  # reads use the default unless a caller chose the replica (read_alias)

    def db_for_write(self, model: type, **hints: Any) -> str:
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        databases = {obj1._state.db, obj2._state.db}
        return True if databases <= {PRIMARY, REPLICA} else None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return False if db == REPLICA else None
