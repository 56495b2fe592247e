"""Probe endpoints for the cluster manager (docs/high-availability.md).

They take GET and HEAD, need no session, CSRF or database write, and answer with
``Cache-Control: no-store`` and a minimal JSON body: status, role, state, releaseId.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe

from ha.health import health_report, may_see_details
from ha.probe import NodeStatus, node_state, node_status


def _answer(ok: bool, *, role: str, state: str) -> HttpResponse:
    body = {"status": "pass" if ok else "fail", "role": role, "state": state, "releaseId": settings.RELEASE_ID}
    response = JsonResponse(body, status=200 if ok else 503)
    response["Cache-Control"] = "no-store"
    return response


def _from(status: NodeStatus, ok: bool) -> HttpResponse:
    return _answer(ok, role=status.role, state=status.state)


@require_safe
def live(request: HttpRequest) -> HttpResponse:
    """The process answers; no dependency is touched."""
    return _answer(True, role="unknown", state=node_state())


@require_safe
def ready(request: HttpRequest) -> HttpResponse:
    """This node can take traffic: database reachable, migrations applied, not draining."""
    status = node_status()
    return _from(status, status.ready)


@require_safe
def primary(request: HttpRequest) -> HttpResponse:
    status = node_status()
    return _from(status, status.ready and status.role == "primary")


@require_safe
def replica(request: HttpRequest) -> HttpResponse:
    status = node_status()
    ok = status.ready and status.role == "replica"
    limit = request.GET.get("lag")
    if ok and limit:
        try:
            max_lag = float(limit.removesuffix("s"))
        except ValueError:
            return JsonResponse({"status": "fail", "detail": "lag must be a number of seconds"}, status=400)
        lag = status.database.replay_lag_seconds
        ok = lag is not None and lag <= max_lag
    return _from(status, ok)


@require_safe
def health(request: HttpRequest) -> HttpResponse:
    """All checks; 503 only on fail, so a warning (broker down, replica lagging) keeps the node in service."""
    status = node_status()
    overall, checks = health_report(status)
    body: dict[str, object] = {
        "status": overall,
        "role": status.role,
        "state": status.state,
        "releaseId": settings.RELEASE_ID,
    }
    if may_see_details(request.META):
        body["checks"] = checks
    response = JsonResponse(body, status=503 if overall == "fail" else 200, content_type="application/health+json")
    response["Cache-Control"] = "no-store"
    return response
