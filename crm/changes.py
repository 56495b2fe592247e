"""Record changes in the change log, inside the transaction that makes them.

``crm`` never calls ``sync``: the API's change feed and sync's relay both read this log.
Relays learn of new rows after commit through the ``change_recorded`` hook list, which
``sync`` fills at start-up (a periodic sweep catches any lost wake-up).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any
from uuid import UUID, uuid5

from django.db import transaction

from crm.models import Activity, Change, Consent, Lead, Prospect, Task, as_payload_value
from crm.payloads import payload_for

# Stable object id of a dealership's stream-wide events.
DEALER_NAMESPACE = UUID("6f1c8e52-3b7a-4c1e-9a57-0d2f4b8e1c33")

# Called after commit with the dealer id of every recorded change (see sync.apps).
change_recorded: list[Callable[[int], None]] = []


def record(
    *, dealer_id: int, type: str, obj: Prospect | Lead | Activity | Task | Consent, extra: dict[str, Any] | None = None
) -> Change:
    data = payload_for(obj)
    if extra:
        data.update({key: as_payload_value(value) for key, value in extra.items()})
    change = Change.objects.create(
        dealer_id=dealer_id,
        type=type,
        object_type=obj._meta.model_name or "",
        object_id=obj.pk,
        version=getattr(obj, "version", 1),
        data=data,
    )
    for hook in change_recorded:
        transaction.on_commit(partial(hook, dealer_id))
    return change


def record_dealer_event(*, dealer_id: int, type: str, version: int, data: dict[str, Any]) -> Change:
    """A change of the dealership's stream as a whole (e.g. ``sync.resync_required``), not of one record."""
    stream_id = uuid5(DEALER_NAMESPACE, str(dealer_id))
    change = Change.objects.create(
        dealer_id=dealer_id,
        type=type,
        object_type="dealer",
        object_id=stream_id,
        version=version,
        data={"id": str(stream_id), **data, "version": version},
    )
    for hook in change_recorded:
        transaction.on_commit(partial(hook, dealer_id))
    return change
