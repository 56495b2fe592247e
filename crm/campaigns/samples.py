"""The manufacturer's demo campaigns (``seed_demo`` via crm.demo): the codes the demo leads carry."""

from __future__ import annotations

from datetime import date, timedelta

from crm.campaigns.models import Campaign
from crm.campaigns.services import create_campaign
from dealers.actors import Actor

# code, name, channel, offer
DEMO_CAMPAIGNS: tuple[tuple[str, str, str, str], ...] = (
    ("FRUEHJAHR", "Frühjahrsaktion", Campaign.Channel.EMAIL, "Frühjahrs-Check und 1.000 € Wechselprämie."),
    ("ETECH-WOCHEN", "E-Tech Wochen", Campaign.Channel.EMAIL, "Probefahrt-Wochen für die E-Tech-Modelle."),
    ("OFFENE-TUER", "Tag der offenen Tür", Campaign.Channel.LETTER, "Einladung ins Autohaus mit Probefahrten."),
    ("GEWERBE", "Gewerbewochen", Campaign.Channel.PHONE, "Sonderkonditionen für Gewerbekunden."),
    ("HERBST-BONUS", "Herbst-Bonus", Campaign.Channel.EMAIL, "Herbst-Bonus auf Lagerfahrzeuge."),
)
DEMO_CODES = tuple(code for code, _name, _channel, _offer in DEMO_CAMPAIGNS)


def ensure_demo_campaigns(*, today: date, actor: Actor) -> int:
    """The demo campaigns that are missing, network-wide, running a year back and two months ahead; how many."""
    existing = set(Campaign.objects.network().values_list("code", flat=True))
    made = 0
    for code, name, channel, offer in DEMO_CAMPAIGNS:
        if code in existing:
            continue
        data = {
            "name": name,
            "code": code,
            "channel": channel,
            "offer": offer,
            "starts_on": today - timedelta(days=365),
            "ends_on": today + timedelta(days=60),
        }
        create_campaign(dealer_id=None, data=data, actor=actor)
        made += 1
    return made
