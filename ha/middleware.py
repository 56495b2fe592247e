"""Answer probes before sessions, locale, auth and host checks: fast, and free of side effects."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from ha import views

PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/ha/live": views.live,
    "/ha/ready": views.ready,
    "/ha/primary": views.primary,
    "/ha/replica": views.replica,
    "/ha/health": views.health,
}


class ProbeShortcutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)
