"""While the database is a standby or unreachable: a read-only banner in the UI, 503 + Retry-After for writes.

Never a 500: the cluster manager is moving the primary, and the client should simply retry shortly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from ha.probe import node_status, refuses_writes
from ha.retry import note_unavailable

RETRY_AFTER_SECONDS = 5
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READ_ONLY_SQLSTATE = "25006"  # ReadOnlySqlTransaction: we reached a standby
_ROLE_TTL_SECONDS = 3.0
_role_cache: tuple[float, bool] = (0.0, False)


def is_unavailable_error(error: BaseException) -> bool:
    if isinstance(error, OperationalError | InterfaceError):
        return True
    cause = error.__cause__
    return isinstance(error, DatabaseError) and getattr(cause, "sqlstate", None) == READ_ONLY_SQLSTATE


def database_is_writable() -> bool:
    """Cached for a few seconds per process, so pages do not probe the database on every request."""
    global _role_cache
    checked_at, writable = _role_cache
    now = time.monotonic()
    if now - checked_at > _ROLE_TTL_SECONDS:
        status = node_status()
        writable = status.database.reachable and status.role == "primary"
        _role_cache = (now, writable)
    return writable


def unavailable_response(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {
                "type": "https://dealer-crm.example/problems/unavailable",
                "title": "Service temporarily read-only",
                "status": 503,
                "detail": "The database is switching over. Retry after the time in Retry-After.",
                "errors": {},
            },
            status=503,
            content_type="application/problem+json",
        )
    else:
        response = HttpResponse(render_to_string("503.html", request=request), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # A draining node finishes what it has but, once the load balancer had time to notice, takes no
        # new writes: the client retries on the other node.
        if request.method not in SAFE_METHODS and refuses_writes():
            return unavailable_response(request)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_unavailable_error(exception):
            note_unavailable(request, exception)  # ha.retry may run the request again instead
            return unavailable_response(request)
        return None


def read_only_banner(request: HttpRequest) -> dict[str, Any]:
    """Context processor: tells the layout to show the read-only banner."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {"read_only_banner": not database_is_writable()}
