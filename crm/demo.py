"""Demo data for prospects and leads: every screen shows something on first start.

``manage.py seed_demo`` calls :func:`seed` after the dealer network exists. Per dealership it draws
prospects near the dealership, their leads in every stage (older leads mostly closed, recent ones
open), the leads' history, activities, follow-up tasks and consents, and writes them with
``bulk_create``: no change-log rows (demo data is not news for dealer systems), ``version`` 1,
``search_text`` and ``email_normalized`` filled as the services fill them.

Idempotent: a dealership that already has prospects is left alone. Deterministic: the same random
generator (and the same "now") gives the same people, vehicles and stages.
"""

from __future__ import annotations

import logging
import random
import time as clock
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from crm.campaigns.samples import DEMO_CODES, ensure_demo_campaigns
from crm.models import Activity, Consent, Lead, LeadEvent, LostReason, Prospect, Task
from crm.normalize import normalize_phone
from crm.services.prospects import fill_search_fields
from dealers.actors import Actor
from dealers.demo import DEMO_DOMAIN, FIRST_DEALER_NUMBER, DemoResult
from dealers.demo_data import FEMALE_FIRST_NAMES, MALE_FIRST_NAMES, SURNAMES, towns
from dealers.models import Dealer, Membership
from dealers.working_hours import BERLIN, WorkingWeek, add_working_minutes, first_contact_due

logger = logging.getLogger(__name__)

DEFAULT_PROSPECTS_PER_DEALER = 52
FIRST_DEALER_PROSPECTS = 400
BATCH_SIZE = 2000
HISTORY_DAYS = 400

# (model, powertrains, [(trim, list price EUR)]) -- Renault-like line-up with plausible German list prices.
MODELS: tuple[tuple[str, tuple[str, ...], tuple[tuple[str, int], ...], int], ...] = (
    ("Clio", ("petrol", "hybrid"), (("evolution", 19900), ("techno", 22500), ("esprit Alpine", 25900)), 16),
    ("Captur", ("petrol", "hybrid"), (("evolution", 24400), ("techno", 27900), ("esprit Alpine", 31500)), 14),
    ("Mégane E-Tech", ("electric",), (("evolution", 39900), ("techno", 42900), ("iconic", 45900)), 7),
    ("Austral", ("hybrid", "petrol"), (("evolution", 34900), ("techno", 39500), ("iconic", 44900)), 10),
    ("Scenic E-Tech", ("electric",), (("evolution", 42900), ("techno", 47900), ("iconic", 51900)), 7),
    ("Rafale", ("hybrid", "phev"), (("techno", 49900), ("atelier Alpine", 56900)), 4),
    ("Symbioz", ("hybrid",), (("evolution", 31900), ("techno", 34900), ("iconic", 37900)), 6),
    ("Twingo", ("electric", "petrol"), (("equilibre", 16990), ("techno", 19900)), 6),
    ("Kangoo", ("diesel", "electric"), (("Rapid", 28900), ("evolution", 30900), ("techno", 34900)), 5),
    ("Trafic", ("diesel",), (("Kastenwagen L1H1", 36900), ("Combi", 39900), ("SpaceClass", 52900)), 4),
    ("Master", ("diesel", "electric"), (("Kastenwagen L2H2", 45900), ("Pritsche", 44900)), 3),
    ("Arkana", ("hybrid", "petrol"), (("evolution", 31400), ("techno", 34400), ("esprit Alpine", 38400)), 6),
    ("Espace", ("hybrid",), (("techno", 44900), ("iconic", 49900)), 3),
    ("R5 E-Tech", ("electric",), (("evolution", 32900), ("techno", 34900), ("iconic cinq", 36900)), 9),
    ("R4 E-Tech", ("electric",), (("evolution", 29900), ("techno", 33900), ("iconic", 35900)), 5),
)
TRADEINS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Volkswagen", ("Golf", "Polo", "Passat Variant", "Tiguan", "Touran", "up!")),
    ("Opel", ("Corsa", "Astra", "Zafira", "Insignia", "Mokka")),
    ("Ford", ("Fiesta", "Focus", "Kuga", "C-Max")),
    ("BMW", ("118i", "320d Touring", "X1")),
    ("Mercedes-Benz", ("A 180", "B 200", "C 220 d T-Modell")),
    ("Audi", ("A3 Sportback", "A4 Avant", "Q3")),
    ("Skoda", ("Fabia", "Octavia Combi", "Kodiaq")),
    ("Toyota", ("Yaris", "Auris", "RAV4")),
    ("Renault", ("Clio", "Mégane Grandtour", "Scénic", "Captur", "Zoe", "Kadjar")),
    ("Dacia", ("Sandero", "Duster", "Logan MCV")),
    ("Peugeot", ("208", "308 SW", "3008")),
    ("Fiat", ("500", "Panda", "Tipo")),
    ("Hyundai", ("i20", "i30", "Tucson")),
    ("Kia", ("Ceed", "Sportage", "Picanto")),
    ("Seat", ("Ibiza", "Leon ST")),
)
SOURCES: tuple[tuple[str, int, float], ...] = (  # (source, weight, chance to win once closed)
    ("website", 25, 0.22),
    ("configurator", 14, 0.28),
    ("test_drive_form", 12, 0.38),
    ("call_centre", 5, 0.18),
    ("event", 4, 0.25),
    ("portal", 12, 0.12),
    ("showroom", 17, 0.45),
    ("phone", 8, 0.30),
    ("dms", 3, 0.30),
)
LEAD_TYPES = (("new_car", 66), ("used_car", 14), ("test_drive", 10), ("finance", 6), ("brochure", 4))
CAMPAIGNS = ("", "", "", "", *DEMO_CODES)  # the codes of the manufacturer's demo campaigns (crm.campaigns)
LEAD_MESSAGES = (
    "",
    "",
    "Bitte um Rückruf wegen Probefahrt.",
    "Gibt es aktuell Angebote zum Leasing?",
    "Wann wäre das Fahrzeug lieferbar?",
    "Ich interessiere mich für die Vollausstattung und eine Anhängerkupplung.",
    "Bitte ein Angebot inkl. Inzahlungnahme meines Fahrzeugs.",
)
# Sources and origins that reach the dealership at any hour; the rest (a visit, a call) happen while it is open.
AROUND_THE_CLOCK_SOURCES = frozenset({"website", "configurator", "test_drive_form", "portal"})
AROUND_THE_CLOCK_ORIGINS = frozenset({"website", "intake"})
DEALERSHIP_SOURCES = frozenset({"showroom", "phone", "dms"})  # entered at the dealership, not sent by the manufacturer
MIN_OPEN_MINUTES = 5  # of opening time a lead needs behind it before its stages can have moved
# (days ago, source) of leads never called: three the manufacturer sent, one walk-in nobody called back.
FORGOTTEN_LEADS = ((10, "website"), (11, "call_centre"), (12, "configurator"), (9, "showroom"))
STAGE_PATH = ("contacted", "appointment", "test_drive", "offer")  # the open stages, in order
STREETS = (
    "Hauptstraße",
    "Schulstraße",
    "Gartenstraße",
    "Dorfstraße",
    "Bahnhofstraße",
    "Bergstraße",
    "Birkenweg",
    "Lindenstraße",
    "Kirchstraße",
    "Waldstraße",
    "Ringstraße",
    "Mühlenweg",
    "Wiesenweg",
    "Amselweg",
    "Rosenstraße",
    "Goethestraße",
    "Schillerstraße",
    "Am Sportplatz",
    "Friedhofstraße",
    "Talstraße",
    "Ahornweg",
    "Eichendorffstraße",
    "Feldstraße",
    "Lerchenweg",
    "Mozartstraße",
    "Tulpenweg",
)
COMPANY_SUFFIXES = ("GmbH", "GmbH & Co. KG", "KG", "e.K.", "AG")
COMPANY_TRADES = (
    "Bäckerei",
    "Elektro",
    "Sanitär",
    "Malerbetrieb",
    "Pflegedienst",
    "Gartenbau",
    "Dachdeckerei",
    "Physiotherapie",
    "Kurierdienst",
    "Hausverwaltung",
    "Steuerberatung",
    "Metallbau",
)
MAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "web.example", "posteo.example")
OPEN_FOLLOW_UPS = {
    "contacted": ("Termin vereinbaren", "Rückruf: Finanzierungswunsch klären", "Prospekt nachfassen"),
    "appointment": ("Beratungstermin vorbereiten", "Probefahrzeug reservieren"),
    "test_drive": ("Nach Probefahrt nachfassen", "Inzahlungnahme bewerten"),
    "offer": ("Angebot nachfassen", "Finanzierungsangebot senden", "Leasingrate neu rechnen"),
}


def add_arguments(parser: Any) -> None:
    parser.add_argument(
        "--prospects-per-dealer",
        type=int,
        default=DEFAULT_PROSPECTS_PER_DEALER,
        help=f"average demo prospects per dealership (dealer {FIRST_DEALER_NUMBER} gets more)",
    )


@dataclass
class _Batch:
    prospects: list[Prospect] = field(default_factory=list)
    leads: list[Lead] = field(default_factory=list)
    events: list[LeadEvent] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    consents: list[Consent] = field(default_factory=list)

    def size(self) -> int:
        return len(self.prospects) + len(self.leads) + len(self.events) + len(self.activities) + len(self.tasks)


@dataclass(frozen=True)
class _Staff:
    user_id: int
    label: str


@dataclass
class _OpeningClock:
    """A dealership's opening hours, so that its staff's calls, visits and to-dos fall while it is open.

    Without opening hours every moment is as good as another (``week`` None), as for the product's clock.
    The minutes it adds come from a random stream of its own: whether a moment needs moving depends on the
    hour the demo is seeded, and the seed's people must not. A day's opening spans are worked out once.
    """

    week: WorkingWeek | None
    rng: random.Random
    _days: dict[date, list[tuple[datetime, datetime]]] = field(default_factory=dict)

    @classmethod
    def of(cls, dealer: Dealer, seed: str) -> _OpeningClock:
        hours = list(dealer.opening_hours.all())
        return cls(WorkingWeek(hours) if hours else None, random.Random(f"{seed}:opening:{dealer.number}"))

    def _spans(self, first: date, last: date) -> list[tuple[datetime, datetime]]:
        """The opening spans (UTC) of the days ``first`` to ``last``, in order."""
        spans: list[tuple[datetime, datetime]] = []
        day = first
        while day <= last and self.week is not None:
            if day not in self._days:
                self._days[day] = list(self.week.open_spans(day, day))
            spans += self._days[day]
            day += timedelta(days=1)
        return spans

    def after_working_minutes(self, start: datetime, minutes: int) -> datetime:
        """The moment ``minutes`` of opening time after ``start`` (all minutes count without opening hours)."""
        if self.week is None:
            return start + timedelta(minutes=minutes)
        return add_working_minutes(start, minutes, self.week).astimezone(start.tzinfo)

    def open_between(self, start: datetime, end: datetime, minutes: int = MIN_OPEN_MINUTES) -> bool:
        """Whether the dealership was open for ``minutes`` or more between ``start`` and ``end``."""
        if self.week is None:
            return end - start >= timedelta(minutes=minutes)
        if end <= start:
            return False
        wanted, day, last = timedelta(minutes=minutes), start.astimezone(BERLIN).date(), end.astimezone(BERLIN).date()
        while day <= last:  # a closed stretch lasts a few days at most: this ends early
            for begin, close in self._spans(day, day):
                wanted -= max(min(close, end) - max(begin, start), timedelta())
                if wanted <= timedelta():
                    return True
            day += timedelta(days=1)
        return False

    def while_open(self, moment: datetime, *, not_after: datetime | None = None) -> datetime:
        """``moment`` if the dealership is open then; else a little into its next opening, or, when that
        would pass ``not_after``, a little before its last closing (``moment`` itself when neither exists)."""
        if self.week is None:
            return moment
        day = moment.astimezone(BERLIN).date()
        if any(begin <= moment < end for begin, end in self._spans(day, day)):
            return moment
        spans = self._spans(day - timedelta(days=4), day + timedelta(days=4))
        offset = timedelta(minutes=self.rng.randint(2, 150))
        for begin, end in spans:
            if begin > moment and (not_after is None or begin <= not_after):
                latest = min(end, not_after) if not_after is not None else end
                return max(begin, min(begin + offset, latest - timedelta(minutes=1))).astimezone(moment.tzinfo)
        for begin, end in reversed(spans):
            if end <= moment:
                return max(end - offset, begin).astimezone(moment.tzinfo)
        return moment

    def on_the_quarter(self, moment: datetime, *, not_after: datetime | None = None) -> datetime:
        """A to-do's due time: while open, on a quarter hour (as people set them)."""
        due = self.while_open(moment, not_after=not_after)
        return due.replace(minute=due.minute // 15 * 15, second=0, microsecond=0)


def seed(*, rng: random.Random, options: Mapping[str, Any], now: datetime | None = None) -> DemoResult:
    """``seed_demo``'s entry point: prospects, leads, history, activities, tasks and consents per dealership.

    The history ends at ``now`` (the present unless given).
    """
    started = clock.monotonic()
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    per_dealer = max(1, int(options.get("prospects_per_dealer") or DEFAULT_PROSPECTS_PER_DEALER))
    reasons = list(LostReason.objects.filter(is_active=True).order_by("position", "code"))
    seeded = set(Prospect.objects.values_list("dealer_id", flat=True).distinct())
    dealers = [d for d in Dealer.objects.prefetch_related("opening_hours").order_by("number") if d.pk not in seeded]
    staff = _staff_by_dealer([d.pk for d in dealers])
    town_by_name = {t.name: t for t in towns()}
    totals = {"prospects": 0, "leads": 0, "activities": 0, "tasks": 0}
    ensure_demo_campaigns(today=timezone.localdate(now), actor=Actor.system("seed_demo"))
    batch = _Batch()
    for dealer in dealers:
        dealer_seed = str(rng.random())
        dealer_rng = random.Random(f"{dealer_seed}:{dealer.number}")
        count = (
            FIRST_DEALER_PROSPECTS
            if dealer.number == str(FIRST_DEALER_NUMBER)
            else _dealer_size(dealer_rng, per_dealer)
        )
        hours = _OpeningClock.of(dealer, dealer_seed)
        _plan_dealer(
            batch,
            rng=dealer_rng,
            dealer=dealer,
            hours=hours,
            count=count,
            staff=staff.get(dealer.pk, []),
            reasons=reasons,
            town=town_by_name.get(dealer.city),
            now=now,
        )
        if dealer.number == str(FIRST_DEALER_NUMBER):
            _first_dealer_extras(
                batch, rng=dealer_rng, dealer=dealer, hours=hours, staff=staff.get(dealer.pk, []), now=now
            )
        if batch.size() >= 20 * BATCH_SIZE:
            _write(batch, totals)
            batch = _Batch()
    _write(batch, totals)
    seconds = round(clock.monotonic() - started, 1)
    logger.info("demo_crm_seeded", extra={"dealers": len(dealers), **totals, "seconds": seconds})
    return DemoResult(
        summary=(
            f"{totals['prospects']} prospects, {totals['leads']} leads, {totals['activities']} activities, "
            f"{totals['tasks']} tasks at {len(dealers)} dealerships"
            + (f" ({len(seeded)} already had prospects)" if seeded else "")
        )
    )


def _dealer_size(rng: random.Random, per_dealer: int) -> int:
    return max(3, round(per_dealer * rng.choice((0.5, 0.7, 0.85, 1.0, 1.0, 1.15, 1.3, 1.6))))


def _staff_by_dealer(dealer_ids: Sequence[int]) -> dict[int, list[_Staff]]:
    result: dict[int, list[_Staff]] = {}
    rows = (
        Membership.objects.filter(dealer_id__in=dealer_ids, role=Membership.Role.SALESPERSON, is_active=True)
        .select_related("user")
        .order_by("dealer_id", "user__email")
    )
    for membership in rows:
        result.setdefault(membership.dealer_id, []).append(
            _Staff(user_id=membership.user_id, label=membership.user.email)
        )
    return result


def _weighted(rng: random.Random, options: Sequence[tuple[Any, ...]]) -> Any:
    return rng.choices(options, weights=[o[1] for o in options])[0]


def _person(rng: random.Random) -> tuple[str, str, str]:
    if rng.random() < 0.5:
        return "mr", rng.choice(MALE_FIRST_NAMES), rng.choice(SURNAMES)
    return "ms", rng.choice(FEMALE_FIRST_NAMES), rng.choice(SURNAMES)


def _ascii(text: str) -> str:
    table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", " ": "", "é": "e"})
    return text.lower().translate(table)


def _mobile(rng: random.Random) -> str:
    return normalize_phone(
        f"0{rng.choice(('151', '152', '160', '170', '171', '172', '176', '157'))}{rng.randint(1000000, 99999999)}"
    )


def _landline(rng: random.Random, area_code: str) -> str:
    return normalize_phone(f"{area_code}{rng.randint(100000, 9999999)}")


def _prospect(rng: random.Random, dealer: Dealer, town: Any, created: datetime) -> Prospect:
    salutation, first, last = _person(rng)
    is_company = rng.random() < 0.08
    postcode = rng.choice(town.postcodes) if town else dealer.postcode
    area_code = town.area_code if town else "089"
    email = ""
    if rng.random() < 0.85:
        local = rng.choice((f"{first}.{last}", f"{first[0]}.{last}", f"{last}{rng.randint(1, 99)}", f"{first}{last}"))
        email = f"{_ascii(local)}@{rng.choice(MAIL_DOMAINS)}"
    prospect = Prospect(
        dealer=dealer,
        kind=Prospect.Kind.COMPANY if is_company else Prospect.Kind.PERSON,
        salutation=salutation,
        title="Dr." if rng.random() < 0.04 else "",
        first_name=first,
        last_name=last,
        company=f"{rng.choice(COMPANY_TRADES)} {last} {rng.choice(COMPANY_SUFFIXES)}" if is_company else "",
        email=email,
        phone=_landline(rng, area_code) if rng.random() < 0.45 else "",
        mobile=_mobile(rng) if rng.random() < 0.75 else "",
        street=f"{rng.choice(STREETS)} {rng.randint(1, 140)}{rng.choice(('', '', '', 'a', 'b'))}",
        postcode=postcode,
        city=dealer.city,
        preferred_channel=rng.choice(("", "", "email", "phone", "phone", "sms")),
        origin=rng.choice(("showroom", "phone", "website", "website", "intake", "intake", "event", "dms")),
        version=1,
        created_at=created,
        updated_at=created,
    )
    if rng.random() < 0.06:
        prospect.external_id = f"DMS-{dealer.number}-{rng.randint(100000, 999999)}"
    fill_search_fields(prospect)
    return prospect


def _duplicate_of(rng: random.Random, original: Prospect, created: datetime) -> Prospect:
    """The same person again, as happens when a web lead arrives for a showroom customer."""
    twin = Prospect(
        dealer_id=original.dealer_id,
        kind=original.kind,
        salutation=original.salutation,
        first_name=original.first_name,
        last_name=original.last_name.replace("ü", "ue").replace("ä", "ae").replace("ö", "oe"),
        company=original.company,
        email=original.email.upper() if rng.random() < 0.5 else "",
        mobile=original.mobile if rng.random() < 0.6 else "",
        postcode=original.postcode,
        city=original.city,
        origin=Prospect.Origin.INTAKE,
        version=1,
        created_at=created,
        updated_at=created,
    )
    fill_search_fields(twin)
    return twin


def _plan_dealer(
    batch: _Batch,
    *,
    rng: random.Random,
    dealer: Dealer,
    hours: _OpeningClock,
    count: int,
    staff: list[_Staff],
    reasons: list[LostReason],
    town: Any,
    now: datetime,
) -> None:
    prospects: list[Prospect] = []
    for _ in range(count):
        created = now - timedelta(minutes=rng.randint(60, HISTORY_DAYS * 24 * 60))
        if prospects and rng.random() < 0.025:
            prospect = _duplicate_of(rng, rng.choice(prospects), created)
        else:
            prospect = _prospect(rng, dealer, town, created)
        if prospect.origin not in AROUND_THE_CLOCK_ORIGINS:  # taken down by staff: while the dealership is open
            created = prospect.created_at = prospect.updated_at = hours.while_open(created, not_after=now)
        prospects.append(prospect)
        owner = rng.choice(staff) if staff else None
        prospect.owner_id = owner.user_id if owner else None
        batch.prospects.append(prospect)
        if prospect.email and rng.random() < 0.45:
            batch.consents.append(
                Consent(
                    dealer_id=dealer.pk,
                    prospect=prospect,
                    purpose=Consent.Purpose.MARKETING_EMAIL,
                    channel="web",
                    status=Consent.Status.GRANTED,
                    at=created,
                    source="Kontaktformular",
                    text_version="2024-01",
                    double_opt_in_at=created + timedelta(minutes=rng.randint(2, 600)),
                    recorded_by="demo",
                )
            )
        leads = rng.choice((0, 1, 1, 1, 1, 1, 2, 2))
        for index in range(leads):
            lead_created = created + timedelta(days=index * rng.randint(30, 120), minutes=rng.randint(0, 120))
            if lead_created >= now - timedelta(minutes=5):
                lead_created = now - timedelta(minutes=rng.randint(5, 600))
            lead_owner = owner if rng.random() > 0.04 else None
            _plan_lead(
                batch,
                # A stream of the lead's own: how far its stages got depends on the opening hours it met, so
                # on the hour of seeding, and the dealership's next people must not.
                rng=random.Random(rng.getrandbits(64)),
                dealer=dealer,
                hours=hours,
                prospect=prospect,
                owner=lead_owner,
                staff=staff,
                reasons=reasons,
                created=lead_created,
                now=now,
            )


def _stage_for_age(rng: random.Random, age: timedelta, win_chance: float) -> str:
    days = age.total_seconds() / 86400
    if age < timedelta(hours=2):
        return "new" if rng.random() < 0.8 else "contacted"
    if days < 1.5:  # past the first-contact deadline most have been called; a few slipped through
        return "new" if rng.random() < 0.12 else "contacted"
    if days < 14:
        choice = rng.choices(
            ("new", "contacted", "appointment", "test_drive", "offer", "closed"), (3, 30, 20, 15, 15, 17)
        )
    elif days < 60:
        choice = rng.choices(("contacted", "appointment", "test_drive", "offer", "closed"), (12, 10, 10, 16, 52))
    else:
        choice = rng.choices(("contacted", "offer", "closed"), (3, 4, 93))
    stage = choice[0]
    if stage == "closed":
        return "won" if rng.random() < win_chance else "lost"
    return stage


def _plan_lead(
    batch: _Batch,
    *,
    rng: random.Random,
    dealer: Dealer,
    hours: _OpeningClock,
    prospect: Prospect,
    owner: _Staff | None,
    staff: list[_Staff],
    reasons: list[LostReason],
    created: datetime,
    now: datetime,
    stage: str | None = None,
    due_in: timedelta | None = None,
    source: str | None = None,
) -> Lead:
    """One lead and its history up to ``now``: intake, routing, each stage reached, the close or a follow-up."""
    drawn, _weight, win_chance = _weighted(rng, SOURCES)
    source = source or drawn
    model, powertrains, trims, _w = rng.choices(MODELS, weights=[m[3] for m in MODELS])[0]
    trim, price = rng.choice(trims)
    lead_type = _weighted(rng, LEAD_TYPES)[0]
    if source not in AROUND_THE_CLOCK_SOURCES and due_in is None:  # a visit or a call: while it is open
        created = max(hours.while_open(created, not_after=now), prospect.created_at)
    if stage is None:
        stage = _stage_for_age(rng, now - created, win_chance)
    if stage != "new" and not hours.open_between(created, now):
        stage = "new"  # the dealership has not opened since it came in: nobody could have called yet
    if stage != "new" and owner is None and staff:
        owner = rng.choice(staff)
    due = created + due_in if due_in is not None else first_contact_due(dealer=dealer, start=created)[0]
    lead = Lead(
        dealer_id=dealer.pk,
        prospect=prospect,
        lead_type=lead_type,
        source=source,
        campaign=rng.choice(CAMPAIGNS),
        model_name=model,
        trim=trim,
        powertrain=rng.choice(powertrains),
        vehicle_condition=Lead.Condition.USED if lead_type == "used_car" else Lead.Condition.NEW,
        list_price=Decimal(price + rng.choice((0, 0, 490, 990, 1490, 2290, 3190))),
        stage=stage,
        rating=rng.choice(("", "", "hot", "warm", "warm", "cold")),
        financing_interest=rng.random() < 0.35,
        owner_id=owner.user_id if owner else None,
        first_contact_due_at=due,
        message=rng.choice(LEAD_MESSAGES),
        version=1,
        created_at=created,
        updated_at=created,
    )
    _add_trade_in_and_timing(rng, lead, created)
    _plan_intake_events(batch, lead, owner=owner, staff=staff, source=source, created=created)
    reached = _stages_reached(rng, stage)
    moments = _stage_moments(rng, hours, created=created, now=now, stage=stage, reached=reached)
    if reached:
        lead.first_contacted_at = moments[0]
    label = owner.label if owner else "system:intake"
    author = owner.user_id if owner else None
    previous = "new"
    for when, step in zip(moments, reached, strict=False):
        batch.events.append(_stage_event(lead, "stage_changed", previous, step, when, author=author, label=label))
        batch.activities.append(_activity_for(rng, dealer, lead, prospect, step, when, owner))
        previous = step
    if stage in ("won", "lost"):
        _close(rng, batch, lead, closed=moments[-1], previous=previous, reasons=reasons, author=author, label=label)
    elif reached:
        lead.updated_at = moments[len(reached) - 1]
        _plan_follow_up(rng, batch, lead, hours, now=now, label=label)
    batch.leads.append(lead)
    return lead


def _add_trade_in_and_timing(rng: random.Random, lead: Lead, created: datetime) -> None:
    """About a third bring a car to trade in; some say when they mean to buy."""
    if rng.random() < 0.35:
        make, models = rng.choice(TRADEINS)
        lead.tradein_make, lead.tradein_model = make, rng.choice(models)
        lead.tradein_first_registration = date(rng.randint(2009, 2022), rng.randint(1, 12), 1)
        lead.tradein_mileage = rng.randint(8, 240) * 1000
    if rng.random() < 0.3:
        lead.expected_purchase_date = (created + timedelta(days=rng.randint(14, 180))).date()


def _plan_intake_events(
    batch: _Batch, lead: Lead, *, owner: _Staff | None, staff: list[_Staff], source: str, created: datetime
) -> None:
    """The lead arrived and went to ``owner`` (when it did): from the manufacturer's intake through routing,
    or entered by the dealership's staff (a walk-in, a call: the owner, or a colleague for nobody) or its DMS."""
    if source in DEALERSHIP_SOURCES:
        person = owner or (staff[0] if staff else None)
        label = "system:file-import" if source == "dms" else person.label if person else "system:intake"
        batch.events.append(_system_event(lead, "created", label, {"source": source}, created, to_stage="new"))
        if owner is not None:
            batch.events.append(_system_event(lead, "assigned", label, {"to": owner.user_id}, created))
        return
    batch.events.append(_system_event(lead, "created", "system:intake", {"source": source}, created, to_stage="new"))
    if owner is not None:
        routed = {"to": owner.user_id, "reason": "round robin"}
        batch.events.append(_system_event(lead, "assigned", "system:routing", routed, created))


def _system_event(
    lead: Lead, kind: str, label: str, data: dict[str, Any], at: datetime, *, to_stage: str = ""
) -> LeadEvent:
    """An event of the lead as intake, routing or the person who entered it recorded it."""
    return LeadEvent(
        dealer_id=lead.dealer_id, lead=lead, kind=kind, to_stage=to_stage, actor_label=label, data=data, at=at
    )


def _stages_reached(rng: random.Random, stage: str) -> list[str]:
    """The open stages a lead went through to get to ``stage``; a closed one stopped somewhere on the way."""
    if stage in ("won", "lost"):
        return list(STAGE_PATH[: rng.randint(1, 4)] if stage == "won" else STAGE_PATH[: rng.randint(0, 3)])
    if stage == "new":
        return []
    return list(STAGE_PATH[: STAGE_PATH.index(stage) + 1])


def _stage_moments(
    rng: random.Random, hours: _OpeningClock, *, created: datetime, now: datetime, stage: str, reached: list[str]
) -> list[datetime]:
    """When each reached stage (and the close) happened, in order, while the dealership was open; the first
    contact came about an hour of opening time in."""
    end = min(now, created + timedelta(days=rng.randint(1, 75))) if stage in ("won", "lost") else now
    if not hours.open_between(created, end):  # closed within a closed weekend: the next opening
        end = min(now, hours.after_working_minutes(created, 120))
    span = max((end - created).total_seconds(), 600)
    moments = [created + timedelta(seconds=rng.uniform(0.02, 1) * span) for _ in range(len(reached) + 1)]
    if reached:
        contact_minutes = int(rng.lognormvariate(4.2, 1.0))  # median about 65 minutes
        moments[0] = min(hours.after_working_minutes(created, max(3, contact_minutes)), end)
    return sorted(max(hours.while_open(moment, not_after=end), created) for moment in moments)


def _stage_event(
    lead: Lead,
    kind: str,
    from_stage: str,
    to_stage: str,
    at: datetime,
    *,
    author: int | None,
    label: str,
    lost_reason: str | None = None,
    note: str = "",
) -> LeadEvent:
    """A stage change or the close, by the lead's owner (or the system), as the services record them."""
    return LeadEvent(
        dealer_id=lead.dealer_id,
        lead=lead,
        kind=kind,
        from_stage=from_stage,
        to_stage=to_stage,
        actor_id=author,
        actor_label=label,
        data={"lost_reason": lost_reason, "note": note},
        at=at,
    )


def _close(
    rng: random.Random,
    batch: _Batch,
    lead: Lead,
    *,
    closed: datetime,
    previous: str,
    reasons: list[LostReason],
    author: int | None,
    label: str,
) -> None:
    """Won with a contract number, or lost with a reason; a lead never contacted counts as contacted at the close."""
    lead.closed_at = closed
    lead.updated_at = closed
    if lead.first_contacted_at is None:
        lead.first_contacted_at = closed
    if lead.stage == "won":
        lead.close_note = f"Kaufvertrag {rng.randint(100000, 999999)}"
    else:
        lead.lost_reason = rng.choice(reasons) if reasons else None
        lead.close_note = rng.choice(("", "", "Kunde hat sich nicht mehr gemeldet.", "Rate war zu hoch."))
    reason = lead.lost_reason.code if lead.lost_reason else None
    batch.events.append(
        _stage_event(
            lead,
            "closed",
            previous,
            lead.stage,
            closed,
            author=author,
            label=label,
            lost_reason=reason,
            note=lead.close_note,
        )
    )


def _plan_follow_up(
    rng: random.Random, batch: _Batch, lead: Lead, hours: _OpeningClock, *, now: datetime, label: str
) -> None:
    """Most open leads past the first contact have a to-do for the owner, some overdue."""
    if lead.stage in OPEN_FOLLOW_UPS and rng.random() < 0.75:
        batch.tasks.append(
            Task(
                dealer_id=lead.dealer_id,
                prospect=lead.prospect,
                lead=lead,
                title=rng.choice(OPEN_FOLLOW_UPS[lead.stage]),
                due_at=hours.on_the_quarter(now + timedelta(hours=rng.randint(-96, 240))),
                assignee_id=lead.owner_id,
                created_by_label=label,
                version=1,
                created_at=lead.updated_at,
                updated_at=lead.updated_at,
            )
        )


def _activity_for(
    rng: random.Random, dealer: Dealer, lead: Lead, prospect: Prospect, step: str, when: datetime, owner: _Staff | None
) -> Activity:
    kind, subject = {
        "contacted": ("call", rng.choice(("Erstkontakt telefonisch", "Rückruf zur Anfrage", "Bedarf besprochen"))),
        "appointment": ("meeting", "Beratungstermin im Autohaus"),
        "test_drive": ("test_drive", f"Probefahrt {lead.model_name}"),
        "offer": ("email", "Angebot versendet"),
    }[step]
    return Activity(
        dealer_id=dealer.pk,
        prospect=prospect,
        lead=lead,
        kind=kind,
        direction="outbound" if kind in ("call", "email") else "",
        subject=subject,
        body=rng.choice(
            ("", "", "Kunde sehr interessiert.", "Finanzierung gewünscht.", "Möchte Farbe noch überlegen.")
        ),
        occurred_at=when,
        author_id=owner.user_id if owner else None,
        author_label=owner.label if owner else "",
        version=1,
        created_at=when,
        updated_at=when,
    )


def _first_dealer_extras(
    batch: _Batch, *, rng: random.Random, dealer: Dealer, hours: _OpeningClock, staff: list[_Staff], now: datetime
) -> None:
    """The memorable salesperson of dealer 10001 starts the day with fresh leads on the clock and overdue tasks."""
    seller = next((s for s in staff if s.label == f"verkauf@{FIRST_DEALER_NUMBER}.{DEMO_DOMAIN}"), None)
    if seller is None:
        return
    town = next((t for t in towns() if t.name == dealer.city), None)

    def new_lead_of_seller(created: datetime, *, due_in: timedelta | None = None, source: str | None = None) -> None:
        """A prospect of the seller's own with one lead still in stage new, created at ``created``."""
        prospect = _prospect(rng, dealer, town, created)
        prospect.owner_id = seller.user_id
        batch.prospects.append(prospect)
        _plan_lead(
            batch,
            rng=rng,
            dealer=dealer,
            hours=hours,
            prospect=prospect,
            owner=seller,
            staff=staff,
            reasons=[],
            created=created,
            now=now,
            stage="new",
            due_in=due_in,
            source=source,
        )

    fresh = [(12, 108), (25, 95), (41, 79), (70, 50), (95, 25), (150, -30), (200, -80)]  # (minutes ago, minutes left)
    online = sorted(AROUND_THE_CLOCK_SOURCES)  # on the clock at whatever hour the demo is seeded
    for minutes_ago, minutes_left in fresh:
        new_lead_of_seller(
            now - timedelta(minutes=minutes_ago),
            due_in=timedelta(minutes=minutes_ago + minutes_left),
            source=rng.choice(online),
        )
    # Leads nobody called for days: sync's demo routes those the manufacturer sent, and the first-contact
    # sweep escalates all of them to the sales manager and on to the regional manager.
    for days_ago, source in FORGOTTEN_LEADS:
        new_lead_of_seller(now - timedelta(days=days_ago, minutes=rng.randint(0, 600)), source=source)
    own_open = [lead for lead in batch.leads if lead.owner_id == seller.user_id and lead.stage in Lead.OPEN_STAGES]
    for index, lead in enumerate([lead for lead in own_open if lead.stage != "new"][:6]):
        if index < 4:
            due = hours.on_the_quarter(now - timedelta(hours=3 + 20 * index), not_after=now)
        else:
            due = hours.on_the_quarter(now + timedelta(hours=5 + 18 * index))
        batch.tasks.append(
            Task(
                dealer_id=dealer.pk,
                prospect=lead.prospect,
                lead=lead,
                title=rng.choice(("Rückruf vereinbart", "Angebot nachfassen", "Probefahrt bestätigen")),
                due_at=due,
                assignee_id=seller.user_id,
                created_by_label=seller.label,
                version=1,
                created_at=now - timedelta(days=2),
                updated_at=now - timedelta(days=2),
            )
        )


@transaction.atomic
def _write(batch: _Batch, totals: dict[str, int]) -> None:
    Prospect.objects.bulk_create(batch.prospects, batch_size=BATCH_SIZE)
    Lead.objects.bulk_create(batch.leads, batch_size=BATCH_SIZE)
    LeadEvent.objects.bulk_create(batch.events, batch_size=BATCH_SIZE)
    Activity.objects.bulk_create(batch.activities, batch_size=BATCH_SIZE)
    Task.objects.bulk_create(batch.tasks, batch_size=BATCH_SIZE)
    Consent.objects.bulk_create(batch.consents, batch_size=BATCH_SIZE)
    totals["prospects"] += len(batch.prospects)
    totals["leads"] += len(batch.leads)
    totals["activities"] += len(batch.activities)
    totals["tasks"] += len(batch.tasks)
