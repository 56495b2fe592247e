"""Demo data for the dealer network: regions, manufacturer staff, dealerships, territories and their staff.

``manage.py seed_demo`` calls :func:`seed`. The network is planned in memory from the random
generator alone (:func:`plan_network`), so a seed always yields the same network, and then written
with bulk upserts keyed on natural keys (email, region code, group name, dealer number, postcode
prefix, dealer and user): running it again changes nothing and duplicates nothing, and running it
with another seed or size rewrites the same dealer numbers instead of adding a second network.
"""

from __future__ import annotations

import logging
import math
import random
import time as clock
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import time
from decimal import Decimal
from functools import cache
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import models, transaction

from dealers.demo_data import (
    DEALER_SURNAMES,
    FEMALE_FIRST_NAMES,
    LANDSCAPES,
    MALE_FIRST_NAMES,
    REGIONS,
    STREETS,
    SURNAMES,
    UNUSED_AREA_CENTRES,
    Town,
    region_code_for,
    towns,
)
from dealers.models import Dealer, DealerGroup, Membership, OpeningHours, Region, Territory, User
from dealers.roles import ANALYST, DATA_PROTECTION, LEAD_DESK, NETWORK_ADMIN, ensure_manufacturer_groups

logger = logging.getLogger(__name__)

DEMO_DOMAIN = "demo.crm.example"  # .example is reserved (RFC 2606): no demo mail can reach anyone
DEMO_PASSWORD = "demo-Passwort-2026"  # noqa: S105 - published on purpose: every demo user signs in with it
DEFAULT_DEALERS = 450
MAX_DEALERS = 999  # dealer numbers 10001..10999 stay five digits
FIRST_DEALER_NUMBER = 10001
SUPERUSER_EMAIL = f"admin@{DEMO_DOMAIN}"
MANUFACTURER_STAFF: tuple[tuple[str, str], ...] = (
    (NETWORK_ADMIN, "netzwerk"),
    (LEAD_DESK, "leaddesk"),
    (DATA_PROTECTION, "datenschutz"),
    (ANALYST, "analyse"),
)
REGIONAL_MANAGER_GROUP = LEAD_DESK  # escalated leads end up with them
GROUPS_PER_DEALER = 60 / 450
INACTIVE_SHARE = 0.03
BATCH_SIZE = 1000

Role = Membership.Role


# --- What seeding returns ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Login:
    """One line of the login table that ``seed_demo`` prints."""

    role: str
    email: str
    password: str = DEMO_PASSWORD


@dataclass(frozen=True)
class DemoResult:
    """What an app's ``seed`` hands back to ``seed_demo``: a summary line and logins worth showing."""

    summary: str
    logins: tuple[Login, ...] = ()


def demo_rng(*, seed: int, app: str) -> random.Random:
    """Each app draws from its own generator, so one app drawing more numbers leaves another's data as it was."""
    return random.Random(f"{seed}:{app}")


def _first_dealer_email(local: str) -> str:
    return f"{local}@{FIRST_DEALER_NUMBER}.{DEMO_DOMAIN}"


def _login_table() -> tuple[Login, ...]:
    """The memorable accounts; their addresses do not depend on the seed."""
    first = FIRST_DEALER_NUMBER
    return (
        Login("Manufacturer: superuser", SUPERUSER_EMAIL),
        *(Login(f"Manufacturer: {group}", f"{local}@{DEMO_DOMAIN}") for group, local in MANUFACTURER_STAFF),
        Login(f"Dealer {first}: dealer administrator", _first_dealer_email("admin")),
        Login(f"Dealer {first}: sales manager", _first_dealer_email("leitung")),
        Login(f"Dealer {first}: salesperson", _first_dealer_email("verkauf")),
        Login(f"Dealer group of {first}: sales manager at several dealerships", _first_dealer_email("gruppe")),
    )


def logins(*, options: Mapping[str, Any] | None = None) -> list[Login]:
    """The demo logins whose users exist and are active; ``seed_demo --print-logins`` shows these."""
    table = _login_table()
    present = set(
        User.objects.filter(email__in=[login.email for login in table], is_active=True).values_list("email", flat=True)
    )
    return [login for login in table if login.email in present]


# --- The plan: pure data, decided by the random generator alone ------------------------------------


@dataclass(frozen=True)
class PersonPlan:
    email: str
    first_name: str
    last_name: str
    is_staff: bool = False
    is_superuser: bool = False
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class RegionPlan:
    code: str
    name: str
    manager_email: str


@dataclass(frozen=True)
class DealerPlan:
    number: str
    name: str
    group: str | None
    region_code: str
    street: str
    postcode: str
    city: str
    phone: str
    email: str
    latitude: Decimal
    longitude: Decimal
    is_active: bool
    salespeople_see_unassigned: bool
    first_contact_minutes: int
    hours: tuple[tuple[int, time, time], ...]  # (weekday, opens, closes)


@dataclass(frozen=True)
class MembershipPlan:
    dealer_number: str
    email: str
    role: str
    is_available: bool = True
    lead_capacity: int = 50


@dataclass(frozen=True)
class NetworkPlan:
    people: tuple[PersonPlan, ...]
    regions: tuple[RegionPlan, ...]
    groups: tuple[str, ...]
    dealers: tuple[DealerPlan, ...]
    memberships: tuple[MembershipPlan, ...]
    territories: dict[str, str]  # three-digit postcode prefix -> dealer number


@dataclass(frozen=True)
class _Site:
    town: Town
    postcode: str
    latitude: float
    longitude: float


def plan_network(*, rng: random.Random, dealers: int = DEFAULT_DEALERS) -> NetworkPlan:
    """Decide the whole network without touching the database, so a seed always gives the same one."""
    if not 1 <= dealers <= MAX_DEALERS:
        raise ValueError(f"dealers must be between 1 and {MAX_DEALERS}")
    manufacturer, regions = _plan_manufacturer(rng=rng)  # first, so their names do not depend on --dealers
    sites = _place_dealers(rng=rng, count=dealers)
    groups = _form_groups(rng=rng, sites=sites)
    inactive = _pick_inactive(rng=rng, count=dealers, keep_active=groups[0] if groups else [0])
    group_of, group_names, names = _name_dealers(rng=rng, sites=sites, groups=groups)
    dealer_plans = tuple(
        _dealer_plan(
            rng=rng,
            index=index,
            site=site,
            name=names[index],
            group=group_of.get(index),
            is_active=index not in inactive,
        )
        for index, site in enumerate(sites)
    )
    staff, memberships = _plan_staff(rng=rng, dealers=dealer_plans, groups=groups)
    return NetworkPlan(
        people=(*manufacturer, *staff),
        regions=regions,
        groups=tuple(group_names),
        dealers=dealer_plans,
        memberships=tuple(memberships),
        territories=assign_territories(dealers=dealer_plans),
    )


def _weight(town: Town) -> float:
    """Big cities get more dealerships, but fewer per head than the countryside, as in real networks."""
    return float(town.population_k) ** 0.75


def _place_dealers(*, rng: random.Random, count: int) -> list[_Site]:
    """Spread ``count`` dealerships over the towns in proportion to their weight, sorted by postcode.

    Systematic sampling over the shuffled towns gives every town its fair share rounded up or down,
    so even 30 dealers land all over the country rather than all in Berlin.
    """
    order = list(towns())
    rng.shuffle(order)
    weights = [_weight(town) for town in order]
    step = sum(weights) / count
    point = rng.random() * step
    chosen: list[Town] = []
    cumulative = 0.0
    for town, weight in zip(order, weights, strict=True):
        cumulative += weight
        while point < cumulative and len(chosen) < count:
            chosen.append(town)
            point += step
    while len(chosen) < count:  # floating-point rounding may leave the last point unplaced
        chosen.append(max(order, key=_weight))
    return sorted(_sites_in_towns(rng=rng, chosen=chosen), key=lambda s: (s.postcode, s.latitude, s.longitude))


def _sites_in_towns(*, rng: random.Random, chosen: list[Town]) -> Iterable[_Site]:
    """Dealers sharing a town get different postcodes of it and slightly different positions."""
    per_town = Counter(town.name for town in chosen)
    by_name = {town.name: town for town in chosen}
    for name in sorted(per_town):
        town = by_name[name]
        postcodes = list(town.postcodes)
        rng.shuffle(postcodes)
        spread = 0.01 + 0.05 * min(1.0, town.population_k / 1000)
        for i in range(per_town[name]):
            yield _Site(
                town=town,
                postcode=postcodes[i % len(postcodes)],
                latitude=round(town.latitude + rng.uniform(-spread, spread), 5),
                longitude=round(town.longitude + rng.uniform(-1.5 * spread, 1.5 * spread), 5),
            )


def km_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in kilometres between two (latitude, longitude) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(h))


def _form_groups(*, rng: random.Random, sites: Sequence[_Site]) -> list[list[int]]:
    """Dealer groups own 2-6 neighbouring dealerships; the first group always includes dealer 10001."""
    count = len(sites)
    wanted = max(round(count * GROUPS_PER_DEALER), 1 if count >= 3 else 0)
    free = set(range(count))
    groups: list[list[int]] = []
    for g in range(wanted):
        if len(free) < 2:
            break
        seed = 0 if g == 0 else rng.choice(sorted(free))
        size = rng.randint(3, 6) if g == 0 else rng.randint(2, 6)
        free.discard(seed)
        here = (sites[seed].latitude, sites[seed].longitude)
        nearest = sorted(free, key=lambda i: (km_between(here, (sites[i].latitude, sites[i].longitude)), i))
        members = [seed, *nearest[: size - 1]]
        free.difference_update(members)
        groups.append(sorted(members))
    return groups


def _pick_inactive(*, rng: random.Random, count: int, keep_active: Sequence[int]) -> set[int]:
    """About 3% of dealerships have left the network; never dealer 10001 or its sister dealerships."""
    candidates = sorted(set(range(count)) - set(keep_active))
    return set(rng.sample(candidates, min(len(candidates), round(count * INACTIVE_SHARE))))


# --- Names ------------------------------------------------------------------------------------------

_TOWN_NAME_CUTS = (" (", " am ", " an der ", " auf ", " im ", " in der ", " in ", " ob der ", " vor der ", " a. ", "/")
_DIRECTIONS = ("Nord", "Süd", "Ost", "West", "Mitte")
_PLACES = ("Ring", "Stadtpark", "Kreisel", "Hafen", "Wasserturm", "Schlossberg", "Mühlbach", "Europaplatz")

# (template, weight); {s}/{s2} surnames, {t} town, {a} landscape, {d} direction, {p} place.
_INDEPENDENT_NAMES: tuple[tuple[str, int], ...] = (
    ("Autohaus {s} GmbH", 5),
    ("Autohaus {s} GmbH & Co. KG", 5),
    ("Autohaus {s} & Söhne", 1),
    ("Autohaus {s} & Sohn GmbH", 1),
    ("Auto-{s} e. K.", 1),
    ("{s} Automobile GmbH", 2),
    ("Autohaus {s} & {s2} OHG", 1),
    ("Autohaus {s} {t}", 2),
    ("Autozentrum {t}", 2),
    ("Autozentrum {a}", 2),
    ("Autohaus {t}-{d}", 1),
    ("Autohaus am {p} GmbH", 1),
)
# (group name, member name): a group's dealerships carry its family name and their town.
_GROUP_NAMES: tuple[tuple[str, str], ...] = (
    ("{s} Automobilgruppe GmbH", "Autohaus {s} {t}"),
    ("Autohaus {s} Gruppe", "Autohaus {s} {t}"),
    ("{s} Automobile Holding GmbH & Co. KG", "{s} Automobile {t}"),
    ("Autogruppe {s}", "Autozentrum {s} {t}"),
    ("{s} & {s2} Automobilgruppe", "Autohaus {s} & {s2} {t}"),
    ("Autogruppe {a}", "Autozentrum {a} {t}"),
)


def short_town(name: str) -> str:
    """``Frankfurt am Main`` -> ``Frankfurt``: how a dealership would put its town in its name."""
    for cut in _TOWN_NAME_CUTS:
        name = name.split(cut)[0]
    return name


def _name_dealers(
    *, rng: random.Random, sites: Sequence[_Site], groups: Sequence[Sequence[int]]
) -> tuple[dict[int, str], list[str], list[str]]:
    """Names of groups and dealerships, unique across the network so lists and switchers stay readable."""
    taken: set[str] = set()
    taken_groups: set[str] = set()
    names: dict[int, str] = {}
    group_of: dict[int, str] = {}
    group_names: list[str] = []
    families = list(DEALER_SURNAMES)
    rng.shuffle(families)
    for g, members in enumerate(groups):
        family = families[g % len(families)]  # families repeat only beyond ~90 groups
        partner = rng.choice([s for s in DEALER_SURNAMES if s != family])
        landscape = LANDSCAPES.get(sites[members[0]].town.name)
        styles = [style for style in _GROUP_NAMES if landscape or "{a}" not in style[0]]
        group_template, member_template = rng.choice(styles)
        group_name = _unique(group_template.format(s=family, s2=partner, a=landscape), taken=taken_groups)
        group_names.append(group_name)
        for index in members:
            name = member_template.format(s=family, s2=partner, a=landscape, t=short_town(sites[index].town.name))
            names[index] = _unique(name, taken=taken, prefer=_compass(sites[index]))
            group_of[index] = group_name
    for index, site in enumerate(sites):
        if index not in names:
            names[index] = _unique(_independent_name(rng=rng, town=site.town, taken=taken), taken=taken)
    return group_of, group_names, [names[i] for i in range(len(sites))]


def _independent_name(*, rng: random.Random, town: Town, taken: set[str]) -> str:
    landscape = LANDSCAPES.get(town.name)
    templates = [
        (template, weight)
        for template, weight in _INDEPENDENT_NAMES
        if (landscape or "{a}" not in template) and (town.population_k >= 150 or "{d}" not in template)
    ]
    name = ""
    for _attempt in range(20):
        template = rng.choices([t for t, _ in templates], weights=[w for _, w in templates])[0]
        first, second = rng.sample(DEALER_SURNAMES, 2)
        name = template.format(
            s=first,
            s2=second,
            t=short_town(town.name),
            a=landscape,
            d=rng.choice(_DIRECTIONS),
            p=rng.choice(_PLACES),
        )
        if name not in taken:
            break
    return name


def _unique(name: str, *, taken: set[str], prefer: str | None = None) -> str:
    """``name``, else ``name`` with the preferred suffix ("Leipzig Nord"), else any free suffix."""
    suffixes = [*([prefer] if prefer else []), *_DIRECTIONS, *(str(n) for n in range(2, 1000))]
    candidates = [name, *(f"{name} {suffix}" for suffix in suffixes)]
    chosen = next(c for c in candidates if c not in taken)
    taken.add(chosen)
    return chosen


def _compass(site: _Site) -> str:
    """Where in its town a dealership sits, for telling a group's dealerships in one town apart."""
    north = site.latitude - site.town.latitude
    east = (site.longitude - site.town.longitude) * math.cos(math.radians(site.town.latitude))
    if abs(north) >= abs(east):
        return "Nord" if north > 0 else "Süd"
    return "Ost" if east > 0 else "West"


_FOLD = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ı": "i"}  # noqa: RUF001 - dotless i
)


def ascii_fold(text: str) -> str:
    """``Jürgen Weiß`` -> ``Juergen Weiss``, as German mail addresses spell names."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return decomposed.encode("ascii", "ignore").decode("ascii")


def email_local_part(first_name: str, last_name: str) -> str:
    return ascii_fold(f"{first_name}.{last_name}").lower().replace(" ", "-")


def staff_email(first_name: str, last_name: str, *, dealer_number: str) -> str:
    """``vorname.nachname.<dealer number>@demo.crm.example``: unique, as names repeat across dealerships."""
    return f"{email_local_part(first_name, last_name)}.{dealer_number}@{DEMO_DOMAIN}"


def _draw_person(*, rng: random.Random, taken: set[str]) -> tuple[str, str]:
    """A German first and last name whose mail address is not yet taken at this dealership."""
    while True:
        first = rng.choice(FEMALE_FIRST_NAMES if rng.random() < 0.4 else MALE_FIRST_NAMES)
        last = rng.choice(SURNAMES)
        local = email_local_part(first, last)
        if local not in taken:
            taken.add(local)
            return first, last


# --- Dealerships ------------------------------------------------------------------------------------


def _dealer_plan(
    *, rng: random.Random, index: int, site: _Site, name: str, group: str | None, is_active: bool
) -> DealerPlan:
    number = str(FIRST_DEALER_NUMBER + index)
    return DealerPlan(
        number=number,
        name=name,
        group=group,
        region_code=region_code_for(state=site.town.state, postcode=site.postcode),
        street=_street(rng=rng, town=site.town),
        postcode=site.postcode,
        city=site.town.name,
        phone=_phone(rng=rng, area_code=site.town.area_code),
        email=f"info@{number}.{DEMO_DOMAIN}",
        latitude=Decimal(f"{site.latitude:.5f}"),
        longitude=Decimal(f"{site.longitude:.5f}"),
        is_active=is_active,
        salespeople_see_unassigned=rng.random() < 0.85,
        first_contact_minutes=rng.choice((60, 90, 120, 120, 120, 180, 240)),
        hours=_opening_hours(rng=rng),
    )


def _street(*, rng: random.Random, town: Town) -> str:
    """A street and house number; no "Berliner Straße" in Berlin."""
    stem = short_town(town.name)[:4]
    street = rng.choice([s for s in STREETS if not s.startswith(stem)])
    number = str(rng.randint(1, 220))
    if rng.random() < 0.15:
        number += rng.choice("abc")
    return f"{street} {number}"


def _phone(*, rng: random.Random, area_code: str) -> str:
    """A switchboard number in international format; the subscriber part is shorter with longer area codes."""
    national = area_code.removeprefix("0")
    length = {2: 8, 3: 7, 4: 6}.get(len(national), 5) - rng.randint(0, 1)
    subscriber = str(rng.randint(2, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(length - 1))
    return f"+49 {national} {subscriber}"


def _opening_hours(*, rng: random.Random) -> tuple[tuple[int, time, time], ...]:
    """Mon-Fri 08:00/09:00-18:00/19:00, Sat 09:00-13:00/14:00, Sunday closed."""
    opens, closes = time(rng.choice((8, 9))), time(rng.choice((18, 19)))
    saturday = (OpeningHours.Weekday.SATURDAY.value, time(9), time(rng.choice((13, 14))))
    return (*((weekday, opens, closes) for weekday in range(5)), saturday)


# --- Territories ------------------------------------------------------------------------------------


@cache
def area_centres() -> dict[str, tuple[float, float]]:
    """Approximate centre of each two-digit postcode area (Leitregion) 01-99, from the town table."""
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for town in towns():
        for postcode in town.postcodes:
            points[postcode[:2]].append((town.latitude, town.longitude))
    centres = {
        area: (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)) for area, pts in points.items()
    }
    return {**UNUSED_AREA_CENTRES, **centres}


def assign_territories(*, dealers: Sequence[DealerPlan]) -> dict[str, str]:
    """Give every three-digit postcode prefix 010-999 to one active dealership, so every lead has a home.

    A prefix goes to an active dealer of its own two-digit area (the one sharing the three digits
    first, then whoever holds fewest, like a round robin); an area without one goes to the
    active dealer nearest to the area's centre.
    """
    active = [d for d in dealers if d.is_active]
    in_area: dict[str, list[DealerPlan]] = defaultdict(list)
    for dealer in active:
        in_area[dealer.postcode[:2]].append(dealer)
    held: Counter[str] = Counter()
    territories: dict[str, str] = {}
    for area in (f"{n:02d}" for n in range(1, 100)):
        local = in_area.get(area)
        if not local:
            centre = area_centres()[area]
            nearest = min(active, key=lambda d: (km_between(centre, (float(d.latitude), float(d.longitude))), d.number))
        for prefix in (f"{area}{digit}" for digit in range(10)):
            if local:
                pool = [d for d in local if d.postcode.startswith(prefix)] or local
                chosen = min(pool, key=lambda d: (held[d.number], d.number))
            else:
                chosen = nearest
            territories[prefix] = chosen.number
            held[chosen.number] += 1
    return territories


# --- People -----------------------------------------------------------------------------------------


# The first dealer's staff get addresses one can remember from the login table.
_MEMORABLE = {Role.DEALER_ADMIN: "admin", Role.SALES_MANAGER: "leitung", Role.SALESPERSON: "verkauf"}


def _plan_staff(
    *, rng: random.Random, dealers: Sequence[DealerPlan], groups: Sequence[Sequence[int]]
) -> tuple[list[PersonPlan], list[MembershipPlan]]:
    """A dealer administrator, a sales manager and 3-6 salespeople per dealership, plus group staff."""
    people: list[PersonPlan] = []
    memberships: list[MembershipPlan] = []
    for index, dealer in enumerate(dealers):
        taken: set[str] = set()
        memorable = dict(_MEMORABLE) if index == 0 else {}
        for role in [Role.DEALER_ADMIN, Role.SALES_MANAGER, *[Role.SALESPERSON] * rng.randint(3, 6)]:
            first, last = _draw_person(rng=rng, taken=taken)
            local = memorable.pop(role, None)
            email = _first_dealer_email(local) if local else staff_email(first, last, dealer_number=dealer.number)
            people.append(PersonPlan(email=email, first_name=first, last_name=last))
            salesperson = role == Role.SALESPERSON
            memberships.append(
                MembershipPlan(
                    dealer_number=dealer.number,
                    email=email,
                    role=role.value,
                    # some are on holiday or off sick; never the one from the login table
                    is_available=not salesperson or bool(local) or rng.random() >= 0.1,
                    lead_capacity=rng.choice((20, 30, 40, 40, 50, 50, 60, 80)) if salesperson else 50,
                )
            )
    group_people, group_memberships = _plan_group_staff(
        rng=rng, dealers=dealers, groups=groups, memberships=memberships
    )
    return people + group_people, memberships + group_memberships


def _plan_group_staff(
    *,
    rng: random.Random,
    dealers: Sequence[DealerPlan],
    groups: Sequence[Sequence[int]],
    memberships: Sequence[MembershipPlan],
) -> tuple[list[PersonPlan], list[MembershipPlan]]:
    """Some staff work for 2-3 dealerships of their group, to show the dealership switcher."""
    people: list[PersonPlan] = []
    extra: list[MembershipPlan] = []
    if groups:  # the memorable one: a sales manager at dealer 10001 and up to two sister dealerships
        first, last = _draw_person(rng=rng, taken=set())
        email = _first_dealer_email("gruppe")
        people.append(PersonPlan(email=email, first_name=first, last_name=last))
        extra += [MembershipPlan(dealers[i].number, email, Role.SALES_MANAGER.value) for i in groups[0][:3]]
    by_dealer: dict[str, list[MembershipPlan]] = defaultdict(list)
    for membership in memberships:
        if membership.role != Role.DEALER_ADMIN:
            by_dealer[membership.dealer_number].append(membership)
    for members in groups[1:]:
        for _ in range(rng.randint(0, 2)):
            home = dealers[rng.choice(members)].number
            person = rng.choice(by_dealer[home])
            sisters = [dealers[i].number for i in members if dealers[i].number != home]
            for number in rng.sample(sisters, min(len(sisters), rng.randint(1, 2))):
                extra.append(
                    MembershipPlan(number, person.email, person.role, person.is_available, person.lead_capacity)
                )
    unique = {(m.dealer_number, m.email): m for m in extra}  # the same person drawn twice keeps one membership
    return people, list(unique.values())


def _plan_manufacturer(*, rng: random.Random) -> tuple[list[PersonPlan], tuple[RegionPlan, ...]]:
    """The superuser, one user per manufacturer role, and a regional manager per sales region."""
    taken: set[str] = set()
    first, last = _draw_person(rng=rng, taken=taken)
    people = [PersonPlan(SUPERUSER_EMAIL, first, last, is_staff=True, is_superuser=True)]
    for group, local in MANUFACTURER_STAFF:
        first, last = _draw_person(rng=rng, taken=taken)
        people.append(PersonPlan(f"{local}@{DEMO_DOMAIN}", first, last, is_staff=True, groups=(group,)))
    regions = []
    for code, name in REGIONS:
        first, last = _draw_person(rng=rng, taken=taken)
        email = f"regionalleitung.{code.lower()}@{DEMO_DOMAIN}"
        people.append(PersonPlan(email, first, last, is_staff=True, groups=(REGIONAL_MANAGER_GROUP,)))
        regions.append(RegionPlan(code=code, name=name, manager_email=email))
    return people, tuple(regions)


# --- Writing the plan -------------------------------------------------------------------------------


def seed(*, rng: random.Random, options: Mapping[str, Any]) -> DemoResult:
    """``seed_demo``'s entry point for the dealer network."""
    started = clock.monotonic()
    plan = plan_network(rng=rng, dealers=int(options.get("dealers") or DEFAULT_DEALERS))
    write_network(plan=plan)
    inactive = sum(not d.is_active for d in plan.dealers)
    staff = len({m.email for m in plan.memberships})
    logger.info(
        "demo_network_seeded",
        extra={"dealers": len(plan.dealers), "staff": staff, "seconds": round(clock.monotonic() - started, 2)},
    )
    emails = {person.email for person in plan.people}
    return DemoResult(
        summary=(
            f"{len(plan.regions)} regions, {len(plan.dealers)} dealerships ({inactive} inactive), "
            f"{len(plan.groups)} dealer groups, {len(plan.territories)} territories, "
            f"{staff} dealership staff, {len(plan.people) - staff} manufacturer users"
        ),
        logins=tuple(login for login in _login_table() if login.email in emails),
    )


@transaction.atomic
def write_network(*, plan: NetworkPlan) -> None:
    """Upsert the plan in bulk: a few statements per table, so 450 dealers take seconds."""
    ensure_manufacturer_groups()
    user_ids = _upsert_users(plan.people)
    _add_to_manufacturer_groups(plan.people, user_ids)
    regions = [Region(code=r.code, name=r.name, manager_id=user_ids[r.manager_email]) for r in plan.regions]
    region_ids = {r.code: r.pk for r in _upsert(Region, regions, unique=["code"], update=["name", "manager"])}
    groups = [DealerGroup(name=name) for name in plan.groups]
    group_ids = {g.name: g.pk for g in _upsert(DealerGroup, groups, unique=["name"], update=["name"])}
    dealer_ids = _upsert_dealers(plan.dealers, region_ids=region_ids, group_ids=group_ids)
    _converge_opening_hours(plan.dealers, dealer_ids)
    _upsert(
        Territory,
        [Territory(postcode_prefix=prefix, dealer_id=dealer_ids[n]) for prefix, n in plan.territories.items()],
        unique=["postcode_prefix"],
        update=["dealer"],
    )
    _upsert(
        Membership,
        [
            Membership(
                dealer_id=dealer_ids[m.dealer_number],
                user_id=user_ids[m.email],
                role=m.role,
                is_active=True,
                is_available=m.is_available,
                lead_capacity=m.lead_capacity,
            )
            for m in plan.memberships
        ],
        unique=["dealer", "user"],
        update=["role", "is_active", "is_available", "lead_capacity"],
    )


def _upsert(model: type[models.Model], objs: list[Any], *, unique: list[str], update: list[str]) -> list[Any]:
    """INSERT ... ON CONFLICT DO UPDATE, returning the rows with their pks, old or new.

    Updating the key itself (``update=["name"]``) is how a row that exists still returns its pk.
    """
    return model._default_manager.bulk_create(
        objs, batch_size=BATCH_SIZE, update_conflicts=True, unique_fields=unique, update_fields=update
    )


def _upsert_users(people: Sequence[PersonPlan]) -> dict[str, int]:
    """Hash the shared password once (hashing thousands would take minutes); keep passwords users changed."""
    password = make_password(DEMO_PASSWORD)
    users = [
        User(
            email=p.email,
            first_name=p.first_name,
            last_name=p.last_name,
            is_staff=p.is_staff,
            is_superuser=p.is_superuser,
            is_active=True,
            password=password,
        )
        for p in people
    ]
    update = ["first_name", "last_name", "is_staff", "is_superuser", "is_active"]
    return {u.email: u.pk for u in _upsert(User, users, unique=["email"], update=update)}


def _add_to_manufacturer_groups(people: Sequence[PersonPlan], user_ids: Mapping[str, int]) -> None:
    group_ids = dict(Group.objects.values_list("name", "pk"))
    through = User.groups.through
    links = [through(user_id=user_ids[p.email], group_id=group_ids[g]) for p in people for g in p.groups]
    through.objects.bulk_create(links, ignore_conflicts=True)


def _upsert_dealers(
    dealers: Sequence[DealerPlan], *, region_ids: Mapping[str, int], group_ids: Mapping[str, int]
) -> dict[str, int]:
    """``updated_at`` is left out of the update, so a repeated run leaves every row as it was."""
    fields = ["name", "group", "region", "street", "postcode", "city", "phone", "email", "latitude", "longitude"]
    fields += ["is_active", "salespeople_see_unassigned", "first_contact_minutes"]
    objs = [
        Dealer(
            number=d.number,
            name=d.name,
            group_id=group_ids[d.group] if d.group else None,
            region_id=region_ids[d.region_code],
            street=d.street,
            postcode=d.postcode,
            city=d.city,
            phone=d.phone,
            email=d.email,
            latitude=d.latitude,
            longitude=d.longitude,
            is_active=d.is_active,
            salespeople_see_unassigned=d.salespeople_see_unassigned,
            first_contact_minutes=d.first_contact_minutes,
        )
        for d in dealers
    ]
    return {d.number: d.pk for d in _upsert(Dealer, objs, unique=["number"], update=fields)}


def _converge_opening_hours(dealers: Sequence[DealerPlan], dealer_ids: Mapping[str, int]) -> None:
    """Make each demo dealer's hours exactly the plan's: drop other intervals, add missing ones."""
    wanted = {(dealer_ids[d.number], *interval) for d in dealers for interval in d.hours}
    existing = OpeningHours.objects.filter(dealer_id__in=dealer_ids.values()).values_list(
        "pk", "dealer_id", "weekday", "opens", "closes"
    )
    have = {(dealer_id, weekday, opens, closes): pk for pk, dealer_id, weekday, opens, closes in existing}
    stale = [pk for key, pk in have.items() if key not in wanted]
    if stale:
        OpeningHours.objects.filter(pk__in=stale).delete()
    missing = [
        OpeningHours(dealer_id=dealer_id, weekday=weekday, opens=opens, closes=closes)
        for dealer_id, weekday, opens, closes in sorted(wanted - have.keys())
    ]
    OpeningHours.objects.bulk_create(missing, batch_size=BATCH_SIZE)
