"""The manufacturer's lead desk: the queue of valid intake leads no routing step could place (issue 11).

A lead needs a dealership (its tenant), so an intake the router cannot place is accepted and parked
as an :class:`sync.models.UnroutedLead` with its validated payload, the routing steps' suggestion and
its own deadline (``LEAD_DESK_SLA_MINUTES`` from receipt). The lead desk assigns it in the admin;
``assign_unrouted`` creates the lead through ``route_intake`` as automatic routing does (prospect
matching, salesperson, change log and so delivery to the dealer system) and records the decision.
``alert_overdue_unrouted`` tells the lead desk, once per lead, about leads still waiting at their deadline.

The queue is manufacturer-wide data: every function here works in the audited manufacturer scope
(``dealers.rls.manufacturer_wide``), and the table's row-level security admits no dealership.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.links import public_url
from crm.routing_decisions import reason
from crm.timefmt import iso_utc
from dealers.actors import Actor
from dealers.models import Dealer, User
from dealers.rls import manufacturer_wide
from dealers.roles import LEAD_DESK
from sync import knobs
from sync.inbound.routing import IntakeLead, RoutedLead, route_intake
from sync.inbound.schema import IntakeSerializer
from sync.models import IntakeDocument, LeadRouting, UnroutedLead

logger = logging.getLogger(__name__)

BATCH = 500


def lead_desk_deadline(received_at: datetime) -> datetime:
    """When the lead desk should have assigned a lead received at ``received_at`` (wall-clock minutes)."""
    return received_at + timedelta(minutes=knobs.number("LEAD_DESK_SLA_MINUTES", 60))


def _customer_name(customer: dict[str, Any]) -> str:
    name = " ".join(part for part in (customer.get("first_name"), customer.get("last_name")) if part)
    return name or str(customer.get("company") or "")


def park_unrouted(
    *, document: IntakeDocument, payload: dict[str, Any], intake: IntakeLead, record: dict[str, Any], now: datetime
) -> UnroutedLead:
    """Queue an accepted intake no routing step could place; ``record`` is what the steps saw (``Unroutable``)."""
    with manufacturer_wide(reason="intake:unrouted", document_id=str(document.pk)):
        unrouted = UnroutedLead.objects.create(
            document=document,
            received_at=now,
            source=intake.source,
            customer_name=_customer_name(intake.customer)[:300],
            city=str(intake.customer.get("city") or "")[:100],
            payload=payload,
            routing=record,
            due_at=lead_desk_deadline(now),
        )
    suggestion = record.get("suggestion") or {}
    logger.info(
        "intake_lead_unrouted",
        extra={
            "unrouted_id": str(unrouted.pk),
            "document_id": str(document.pk),
            "suggested_dealer": suggestion.get("dealer", ""),
        },
    )
    return unrouted


def assign_unrouted(*, unrouted_id: Any, dealer_number: str, user: User, now: datetime | None = None) -> RoutedLead:
    """Create the waiting lead at dealership ``dealer_number`` for lead desk member ``user``; record the decision.

    An empty ``dealer_number`` follows the routing steps' suggestion. Raises ``ValidationError`` when the
    lead was assigned meanwhile, or the dealership is unknown or takes no leads.
    """
    now = now or timezone.now()
    with manufacturer_wide(reason="admin:lead-desk-assign", unrouted_id=str(unrouted_id)), transaction.atomic():
        unrouted = UnroutedLead.objects.select_for_update().select_related("document").get(pk=unrouted_id)
        if unrouted.assigned_at is not None:
            raise ValidationError(_("This lead has already been assigned."))
        number = dealer_number.strip() or (unrouted.suggestion or {}).get("dealer", "")
        if not number:
            raise ValidationError(_("Give a dealer number: there is no suggestion to follow."))
        dealer = Dealer.objects.filter(number=number).first()
        if dealer is None:
            raise ValidationError(_("There is no dealership %(number)s.") % {"number": number})
        if not dealer.is_active:
            raise ValidationError(
                _("Dealership %(number)s is inactive and takes no leads.") % {"number": dealer.number}
            )
        serializer = IntakeSerializer(data=unrouted.payload)
        if not serializer.is_valid():  # only if the intake schema changed since the lead arrived
            raise ValidationError(
                _("The waiting lead no longer passes the intake checks: %(errors)s.") % {"errors": serializer.errors}
            )
        suggestion = unrouted.suggestion
        by = {"user_id": user.pk, "name": user.get_full_name() or user.email}
        decision = {
            "method": LeadRouting.Method.LEAD_DESK.value,
            "reason": reason("lead_desk_assigned", user=by["name"]),
            "assigned_by": by,
            "assigned_at": iso_utc(now),
            "waited_minutes": int((now - unrouted.received_at).total_seconds() // 60),
            "suggestion": suggestion,
            "followed_suggestion": bool(suggestion) and suggestion.get("dealer") == dealer.number,
            "hints": unrouted.routing.get("hints", []),
            "skipped": unrouted.routing.get("skipped", []),
        }
        routed = route_intake(
            intake=serializer.to_intake(),
            actor=Actor.for_user(user),
            now=now,
            document_id=str(unrouted.document_id),
            assigned=(dealer, LeadRouting.Method.LEAD_DESK, decision),
        )
        unrouted.assigned_at, unrouted.assigned_by, unrouted.dealer, unrouted.lead = now, user, dealer, routed.lead
        unrouted.save(update_fields=["assigned_at", "assigned_by", "dealer", "lead"])
        document = unrouted.document
        document.status, document.dealer, document.lead = IntakeDocument.Status.ACCEPTED, dealer, routed.lead
        document.contact_keys = routed.contact_keys
        document.save(update_fields=["status", "dealer", "lead", "contact_keys"])
    logger.info(
        "unrouted_lead_assigned",
        extra={
            "unrouted_id": str(unrouted.pk),
            "lead_id": str(routed.lead.pk),
            "dealer_id": dealer.pk,
            "user_id": user.pk,
            "followed_suggestion": decision["followed_suggestion"],
        },
    )
    return routed


def queue_figures(*, now: datetime | None = None) -> dict[str, int]:
    """For ``/metrics`` (manufacturer scope): leads waiting, waiting past their deadline, alerts sent so far."""
    now = now or timezone.now()
    waiting = Q(assigned_at__isnull=True)
    figures: dict[str, int] = UnroutedLead.objects.aggregate(
        waiting=Count("pk", filter=waiting),
        overdue=Count("pk", filter=waiting & Q(due_at__lt=now)),
        alerted=Count("pk", filter=Q(desk_alerted_at__isnull=False)),
    )
    return figures


def _lead_desk_members() -> list[User]:
    return list(User.objects.filter(groups__name=LEAD_DESK, is_active=True, is_staff=True).order_by("pk"))


def _send_lead_desk_mail(*, unrouted_id: str, user_ids: list[int]) -> None:
    """After commit: tell each lead desk member, in their own language; no customer data in the mail."""
    unrouted = UnroutedLead.objects.filter(pk=unrouted_id).first()
    if unrouted is None:
        return
    link = public_url(reverse("admin:sync_unroutedlead_change", args=[unrouted.pk]))
    suggestion = unrouted.suggestion or {}
    for user in User.objects.filter(pk__in=user_ids, is_active=True):
        with translation.override(user.language):
            lines = [
                _("An intake lead could not be routed to a dealership and is waiting for the lead desk."),
                _("Received: %(at)s") % {"at": timezone.localtime(unrouted.received_at).strftime("%Y-%m-%d %H:%M")},
                _("Deadline: %(due)s") % {"due": timezone.localtime(unrouted.due_at).strftime("%Y-%m-%d %H:%M")},
                _("Suggested dealership: %(dealer)s") % {"dealer": f"{suggestion['dealer']} {suggestion['name']}"}
                if suggestion
                else _("No suggestion: the lead carries no address, city or landline number to go by."),
                link,
            ]
            send_mail(
                _("Unrouted lead waiting past its deadline"),
                "\n".join(lines),
                settings.DEFAULT_FROM_EMAIL,
                [user.email],
                fail_silently=False,
            )
    logger.info("lead_desk_alert_mailed", extra={"unrouted_id": unrouted_id, "recipients": len(user_ids)})


def alert_overdue_unrouted(*, now: datetime | None = None) -> int:
    """Tell the lead desk about every lead still waiting at its deadline, exactly once each. Returns how many."""
    now = now or timezone.now()
    alerted = 0
    with manufacturer_wide(reason="task:alert_unrouted_leads"):
        overdue = list(
            UnroutedLead.objects.waiting()
            .filter(due_at__lte=now, desk_alerted_at__isnull=True)
            .order_by("due_at")
            .values_list("pk", flat=True)[:BATCH]
        )
        members = [user.pk for user in _lead_desk_members()]
        for unrouted_id in overdue:
            with transaction.atomic():
                # The guarded update is the "once": a repeated or concurrent sweep finds the row already claimed.
                claimed = UnroutedLead.objects.filter(
                    pk=unrouted_id, desk_alerted_at__isnull=True, assigned_at__isnull=True
                ).update(desk_alerted_at=now)
                if not claimed:
                    continue
                if members:
                    transaction.on_commit(partial(_send_lead_desk_mail, unrouted_id=str(unrouted_id), user_ids=members))
            alerted += 1
            logger.warning("lead_desk_alerted", extra={"unrouted_id": str(unrouted_id), "recipients": len(members)})
    return alerted
