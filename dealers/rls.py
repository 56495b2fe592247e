"""The database's tenancy setting: the second fence behind ``visible_to`` (docs/security.md).

PostgreSQL row-level security policies on every dealer-owned table compare ``dealer_id`` with the
session settings ``app.dealer_id`` and ``app.scope`` (migrations ``crm/0004`` and ``sync/0005``). The
application connects as a role that is neither superuser nor ``BYPASSRLS`` and owns no tables, so
a query that forgot ``visible_to`` still sees only the current dealership's rows; with nothing set
it sees no dealer rows at all.

Who sets what (one door each):

- a UI request: :class:`dealers.middleware.ActiveMembershipMiddleware`, the active membership's dealer;
  manufacturer staff in the admin site: ``manufacturer`` scope (reason ``admin``);
- an API request: :class:`dealers.authentication.ApiKeyAuthentication`, the key's dealer, or the
  ``manufacturer`` scope for a manufacturer (intake) key;
- ``/metrics`` and ``/ha/health``: ``manufacturer`` scope (:class:`dealers.middleware.DatabaseSessionMiddleware`);
- Celery tasks (``ha.fencing.FencedTask``), operator commands (``dealers.commands.ContractCommand``)
  and migrations (``pre_migrate``): ``manufacturer`` scope, with the longer job timeouts.

Every switch to the manufacturer-wide scope goes through :func:`manufacturer_wide` or
:func:`set_request_state` with a reason and logs ``rls_manufacturer_wide`` (ids only, no personal data).

Why session settings and not ``set_config(..., true)`` per transaction: Django runs in autocommit,
so most reads are single-statement transactions of their own and a transaction-local setting would
be gone before the next query. The state lives in a context variable (per thread or task) and is
written to the connection when it changes and whenever a connection is checked out of the pool
(``connection_created``); the pool's ``reset`` callback (:func:`reset_pooled_connection`) clears it
when a connection goes back, and ``request_finished`` clears the context. A pooled connection
therefore never carries an earlier request's dealer.

The same state carries ``statement_timeout`` and ``lock_timeout``: a web process's connections start
with the web values (settings ``DATABASE_TIMEOUTS["web"]``, sent as start-up options), and jobs,
commands and migrations set theirs for their duration.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any

logger = logging.getLogger(__name__)

DEALER_SETTING = "app.dealer_id"
SCOPE_SETTING = "app.scope"
MANUFACTURER = "manufacturer"
REPLICA_ALIAS = "replica"  # the read replica's connections carry the same state (crm/replica.py)

# A timeout of NULL goes back to the connection's own value (start-up options, role or server default).
_SET_STATE_SQL = (
    "SELECT set_config('app.dealer_id', %s, false), set_config('app.scope', %s, false), "
    "set_config('statement_timeout', coalesce(%s, "
    "(SELECT reset_val FROM pg_settings WHERE name = 'statement_timeout')), false), "
    "set_config('lock_timeout', coalesce(%s, (SELECT reset_val FROM pg_settings WHERE name = 'lock_timeout')), false)"
)
_RESET_SQL = "RESET app.dealer_id; RESET app.scope; RESET statement_timeout; RESET lock_timeout"


@dataclass(frozen=True)
class SessionState:
    """What one unit of work (request, task, command) may see, and how long its statements may run.

    ``statement_timeout``/``lock_timeout`` of ``None`` mean the connection's own values (the web ones
    in web processes, set at connect).
    """

    dealer_id: int | None = None
    manufacturer: bool = False
    statement_timeout: str | None = None
    lock_timeout: str | None = None

    @property
    def is_default(self) -> bool:
        return self == DEFAULT


DEFAULT = SessionState()
_state: ContextVar[SessionState] = ContextVar("crm_db_session_state", default=DEFAULT)


def current() -> SessionState:
    return _state.get()


def timeouts(profile: str) -> dict[str, str]:
    """``statement_timeout`` and ``lock_timeout`` of a profile (``web``, ``job``, ``command``, ``migrate``)."""
    from django.conf import settings

    values: dict[str, str] = settings.DATABASE_TIMEOUTS[profile]
    return values


def _with_timeouts(state: SessionState, profile: str | None) -> SessionState:
    if profile is None:
        return state
    values = timeouts(profile)
    return replace(state, statement_timeout=values["statement_timeout"], lock_timeout=values["lock_timeout"])


def _write(connection: Any, state: SessionState) -> None:
    """Write ``state`` to the open connection through the driver (one round trip, not counted as a query)."""
    raw = connection.connection
    if raw is None:
        return  # applied by ``connection_created`` when the connection is opened
    params = [
        "" if state.dealer_id is None else str(int(state.dealer_id)),
        MANUFACTURER if state.manufacturer else "",
        state.statement_timeout,
        state.lock_timeout,
    ]
    with connection.wrap_database_errors:  # Django's exception types, so 503 handling applies
        raw.execute(_SET_STATE_SQL, params)


def _switch(state: SessionState) -> None:
    from django.db import connection

    _state.set(state)
    _write(connection, state)
    _follow_on_replica(state)


def _follow_on_replica(state: SessionState) -> None:
    """An open connection to the read replica (crm/replica.py) takes the same state; a failure there only closes it."""
    from django.db import connections

    for replica in connections.all(initialized_only=True):
        if replica.alias == REPLICA_ALIAS:
            _restore(replica, state)


def _audit(reason: str, **ids: Any) -> None:
    logger.info("rls_manufacturer_wide", extra={"reason": reason, **ids})


def set_request_state(
    *, dealer_id: int | None = None, manufacturer_reason: str | None = None, **ids: Any
) -> SessionState:
    """The scope of the current request, kept until ``request_finished`` (streamed responses read after views).

    Give a ``dealer_id``, or a ``manufacturer_reason`` for the audited manufacturer-wide scope.
    """
    if dealer_id is not None and manufacturer_reason is not None:
        raise ValueError("a request works for one dealership or manufacturer-wide, not both")
    state = replace(current(), dealer_id=dealer_id, manufacturer=manufacturer_reason is not None)
    if manufacturer_reason is not None:
        _audit(manufacturer_reason, **ids)
    if state != current():
        _switch(state)
    return state


@contextmanager
def dealer_scope(dealer_id: int, *, profile: str | None = None) -> Iterator[SessionState]:
    """Work for one dealership, e.g. a task acting for it; restores the previous state on exit."""
    with _scoped(_with_timeouts(SessionState(dealer_id=int(dealer_id)), profile)) as state:
        yield state


@contextmanager
def manufacturer_wide(*, reason: str, profile: str | None = None, **ids: Any) -> Iterator[SessionState]:
    """The one audited door to every dealership's rows (admin, intake, relay, jobs, commands, health).

    ``reason`` names the caller (``task:<name>``, ``command:<name>``...); ``ids`` add ids to the log
    event, never names, e-mail addresses or keys. ``profile`` picks the timeouts (``job``, ``command``...).
    """
    _audit(reason, **ids)
    with _scoped(_with_timeouts(SessionState(manufacturer=True), profile)) as state:
        yield state


@contextmanager
def _scoped(state: SessionState) -> Iterator[SessionState]:
    from django.db import connection

    previous = current()
    token = _state.set(state)
    try:
        if state != previous:
            _write(connection, state)
            _follow_on_replica(state)
        yield state
    finally:
        _state.reset(token)
        if state != previous:
            _restore(connection, previous)
            _follow_on_replica(previous)


def _restore(connection: Any, state: SessionState) -> None:
    if connection.connection is None:
        return
    try:
        _write(connection, state)
    except Exception:
        if connection.in_atomic_block:
            # An aborted transaction: its rollback takes back every setting made inside it.
            logger.warning("rls_state_restore_deferred_to_rollback")
            return
        # A connection that cannot take the reset must not be reused with our scope.
        logger.warning("rls_state_restore_failed_closing_connection")
        connection.close()


def clear_request_state() -> None:
    """Forget the request's scope (``request_started``/``request_finished``); an open connection forgets it too."""
    from django.db import connection

    if current().is_default:
        return
    _state.set(DEFAULT)
    _restore(connection, DEFAULT)
    _follow_on_replica(DEFAULT)


def on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Every checkout from the pool (or new connection) gets the state of the work that opened it."""
    if connection.alias not in ("default", REPLICA_ALIAS) or connection.vendor != "postgresql":
        return
    state = current()
    if not state.is_default:
        _write(connection, state)


def on_request_boundary(sender: Any, **kwargs: Any) -> None:
    clear_request_state()


_before_migrate: list[SessionState] = []


def on_pre_migrate(sender: Any, **kwargs: Any) -> None:
    """Migrations run as the owner; data migrations see every dealer's rows, with the migration timeouts.

    ``pre_migrate`` is sent once per app before any migration runs, ``post_migrate`` once per app after.
    """
    if _before_migrate:
        return
    _before_migrate.append(current())
    _audit("migrate")
    _switch(_with_timeouts(SessionState(manufacturer=True), "migrate"))


def on_post_migrate(sender: Any, **kwargs: Any) -> None:
    from django.db import connection

    if not _before_migrate:
        return
    previous = _before_migrate.pop()
    _state.set(previous)
    _restore(connection, previous)


def reset_pooled_connection(conn: Any) -> None:
    """psycopg pool ``reset``: a connection going back to the pool forgets scope and timeouts."""
    conn.execute(_RESET_SQL)
    if not conn.autocommit:
        conn.commit()


def connect_signals() -> None:
    from django.core.signals import request_finished, request_started
    from django.db.backends.signals import connection_created
    from django.db.models.signals import post_migrate, pre_migrate

    connection_created.connect(on_connection_created, dispatch_uid="dealers.rls.connection_created")
    request_started.connect(on_request_boundary, dispatch_uid="dealers.rls.request_started")
    request_finished.connect(on_request_boundary, dispatch_uid="dealers.rls.request_finished")
    pre_migrate.connect(on_pre_migrate, dispatch_uid="dealers.rls.pre_migrate")
    post_migrate.connect(on_post_migrate, dispatch_uid="dealers.rls.post_migrate")
