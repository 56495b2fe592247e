"""How events leave: signed HTTP webhooks (JSON, or ADF XML for new leads) and files in a drop folder."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
from django.utils import timezone

from crm.models import Prospect
from sync.exchange import Folder, UnsafeEntry
from sync.models import Destination
from sync.outbound import config, url_guard
from sync.outbound.formats import Event, adf_document, csv_document, json_body, signature_headers

logger = logging.getLogger(__name__)
USER_AGENT = "dealer-crm-webhooks/1"

_local = threading.local()


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str = ""
    seconds: float = 0.0


def http_client() -> httpx.Client:
    """One keep-alive client per worker thread (connections are reused across deliveries)."""
    client: httpx.Client | None = getattr(_local, "client", None)
    if client is None:
        client = httpx.Client(
            transport=url_guard.GuardedTransport(),  # public addresses only, checked at every connect
            timeout=httpx.Timeout(config.http_timeout()),
            follow_redirects=False,
            trust_env=False,
            headers={"user-agent": USER_AGENT},
        )
        _local.client = client
    return client


def signing_secrets(destination: Destination) -> list[str]:
    """The current secret, plus the previous one while the rotation overlap lasts."""
    found = [destination.secret] if destination.secret else []
    if (
        destination.previous_secret
        and destination.previous_secret_expires_at
        and destination.previous_secret_expires_at > timezone.now()
    ):
        found.append(destination.previous_secret)
    return found


def _adf_for(destination: Destination, event: Event, *, dealer_number: str, dealer_name: str) -> str:
    prospect_id = event.data.get("prospect_id")
    prospect = (
        Prospect.objects.for_dealer(destination.dealer_id).filter(pk=prospect_id).first() if prospect_id else None
    )
    return adf_document(event, dealer_number=dealer_number, dealer_name=dealer_name, prospect=prospect)


def post_webhook(destination: Destination, event: Event, *, dealer_number: str, dealer_name: str) -> Outcome:
    """POST one event; only a 2xx answer counts (redirects are failures, as in Standard Webhooks).

    A failure records only the HTTP status or a generic reason (``url_guard.failure_reason``): the
    response body and the error text stay out of the delivery log, as they would show a dealer
    administrator what answered (or did not) at an address of their choosing.
    """
    if destination.transport == Destination.Transport.ADF_WEBHOOK and event.type == "lead.created":
        body = _adf_for(destination, event, dealer_number=dealer_number, dealer_name=dealer_name)
        content_type = "application/xml; charset=utf-8"
    else:
        body = json_body(event, dealer_number=dealer_number)
        content_type = "application/json"
    secrets_ = signing_secrets(destination)
    if not destination.url or not secrets_:
        return Outcome(ok=False, error="destination has no URL or no signing secret")
    headers = {"content-type": content_type, **signature_headers(msg_id=event.event_id, body=body, secrets_=secrets_)}
    started = time.monotonic()
    try:
        response = http_client().post(destination.url, content=body.encode(), headers=headers)
    except (httpx.HTTPError, url_guard.TargetRefused) as error:
        reason = url_guard.failure_reason(error)
        logger.info(
            "webhook_attempt_failed",
            extra={"destination_id": destination.pk, "reason": reason, "error_type": type(error).__name__},
        )
        return Outcome(ok=False, error=reason, seconds=time.monotonic() - started)
    seconds = time.monotonic() - started
    if 200 <= response.status_code < 300:
        return Outcome(ok=True, status_code=response.status_code, seconds=seconds)
    return Outcome(ok=False, status_code=response.status_code, error=f"HTTP {response.status_code}", seconds=seconds)


def drop_files(destination: Destination, events: Sequence[Event], *, dealer_number: str, dealer_name: str) -> Outcome:
    """One CSV file per batch (named by its first event, so a retry rewrites it) plus an ADF file per new lead.

    The folder is opened without following links (``sync.exchange``): the dealer system can write there, so a
    link planted in place of the folder or of a file is refused or replaced, never written through.
    """
    started = time.monotonic()
    try:
        with Folder.open(dealer_number, "outbound", create=True) as folder:
            _write_drop(folder, destination, events, dealer_number=dealer_number, dealer_name=dealer_name)
    except UnsafeEntry as error:
        return Outcome(ok=False, error=f"drop folder refused: {error.name} is {error.what}", seconds=0.0)
    except OSError as error:
        return Outcome(ok=False, error=f"{type(error).__name__}: {error}"[:500], seconds=time.monotonic() - started)
    return Outcome(ok=True, seconds=time.monotonic() - started)


def _write_drop(
    folder: Folder, destination: Destination, events: Sequence[Event], *, dealer_number: str, dealer_name: str
) -> None:
    for event in events:
        if event.type == "lead.created":
            adf = _adf_for(destination, event, dealer_number=dealer_number, dealer_name=dealer_name)
            folder.write_atomically(f"lead-{event.event_id}.adf.xml", adf.encode("utf-8"))
    first = events[0]
    stamp = first.occurred_at.strftime("%Y%m%dT%H%M%S")
    folder.write_atomically(
        f"changes-{stamp}-{first.event_id}.csv", csv_document(events, dealer_number=dealer_number).encode("utf-8")
    )
