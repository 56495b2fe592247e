"""Record changes in the change log, inside the transaction that makes them.

Every row names who made the change: ``record`` also writes the audit trail's row for the
acting user or API key (``dealers.actors.record_audit``), so no service can change a record
without saying who did it.

``crm`` never calls ``sync``: the API's change feed and sync's relay both read this log.
Relays learn of new rows after commit through the ``change_recorded`` hook list, which
``sync`` fills at start-up (a periodic sweep catches any lost wake-up). Each hook runs once per
transaction and dealership, however many rows the transaction recorded: an import batch of 200
rows wakes the relay once, not 200 times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid5

from django.db import connection

from crm.models import Activity, Change, Consent, Lead, Prospect, Task, as_payload_value
from crm.payloads import payload_for
from dealers.actors import Actor, record_audit

# Stable object id of a dealership's stream-wide events.
DEALER_NAMESPACE = UUID("6f1c8e52-3b7a-4c1e-9a57-0d2f4b8e1c33")

# Called after commit with the dealer id of every recorded change (see sync.apps).
change_recorded: list[Callable[[int], None]] = []


def record(
    *,
    dealer_id: int,
    type: str,
    obj: Prospect | Lead | Activity | Task | Consent,
    actor: Actor,
    extra: dict[str, Any] | None = None,
    audit: dict[str, Any] | None = None,
) -> Change:
    """The change-log row of ``obj`` at its current version, and the audit row naming ``actor``.

    ``audit`` adds details only the audit trail keeps (e.g. what a merge moved).
    """
    details = {key: as_payload_value(value) for key, value in (extra or {}).items()}
    data = {**payload_for(obj), **details}
    change = Change.objects.create(
        dealer_id=dealer_id,
        type=type,
        object_type=obj._meta.model_name or "",
        object_id=obj.pk,
        version=getattr(obj, "version", 1),
        data=data,
    )
    record_audit(
        actor=actor,
        action=type,
        dealer_id=dealer_id,
        obj=obj,
        data={"version": change.version, **details, **(audit or {})},
    )
    _after_commit(dealer_id)
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
    _after_commit(dealer_id)
    return change


def announce(dealer_id: int) -> None:
    """Wake the relays after commit for change rows a bulk write inserted itself (``crm.services.bulk``)."""
    _after_commit(dealer_id)


@dataclass(frozen=True)
class _AfterCommit:
    """One hook for one dealership; equal values are one pending call."""

    hook: Callable[[int], None]
    dealer_id: int

    def __call__(self) -> None:
        self.hook(self.dealer_id)


def _after_commit(dealer_id: int) -> None:
    """Register each hook for ``dealer_id`` on commit, unless the transaction already has it pending.

    A pending entry that a savepoint rollback would discard belongs to a savepoint enclosing this
    change too (savepoints nest), so skipping it never loses a wake-up of a change that commits.
    """
    for hook in change_recorded:
        call = _AfterCommit(hook, dealer_id)
        if not any(entry[1] == call for entry in connection.run_on_commit):  # (savepoints, func, robust)
            connection.on_commit(call)
