"""Demo data of the lead exchange: webhook destinations for the first demo dealerships.

Dealers 10001-10003 deliver to the simulated dealer system that ``make run`` starts
(``python -m sync.simulator --port 8700``), signed with ``sync.simulator.DEMO_SECRET``.
Idempotent: a dealership that already has the demo destination keeps it as it is.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from typing import Any

from dealers.actors import Actor
from dealers.demo import DemoResult
from dealers.models import Dealer
from sync.models import Destination
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
    return DemoResult(summary=f"{total} webhook destinations to the simulator ({created} new)", logins=())
