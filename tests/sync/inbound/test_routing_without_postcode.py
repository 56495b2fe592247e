"""Issue 11 item 2: leads without a postcode are routed by their city, then by a landline's area code.

Both go through the town table (dealers/data/towns.csv: name, area code, postcodes) to the postcodes
and from there to the territories that hold them; each decision records the evidence it used.
"""

from __future__ import annotations

import csv

import phonenumbers
import pytest
from django.utils import translation

from crm.models import Lead
from crm.routing_decisions import routing_summary
from dealers.actors import Actor
from dealers.demo_data import TOWNS_CSV
from dealers.models import Dealer
from sync.inbound.routing import Unroutable, landline_area_code, route_intake, towns_named
from sync.models import LeadRouting
from tests.factories import DealerFactory, TerritoryFactory
from tests.sync.inbound.conftest import make_intake

ACTOR = Actor.system("intake-test")
NO_ADDRESS = {"street": "", "postcode": "", "city": "", "phone": "", "mobile": "", "email": "kunde@kunde.example"}


@pytest.fixture
def towns_network(db: None) -> dict[str, Dealer]:
    """Dresden's territories split between two dealers; both Frankfurts and Offenbach held by three more."""
    dealers = {
        "dresden": DealerFactory.create(postcode="01067"),
        "radebeul": DealerFactory.create(postcode="01445"),
        "frankfurt": DealerFactory.create(postcode="60311"),
        "offenbach": DealerFactory.create(postcode="63065"),
        "oder": DealerFactory.create(postcode="15230"),
    }
    for prefix in ("010", "011", "012", "013", "016"):  # Dresden's postcodes and Meißen's 01662
        TerritoryFactory.create(dealer=dealers["dresden"], postcode_prefix=prefix)
    for prefix in ("014", "017"):  # Radebeul 01445, Freital 01705: same area code 0351 as Dresden
        TerritoryFactory.create(dealer=dealers["radebeul"], postcode_prefix=prefix)
    TerritoryFactory.create(dealer=dealers["frankfurt"], postcode_prefix="60")
    TerritoryFactory.create(dealer=dealers["offenbach"], postcode_prefix="63")
    TerritoryFactory.create(dealer=dealers["oder"], postcode_prefix="15")
    return dealers


def _without_address(**customer: str) -> dict[str, str]:
    return {**NO_ADDRESS, **customer}


@pytest.mark.parametrize("city", ["Frankfurt am Main", "Frankfurt a. M.", "FRANKFURT/MAIN", "frankfurt a.m."])
def test_a_city_alone_routes_to_the_territory_holding_its_postcodes(
    city: str, towns_network: dict[str, Dealer]
) -> None:
    routed = route_intake(intake=make_intake(customer=_without_address(city=city)), actor=ACTOR)
    assert routed.dealer == towns_network["frankfurt"]
    decision = routed.decisions["dealer"]
    assert (decision["method"], decision["city"], decision["towns"], decision["territory"]) == (
        "city",
        city,
        ["Frankfurt am Main"],
        "60",
    )
    assert LeadRouting.objects.get(lead=routed.lead).method == "city"


def test_umlauts_and_sharp_s_in_a_city_match_either_spelling(towns_network: dict[str, Dealer]) -> None:
    routed = route_intake(intake=make_intake(customer=_without_address(city="Meissen")), actor=ACTOR)
    assert routed.dealer == towns_network["dresden"]
    assert routed.decisions["dealer"]["towns"] == ["Meißen"]


def test_an_ambiguous_city_goes_to_the_lead_desk_with_every_candidate(towns_network: dict[str, Dealer]) -> None:
    with pytest.raises(Unroutable) as unroutable:
        route_intake(intake=make_intake(customer=_without_address(city="Frankfurt")), actor=ACTOR)
    record = unroutable.value.record
    (hint,) = record["hints"]
    assert hint["towns"] == ["Frankfurt (Oder)", "Frankfurt am Main"]
    assert [c["dealer"] for c in hint["candidates"]] == [
        towns_network["frankfurt"].number,
        towns_network["oder"].number,
    ]
    # the best guess: the dealership holding most of the postcodes, shown with its evidence
    assert record["suggestion"]["dealer"] == towns_network["frankfurt"].number
    assert not Lead.objects.exists()


def test_a_landline_routes_by_its_area_code_to_the_dealer_holding_most_of_its_postcodes(
    towns_network: dict[str, Dealer],
) -> None:
    # 0351 is Dresden, Radebeul and Freital: the Dresden dealer holds 15 of their 17 postcodes.
    intake = make_intake(customer=_without_address(phone="+493514711815", email=""))
    routed = route_intake(intake=intake, actor=ACTOR)
    assert routed.dealer == towns_network["dresden"]
    decision = routed.decisions["dealer"]
    assert {key: decision[key] for key in ("method", "area_code", "towns", "territory")} == {
        "method": "area_code",
        "area_code": "0351",
        "towns": ["Dresden", "Freital", "Radebeul"],
        "territory": "010",
    }
    assert (decision["postcodes_held"], decision["postcodes"]) == (15, 17)
    with translation.override("en"):
        assert routing_summary(routed.decisions)[0].endswith(
            "landline area code 0351 (Dresden, Freital, Radebeul) lies in territory 010"
        )
    with translation.override("de"):
        assert "0351" in routing_summary(routed.decisions)[0]


def test_a_city_is_asked_before_the_area_code(towns_network: dict[str, Dealer]) -> None:
    intake = make_intake(customer=_without_address(city="Offenbach am Main", phone="+493514711815"))
    routed = route_intake(intake=intake, actor=ACTOR)
    assert (routed.dealer, routed.decisions["dealer"]["method"]) == (towns_network["offenbach"], "city")


def test_an_unknown_city_leaves_the_area_code_to_decide(towns_network: dict[str, Dealer]) -> None:
    intake = make_intake(customer=_without_address(city="Nirgendwo", phone="+49 69 1234567"))
    routed = route_intake(intake=intake, actor=ACTOR)
    # 069 is Frankfurt am Main and Offenbach am Main: Frankfurt's dealer holds more of their postcodes
    assert (routed.dealer, routed.decisions["dealer"]["area_code"]) == (towns_network["frankfurt"], "069")


def test_a_mobile_number_says_nothing_about_where_the_customer_lives(towns_network: dict[str, Dealer]) -> None:
    with pytest.raises(Unroutable) as unroutable:
        route_intake(intake=make_intake(customer=_without_address(mobile="+491701234567", email="")), actor=ACTOR)
    assert unroutable.value.record == {"skipped": [], "hints": [], "suggestion": None}


def test_a_postcode_is_still_routed_by_the_postcode_steps_before_city_or_area_code(
    towns_network: dict[str, Dealer],
) -> None:
    # 15230 is held by the Oder dealer although the city says Frankfurt am Main
    intake = make_intake(customer=_without_address(postcode="15230", city="Frankfurt am Main", phone="+49691234567"))
    routed = route_intake(intake=intake, actor=ACTOR)
    assert (routed.dealer, routed.decisions["dealer"]["method"]) == (towns_network["oder"], "territory")


@pytest.mark.parametrize(
    ("phone", "area_code"),
    [
        ("+493514711815", "0351"),  # Dresden
        ("+4935211234567", "03521"),  # Meißen: the longer code wins over none shorter
        ("+49691234567", "069"),
        ("+491701234567", ""),  # mobile
        ("+491521234567", ""),  # mobile
        ("+498001234567", ""),  # free phone: no area
        ("+43123456789", ""),  # Austria
    ],
)
def test_landline_area_code_takes_the_longest_known_code_and_never_a_mobile(phone: str, area_code: str) -> None:
    assert landline_area_code(phone) == area_code


def test_town_names_are_matched_whole_words_first() -> None:
    assert [t.name for t in towns_named("München-Pasing")] == ["München"]
    assert {t.name for t in towns_named("frankfurt")} == {"Frankfurt am Main", "Frankfurt (Oder)"}
    assert [t.name for t in towns_named("Halle/Saale")] == ["Halle (Saale)"]
    assert towns_named("") == ()


def test_every_area_code_of_the_town_table_is_the_one_libphonenumber_reads_for_that_town() -> None:
    """The area codes' source check: Google's libphonenumber (from the Bundesnetzagentur's plan) agrees."""
    with TOWNS_CSV.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    wrong = []
    for row in rows:
        number = phonenumbers.parse(row["area_code"] + "1234567", "DE")
        length = phonenumbers.length_of_geographical_area_code(number)
        read = "0" + phonenumbers.national_significant_number(number)[:length]
        if read != row["area_code"]:
            wrong.append((row["name"], row["area_code"], read))
    assert wrong == []
    assert len(rows) > 500
