"""Demo data of the lead exchange: webhook destinations for the first demo dealerships, routing records.

Dealers 10001-10003 deliver to the simulated dealer system that ``make run`` starts
(``python -m sync.simulator``, its address in ``SYNC_SIMULATOR_URL``), signed with
``sync.simulator.DEMO_SECRET``. Idempotent: a dealership that already has the demo destination keeps
it. The simulator's port may differ from run to run (8700 may be taken), so :func:`follow_servers`,
which ``make run`` calls on every start (``manage.py demo_servers --follow``), points the demo
destinations at this run's simulator, never at a port another program may hold now.

crm's demo leads from the manufacturer's channels get the routing record an intake gives them
(``LeadRouting``, with the first-contact escalation clock): without it the SLA sweep never sees them,
and the demo's leads days past their deadline would show no escalation. The sweep then runs here
(without e-mails: the backlog would mail every demo manager at once), so escalations at both levels
are on the dashboards, timelines, the admin and ``/metrics`` from the start.

Three intake leads nothing routes wait in the lead desk's queue (admin: *Unrouted leads*): one with
only a mobile number, one from "Frankfurt" (am Main or an der Oder?), one with a landline from a local
network the town table does not hold (Trostberg, 08621).
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Mapping
from typing import Any

from django.db.models import Exists, OuterRef

from crm.models import Lead
from crm.routing_decisions import reason
from dealers.actors import Actor
from dealers.demo import DemoResult
from dealers.models import Dealer
from sync.inbound.intake import receive_intake
from sync.inbound.sla import escalate_due_leads
from sync.models import Destination, LeadRouting, UnroutedLead
from sync.outbound import services
from sync.simulator import DEMO_SECRET

DEMO_DEALERS = ("10001", "10002", "10003")
DEMO_DESTINATION = "Demo DMS (simulator)"


def simulator_base() -> str:
    return os.environ.get("SYNC_SIMULATOR_URL", "http://127.0.0.1:8700").rstrip("/")


def seed(*, rng: random.Random, options: Mapping[str, Any]) -> DemoResult:
    actor = Actor.system("seed_demo")
    created = 0
    for dealer in Dealer.objects.filter(number__in=DEMO_DEALERS).order_by("number"):
        if Destination.objects.for_dealer(dealer.pk).filter(name=DEMO_DESTINATION).exists():
            continue
        services.create_destination(
            dealer=dealer,
            actor=actor,
            transport=Destination.Transport.WEBHOOK,
            url=f"{simulator_base()}/webhooks/{dealer.number}",
            name=DEMO_DESTINATION,
            secret=DEMO_SECRET,
        )
        created += 1
    total = Destination.objects.filter(name=DEMO_DESTINATION).count()
    routed = _route_demo_leads()
    escalated = 0
    while fired := escalate_due_leads(notify=False):  # level 1 due now, then level 2 where its time passed too
        escalated += fired
    parked = park_demo_unrouted_leads()
    return DemoResult(
        summary=(
            f"{total} webhook destinations to the simulator ({created} new), "
            f"{routed} routing records, {escalated} escalations, {parked} leads for the lead desk"
        ),
        logins=(),
    )


def follow_servers() -> str:
    """Point every demo destination at the simulator of this run (``SYNC_SIMULATOR_URL``); a summary line."""
    actor = Actor.system("demo_servers")
    base = simulator_base()
    moved = 0
    demo = Destination.objects.filter(name=DEMO_DESTINATION, dealer__number__in=DEMO_DEALERS)
    for destination in demo.select_related("dealer").order_by("dealer__number"):
        url = f"{base}/webhooks/{destination.dealer.number}"
        if destination.url != url:
            services.update_destination(destination=destination, actor=actor, url=url)
            moved += 1
    return f"demo destinations deliver to {base} ({moved} moved)"


INTAKE_SOURCES = ("website", "configurator", "test_drive_form", "call_centre", "event", "portal")

# Intake leads no routing step places: (source, customer) as a channel sends them.
DEMO_UNROUTED = (
    ("portal", {"first_name": "Jonas", "last_name": "Beispiel", "mobile": "0171 5550123"}),
    (
        "call_centre",
        {"first_name": "Petra", "last_name": "Muster", "city": "Frankfurt", "email": "p.muster@example.com"},
    ),
    ("website", {"last_name": "Huber", "phone": "08621 555012"}),
)


def park_demo_unrouted_leads() -> int:
    """Send ``DEMO_UNROUTED`` through the intake once (none parked yet); returns how many were parked."""
    if UnroutedLead.objects.exists():
        return 0
    actor = Actor.system("seed_demo")
    parked = 0
    for source, customer in DEMO_UNROUTED:
        body = json.dumps({"source": source, "customer": customer, "vehicle": {"model": "Clio"}}).encode()
        parked += receive_intake(body=body, content_type="application/json", actor=actor).status == 202
    return parked


def _route_demo_leads() -> int:
    """A routing record for every demo lead from a manufacturer channel that has none; escalation clocks set."""
    leads = (
        Lead.objects.filter(source__in=INTAKE_SOURCES)
        .exclude(Exists(LeadRouting.objects.filter(lead=OuterRef("pk"))))
        .select_related("dealer", "owner")
        .order_by("created_at", "id")
    )
    rows = []
    for lead in leads.iterator(chunk_size=2000):
        waiting = lead.stage in Lead.OPEN_STAGES and lead.first_contacted_at is None
        rows.append(
            LeadRouting(
                lead=lead,
                dealer_id=lead.dealer_id,
                method=LeadRouting.Method.CHOSEN,
                decisions=_demo_decisions(lead),
                first_contact_due_at=lead.first_contact_due_at,
                next_escalation_at=lead.first_contact_due_at if waiting else None,
                created_at=lead.created_at,
            )
        )
    LeadRouting.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def _demo_decisions(lead: Lead) -> dict[str, Any]:
    """A decision record as the router writes it (see sync.inbound.routing.route_intake)."""
    dealer = lead.dealer
    owner = lead.owner
    salesperson = (
        {"user_id": owner.pk, "name": owner.get_full_name() or owner.email, "reason": reason("round_robin")}
        if owner is not None
        else {"user_id": None, "reason": reason("nobody_available")}
    )
    due = lead.first_contact_due_at or lead.created_at
    return {
        "dealer": {
            "number": dealer.number,
            "name": dealer.name,
            "method": LeadRouting.Method.CHOSEN.value,
            "reason": reason("customer_chose", dealer=dealer.number),
            "skipped": [],
        },
        "prospect": {"matched": False, "created": str(lead.prospect_id)},
        "salesperson": {**salesperson, "skipped": []},
        "first_contact": {"due_at": due.isoformat(), "working_minutes": dealer.first_contact_minutes},
        "channel": {"source": lead.source, "external_reference": "", "document": ""},
    }
