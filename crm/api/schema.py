"""OpenAPI 3 (drf-spectacular): the key's security scheme, shared parameters, error responses, headers.

Endpoints declare their documentation instead of decorating methods: ``ApiSchema`` reads a view's
``operations`` (one ``Operation`` per HTTP method) and derives the standard operations of a
resource's list and detail views from the view itself (resource, serializers, ``summaries``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from crm.api.errors import PROBLEM_BASE, PROBLEM_CONTENT_TYPE, PROBLEM_TYPES, problem
from crm.api.resources import DetailView, ListCreateView
from crm.api.serializers import ProblemSerializer, page_of


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "dealers.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "crmd_<prefix>_<secret>",
            "description": "A dealership's API key (crmd_...), or the manufacturer's (crmm_...) for lead intake. "
            "Send it as `Authorization: Bearer <key>`.",
        }


PROBLEM_DESCRIPTIONS = {
    400: "Invalid input: malformed JSON, unknown or invalid fields, bad query parameters. `errors` names the fields.",
    401: "No API key, or an unknown, revoked or expired one.",
    403: "The key lacks the scope this endpoint needs.",
    404: "No such object, or it belongs to another dealership.",
    405: "Method not allowed here (see the Allow header).",
    409: "A request with the same Idempotency-Key is still in progress (retry after Retry-After), "
    "or the object's state does not allow the change.",
    410: "The cursor is from an earlier epoch of the change feed, or points before pruned history: resynchronise.",
    412: "If-Match does not name the current version (the ETag header of this answer does).",
    413: "The request body exceeds 1 MiB.",
    415: "The body is not application/json.",
    422: "The Idempotency-Key was used before with another request.",
    429: "Rate limit of this key reached; retry after Retry-After seconds.",
    503: "The node is read-only or draining (failover, maintenance); retry after Retry-After seconds.",
}

READ_ERRORS = (400, 401, 403, 404, 429, 503)
WRITE_ERRORS = (400, 401, 403, 404, 409, 412, 413, 415, 429, 503)
LIST_ERRORS = (400, 401, 403, 429, 503)
CREATE_ERRORS = (400, 401, 403, 409, 413, 415, 422, 429, 503)


def _example(code: int) -> OpenApiExample:
    errors = {"email": ["Enter a valid email address."]} if code == 400 else {}
    return OpenApiExample(
        f"{code} {PROBLEM_TYPES[code][1]}",
        value=problem(code, PROBLEM_DESCRIPTIONS[code], errors=errors),
        status_codes=[str(code)],
        response_only=True,
    )


def problems(*codes: int) -> dict[Any, Any]:
    """``responses`` entries for these error statuses, as application/problem+json."""
    return {
        (code, PROBLEM_CONTENT_TYPE): OpenApiResponse(
            ProblemSerializer, description=PROBLEM_DESCRIPTIONS[code], examples=[_example(code)]
        )
        for code in codes
    }


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Any unique string (e.g. a UUID), at most 255 characters. A retry with the same key and body "
    "replays the first answer (header Idempotent-Replayed: true); kept 24 hours.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The ETag you read, e.g. "3": the change applies only to that version, else 412.',
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The ETag you hold, e.g. "3": 304 Not Modified if unchanged.',
)
CURSOR = OpenApiParameter(
    "cursor", OpenApiTypes.STR, OpenApiParameter.QUERY, description="Opaque cursor from next_cursor of a page."
)
LIMIT = OpenApiParameter(
    "limit", OpenApiTypes.INT, OpenApiParameter.QUERY, description="Page size, 1 to 500 (default 50)."
)

NOT_MODIFIED = OpenApiResponse(description="Not modified: If-None-Match names the current version.")

SINGULAR = {"prospects": "prospect", "leads": "lead", "activities": "activity", "tasks": "task", "consents": "consent"}


def id_param(what: str) -> OpenApiParameter:
    return OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description=f"The {what}'s id.")


@dataclass(frozen=True)
class Operation:
    """One HTTP method of an endpoint as the schema documents it."""

    operation_id: str
    summary: str
    tag: str
    responses: dict[Any, Any]  # the successful answers; ``errors`` adds the problem answers
    errors: tuple[int, ...]
    request: Any = None
    parameters: tuple[OpenApiParameter, ...] = ()
    examples: tuple[OpenApiExample, ...] = ()
    description: str = ""  # empty: the view's docstring
    filters: bool = False  # the view's filter backends document their query parameters


def resource_operation(view: Any, method: str) -> Operation | None:
    """The standard operations of a resource: list and create, get, update (PATCH) and replace (PUT).

    Every resource documents them alike; a view adds only its ``summaries`` (and ``examples`` of a
    create body). The response body is the resource's representation (``create_serializer``).
    """
    tag = view.resource
    noun = SINGULAR[tag]
    item, examples = view.create_serializer, tuple(view.examples)
    summary = view.summaries.get(method)
    if summary is None:
        return None
    if isinstance(view, ListCreateView):
        if method == "get":
            page = page_of(item, item.__name__.replace("Serializer", "Page"))
            return Operation(
                f"list_{tag}", summary, tag, {200: page}, LIST_ERRORS, parameters=(CURSOR, LIMIT), filters=True
            )
        return Operation(
            f"create_{noun}",
            summary,
            tag,
            {201: item},
            CREATE_ERRORS,
            request=item,
            parameters=(IDEMPOTENCY_KEY,),
            examples=examples,
        )
    path_id = id_param(view.id_noun or noun)
    if method == "get" and view.versioned:
        return Operation(
            f"get_{noun}",
            summary,
            tag,
            {200: item, 304: NOT_MODIFIED},
            READ_ERRORS,
            parameters=(IF_NONE_MATCH, path_id),
        )
    if method == "get":
        return Operation(f"get_{noun}", summary, tag, {200: item}, READ_ERRORS, parameters=(path_id,))
    verb = "update" if method == "patch" else "replace"
    return Operation(
        f"{verb}_{noun}",
        summary,
        tag,
        {200: item},
        WRITE_ERRORS,
        request=view.update_serializer,
        parameters=(IF_MATCH, path_id),
    )


class ApiSchema(AutoSchema):
    """The operation a view declares for this method; what it leaves out, drf-spectacular infers."""

    def declared(self) -> Operation | None:
        method = self.method.lower()
        operations = getattr(self.view, "operations", {})
        if method in operations:
            return operations[method]
        if isinstance(self.view, ListCreateView | DetailView):
            return resource_operation(self.view, method)
        return None

    def get_operation_id(self) -> str:
        operation = self.declared()
        return operation.operation_id if operation else super().get_operation_id()

    def get_summary(self) -> str | None:
        operation = self.declared()
        return operation.summary if operation else super().get_summary()

    def get_description(self) -> str:  # type: ignore[override]
        operation = self.declared()
        if operation and operation.description:
            return operation.description
        # The view's own docstring only: its bases' explain the code to developers, not the API to integrators.
        return inspect.cleandoc(type(self.view).__dict__.get("__doc__") or "")

    def get_tags(self) -> list[str]:
        operation = self.declared()
        return [operation.tag] if operation else super().get_tags()

    def get_override_parameters(self) -> list[Any]:
        operation = self.declared()
        return [*super().get_override_parameters(), *(operation.parameters if operation else ())]

    def get_examples(self) -> list[OpenApiExample]:
        operation = self.declared()
        return [*super().get_examples(), *(operation.examples if operation else ())]

    def get_request_serializer(self) -> Any:
        operation = self.declared()
        return operation.request if operation and operation.request else super().get_request_serializer()

    def get_response_serializers(self) -> Any:
        operation = self.declared()
        if operation is None:
            return super().get_response_serializers()
        return {**operation.responses, **problems(*operation.errors)}

    def get_filter_backends(self) -> list[Any]:
        operation = self.declared()
        if operation is None:
            return super().get_filter_backends()
        return getattr(self.view, "filter_backends", []) if operation.filters else []


_HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {"schema": {"type": "string"}, "description": 'The version of the object, e.g. "3".'},
    "Location": {"schema": {"type": "string"}, "description": "URL of the created object."},
    "Retry-After": {"schema": {"type": "string"}, "description": "Seconds to wait before retrying."},
    "WWW-Authenticate": {"schema": {"type": "string"}, "description": 'Bearer realm="api"'},
    "RateLimit-Limit": {"schema": {"type": "string"}, "description": "Requests allowed per window for this key."},
    "RateLimit-Remaining": {"schema": {"type": "string"}, "description": "Requests left in this window."},
    "RateLimit-Reset": {"schema": {"type": "string"}, "description": "Seconds until the window ends."},
    "Idempotent-Replayed": {"schema": {"type": "string"}, "description": "true: a replay of an earlier answer."},
}


def _drop_email_format(node: Any) -> None:
    if isinstance(node, dict):
        alternatives = node.get("oneOf")
        if isinstance(alternatives, list) and any(a.get("format") == "email" for a in alternatives):
            lengths = [a["maxLength"] for a in alternatives if a.get("maxLength")]
            del node["oneOf"]
            node.update({"type": "string", **({"maxLength": max(lengths)} if lengths else {})})
        if node.get("format") == "email":
            del node["format"]
        for value in node.values():
            _drop_email_format(value)
    elif isinstance(node, list):
        for value in node:
            _drop_email_format(value)


def add_response_headers(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Postprocessing hook: document the headers our answers carry.

    Also: answers may hold addresses stored before validation was strict (imports, the UI), so
    response components promise a string, not ``format: email``; requests keep the format.
    """
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if not name.endswith("Request"):
            _drop_email_format(component)
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            single = "{id}" in path or "{external_id}" in path
            for code, response in operation.get("responses", {}).items():
                names = ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"]
                if code in ("429", "503") or (code == "409" and method == "post"):
                    names.append("Retry-After")
                if code == "401":
                    names.append("WWW-Authenticate")
                if (code in ("200", "201", "304", "412") and single) or code == "201":
                    names.append("ETag")
                if code == "201":
                    names.append("Location")
                if code in ("200", "201") and method == "post":
                    names.append("Idempotent-Replayed")
                response.setdefault("headers", {}).update({name: _HEADERS[name] for name in names})
    return result


PROBLEM_TYPE_DOC = {f"{PROBLEM_BASE}{slug}": title for slug, title in PROBLEM_TYPES.values()}
