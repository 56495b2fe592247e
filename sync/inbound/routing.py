"""Routing of intake leads: dealership, prospect, salesperson, first-contact deadline (docs/intake.md).

``route_intake`` runs in one transaction: it locks the person's keys (so two intakes of one person
never create the same prospect twice), chooses the dealership and matches the prospect, then locks
that dealership's round-robin pointer (so concurrent intakes for one dealership see the same open-lead
counts), chooses the salesperson, creates or completes the prospect and creates the lead through
``crm.services`` with every decision recorded as the lead's ``routed`` event and in
:class:`sync.models.LeadRouting`.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.db import transaction
from django.db.models import F, Func, IntegerField, OuterRef, Subquery
from django.utils import timezone

from crm.dedupe import contact_keys, find_matches, hold_contact_keys, person_lock_keys
from crm.models import Lead, Prospect
from crm.normalize import fold, normalize_phone
from crm.routing_decisions import reason
from crm.services import consents as consent_services
from crm.services import leads as lead_services
from crm.services import prospects as prospect_services
from dealers.actors import Actor
from dealers.demo_data import Town, towns
from dealers.models import Dealer, Membership, Territory
from dealers.selectors import dealer_for_postcode
from dealers.working_hours import first_contact_due
from sync.models import IntakeDocument, LeadRouting, RoundRobinPointer

logger = logging.getLogger(__name__)

EARTH_RADIUS_KM = 6371.0


@dataclass
class IntakeLead:
    """A validated lead from a manufacturer channel, whatever format it came in (JSON or ADF).

    ``customer`` holds prospect fields (crm.services.prospects), ``lead`` lead fields
    (crm.services.leads), ``consents`` entries for the consent ledger.
    """

    source: str
    customer: dict[str, Any]
    lead: dict[str, Any] = field(default_factory=dict)
    dealer_number: str = ""
    external_reference: str = ""
    latitude: float | None = None
    longitude: float | None = None
    consents: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RoutedLead:
    lead: Lead
    prospect: Prospect
    prospect_created: bool
    dealer: Dealer
    salesperson: Membership | None
    decisions: dict[str, Any]
    # The person's contact keys, the intake's and the prospect's: kept on the intake document, by which a
    # later intake of the person follows this one (``follow_recent_intake``).
    contact_keys: list[str] = field(default_factory=list)


# --- Dealership ------------------------------------------------------------------------------------------


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def _estimate_location(postcode: str) -> tuple[float, float, str] | None:
    """Where a postcode lies, estimated from the dealerships in its postcode area (longest shared prefix).

    German postcodes are grouped by region from their first digits on, so the centre of the dealers
    sharing the longest prefix is a fair guess without a geocoding service.
    """
    for length in range(min(len(postcode), 5), 0, -1):
        area = postcode[:length]
        points = [
            (float(lat), float(lon))
            for lat, lon in Dealer.objects.filter(
                postcode__startswith=area, latitude__isnull=False, longitude__isnull=False
            )
            .values_list("latitude", "longitude")
            .order_by()
            if lat is not None and lon is not None
        ]
        if points:
            lat = sum(p[0] for p in points) / len(points)
            lon = sum(p[1] for p in points) / len(points)
            return lat, lon, area
    return None


def _nearest_active_dealer(lat: float, lon: float) -> tuple[Dealer, float] | None:
    best: tuple[float, int] | None = None
    for pk, dlat, dlon in Dealer.objects.filter(
        is_active=True, latitude__isnull=False, longitude__isnull=False
    ).values_list("pk", "latitude", "longitude"):
        if dlat is None or dlon is None:
            continue
        distance = _distance_km(lat, lon, float(dlat), float(dlon))
        if best is None or (distance, pk) < best:
            best = (distance, pk)
    if best is None:
        return None
    return Dealer.objects.get(pk=best[1]), best[0]


def _closest_postcode_dealer(postcode: str) -> Dealer | None:
    """Last resort without coordinates: the active dealer whose own postcode is numerically closest."""
    if not postcode.isdigit():
        return None
    target = int(postcode)
    candidates = [
        (abs(int(code) - target), pk)
        for pk, code in Dealer.objects.filter(is_active=True).values_list("pk", "postcode")
        if code.isdigit()
    ]
    return Dealer.objects.get(pk=min(candidates)[1]) if candidates else None


@dataclass(frozen=True)
class DealerQuery:
    """What the dealership steps look at."""

    dealer_number: str
    postcode: str
    latitude: float | None
    longitude: float | None
    city: str = ""
    phones: tuple[str, ...] = ()  # E.164, the phone before the mobile

    @property
    def postcode_prefixes(self) -> list[str]:
        return [self.postcode[:n] for n in range(len(self.postcode), 0, -1)]


@dataclass
class DealerChoice:
    dealer: Dealer
    method: LeadRouting.Method
    evidence: dict[str, Any]  # why this dealership, for the decision record


@dataclass
class Trail:
    """What the steps saw without choosing: dealerships passed over (recorded on the lead), hints for the lead desk."""

    skipped: list[dict[str, Any]] = field(default_factory=list)
    hints: list[dict[str, Any]] = field(default_factory=list)


# A step either chooses the dealership or passes, adding what it passed over to the trail.
DealerStep = Callable[[DealerQuery, Trail], DealerChoice | None]


class Unroutable(Exception):
    """No step found a dealership: the lead goes to the lead desk, with what the steps saw (``record``)."""

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__("no dealership for this lead")
        self.record = record


def _inactive_territory_holders(prefixes: list[str], *, longer_than: str = "") -> list[dict[str, Any]]:
    return [
        {"dealer": number, "reason": reason("inactive_territory_holder", territory=held)}
        for held, number in Territory.objects.filter(postcode_prefix__in=prefixes, dealer__is_active=False)
        .values_list("postcode_prefix", "dealer__number")
        .order_by("-postcode_prefix")
        if len(held) > len(longer_than)
    ]


def by_customer_choice(query: DealerQuery, trail: Trail) -> DealerChoice | None:
    """The dealership the customer chose, if it takes leads."""
    if not query.dealer_number:
        return None
    chosen = Dealer.objects.filter(number=query.dealer_number).first()
    if chosen is not None and chosen.is_active:
        return DealerChoice(
            chosen, LeadRouting.Method.CHOSEN, {"reason": reason("customer_chose", dealer=chosen.number)}
        )
    why = "inactive" if chosen is not None else "unknown_dealer_number"
    trail.skipped.append({"dealer": query.dealer_number, "reason": reason(why)})
    return None


def by_postcode_territory(query: DealerQuery, trail: Trail) -> DealerChoice | None:
    """The active dealership whose territory (longest postcode prefix) holds the customer's postcode."""
    if not query.postcode:
        return None
    dealer = dealer_for_postcode(query.postcode)
    if dealer is None:
        trail.skipped += _inactive_territory_holders(query.postcode_prefixes)
        return None
    prefix = (
        Territory.objects.filter(dealer=dealer, postcode_prefix__in=query.postcode_prefixes)
        .order_by("-postcode_prefix")
        .values_list("postcode_prefix", flat=True)
        .first()
    ) or ""
    trail.skipped += _inactive_territory_holders(query.postcode_prefixes, longer_than=prefix)
    evidence = {"reason": reason("in_territory", postcode=query.postcode, territory=prefix), "territory": prefix}
    return DealerChoice(dealer, LeadRouting.Method.TERRITORY, evidence)


def by_distance(query: DealerQuery, trail: Trail) -> DealerChoice | None:
    """The nearest active dealership to the coordinates sent, else to the centre of the postcode's area."""
    if query.latitude is not None and query.longitude is not None:
        origin, location = (query.latitude, query.longitude), reason("coordinates_sent")
    else:
        estimate = _estimate_location(query.postcode) if query.postcode else None
        if estimate is None:
            return None
        origin, location = (estimate[0], estimate[1]), reason("postcode_area_centre", area=estimate[2])
    nearest = _nearest_active_dealer(*origin)
    if nearest is None:
        return None
    dealer, distance = nearest
    evidence = {
        "reason": reason("nearest_dealer", postcode=query.postcode or "-"),
        "location": location,
        "distance_km": round(distance, 1),
    }
    return DealerChoice(dealer, LeadRouting.Method.FALLBACK, evidence)


def by_closest_postcode(query: DealerQuery, trail: Trail) -> DealerChoice | None:
    """Last resort without coordinates: the active dealership whose own postcode is numerically closest."""
    closest = _closest_postcode_dealer(query.postcode) if query.postcode else None
    if closest is None:
        return None
    return DealerChoice(
        closest, LeadRouting.Method.FALLBACK, {"reason": reason("closest_postcode", postcode=query.postcode)}
    )


# --- Leads without a postcode: the city, then the landline's area code, through the town table ----------

_STOPWORDS = frozenset({"am", "an", "a", "der", "d", "im", "i", "in", "bei", "b", "ob", "vor", "v"})
_ABBREVIATIONS = {"m": "main", "rh": "rhein", "br": "breisgau", "st": "sankt", "opf": "oberpfalz"}
MOBILE_PREFIXES = ("015", "016", "017")  # German mobile numbers: no area, no territory


def town_keys(name: str) -> list[tuple[str, ...]]:
    """A town name as words to compare: case, ß, punctuation, "a. M." and "am Main" all alike.

    Two keys: umlauts spelt out (München, Muenchen) and umlauts without their dots (Munchen).
    """
    keys = []
    for spelling in (name, unicodedata.normalize("NFKD", name)):  # NFKD: "ü" becomes "u" + a dropped accent
        words = re.sub(r"[^a-z0-9]+", " ", fold(spelling)).split()
        key = tuple(_ABBREVIATIONS.get(word, word) for word in words if word not in _STOPWORDS)
        if key not in keys:
            keys.append(key)
    return keys


@cache
def _towns_by_key() -> dict[tuple[str, ...], tuple[Town, ...]]:
    index: dict[tuple[str, ...], list[Town]] = {}
    for town in towns():
        for key in town_keys(town.name):
            index.setdefault(key, []).append(town)
    return {key: tuple(found) for key, found in index.items()}


@cache
def _towns_by_area_code() -> dict[str, tuple[Town, ...]]:
    index: dict[str, list[Town]] = {}
    for town in towns():
        index.setdefault(town.area_code, []).append(town)
    return {code: tuple(found) for code, found in index.items()}


def towns_named(city: str) -> tuple[Town, ...]:
    """The towns a city name means: the same name, else the towns whose name starts with it or it with theirs.

    "Frankfurt a. M." is Frankfurt am Main; "Frankfurt" alone is both Frankfurts; "München-Pasing" is München.
    """
    keys = [key for key in town_keys(city) if key]
    for key in keys:
        exact = _towns_by_key().get(key)
        if exact:
            return exact
    matched: dict[str, Town] = {}
    for key in keys:
        for town_words, found in _towns_by_key().items():
            if key[: len(town_words)] == town_words or town_words[: len(key)] == key:
                matched.update((town.name, town) for town in found)
    return tuple(matched.values())


def landline_area_code(phone: str) -> str:
    """The area code (Vorwahl, with its 0) of a German landline number, longest known code first; else ""."""
    phone = normalize_phone(phone)  # E.164 already from the intake schema; any common format from elsewhere
    if not phone.startswith("+49"):
        return ""
    national = "0" + phone[3:]
    if national.startswith(MOBILE_PREFIXES):
        return ""
    codes = _towns_by_area_code()
    return next((national[:n] for n in range(6, 1, -1) if national[:n] in codes), "")


@dataclass(frozen=True)
class Coverage:
    """How many of a town's postcodes one active dealership's territories hold."""

    dealer: Dealer
    postcodes: int
    territories: tuple[str, ...]

    def as_candidate(self) -> dict[str, Any]:
        return {
            "dealer": self.dealer.number,
            "name": self.dealer.name,
            "postcodes": self.postcodes,
            "territories": list(self.territories),
        }


def _coverage(postcodes: list[str]) -> list[Coverage]:
    """The active dealerships holding ``postcodes`` (longest prefix per postcode), most postcodes first."""
    prefixes = {code[:n] for code in postcodes for n in range(1, len(code) + 1)}
    held = dict(
        Territory.objects.filter(postcode_prefix__in=prefixes, dealer__is_active=True).values_list(
            "postcode_prefix", "dealer_id"
        )
    )
    counts: dict[int, int] = {}
    territories: dict[int, set[str]] = {}
    for code in postcodes:
        prefix = next((code[:n] for n in range(len(code), 0, -1) if code[:n] in held), None)
        if prefix is not None:
            counts[held[prefix]] = counts.get(held[prefix], 0) + 1
            territories.setdefault(held[prefix], set()).add(prefix)
    dealers = Dealer.objects.in_bulk(list(counts))
    found = [Coverage(dealers[pk], counts[pk], tuple(sorted(territories[pk]))) for pk in counts]
    return sorted(found, key=lambda c: (-c.postcodes, c.dealer.number))


def _nearest_to_towns(found: tuple[Town, ...]) -> dict[str, Any] | None:
    lat = sum(t.latitude for t in found) / len(found)
    lon = sum(t.longitude for t in found) / len(found)
    nearest = _nearest_active_dealer(lat, lon)
    if nearest is None:
        return None
    dealer, distance = nearest
    return {"dealer": dealer.number, "name": dealer.name, "distance_km": round(distance, 1)}


def _by_towns(
    found: tuple[Town, ...], *, method: LeadRouting.Method, evidence: dict[str, Any], hints: list[dict[str, Any]]
) -> DealerChoice | None:
    """The dealership holding most of the towns' postcodes, unless the towns are ambiguous or split evenly.

    Otherwise the lead desk gets the candidates (or the nearest dealership to the towns) as a hint.
    """
    names = sorted({town.name for town in found})
    covered = _coverage([code for town in found for code in town.postcodes])
    evidence = {**evidence, "towns": names}
    # One city name, or the towns of one area code (a local network often spans several towns).
    one_place = len(names) == 1 or method == LeadRouting.Method.AREA_CODE
    clear = one_place and covered and (len(covered) == 1 or covered[0].postcodes > covered[1].postcodes)
    if clear:
        best = covered[0]
        code = "city_in_territory" if method == LeadRouting.Method.CITY else "area_code_in_territory"
        territory = best.territories[0]
        params = {key: value for key, value in evidence.items() if key != "towns"}
        return DealerChoice(
            best.dealer,
            method,
            {
                "reason": reason(code, towns=", ".join(names), territory=territory, **params),
                **evidence,
                "territory": territory,
                "postcodes_held": best.postcodes,
                "postcodes": sum(len(town.postcodes) for town in found),
            },
        )
    hint: dict[str, Any] = {"method": method.value, **evidence, "candidates": [c.as_candidate() for c in covered]}
    if not covered:
        hint["nearest"] = _nearest_to_towns(found)
    hints.append(hint)
    return None


def by_city(query: DealerQuery, trail: Trail) -> DealerChoice | None:
    """The dealership whose territories hold the postcodes of the customer's city (towns.csv)."""
    found = towns_named(query.city) if query.city else ()
    if not found:
        return None
    return _by_towns(found, method=LeadRouting.Method.CITY, evidence={"city": query.city}, hints=trail.hints)


def by_area_code(query: DealerQuery, trail: Trail) -> DealerChoice | None:
    """The dealership whose territories hold the postcodes of a landline's area code (towns.csv; never a mobile)."""
    for phone in query.phones:
        code = landline_area_code(phone)
        if code:
            found = _towns_by_area_code()[code]
            return _by_towns(
                found, method=LeadRouting.Method.AREA_CODE, evidence={"area_code": code}, hints=trail.hints
            )
    return None


# Tried in order; the first that chooses wins. The postcode's own steps come first: a lead with a postcode
# (or coordinates) is always placed by them; the city and the area code speak for leads without one.
DEALER_STEPS: tuple[DealerStep, ...] = (
    by_customer_choice,
    by_postcode_territory,
    by_distance,
    by_closest_postcode,
    by_city,
    by_area_code,
)


def lead_desk_suggestion(hints: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The best guess for the lead desk: the first hint's leading candidate, else the dealership nearest its towns."""
    for hint in hints:
        best = hint["candidates"][0] if hint.get("candidates") else hint.get("nearest")
        if best:
            return {"dealer": best["dealer"], "name": best["name"], "method": hint["method"], "evidence": hint}
    return None


def choose_dealer(
    *,
    dealer_number: str,
    postcode: str,
    latitude: float | None = None,
    longitude: float | None = None,
    city: str = "",
    phones: tuple[str, ...] = (),
) -> tuple[Dealer, str, dict[str, Any]]:
    """The dealership a lead goes to, by ``DEALER_STEPS``: the customer's choice, the postcode, the city, the area code.

    Returns the dealer, the method (``LeadRouting.Method``) and the decision record. Inactive
    dealers never receive leads. Raises ``Unroutable`` (for the lead desk) when no step finds one.
    """
    query = DealerQuery(dealer_number, postcode, latitude, longitude, city=city.strip(), phones=phones)
    trail = Trail()
    for step in DEALER_STEPS:
        choice = step(query, trail)
        if choice is not None:
            evidence = {"method": choice.method.value, **choice.evidence, "skipped": trail.skipped}
            return choice.dealer, choice.method, evidence
    raise Unroutable({"skipped": trail.skipped, "hints": trail.hints, "suggestion": lead_desk_suggestion(trail.hints)})


# --- Prospect --------------------------------------------------------------------------------------------


MATCH_REASONS = {3: "email", 2: "phone", 1: "name_postcode"}

# A second intake of the same person (same e-mail address or phone number) within this window follows the
# first to its dealership and prospect, whichever channel either came through (docs/intake.md, "Duplicates").
SAME_PERSON_WINDOW = timedelta(hours=72)


def follow_recent_intake(
    *, intake: IntakeLead, keys: list[str], now: datetime
) -> tuple[Dealer, str, dict[str, Any]] | None:
    """The dealership that got this person's intake lead within ``SAME_PERSON_WINDOW``, if it still takes leads.

    Returns it as ``choose_dealer`` does (dealer, method, decision), or None: then the usual steps choose.
    The caller holds the person's keys (``crm.dedupe.hold_contact_keys``), so a concurrent intake of the
    person has committed (and is seen here) or waits for this one.
    """
    if not keys:
        return None
    # The person's documents of the window by their keys (GIN index), unordered: asked for the newest one
    # directly, the planner walks the whole window newest first, hoping to meet one soon (issue 15).
    theirs = list(
        IntakeDocument.objects.filter(
            contact_keys__overlap=keys, status=IntakeDocument.Status.ACCEPTED, received_at__gte=now - SAME_PERSON_WINDOW
        )
        .order_by()
        .values_list("pk", flat=True)
    )
    if not theirs:
        return None
    earlier = (
        IntakeDocument.objects.filter(
            pk__in=theirs,
            lead__dealer__is_active=True,
            lead__prospect__merged_into__isnull=True,
            lead__prospect__erased_at__isnull=True,
        )
        .select_related("lead__dealer", "lead__routing")
        .order_by("-received_at")
        .first()
    )
    if earlier is None or earlier.lead is None:
        return None
    lead = earlier.lead
    routing = getattr(lead, "routing", None)
    skipped = []
    if intake.dealer_number and intake.dealer_number != lead.dealer.number:
        skipped.append({"dealer": intake.dealer_number, "reason": reason("same_person_elsewhere")})
    method = routing.method if routing is not None else LeadRouting.Method.CHOSEN.value
    evidence: dict[str, Any] = {
        "method": method,
        "reason": reason(
            "same_person_recently",
            source=earlier.source or "-",
            at=timezone.localtime(earlier.received_at).strftime("%d.%m.%Y %H:%M"),
        ),
        "follows_lead": str(lead.pk),
        "skipped": skipped,
    }
    return lead.dealer, method, evidence


def _same_person_by_first_name(prospect: Prospect, first_name: str) -> bool:
    """Name + postcode alone also matches a spouse or child: the first names must not contradict."""
    mine, theirs = fold(first_name), fold(prospect.first_name)
    if not mine or not theirs or mine == theirs:
        return True
    return min(len(mine), len(theirs)) == 1 and mine[0] == theirs[0]  # "E." and "Erika"


def match_prospect(*, dealer: Dealer, customer: dict[str, Any]) -> tuple[Prospect | None, str]:
    """The existing prospect of ``dealer`` that is this customer (crm.dedupe): email, then phone, then name+postcode."""
    phones = [p for p in (customer.get("phone"), customer.get("mobile")) if p] or [None]
    best: tuple[Prospect, int] | None = None
    for phone in phones:
        for candidate in find_matches(
            dealer_id=dealer.pk,
            email=customer.get("email"),
            phone=phone,
            last_name=customer.get("last_name"),
            postcode=(customer.get("postcode") or "").strip(),
        )[:20]:
            score: int = candidate.match_score  # type: ignore[attr-defined]  # annotated by find_matches
            if score == 1 and not _same_person_by_first_name(candidate, customer.get("first_name", "")):
                continue
            if best is None or score > best[1]:
                best = (candidate, score)
            break
    if best is None:
        return None, ""
    return best[0], MATCH_REASONS[best[1]]


def _missing_fields(prospect: Prospect, customer: dict[str, Any]) -> dict[str, Any]:
    """Customer data the prospect lacks; what it already holds is never overwritten by a web form."""
    missing = {}
    for key, value in customer.items():
        if value in ("", None) or key not in prospect_services.EDITABLE_FIELDS:
            continue
        if key in ("phone", "mobile"):
            normalized = normalize_phone(value)
            if normalized and normalized in (prospect.phone, prospect.mobile):
                continue
        if not getattr(prospect, key):
            missing[key] = value
    return missing


# --- Salesperson -----------------------------------------------------------------------------------------


def _lock_pointer(dealer: Dealer) -> RoundRobinPointer:
    pointer = RoundRobinPointer.objects.select_for_update().filter(pk=dealer.pk).first()
    if pointer is None:  # the dealership's first intake
        RoundRobinPointer.objects.get_or_create(dealer=dealer)
        pointer = RoundRobinPointer.objects.select_for_update().get(pk=dealer.pk)
    return pointer


class _CountUpTo(Func):
    """``(SELECT count(*) FROM (<subquery> LIMIT <cap>))``: the subquery's rows counted up to a per-row cap.

    Django cannot slice a subquery by a column of the outer row; the cap keeps each count to at most
    ``cap`` index entries, however many rows match. Func joins its two arguments with ``arg_joiner``.
    """

    output_field = IntegerField()
    template = "(SELECT count(*) FROM (SELECT 1 FROM %(expressions)s) AS capped)"
    arg_joiner = " AS counted LIMIT "

    def __init__(self, queryset: Any, cap: Any) -> None:
        super().__init__(Subquery(queryset), cap)


def _person(membership: Membership) -> dict[str, Any]:
    return {"user_id": membership.user_id, "name": membership.user.get_full_name() or f"#{membership.user_id}"}


def choose_salesperson(
    *, dealer: Dealer, pointer: RoundRobinPointer, prefer_user_id: int | None = None
) -> tuple[Membership | None, dict[str, Any]]:
    """The next available salesperson with room for another lead, round robin after the last one.

    ``pointer`` must be locked by the caller (``_lock_pointer``), in the transaction that creates
    the lead. The prospect's own salesperson (``prefer_user_id``) keeps the customer when available.
    """
    # Each member's open leads, counted up to their capacity: enough to tell whether one more fits. Every
    # intake of the dealership waits for this under the pointer's lock, so it is one statement (not one per
    # member) and does not grow with the dealership's history (issue 15): at most ``lead_capacity`` entries
    # per member of the partial index of open leads (``lead_open_owner``). Unordered: with the model's
    # newest-first order the planner walked the dealership's leads by date instead (0.3-0.5 s per member at 10M).
    theirs = (
        Lead.objects.for_dealer(dealer.pk)
        .filter(stage__in=Lead.OPEN_STAGES, owner_id=OuterRef("user_id"))
        .order_by()
        .values("pk")
    )
    staff = list(
        Membership.objects.for_dealer(dealer.pk)
        .filter(role=Membership.Role.SALESPERSON, is_active=True, user__is_active=True)
        .select_related("user")
        .annotate(open_leads=_CountUpTo(theirs, F("lead_capacity")))
        .order_by("pk")
    )

    def open_count(member: Membership) -> int:
        return member.open_leads  # type: ignore[attr-defined]  # the annotation above

    def why_not(member: Membership) -> str:
        if not member.is_available:
            return "absent"
        if open_count(member) >= member.lead_capacity:
            return "at_capacity"
        return ""

    skipped: list[dict[str, Any]] = []

    def skip(member: Membership, code: str) -> None:
        entry = {**_person(member), "reason": reason(code)}
        if code.endswith("at_capacity"):
            entry.update(open_leads=open_count(member), capacity=member.lead_capacity)
        skipped.append(entry)

    if prefer_user_id is not None:
        preferred = next((m for m in staff if m.user_id == prefer_user_id), None)
        if preferred is not None:
            why = why_not(preferred)
            if not why:
                return preferred, {
                    **_person(preferred),
                    "reason": reason("own_salesperson"),
                    "open_leads": open_count(preferred),
                    "capacity": preferred.lead_capacity,
                    "skipped": [],
                }
            skip(preferred, f"own_salesperson_{why}")

    last = pointer.last_membership_id or 0
    ordered = [m for m in staff if m.pk > last] + [m for m in staff if m.pk <= last]
    for member in ordered:
        if member.user_id == prefer_user_id:
            continue  # already judged above
        why = why_not(member)
        if why:
            skip(member, why)
            continue
        pointer.last_membership = member
        pointer.updated_at = timezone.now()
        pointer.save(update_fields=["last_membership", "updated_at"])
        return member, {
            **_person(member),
            "reason": reason("round_robin"),
            "open_leads": open_count(member),
            "capacity": member.lead_capacity,
            "skipped": skipped,
        }
    return None, {
        "user_id": None,
        "reason": reason("nobody_available" if staff else "no_salespeople"),
        "skipped": skipped,
    }


# --- The whole route -------------------------------------------------------------------------------------


def _settle_prospect(
    *,
    dealer: Dealer,
    matched: Prospect | None,
    matched_by: str,
    customer: dict[str, Any],
    owner_id: int | None,
    actor: Actor,
) -> tuple[Prospect, dict[str, Any]]:
    """The matched prospect, completed with what it lacks, or a new one; and the decision record."""
    if matched is None:
        data = {key: value for key, value in customer.items() if value not in ("", None)}
        data.update(origin=Prospect.Origin.INTAKE, owner_id=owner_id)
        prospect = prospect_services.create_prospect(dealer=dealer, actor=actor, data=data)
        return prospect, {"matched": False, "created": str(prospect.pk)}
    missing = _missing_fields(matched, customer)
    if matched.owner_id is None and owner_id is not None:
        missing["owner_id"] = owner_id
    prospect = prospect_services.update_prospect(prospect=matched, actor=actor, data=missing) if missing else matched
    filled = sorted(key for key in missing if key != "owner_id")
    return prospect, {"matched": True, "by": matched_by, "id": str(prospect.pk), "filled": filled}


def _create_routed_lead(
    *,
    intake: IntakeLead,
    prospect: Prospect,
    method: str,
    decisions: dict[str, Any],
    due: datetime,
    owner_id: int | None,
    actor: Actor,
    now: datetime,
) -> Lead:
    """The lead with its decisions (as its ``routed`` event and the escalation record), and the intake's consents."""
    lead = lead_services.create_lead(
        prospect=prospect,
        actor=actor,
        data=dict(intake.lead, source=intake.source, first_contact_due_at=due),
        owner_id=owner_id,
        routing=decisions,
    )
    LeadRouting.objects.create(
        lead=lead,
        dealer_id=prospect.dealer_id,
        method=method,
        decisions=decisions,
        first_contact_due_at=due,
        next_escalation_at=due,
        created_at=now,
    )
    for consent in intake.consents:
        consent_services.record_consent(prospect=prospect, actor=actor, **consent)
    return lead


@transaction.atomic
def route_intake(
    *,
    intake: IntakeLead,
    actor: Actor,
    now: datetime | None = None,
    document_id: str = "",
    assigned: tuple[Dealer, str, dict[str, Any]] | None = None,
) -> RoutedLead:
    """Create the lead of ``intake`` at the right dealership, for the right salesperson, with its deadline.

    ``assigned``: the dealership, method and decision the lead desk chose (``sync.inbound.lead_desk``),
    instead of ``choose_dealer``'s. Raises ``Unroutable`` when no dealership can be chosen.
    """
    now = now or timezone.now()
    customer = intake.customer
    keys = contact_keys(email=customer.get("email"), phones=(customer.get("phone"), customer.get("mobile")))
    # One person's intakes from several channels queue up here (duplicates), by every key the match
    # below may use: it runs before the dealership's lock, which only the salesperson's choice needs.
    hold_contact_keys(person_lock_keys(keys, last_name=customer.get("last_name"), postcode=customer.get("postcode")))
    dealer, method, dealer_decision = (
        assigned
        or follow_recent_intake(intake=intake, keys=keys, now=now)
        or choose_dealer(
            dealer_number=intake.dealer_number,
            postcode=(customer.get("postcode") or "").strip(),
            latitude=intake.latitude,
            longitude=intake.longitude,
            city=customer.get("city") or "",
            phones=tuple(p for p in (customer.get("phone"), customer.get("mobile")) if p),
        )
    )
    matched, matched_by = match_prospect(dealer=dealer, customer=customer)
    due, due_decision = first_contact_due(dealer=dealer, start=now)

    pointer = _lock_pointer(dealer)  # from here on, intakes for this dealership wait for each other
    salesperson, salesperson_decision = choose_salesperson(
        dealer=dealer, pointer=pointer, prefer_user_id=matched.owner_id if matched is not None else None
    )
    owner_id = salesperson.user_id if salesperson else None
    prospect, prospect_decision = _settle_prospect(
        dealer=dealer, matched=matched, matched_by=matched_by, customer=customer, owner_id=owner_id, actor=actor
    )
    decisions: dict[str, Any] = {
        "dealer": {"number": dealer.number, "name": dealer.name, **dealer_decision},
        "prospect": prospect_decision,
        "salesperson": salesperson_decision,
        "first_contact": due_decision,
        "channel": {
            "source": intake.source,
            "external_reference": intake.external_reference,
            "document": document_id,
        },
    }
    lead = _create_routed_lead(
        intake=intake,
        prospect=prospect,
        method=method,
        decisions=decisions,
        due=due,
        owner_id=owner_id,
        actor=actor,
        now=now,
    )
    created = matched is None
    logger.info(
        "intake_lead_routed",
        extra={
            "dealer_id": dealer.pk,
            "lead_id": str(lead.pk),
            "method": str(method),
            "owner_id": owner_id,
            "prospect_created": created,
        },
    )
    known_by = contact_keys(email=prospect.email, phones=(prospect.phone, prospect.mobile))
    return RoutedLead(
        lead=lead,
        prospect=prospect,
        prospect_created=created,
        dealer=dealer,
        salesperson=salesperson,
        decisions=decisions,
        contact_keys=sorted({*keys, *known_by}),
    )
