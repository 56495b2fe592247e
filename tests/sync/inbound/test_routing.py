"""Routing of intake leads: which dealership, which prospect, which salesperson, and why (recorded)."""

from __future__ import annotations

import importlib
import re
import threading
from datetime import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from crm.models import Consent, Lead, LeadEvent, Prospect
from crm.routing_decisions import reason, routing_summary, say_reason
from dealers.actors import Actor
from dealers.models import Dealer, Membership
from dealers.services import update_staff_member
from dealers.working_hours import BERLIN
from sync.inbound.routing import Unroutable, route_intake
from sync.models import LeadRouting, RoundRobinPointer
from tests.factories import DealerFactory, LeadFactory, ProspectFactory, TerritoryFactory
from tests.sync.inbound.conftest import Network, make_intake, showroom_hours

ACTOR = Actor.system("intake-test")


def _absent(membership: Membership) -> None:
    update_staff_member(
        membership=membership,
        role=membership.role,
        is_active=True,
        is_available=False,
        lead_capacity=membership.lead_capacity,
        actor=Actor.for_user(membership.user),
    )


# --- Dealership ------------------------------------------------------------------------------------------


def test_customers_chosen_dealer_gets_the_lead_even_outside_its_territory(network: Network) -> None:
    # Postcode 80802 lies in A's area 80, but the customer picked dealer B.
    routed = route_intake(intake=make_intake(dealer_number=network.b.dealer.number), actor=ACTOR)
    assert routed.dealer == network.b.dealer
    assert routed.lead.dealer_id == network.b.dealer.pk
    assert routed.decisions["dealer"]["method"] == "chosen"
    assert LeadRouting.objects.get(lead=routed.lead).method == "chosen"


def test_longest_territory_prefix_wins(network: Network) -> None:
    finer = route_intake(intake=make_intake(customer={"postcode": "80331"}), actor=ACTOR)
    coarser = route_intake(intake=make_intake(customer={"postcode": "80999", "email": "x@kunde.example"}), actor=ACTOR)
    assert finer.dealer == network.b.dealer
    assert finer.decisions["dealer"] | {"skipped": []} == {
        "number": network.b.dealer.number,
        "name": network.b.dealer.name,
        "method": "territory",
        "territory": "803",
        "reason": {"code": "in_territory", "params": {"postcode": "80331", "territory": "803"}},
        "skipped": [],
    }
    assert coarser.dealer == network.a.dealer
    assert coarser.decisions["dealer"]["territory"] == "80"


def test_inactive_chosen_dealer_falls_back_to_territory_and_says_so(network: Network) -> None:
    Dealer.objects.filter(pk=network.b.dealer.pk).update(is_active=False)
    routed = route_intake(
        intake=make_intake(dealer_number=network.b.dealer.number, customer={"postcode": "80999"}), actor=ACTOR
    )
    assert routed.dealer == network.a.dealer
    assert routed.decisions["dealer"]["skipped"] == [
        {"dealer": network.b.dealer.number, "reason": {"code": "inactive", "params": {}}}
    ]


def test_inactive_territory_holder_never_receives_the_lead(network: Network) -> None:
    Dealer.objects.filter(pk=network.b.dealer.pk).update(is_active=False)
    routed = route_intake(intake=make_intake(customer={"postcode": "80331"}), actor=ACTOR)
    assert routed.dealer == network.a.dealer  # B's finer 803 is skipped, A's 80 takes it
    assert routed.decisions["dealer"]["territory"] == "80"
    assert routed.decisions["dealer"]["skipped"] == [
        {
            "dealer": network.b.dealer.number,
            "reason": {"code": "inactive_territory_holder", "params": {"territory": "803"}},
        }
    ]
    assert not Lead.objects.filter(dealer=network.b.dealer).exists()


def test_unknown_chosen_dealer_number_is_recorded_and_routing_goes_on(network: Network) -> None:
    routed = route_intake(intake=make_intake(dealer_number="99999", customer={"postcode": "80999"}), actor=ACTOR)
    assert routed.dealer == network.a.dealer
    assert routed.decisions["dealer"]["skipped"] == [
        {"dealer": "99999", "reason": {"code": "unknown_dealer_number", "params": {}}}
    ]


@pytest.fixture
def saxony(db: None) -> dict[str, Dealer]:
    """Dealers around Dresden and elsewhere, no territories for postcode area 01."""
    return {
        "dresden": DealerFactory(postcode="01069", latitude=51.0504, longitude=13.7373, is_active=False),
        "leipzig": DealerFactory(postcode="04109", latitude=51.3397, longitude=12.3731),
        "hamburg": DealerFactory(postcode="20095", latitude=53.5511, longitude=9.9937),
        "munich": DealerFactory(postcode="80331", latitude=48.1372, longitude=11.5755),
    }


def test_without_territory_the_nearest_active_dealer_gets_the_lead(saxony: dict[str, Dealer]) -> None:
    # 01067 Dresden: the area is located by the (inactive) Dresden dealer; the nearest active one is Leipzig.
    routed = route_intake(intake=make_intake(customer={"postcode": "01067", "city": "Dresden"}), actor=ACTOR)
    assert routed.dealer == saxony["leipzig"]
    decision = routed.decisions["dealer"]
    assert decision["method"] == "fallback"
    assert decision["location"] == {"code": "postcode_area_centre", "params": {"area": "0106"}}
    assert 90 < decision["distance_km"] < 110  # Dresden - Leipzig, as the crow flies
    assert LeadRouting.objects.get(lead=routed.lead).method == "fallback"


def test_fallback_uses_coordinates_sent_with_the_lead(saxony: dict[str, Dealer]) -> None:
    # Coordinates near Hamburg win over a postcode that no territory holds.
    routed = route_intake(
        intake=make_intake(customer={"postcode": "01067"}, latitude=53.6, longitude=10.0), actor=ACTOR
    )
    assert routed.dealer == saxony["hamburg"]
    assert routed.decisions["dealer"]["location"] == {"code": "coordinates_sent", "params": {}}


def test_lead_without_address_or_landline_is_unroutable_for_the_lead_desk_not_refused(network: Network) -> None:
    # Issue 11: no ValidationError for routing reasons; intake parks the lead for the lead desk.
    customer = {"postcode": "", "city": "", "phone": "", "mobile": "+491701234567"}
    with pytest.raises(Unroutable) as unroutable:
        route_intake(intake=make_intake(customer=customer), actor=ACTOR)
    assert unroutable.value.record["suggestion"] is None
    assert not Lead.objects.exists()


# --- Prospect --------------------------------------------------------------------------------------------


def test_new_customer_becomes_a_prospect_of_origin_intake(network: Network) -> None:
    routed = route_intake(intake=make_intake(customer={"postcode": "80999"}), actor=ACTOR)
    assert routed.prospect_created
    prospect = Prospect.objects.get(pk=routed.prospect.pk)
    assert (prospect.dealer_id, prospect.origin, prospect.phone) == (network.a.dealer.pk, "intake", "+49891234567")
    assert prospect.owner_id == routed.lead.owner_id
    assert routed.decisions["prospect"] == {"matched": False, "created": str(prospect.pk)}


def test_known_email_matches_the_prospect_and_fills_only_missing_fields(network: Network) -> None:
    known = ProspectFactory(
        dealer=network.a.dealer, first_name="Erika", last_name="Musterfrau-Alt", email="Erika.Musterfrau@Kunde.example"
    )
    Prospect.objects.filter(pk=known.pk).update(phone="", street="")
    routed = route_intake(intake=make_intake(customer={"postcode": "80999"}), actor=ACTOR)
    assert routed.prospect.pk == known.pk
    assert not routed.prospect_created
    known.refresh_from_db()
    assert known.last_name == "Musterfrau-Alt"  # kept, a web form does not overwrite what the dealer holds
    assert (known.phone, known.street) == ("+49891234567", "Leopoldstraße 10")
    assert routed.decisions["prospect"]["by"] == "email"
    assert routed.decisions["prospect"]["filled"] == ["phone", "salutation", "street"]
    assert Prospect.objects.filter(dealer=network.a.dealer).count() == 1


def test_known_phone_in_another_format_matches(network: Network) -> None:
    known = ProspectFactory(dealer=network.a.dealer, email="", mobile="+4917012345678")
    routed = route_intake(
        intake=make_intake(customer={"postcode": "80999", "email": "", "phone": "0170 / 123 456 78"}), actor=ACTOR
    )
    assert routed.prospect.pk == known.pk
    assert routed.decisions["prospect"]["by"] == "phone"


def test_same_name_and_postcode_matches_with_umlaut_spelling(network: Network) -> None:
    known = ProspectFactory(
        dealer=network.a.dealer, first_name="Jürgen", last_name="Müller", email="", postcode="80999"
    )
    routed = route_intake(
        intake=make_intake(
            customer={"first_name": "Juergen", "last_name": "Mueller", "email": "", "phone": "", "postcode": "80999"}
        ),
        actor=ACTOR,
    )
    assert routed.prospect.pk == known.pk
    assert routed.decisions["prospect"]["by"] == "name_postcode"


def test_prospect_of_another_dealer_is_never_matched(network: Network) -> None:
    ProspectFactory(dealer=network.b.dealer, email="erika.musterfrau@kunde.example")
    routed = route_intake(intake=make_intake(customer={"postcode": "80999"}), actor=ACTOR)
    assert routed.prospect_created
    assert routed.prospect.dealer_id == network.a.dealer.pk


def test_consents_of_the_intake_go_to_the_ledger(network: Network) -> None:
    routed = route_intake(
        intake=make_intake(
            customer={"postcode": "80999"},
            consents=[{"purpose": "marketing_email", "status": "granted", "channel": "web", "text_version": "2026-01"}],
        ),
        actor=ACTOR,
    )
    consent = Consent.objects.get(prospect=routed.prospect)
    assert (consent.purpose, consent.status, consent.text_version) == ("marketing_email", "granted", "2026-01")


# --- Salesperson -----------------------------------------------------------------------------------------


def _route_n(n: int) -> list[Lead]:
    return [
        route_intake(
            intake=make_intake(
                customer={"postcode": "80999", "email": f"kunde{i}@kunde.example", "phone": "", "last_name": f"K{i}"}
            ),
            actor=ACTOR,
        ).lead
        for i in range(n)
    ]


def test_round_robin_takes_turns_in_a_fixed_order(network: Network) -> None:
    leads = _route_n(4)
    expected = [m.user_id for m in network.salespeople]
    assert [lead.owner_id for lead in leads] == [*expected, expected[0]]
    assert RoundRobinPointer.objects.get(dealer=network.a.dealer).last_membership_id == network.salespeople[0].pk


def test_absent_salesperson_is_skipped_and_the_skip_recorded(network: Network) -> None:
    first, second, third = network.salespeople
    _absent(second)
    leads = _route_n(3)
    assert [lead.owner_id for lead in leads] == [first.user_id, third.user_id, first.user_id]
    routed_event = LeadEvent.objects.get(lead=leads[1], kind="routed")
    skipped = routed_event.data["salesperson"]["skipped"]
    assert [(s["user_id"], s["reason"]["code"]) for s in skipped] == [(second.user_id, "absent")]


def test_salesperson_at_capacity_is_skipped(network: Network) -> None:
    first, second, third = network.salespeople
    Membership.objects.filter(pk=first.pk).update(lead_capacity=1)
    LeadFactory(prospect=ProspectFactory(dealer=network.a.dealer), owner=first.user)  # one open lead: full
    LeadFactory(prospect=ProspectFactory(dealer=network.a.dealer), owner=first.user, stage="won", close_note="x")
    leads = _route_n(3)
    assert [lead.owner_id for lead in leads] == [second.user_id, third.user_id, second.user_id]
    skipped = leads[0].events.get(kind="routed").data["salesperson"]["skipped"]
    assert skipped == [
        {
            "user_id": first.user_id,
            "name": first.user.get_full_name(),
            "reason": {"code": "at_capacity", "params": {}},
            "open_leads": 1,
            "capacity": 1,
        }
    ]


def test_nobody_available_leaves_the_lead_unassigned_for_the_manager(network: Network) -> None:
    for member in network.salespeople:
        _absent(member)
    routed = route_intake(intake=make_intake(customer={"postcode": "80999"}), actor=ACTOR)
    assert routed.lead.owner_id is None
    assert routed.salesperson is None
    assert routed.decisions["salesperson"]["reason"] == {"code": "nobody_available", "params": {}}
    assert len(routed.decisions["salesperson"]["skipped"]) == 3


def test_returning_customer_goes_to_their_own_salesperson(network: Network) -> None:
    first, _second, third = network.salespeople
    ProspectFactory(dealer=network.a.dealer, email="erika.musterfrau@kunde.example", owner=third.user)
    routed = route_intake(intake=make_intake(customer={"postcode": "80999"}), actor=ACTOR)
    assert routed.lead.owner_id == third.user_id
    assert routed.decisions["salesperson"]["reason"] == {"code": "own_salesperson", "params": {}}
    # The round robin did not move: the next new customer still goes to the first salesperson.
    assert _route_n(1)[0].owner_id == first.user_id


def test_routing_decisions_are_recorded_on_the_lead(network: Network) -> None:
    routed = route_intake(
        intake=make_intake(customer={"postcode": "80999"}, external_reference="WEB-4711"), actor=ACTOR
    )
    events = list(routed.lead.events.values_list("kind", flat=True))
    assert events == ["created", "routed", "assigned"]
    recorded = routed.lead.events.get(kind="routed").data
    assert set(recorded) == {"dealer", "prospect", "salesperson", "first_contact", "channel"}
    assert recorded["channel"]["external_reference"] == "WEB-4711"
    assert recorded["salesperson"]["reason"] == {"code": "round_robin", "params": {}}
    assert recorded["salesperson"]["user_id"] == routed.lead.owner_id


def test_first_contact_is_due_in_the_dealers_working_hours(network: Network) -> None:
    showroom_hours(network.a.dealer)
    Dealer.objects.filter(pk=network.a.dealer.pk).update(first_contact_minutes=120)
    friday_evening = datetime(2026, 3, 6, 19, 0, tzinfo=BERLIN)
    routed = route_intake(intake=make_intake(customer={"postcode": "80999"}), actor=ACTOR, now=friday_evening)
    assert routed.lead.first_contact_due_at == datetime(2026, 3, 7, 11, 0, tzinfo=BERLIN)  # Saturday 9-11
    routing = LeadRouting.objects.get(lead=routed.lead)
    assert routing.next_escalation_at == routing.first_contact_due_at == routed.lead.first_contact_due_at
    assert routed.decisions["first_contact"]["counted"] == "opening hours"


@pytest.mark.django_db(transaction=True)
def test_concurrent_intakes_for_one_dealer_take_turns_without_duplicates(network: Network) -> None:
    """Two intakes at once: the pointer row lock makes them queue, so they go to different people."""
    TerritoryFactory(dealer=network.a.dealer, postcode_prefix="81")
    barrier = threading.Barrier(4)
    owners: list[int | None] = []
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            lead = route_intake(
                intake=make_intake(
                    customer={"postcode": "81379", "email": f"p{i}@kunde.example", "phone": "", "last_name": f"P{i}"}
                ),
                actor=ACTOR,
            ).lead
            owners.append(lead.owner_id)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    expected = [m.user_id for m in network.salespeople]
    assert None not in owners
    assert sorted(owners, key=lambda o: o or 0) == sorted([*expected, expected[0]])


def test_family_member_at_the_same_address_is_not_matched(network: Network) -> None:
    ProspectFactory(dealer=network.a.dealer, first_name="Hans", last_name="Musterfrau", email="", postcode="80999")
    routed = route_intake(
        intake=make_intake(customer={"email": "", "phone": "", "postcode": "80999"}),  # Erika Musterfrau
        actor=ACTOR,
    )
    assert routed.prospect_created
    assert Prospect.objects.filter(dealer=network.a.dealer, last_name="Musterfrau").count() == 2


def test_summary_lines_explain_the_routing_to_people(network: Network) -> None:
    first, second, _third = network.salespeople
    _absent(first)
    Dealer.objects.filter(pk=network.b.dealer.pk).update(is_active=False)
    routed = route_intake(intake=make_intake(customer={"postcode": "80331"}), actor=ACTOR)
    with translation.override("en"):
        summary = routing_summary(routed.lead.events.get(kind="routed").data)
    assert summary[0] == f"Dealership {network.a.dealer.number} {network.a.dealer.name}: postcode territory 80"
    assert summary[1] == f"Skipped dealership {network.b.dealer.number}: inactive (holds territory 803)"
    assert summary[2] == "New prospect"
    assert summary[3] == f"Salesperson {second.user.get_full_name()}: round robin"
    assert summary[4] == f"Skipped: {first.user.get_full_name()} (absent)"
    assert summary[5].startswith("First contact due ")


def test_every_salesperson_reason_reads_as_a_sentence_in_both_languages(network: Network) -> None:
    for code in ("own_salesperson_at_capacity", "no_salespeople", "nobody_available", "round_robin"):
        with translation.override("en"):
            english = say_reason(reason(code))
        with translation.override("de"):
            german = say_reason(reason(code))
        assert english, code
        assert german != english, code
    with translation.override("en"):
        assert say_reason(reason("own_salesperson_at_capacity")) == "the prospect's own salesperson, at capacity"


@pytest.mark.parametrize(("routed_in", "read_in", "expected"), [("de", "en", "round robin"), ("en", "de", "reihum")])
def test_lead_page_shows_the_routing_decisions_in_the_readers_language(
    network: Network, client_for, routed_in: str, read_in: str, expected: str
) -> None:
    with translation.override(routed_in):
        routed = route_intake(intake=make_intake(customer={"postcode": "80999"}), actor=ACTOR)
    client = client_for(network.a.user("sales_manager"))
    url = reverse("lead_detail", kwargs={"pk": routed.lead.pk})
    page = client.get(url, HTTP_ACCEPT_LANGUAGE=read_in).content.decode()
    assert expected in page
    assert ("PLZ-Gebiet 80" if read_in == "de" else "postcode territory 80") in page


def test_decisions_of_older_releases_are_rewritten_as_codes_and_read_as_before(network: Network) -> None:
    from django.apps import apps

    migration = importlib.import_module("sync.migrations.0008_routing_reason_codes")
    routed = route_intake(intake=make_intake(customer={"postcode": "80331"}), actor=ACTOR)
    event = routed.lead.events.get(kind="routed")
    old = {  # as an older release recorded them: English phrases and a rendered summary
        **event.data,
        "dealer": {
            **event.data["dealer"],
            "reason": "postcode 80331 lies in territory 803",
            "skipped": [{"dealer": "4711", "reason": "inactive (holds territory 8033)"}],
        },
        "salesperson": {
            **event.data["salesperson"],
            "reason": "round robin",
            "skipped": [{"user_id": 1, "name": "Max", "reason": "the prospect's own salesperson, absent"}],
        },
        "summary": ["Autohaus ..."],
    }
    LeadEvent.objects.filter(pk=event.pk).update(data=old)
    LeadRouting.objects.filter(lead=routed.lead).update(decisions=old)

    migration.convert(apps, None)

    for decisions in (LeadEvent.objects.get(pk=event.pk).data, LeadRouting.objects.get(lead=routed.lead).decisions):
        assert "summary" not in decisions
        assert decisions["dealer"]["reason"] == reason("in_territory", postcode="80331", territory="803")
        assert decisions["salesperson"]["skipped"][0]["reason"] == reason("own_salesperson_absent")
        with translation.override("en"):
            lines = routing_summary(decisions)
        assert lines[1] == "Skipped dealership 4711: inactive (holds territory 8033)"
        assert lines[4] == "Skipped: Max (the prospect's own salesperson, absent)"


def test_a_salespersons_open_leads_are_counted_only_up_to_their_capacity(network: Network) -> None:
    # Under the round-robin lock every intake of the dealership waits for this count: it must not grow
    # with the dealership's history (a large dealership's 35,000 open leads took 40 ms, issue 15).
    first, second, _third = network.salespeople
    Membership.objects.filter(pk=first.pk).update(lead_capacity=2)
    for _ in range(5):
        LeadFactory(prospect=ProspectFactory(dealer=network.a.dealer), owner=first.user)
    with CaptureQueriesContext(connection) as captured:
        lead = _route_n(1)[0]
    statements = [q["sql"] for q in captured.captured_queries if "count(*)" in q["sql"] and "crm_lead" in q["sql"]]
    # one statement counts for every member of the staff, not one round trip each under the lock
    assert len(statements) == 1, statements
    counts = re.findall(r"\(SELECT count\(\*\) FROM \(SELECT 1 FROM (.*?) AS capped\)", statements[0])
    assert counts, statements[0]
    assert all(re.search(r'LIMIT "dealers_membership"\."lead_capacity"\)$', sql) for sql in counts), counts
    # Unordered, so that the (dealership, stage, salesperson) index serves it: ordered newest first, the
    # planner walked the dealership's leads by date at 10M prospects (0.3-0.5 s per salesperson).
    assert not any("ORDER BY" in sql.upper() for sql in counts), counts
    assert lead.owner_id == second.user_id
    skipped = lead.events.get(kind="routed").data["salesperson"]["skipped"]
    assert [(s["user_id"], s["reason"]["code"], s["open_leads"], s["capacity"]) for s in skipped] == [
        (first.user_id, "at_capacity", 2, 2)
    ]


def test_the_dealerships_queue_holds_few_statements(network: Network) -> None:
    # Every intake of a dealership waits while another holds its round-robin pointer (issue 15): from the
    # lock to the end of the routing, one statement counts the whole staff's open leads, rows without a
    # dealer system id are inserted without a savepoint (only that id can collide), and the lead's events
    # go in one statement.
    _route_n(1)  # the pointer exists
    newcomer = {"postcode": "80999", "email": "neu@kunde.example", "phone": "", "last_name": "Neu"}
    with CaptureQueriesContext(connection) as captured:
        routed = route_intake(intake=make_intake(customer=newcomer), actor=ACTOR)
    lead = routed.lead
    statements = [q["sql"] for q in captured.captured_queries]
    locked_at = next(i for i, sql in enumerate(statements) if "sync_roundrobinpointer" in sql and "FOR UPDATE" in sql)
    under_lock = statements[locked_at:]
    assert routed.prospect_created
    assert lead.owner_id is not None
    assert sum("sync_roundrobinpointer" in sql for sql in statements) == 2, "one locking read, one update"
    assert sum("count(*)" in sql for sql in under_lock) == 1
    assert sum(sql.startswith('INSERT INTO "crm_leadevent"') for sql in under_lock) == 1
    # the service's own block is a savepoint; the insert inside it is not
    savepoints = [sql for sql in under_lock if sql.startswith("SAVEPOINT")]
    assert len(savepoints) == 2, savepoints  # create_prospect, create_lead
    assert len(under_lock) <= 22, "\n".join(under_lock)
