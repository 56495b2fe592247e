"""Whole-transaction retry: a failover makes requests and tasks slow, not failed (docs/high-availability.md).

When the cluster manager moves the primary, every pooled connection of this process points at a
server that is gone (connection errors) or has become a standby (SQLSTATE 25006). Such a failure is
retried by running the whole unit of work again on a fresh connection, with jittered exponential
pauses, until ``HA_RETRY_SECONDS`` (about 15 s) have passed; then the error stands and the request
gets ``ha.readonly``'s 503 with ``Retry-After``.

Running the work again is only safe when none of it could have been committed, so each request
attempt keeps a :class:`WriteLedger` of what it wrote:

- a write outside a transaction (autocommit) that succeeded is committed;
- a write inside a transaction is committed once that transaction commits (``on_commit``);
- a connection error during an autocommit write, or while a transaction that wrote was committing,
  leaves the write **in doubt**: the server may have committed it and only the answer was lost.

A request is run again only when its attempt committed nothing and left nothing in doubt, or when
the work is keyed by an ``Idempotency-Key`` (``crm.api.idempotency``): the stored response commits
with the work, so the re-run replays it if the first commit happened after all. Celery tasks are
idempotent by contract (they are redelivered after a crash anyway), so ``ha.fencing.FencedTask``
runs them again whatever they wrote. Work inside an outer transaction (a test's, or a caller's
``atomic``) is never re-run: only the outermost transaction can be retried.

``synchronous_commit`` is never lowered: a commit the client saw is on the synchronous standby.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.signals import got_request_exception
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException

logger = logging.getLogger(__name__)

T = TypeVar("T")

READ_ONLY_SQLSTATE = "25006"  # ReadOnlySqlTransaction: we reached a standby
# The server is going away or not there yet: admin/crash shutdown, "cannot connect now" (starting up, recovering).
SHUTDOWN_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
CONNECTION_SQLSTATE_CLASS = "08"  # connection exceptions
_READ_ONLY_STATEMENTS = ("select", "savepoint", "release", "rollback", "set", "show")
_DRAIN_INTERVAL_S = 1.0


def is_retryable_error(error: BaseException) -> bool:
    """A broken, closing or standby connection: the same work may succeed on a new connection shortly.

    Statement and lock timeouts (also ``OperationalError``) are not retried: they would only add load.
    """
    if isinstance(error, InterfaceError | psycopg.InterfaceError):
        return True
    cause = error if isinstance(error, psycopg.Error) else error.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if isinstance(error, OperationalError | psycopg.OperationalError):
        return sqlstate is None or sqlstate.startswith(CONNECTION_SQLSTATE_CLASS) or sqlstate in SHUTDOWN_SQLSTATES
    return isinstance(error, DatabaseError | psycopg.Error) and sqlstate == READ_ONLY_SQLSTATE


def _refused(error: BaseException) -> bool:
    """A standby refused the statement: it did nothing (unlike a connection that broke mid-way)."""
    cause = error if isinstance(error, psycopg.Error) else error.__cause__
    return getattr(cause, "sqlstate", None) == READ_ONLY_SQLSTATE


@dataclass(frozen=True)
class RetryBudget:
    """How long to keep trying (``HA_RETRY_SECONDS``), and the first and longest pause between attempts."""

    seconds: float
    first_pause: float
    max_pause: float

    @classmethod
    def from_settings(cls) -> RetryBudget:
        return cls(
            seconds=float(settings.HA_RETRY_SECONDS),
            first_pause=float(settings.HA_RETRY_FIRST_PAUSE),
            max_pause=float(settings.HA_RETRY_MAX_PAUSE),
        )

    def pauses(self) -> Iterator[float]:
        """Pauses before each new attempt: doubling, each a random 50-100 % of its step, ending at the budget."""
        deadline = time.monotonic() + self.seconds
        step = self.first_pause
        while (left := deadline - time.monotonic()) > 0:
            yield min(left, random.uniform(step / 2, step))  # noqa: S311 (jitter, not a secret)
            step = min(step * 2, self.max_pause)


def _is_write(sql: str) -> bool:
    return not sql[:32].lstrip().lower().startswith(_READ_ONLY_STATEMENTS)  # the head only: statements can be long


class WriteLedger:
    """Whether an attempt's writes may have been committed (an execute wrapper on the default connection)."""

    def __init__(self) -> None:
        self.committed = False
        self.in_doubt = False
        # The raw connection whose open transaction wrote and has neither committed nor failed, if any.
        self._writing: Any = None

    @property
    def may_rerun(self) -> bool:
        return not (self.committed or self.in_doubt or self._transaction_in_doubt())

    def _transaction_in_doubt(self) -> bool:
        """A transaction wrote and never reported its commit: rolled back, or its COMMIT lost its answer.

        A rollback leaves the connection as it was; a COMMIT that met a broken connection leaves
        Django to close it. So the same connection, idle, means rolled back; anything else, in doubt.
        """
        if self._writing is None:
            return False
        if connection.connection is self._writing and not connection.in_atomic_block:
            self._writing = None
            return False
        return True

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        db = context["connection"]
        in_transaction = db.in_atomic_block
        if not in_transaction:
            self._transaction_in_doubt()  # settles a transaction that ended since the last statement
        write = _is_write(sql)
        try:
            result = execute(sql, params, many, context)
        except Exception as error:
            if is_retryable_error(error):
                if in_transaction:
                    self._writing = None  # a broken or read-only transaction cannot commit: the server rolls it back
                elif write and not _refused(error):
                    self.in_doubt = True  # autocommit: it may have committed just before the connection broke
            raise
        if write:
            if in_transaction:
                self._writing = db.connection
                db.on_commit(self._committed)  # dropped if its transaction or savepoint rolls back
            else:
                self.committed = True
        return result

    def _committed(self) -> None:
        self.committed = True
        self._writing = None


_drain_lock = threading.Lock()
_last_drain = 0.0


def discard_connection() -> None:
    """Close this thread's connection, and let the pool replace the others (they point at the old primary).

    The pool is drained at most once a second per process: its idle connections are closed and new
    ones opened, and connections in use are closed when they come back.
    """
    global _last_drain
    raw = connection.connection
    if raw is not None:
        try:
            raw.close()  # a closed connection goes back to the pool as broken: it is replaced, never reused
        except psycopg.Error:
            logger.debug("discard_connection_close_failed")
    try:
        connection.close()
    except DatabaseError:
        connection.connection = None
    pool = getattr(connection, "pool", None)
    if pool is None:
        return
    with _drain_lock:
        now = time.monotonic()
        if now - _last_drain < _DRAIN_INTERVAL_S:
            return
        _last_drain = now
    try:
        pool.drain()
    except psycopg.Error:
        logger.debug("connection_pool_drain_failed")


def call_with_retry(work: Callable[[], T], *, what: str) -> T:
    """``work()``, run again on a retryable database error until the budget is spent (tasks: idempotent work)."""
    pauses = RetryBudget.from_settings().pauses()
    attempt = 1
    while True:
        try:
            return work()
        except Exception as error:
            if not is_retryable_error(error) or connection.in_atomic_block:
                raise
            pause = next(pauses, None)
            if pause is None:
                gave = {"what": what, "attempts": attempt, "error": type(error).__name__}
                logger.warning("transaction_retry_gave_up", extra=gave)
                raise
            log_retry(what=what, attempt=attempt, error=error, pause=pause)
            discard_connection()
            time.sleep(pause)
            attempt += 1


def log_retry(*, what: str, attempt: int, error: BaseException, pause: float) -> None:
    logger.info(
        "transaction_retry",
        extra={"what": what, "attempt": attempt, "error": type(error).__name__, "pause_ms": round(pause * 1000)},
    )


UNAVAILABLE_ERROR_ATTRIBUTE = "_ha_database_unavailable"


def note_unavailable(request: HttpRequest, error: BaseException) -> None:
    """Called by ``ha.readonly`` when it turns a database error into a 503: the retry loop decides."""
    setattr(request, UNAVAILABLE_ERROR_ATTRIBUTE, error)


def _note_uncaught(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """``got_request_exception``: a middleware's database error became a 500 (e.g. loading the session)."""
    error = sys.exc_info()[1]
    if request is not None and isinstance(error, DatabaseError | psycopg.Error):
        note_unavailable(request, error)


class TransactionRetryMiddleware:
    """Runs the rest of the chain (scope, session limits, view, template) again after a retryable database error.

    It sits before ``ActiveMembershipMiddleware``, so each attempt sets the request's database scope
    again on its new connection. Errors count whether a view raised them (``ha.readonly`` answers
    503) or a later middleware did (Django answers 500, which becomes the 503 if the retry gives up).
    A streamed response's body is produced after this returns and is never re-run.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        got_request_exception.connect(_note_uncaught, dispatch_uid="ha.retry.note_uncaught")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        body_kept = _keep_body(request)
        pauses: Iterator[float] | None = None
        attempt = 1
        while True:
            ledger = WriteLedger()
            with connection.execute_wrapper(ledger):
                response = self.get_response(request)
            error = request.__dict__.pop(UNAVAILABLE_ERROR_ATTRIBUTE, None)
            if error is None:
                return response
            if not is_retryable_error(error) or connection.in_atomic_block:
                return _unavailable(request, response, error)
            if not body_kept or not (ledger.may_rerun or _replay_safe(request)):
                logger.warning(
                    "transaction_retry_unsafe",
                    extra={"path": request.path, "method": request.method, "error": type(error).__name__},
                )
                return _unavailable(request, response, error)
            pauses = pauses or RetryBudget.from_settings().pauses()
            pause = next(pauses, None)
            if pause is None:
                logger.warning(
                    "transaction_retry_gave_up",
                    extra={"path": request.path, "attempts": attempt, "error": type(error).__name__},
                )
                return _unavailable(request, response, error)
            log_retry(what=f"{request.method} {request.path}", attempt=attempt, error=error, pause=pause)
            discard_connection()
            time.sleep(pause)
            _forget_parsed_body(request)
            attempt += 1


def _unavailable(request: HttpRequest, response: HttpResponse, error: BaseException) -> HttpResponse:
    """A 500 that an unavailable database caused is the 503 with Retry-After (never a 500: ha.readonly)."""
    from ha.readonly import is_unavailable_error, unavailable_response

    if response.status_code == 500 and is_unavailable_error(error):
        return unavailable_response(request)
    return response


def _replay_safe(request: HttpRequest) -> bool:
    from crm.api.idempotency import replay_safe  # the API's models load after the app registry

    return replay_safe(request)


def _keep_body(request: HttpRequest) -> bool:
    """Read the body into memory now (``request.body`` caches it) so that a re-run can parse it again.

    A body above ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (a large upload) is left to stream once: not re-run.
    """
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return True
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and length > limit:
        return False
    try:
        request.body  # noqa: B018 (cached on the request)
    except (RawPostDataException, RequestDataTooBig):
        return False
    return True


def _forget_parsed_body(request: HttpRequest) -> None:
    """Parse form fields and uploads again from the kept body: the last attempt may have read the files."""
    for parsed in ("_post", "_files"):
        request.__dict__.pop(parsed, None)
