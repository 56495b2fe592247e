"""Demo quotes: the first demo dealerships' leads at the offer stage get a quote, some a second version.

Made through the services (numbered, audited, the PDF renders from them). Idempotent: a dealership that
already has quotes gets none.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from crm import catalogue
from crm.models import Lead
from crm.quotes.models import Quote
from crm.quotes.services import create_quote, revise_quote
from dealers.actors import Actor
from dealers.demo import DemoResult
from dealers.models import Dealer

DEMO_DEALERS = ("10001", "10002", "10003")
PER_DEALER = 4
OPTIONS = (("Winterkompletträder", 1490), ("Anhängerkupplung", 890), ("Metallic-Lackierung", 790),
           ("Fahrassistenz-Paket", 1250), ("Wartungsvertrag 3 Jahre", 690))  # fmt: skip


def seed(*, rng: random.Random, options: Mapping[str, Any]) -> DemoResult:
    actor = Actor.system("seed_demo")
    versions = list(catalogue.active_models())
    made = revised = 0
    if not versions:
        return DemoResult(summary="no quotes (the model catalogue is empty)")
    for dealer in Dealer.objects.filter(number__in=DEMO_DEALERS).order_by("number"):
        if Quote.objects.for_dealer(dealer.pk).exists():
            continue
        leads = Lead.objects.for_dealer(dealer.pk).filter(stage=Lead.Stage.OFFER, owner__isnull=False)
        for lead in leads.select_related("prospect").order_by("created_at", "id")[:PER_DEALER]:
            if lead.prospect.erased_at or lead.prospect.merged_into_id:
                continue
            vehicle = catalogue.matching(model_name=lead.model_name, trim=lead.trim, powertrain=lead.powertrain)
            data: dict[str, Any] = {
                "vehicle": vehicle or rng.choice(versions),
                "options": [{"description": name, "price": Decimal(price)} for name, price in rng.sample(OPTIONS, 2)],
                "discount": Decimal(rng.choice((0, 500, 1000, 1500))),
            }
            if lead.financing_interest or rng.random() < 0.5:
                data.update(financing_kind="financing", term_months=rng.choice((36, 48, 60)),
                            down_payment=Decimal(rng.choice((3000, 5000))), nominal_rate=Decimal("3.99"))  # fmt: skip
            quote = create_quote(lead=lead, actor=actor, data=data)
            made += 1
            if rng.random() < 0.4:
                revise_quote(quote=quote, actor=actor, data={**data, "discount": data["discount"] + 500})
                revised += 1
    return DemoResult(summary=f"{made} quotes ({revised} with a second version)")
