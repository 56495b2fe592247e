"""sync's part of a person's data export (crm.services.subject_access): routing decisions and deliveries.

Deliveries are derived, not logged per event: the change log (``crm_change``) holds each event about
the person's records, and each destination of the dealership keeps its stream position and its dead
letters. An event the destination subscribes to is ``delivered`` when its position is behind the
destination's cursor, ``dead_letter``/``discarded``/... when it was given up on, ``pending`` otherwise;
a pull-only destination's events are ``in change feed``. Payloads and secrets are left out: the
event's data is the prospect or lead record the other sections already hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from crm.models import Change
from crm.routing_decisions import routing_summary
from crm.services.subject_access import Section, Subject, register_section
from sync.models import DeadLetter, Destination, LeadRouting

ROUTING_COLUMNS = [
    "lead_id",
    "dealer_id",
    "routed_at",
    "method",
    "summary",
    "decisions",
    "first_contact_due_at",
    "escalation_level",
    "last_escalated_at",
]
DELIVERY_COLUMNS = [
    "event_id",
    "type",
    "object_type",
    "object_id",
    "occurred_at",
    "dealer_id",
    "destination_id",
    "destination",
    "transport",
    "status",
]


def _summary(decisions: dict[str, Any]) -> list[str]:
    try:
        return routing_summary(decisions)
    except (KeyError, TypeError, ValueError):  # an older record's shape: the raw codes are exported anyway
        return []


def routing_rows(subject: Subject) -> Iterable[dict[str, Any]]:
    routings = LeadRouting.objects.filter(dealer_id__in=subject.dealer_ids, lead_id__in=subject.lead_ids)
    for routing in routings.order_by("created_at"):
        yield {
            "lead_id": routing.lead_id,
            "dealer_id": routing.dealer_id,
            "routed_at": routing.created_at,
            "method": routing.method,
            "summary": _summary(routing.decisions),
            "decisions": routing.decisions,
            "first_contact_due_at": routing.first_contact_due_at,
            "escalation_level": routing.escalation_level,
            "last_escalated_at": routing.last_escalated_at,
        }


def _status(change: Change, destination: Destination, letters: dict[tuple[int, int], str]) -> str:
    if (destination.pk, change.pk) in letters:
        return f"dead_letter:{letters[(destination.pk, change.pk)]}"
    if not destination.delivers:
        return "in change feed"
    behind_cursor = (change.txid, change.pk) <= (destination.cursor_txid, destination.cursor_change_id)
    return "delivered" if behind_cursor else "pending"


def delivery_rows(subject: Subject) -> Iterable[dict[str, Any]]:
    changes = list(
        Change.objects.filter(dealer_id__in=subject.dealer_ids, object_id__in=subject.object_ids).order_by("txid", "id")
    )
    if not changes:
        return
    destinations = list(Destination.objects.filter(dealer_id__in=subject.dealer_ids).order_by("pk"))
    letters = {
        (letter.destination_id, letter.change_id): letter.status
        for letter in DeadLetter.objects.filter(dealer_id__in=subject.dealer_ids, change_id__in=[c.pk for c in changes])
    }
    for change in changes:
        for destination in destinations:
            if destination.dealer_id != change.dealer_id or change.type not in destination.wanted_types:
                continue
            yield {
                "event_id": change.event_id,
                "type": change.type,
                "object_type": change.object_type,
                "object_id": change.object_id,
                "occurred_at": change.occurred_at,
                "dealer_id": change.dealer_id,
                "destination_id": destination.pk,
                "destination": destination.name,
                "transport": destination.transport,
                "status": _status(change, destination, letters),
            }


register_section(
    Section(
        "routing_decisions",
        "How each manufacturer lead was routed to a dealership and salesperson (codes and their reading).",
        ROUTING_COLUMNS,
        routing_rows,
    )
)
register_section(
    Section(
        "deliveries",
        "Events about the person sent to the dealership's systems: which event, when, where, with what status.",
        DELIVERY_COLUMNS,
        delivery_rows,
    )
)
