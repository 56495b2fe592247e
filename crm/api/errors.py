"""Errors as ``application/problem+json`` (RFC 9457): ``type``, ``title``, ``status``, ``detail``, ``errors``.

One exception handler (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``) maps DRF's exceptions, Django's
``ValidationError``/``Http404``/``PermissionDenied`` and the domain's ``StaleObject`` to one shape;
``errors`` is always an object keyed by field (``non_field_errors`` for the request as a whole),
each a list of messages. Database unavailability is left to ``ha``'s middleware (503 + Retry-After).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from crm.errors import StaleObject

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://dealer-crm.example/problems/"
NON_FIELD = "non_field_errors"
BODY = "body"
READ_ONLY_SQLSTATE = "25006"

# status -> (type slug, title)
PROBLEM_TYPES: dict[int, tuple[str, str]] = {
    400: ("invalid-request", "Invalid request"),
    401: ("unauthenticated", "Missing or invalid API key"),
    403: ("forbidden", "Not allowed for this API key"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    410: ("gone", "Gone"),
    412: ("precondition-failed", "Precondition failed"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("unprocessable", "Unprocessable request"),
    429: ("rate-limited", "Too many requests"),
    500: ("server-error", "Internal server error"),
    503: ("unavailable", "Service temporarily unavailable"),
}


class DeclaredProblem(exceptions.APIException):
    """A DRF exception declared in its class line: ``class Gone(DeclaredProblem, status=410, code="gone")``."""

    def __init_subclass__(cls, *, status: int, code: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.status_code, cls.default_code = status, code


class PreconditionFailed(DeclaredProblem, status=status.HTTP_412_PRECONDITION_FAILED, code="precondition_failed"):
    default_detail = _("The resource changed since you read it (If-Match did not match). Fetch it and retry.")


class Conflict(DeclaredProblem, status=status.HTTP_409_CONFLICT, code="conflict"):
    default_detail = _("The request conflicts with the current state of the resource.")

    def __init__(self, detail: Any = None, code: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(detail, code)
        self.wait = retry_after


class Unprocessable(DeclaredProblem, status=status.HTTP_422_UNPROCESSABLE_ENTITY, code="unprocessable"):
    default_detail = _("The request cannot be processed.")


class PayloadTooLarge(DeclaredProblem, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, code="payload_too_large"):
    default_detail = _("The request body is too large.")


class Gone(DeclaredProblem, status=status.HTTP_410_GONE, code="gone"):
    default_detail = _("This cursor is no longer valid; resynchronise.")


def problem(
    status_code: int, detail: str, *, errors: dict[str, list[str]] | None = None, type_slug: str | None = None
) -> dict[str, Any]:
    slug, title = PROBLEM_TYPES.get(status_code, ("error", "Error"))
    return {
        "type": PROBLEM_BASE + (type_slug or slug),
        "title": title,
        "status": status_code,
        "detail": str(detail),
        "errors": errors or {},
    }


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as ``{"field": [...], "items.0.field": [...]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = NON_FIELD if key in ("__all__", NON_FIELD) and not prefix else f"{prefix}{key}"
            for sub_key, messages in _flatten(value, f"{name}.").items():
                out.setdefault(sub_key, []).extend(messages)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out[prefix[:-1] or NON_FIELD] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if item:
                    out.update(_flatten(item, f"{prefix}{index}."))
    else:
        out[prefix[:-1] or NON_FIELD] = [str(detail)]
    return out


def _django_validation_errors(error: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {
            (NON_FIELD if field == "__all__" else field): [str(m) for m in messages]
            for field, messages in error.message_dict.items()
        }
    return {NON_FIELD: [str(m) for m in error.messages]}


def _validation_detail(errors: dict[str, list[str]]) -> str:
    if list(errors) == [NON_FIELD] and len(errors[NON_FIELD]) == 1:
        return errors[NON_FIELD][0]
    fields = ", ".join(sorted(errors))
    return str(_("Some fields are invalid: %(fields)s.")) % {"fields": fields}


def is_unavailable_error(error: BaseException) -> bool:
    """The database is unreachable or read-only (a standby): ha's middleware answers 503 + Retry-After."""
    if isinstance(error, OperationalError | InterfaceError):
        return True
    return isinstance(error, DatabaseError) and getattr(error.__cause__, "sqlstate", None) == READ_ONLY_SQLSTATE


def problem_response(
    status_code: int, detail: str, *, errors: dict[str, list[str]] | None = None, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        problem(status_code, detail, errors=errors),
        status=status_code,
        headers=headers,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    headers: dict[str, str] = {}
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, StaleObject):
        set_rollback()
        headers["ETag"] = f'"{exc.current_version}"'
        return problem_response(
            412, str(PreconditionFailed.default_detail), errors={"If-Match": [str(exc.message)]}, headers=headers
        )
    elif isinstance(exc, DjangoValidationError):
        set_rollback()
        errors = _django_validation_errors(exc)
        return problem_response(400, _validation_detail(errors), errors=errors)

    if isinstance(exc, exceptions.APIException):
        set_rollback()
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        wait = getattr(exc, "wait", None)
        if wait is not None:
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
        code = exc.status_code
        if isinstance(exc, exceptions.ValidationError):
            errors = _flatten(exc.detail)
            return problem_response(code, _validation_detail(errors), errors=errors, headers=headers)
        errors = {}
        message = str(exc.detail)
        if isinstance(exc, exceptions.ParseError | PayloadTooLarge) and not isinstance(exc.detail, dict | list):
            errors = {BODY: [message]}  # the body as a whole: malformed, too deep, too large
        elif isinstance(exc.detail, dict | list):
            errors = _flatten(exc.detail)
            message = _validation_detail(errors)
        return problem_response(code, message, errors=errors, headers=headers)

    if is_unavailable_error(exc):
        return None  # ha.readonly.DatabaseUnavailableMiddleware: 503 with Retry-After
    request = context.get("request")
    logger.exception(
        "api_unhandled_error",
        extra={"path": getattr(request, "path", ""), "method": getattr(request, "method", "")},
    )
    set_rollback()
    return problem_response(500, str(_("Something went wrong on our side. The error was logged.")))


def api_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler404`` for the root URLconf: problem+json under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        # As every API answer (crm.api.base.ApiView): English unless Accept-Language asks otherwise.
        language = translation.get_language() if request.META.get("HTTP_ACCEPT_LANGUAGE") else "en"
        with translation.override(language):
            detail = str(_("No API endpoint at this address. See /api/docs/."))
        return JsonResponse(problem(404, detail), status=404, content_type=PROBLEM_CONTENT_TYPE)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception or Http404())


def api_server_error(request: HttpRequest) -> HttpResponse:
    """``handler500`` for the root URLconf: problem+json under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            problem(500, str(_("Something went wrong on our side. The error was logged."))),
            status=500,
            content_type=PROBLEM_CONTENT_TYPE,
        )
    from django.views.defaults import server_error

    return server_error(request)
