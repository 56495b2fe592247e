"""First-contact SLA: escalate a lead nobody contacted in time, each level exactly once.

Level 1 (the first breach, at the lead's first-contact deadline) goes to the dealership's sales
managers; level 2 (the second breach, one more first-contact period of working time later) to
the manufacturer's regional manager. The level is raised in the same transaction that records
the escalation on the lead (``crm.services.leads.record_escalation``), under a row lock, so a
repeated or concurrent check never fires a level twice; the e-mail goes out after commit.

The escalation clock lives on the lead's ``LeadRouting`` record. An intake lead gets it when it is
routed; a lead the dealership entered itself (showroom, phone, API, dealer system) gets one from the
sweep once its deadline has passed (method "dealership"), and from then on escalates the same way.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.links import public_url
from crm.models import Lead
from crm.services import leads as lead_services
from dealers.actors import Actor
from dealers.models import Dealer, Membership, User
from dealers.working_hours import first_contact_due
from sync.models import LeadRouting

logger = logging.getLogger(__name__)

MAX_LEVEL = 2
BATCH = 500


def _next_breach(dealer: Dealer, after: datetime) -> datetime:
    """One more first-contact period after ``after``, counted as the first deadline was."""
    due, _counted = first_contact_due(dealer=dealer, start=after)
    return due


def _recipients(dealer: Dealer, level: int) -> list[User]:
    if level == 1:
        staff = Membership.objects.for_dealer(dealer.pk).active().select_related("user").order_by("pk")
        managers = [m.user for m in staff if m.role == Membership.Role.SALES_MANAGER]
        # A dealership without a sales manager: its administrators stand in.
        return managers or [m.user for m in staff if m.role == Membership.Role.DEALER_ADMIN]
    manager = dealer.region.manager
    return [manager] if manager is not None and manager.is_active else []


def _lead_link(lead: Lead) -> str:
    try:
        path = reverse("lead_detail", kwargs={"pk": lead.pk})
    except NoReverseMatch:
        return ""
    return public_url(path)


def _send_escalation_mail(*, lead_id: str, level: int, user_ids: list[int]) -> None:
    """After commit: tell each recipient, in their own language; no customer data in the mail."""
    lead = Lead.objects.select_related("dealer").filter(pk=lead_id).first()
    if lead is None:
        return
    for user in User.objects.filter(pk__in=user_ids, is_active=True):
        with translation.override(user.language):
            subject = _("Lead not contacted in time (escalation level %(level)s)") % {"level": level}
            lines = [
                _("A lead of dealership %(dealer)s has not been contacted by its first-contact deadline.")
                % {"dealer": f"{lead.dealer.number} {lead.dealer.name}"},
                _("Deadline: %(due)s")
                % {"due": timezone.localtime(lead.first_contact_due_at).strftime("%Y-%m-%d %H:%M")}
                if lead.first_contact_due_at
                else "",
                _("Lead: %(id)s") % {"id": lead.pk},
                _lead_link(lead),
            ]
            send_mail(
                subject,
                "\n".join(line for line in lines if line),
                settings.DEFAULT_FROM_EMAIL,
                [user.email],
                fail_silently=False,
            )
    logger.info(
        "sla_escalation_mailed", extra={"lead_id": lead_id, "escalation_level": level, "recipients": len(user_ids)}
    )


@transaction.atomic
def escalate_lead(*, lead_id: Any, now: datetime | None = None, notify: bool = True) -> int | None:
    """Raise the lead's escalation by one level if it is due; returns the new level, or None if nothing fired.

    ``notify=False`` records the step without e-mail (the demo data's backlog of old leads).
    """
    now = now or timezone.now()
    routing = (
        LeadRouting.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("dealer__region")
        .filter(pk=lead_id, next_escalation_at__lte=now)
        .first()
    )
    if routing is None:  # not due, already handled, or another worker holds it right now
        return None
    lead = Lead.objects.get(pk=routing.lead_id)
    if lead.first_contacted_at is not None or lead.is_closed or routing.escalation_level >= MAX_LEVEL:
        routing.next_escalation_at = None
        routing.save(update_fields=["next_escalation_at"])
        return None

    level = routing.escalation_level + 1
    dealer = routing.dealer
    recipients = _recipients(dealer, level)
    lead_services.record_escalation(
        lead=lead,
        level=level,
        notified_user_id=recipients[0].pk if recipients else None,
        actor=Actor.system("first-contact-sla"),
    )
    breach_at = routing.next_escalation_at or now  # never None here: the query above filtered on it
    routing.escalation_level = level
    routing.last_escalated_at = now
    routing.next_escalation_at = _next_breach(dealer, breach_at) if level < MAX_LEVEL else None
    routing.save(update_fields=["escalation_level", "last_escalated_at", "next_escalation_at"])
    if recipients and notify:
        transaction.on_commit(
            partial(_send_escalation_mail, lead_id=str(lead.pk), level=level, user_ids=[u.pk for u in recipients])
        )
    logger.info(
        "lead_escalated",
        extra={
            "lead_id": str(lead.pk),
            "dealer_id": dealer.pk,
            "escalation_level": level,
            "recipients": len(recipients),
        },
    )
    return level


def start_escalation_clocks(*, now: datetime, limit: int = BATCH) -> int:
    """Give overdue leads the dealership entered itself an escalation record, due at their deadline.

    Such leads have no ``LeadRouting`` (only the intake creates one), so without this they would
    count as breaches but never escalate. The record's primary key is the lead: a concurrent sweep
    inserting the same lead's record conflicts and inserts nothing, so each lead is enrolled once.
    Oldest deadlines first, ``limit`` per run (the partial index ``lead_first_contact_waiting``).
    """
    waiting = (
        Lead.objects.filter(first_contact_due_at__lte=now, first_contacted_at__isnull=True, stage__in=Lead.OPEN_STAGES)
        .exclude(Exists(LeadRouting.objects.filter(lead=OuterRef("pk"))))
        .order_by("first_contact_due_at")
        .values_list("pk", "dealer_id", "first_contact_due_at", "created_at")[:limit]
    )
    records = [
        LeadRouting(
            lead_id=lead_id,
            dealer_id=dealer_id,
            method=LeadRouting.Method.DEALERSHIP,
            first_contact_due_at=due,
            next_escalation_at=due,
            created_at=created_at,
        )
        for lead_id, dealer_id, due, created_at in waiting
    ]
    LeadRouting.objects.bulk_create(records, ignore_conflicts=True)
    if records:
        logger.info("sla_clocks_started", extra={"leads": len(records)})
    return len(records)


def escalate_due_leads(*, now: datetime | None = None, notify: bool = True) -> int:
    """Every lead whose next escalation is due: one transaction each. Returns how many fired.

    Overdue leads the dealership entered itself get their escalation record first. One lead that
    fails (its e-mail cannot be sent, say) is logged and the sweep goes on: a single bad row must
    not keep every lead after it from escalating, run after run.
    """
    now = now or timezone.now()
    start_escalation_clocks(now=now)
    due = list(
        LeadRouting.objects.filter(next_escalation_at__lte=now)
        .order_by("next_escalation_at")
        .values_list("pk", flat=True)[:BATCH]
    )
    fired = 0
    for lead_id in due:
        try:
            fired += escalate_lead(lead_id=lead_id, now=now, notify=notify) is not None
        except Exception:
            logger.exception("sla_escalation_failed", extra={"lead_id": str(lead_id)})
    return fired


def escalation_figures() -> tuple[dict[int, int], dict[int, int]]:
    """For ``/metrics``: escalations fired per level so far, and the leads still open at each level.

    Fired: leads that reached the level (a level fires once per lead, so this only grows).
    Open: leads at that level still waiting for their first contact and not closed.
    """
    waiting = Q(lead__first_contacted_at__isnull=True, lead__stage__in=Lead.OPEN_STAGES)
    totals = LeadRouting.objects.aggregate(
        **{f"fired_{level}": Count("pk", filter=Q(escalation_level__gte=level)) for level in range(1, MAX_LEVEL + 1)},
        **{
            f"open_{level}": Count("pk", filter=waiting & Q(escalation_level=level))
            for level in range(1, MAX_LEVEL + 1)
        },
    )
    levels = range(1, MAX_LEVEL + 1)
    return {n: totals[f"fired_{n}"] for n in levels}, {n: totals[f"open_{n}"] for n in levels}
