"""``Idempotency-Key`` for POST: a retried request never does its work twice.

How (safe under concurrency and crashes):

1. The key is claimed first, in its own committed transaction: an ``IdempotencyRecord`` row
   "in flight", unique per (API key, Idempotency-Key). Of two concurrent requests only one
   inserts it; the other sees the row and answers 409 (in flight) with ``Retry-After``.
2. The work and the stored response commit together in one transaction; the completing
   UPDATE only succeeds for the claim that still holds the row, so the work is done once.
3. A retry with the same key and the same body (same method, path and canonical JSON)
   replays the stored response (``Idempotent-Replayed: true``); another body is a 422.
4. Only successful (2xx) responses are kept: after an error the key is released, so the
   client may fix the request and retry with the same key. A claim whose process died is
   taken over after ``TAKEOVER_AFTER`` (its work never committed, as work and response
   commit together). Records are kept 24 hours (``dealers.api_keys.prune_idempotency_records``).
5. A request keyed this way is safe to run again after a failover (``ha.retry``), even when the
   connection broke during COMMIT: if the work committed, the re-run replays its response; if not,
   the re-run resumes its own claim (known by its start time) instead of answering 409.

Use it on any POST handler of an ``APIView`` authenticated by an API key::

    class IntakeView(ApiView):
        @idempotent
        def post(self, request): ...
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api.errors import Conflict, Unprocessable
from dealers.api_keys import IDEMPOTENCY_RETENTION
from dealers.models import ApiKey, IdempotencyRecord

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
TAKEOVER_AFTER = timedelta(seconds=60)
MAX_KEY_LENGTH = 255
REPLAYED_HEADERS = ("Location", "ETag")
IN_FLIGHT_RETRY_AFTER = 1
REPLAY_SAFE_ATTRIBUTE = "idempotency_replay_safe"
_CLAIMS_ATTRIBUTE = "_idempotency_claim_starts"


class _LostClaim(Exception):
    """Another request took the key over while this one worked: roll this one's work back."""


def fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    raw = f"{request.method}\n{request.get_full_path()}\n{body}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _clean_key(raw: str) -> str:
    key = raw.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ValidationError({HEADER: [_("1 to 255 printable ASCII characters, e.g. a UUID.")]})
    return key


def _replay(record: IdempotencyRecord) -> HttpResponse:
    """The first answer, byte for byte, marked as a replay."""
    headers = dict(record.response_headers)
    content_type = headers.pop("Content-Type", None) or "application/json"
    response = HttpResponse(record.response_body.encode(), status=record.response_status, content_type=content_type)
    for name, value in headers.items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response


def replay_safe(request: HttpRequest) -> bool:
    """Whether this request's work is keyed by an Idempotency-Key, so running it again cannot do it twice."""
    return bool(getattr(request, REPLAY_SAFE_ATTRIBUTE, False))


def claim(
    *,
    api_key: ApiKey,
    key: str,
    fingerprint: str,
    now: datetime | None = None,
    mine: Collection[datetime] = (),
) -> tuple[IdempotencyRecord, HttpResponse | None]:
    """The in-flight record this request now holds, or a replay of the finished one; 409/422 otherwise.

    ``now`` is the start time a new claim gets; ``mine`` the start times of claims this same request
    made in earlier attempts (``ha.retry``): such a claim, still in flight, is resumed.
    """
    for _attempt in range(3):
        now = now or timezone.now()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    api_key=api_key, key=key, fingerprint=fingerprint, created_at=now, started_at=now
                )
            return record, None
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(api_key=api_key, key=key).first()
        if existing is None:
            continue  # released in the meantime: claim again
        if existing.created_at < now - IDEMPOTENCY_RETENTION:
            IdempotencyRecord.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
            continue  # expired: the key is free again
        if existing.fingerprint != fingerprint:
            raise Unprocessable(
                _("This Idempotency-Key was used with another request (method, path or body). Use a new key."),
                code="idempotency_key_reused",
            )
        if existing.completed_at is not None:
            return existing, _replay(existing)
        if existing.started_at in mine:
            return existing, None  # our own claim: the connection broke before we learned how it ended
        if existing.started_at < now - TAKEOVER_AFTER:
            taken = IdempotencyRecord.objects.filter(
                pk=existing.pk, completed_at__isnull=True, started_at=existing.started_at
            ).update(started_at=now)
            if taken:
                existing.started_at = now
                return existing, None
        break
    raise Conflict(
        _("A request with this Idempotency-Key is still in progress. Retry after the time in Retry-After."),
        code="idempotency_key_in_flight",
        retry_after=IN_FLIGHT_RETRY_AFTER,
    )


def _complete(record: IdempotencyRecord, response: Response) -> None:
    headers = {name: response[name] for name in REPLAYED_HEADERS if response.has_header(name)}
    if response.content_type:  # set explicitly (e.g. problem+json); else the renderer's JSON
        headers["Content-Type"] = response.content_type
    done = IdempotencyRecord.objects.filter(
        pk=record.pk, started_at=record.started_at, completed_at__isnull=True
    ).update(
        completed_at=timezone.now(),
        response_status=response.status_code,
        response_body=JSONRenderer().render(response.data).decode(),
        response_headers=headers,
    )
    if not done:
        raise _LostClaim


def _release(record: IdempotencyRecord) -> None:
    try:
        IdempotencyRecord.objects.filter(pk=record.pk, started_at=record.started_at, completed_at__isnull=True).delete()
    except DatabaseError:
        # The claim stays in flight and is taken over after TAKEOVER_AFTER; nothing was committed.
        logger.warning("idempotency_release_failed", extra={"record_id": record.pk})


Handler = Callable[..., Any]


def idempotent(handler: Handler) -> Handler:
    """Decorate a view's ``post`` (or any POST handler): honours ``Idempotency-Key`` as described above."""

    @wraps(handler)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Any:
        raw = request.headers.get(HEADER)
        if raw is None or request.method != "POST" or not isinstance(request.auth, ApiKey):
            return handler(view, request, *args, **kwargs)
        key = _clean_key(raw)
        http_request = request._request
        setattr(http_request, REPLAY_SAFE_ATTRIBUTE, True)
        starts: list[datetime] = http_request.__dict__.setdefault(_CLAIMS_ATTRIBUTE, [])
        starts.append(timezone.now())  # known before the claim commits: a lost COMMIT answer cannot hide it
        record, replay = claim(
            api_key=request.auth, key=key, fingerprint=fingerprint(request), now=starts[-1], mine=tuple(starts)
        )
        if replay is not None:
            logger.info("idempotent_replay", extra={"api_key_id": request.auth.pk, "record_id": record.pk})
            return replay
        try:
            with transaction.atomic():
                response = handler(view, request, *args, **kwargs)
                if 200 <= response.status_code < 300:
                    _complete(record, response)
        except _LostClaim:
            raise Conflict(
                _("A request with this Idempotency-Key is still in progress. Retry after the time in Retry-After."),
                code="idempotency_key_in_flight",
                retry_after=IN_FLIGHT_RETRY_AFTER,
            ) from None
        except BaseException:
            _release(record)
            raise
        if not 200 <= response.status_code < 300:
            _release(record)
        return response

    wrapper.idempotent = True  # type: ignore[attr-defined]
    return wrapper
