"""``manage.py seed_demo``: a deterministic, idempotent demo network that covers every postcode."""

from __future__ import annotations

from io import StringIO
from typing import Any

import phonenumbers
import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.test import Client
from django.urls import reverse

from dealers.demo import DEMO_DOMAIN, DEMO_PASSWORD, ascii_fold, demo_rng, plan_network
from dealers.models import Dealer, DealerGroup, Membership, OpeningHours, Region, Territory, User

pytestmark = pytest.mark.django_db

DEALERS = "30"
ALL_PREFIXES = [f"{n:03d}" for n in range(10, 1000)]
PRINTED = [
    "admin@demo.crm.example",
    "netzwerk@demo.crm.example",
    "leaddesk@demo.crm.example",
    "datenschutz@demo.crm.example",
    "analyse@demo.crm.example",
    "admin@10001.demo.crm.example",
    "leitung@10001.demo.crm.example",
    "verkauf@10001.demo.crm.example",
    "gruppe@10001.demo.crm.example",
]


def seed_demo(*args: str) -> str:
    out = StringIO()
    # The dealers are under test here: one demo prospect per dealership keeps each seed quick.
    call_command("seed_demo", "--dealers", DEALERS, "--prospects-per-dealer", "1", *args, stdout=out)
    return out.getvalue()


def dealer_snapshot() -> list[tuple[str, str, str]]:
    return list(Dealer.objects.order_by("number").values_list("number", "name", "postcode"))


def full_snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every column of every table the seed writes, in a stable order."""
    models = (User, Region, DealerGroup, Dealer, OpeningHours, Territory, Membership)
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in models}


def test_same_seed_plans_the_same_network_and_another_seed_another() -> None:
    first = plan_network(rng=demo_rng(seed=42, app="dealers"), dealers=30)
    again = plan_network(rng=demo_rng(seed=42, app="dealers"), dealers=30)
    other = plan_network(rng=demo_rng(seed=7, app="dealers"), dealers=30)

    assert first == again
    assert first.dealers != other.dealers


def test_reseeding_with_the_same_seed_restores_the_same_dealers() -> None:
    seed_demo()
    with_42 = dealer_snapshot()
    seed_demo("--seed", "7")
    with_7 = dealer_snapshot()
    seed_demo("--seed", "42")

    assert with_7 != with_42
    assert [number for number, _, _ in with_7] == [number for number, _, _ in with_42]  # same numbers, rewritten
    assert dealer_snapshot() == with_42


def test_second_run_changes_nothing() -> None:
    seed_demo()
    before = full_snapshot()

    seed_demo()

    assert full_snapshot() == before
    assert Dealer.objects.count() == 30
    assert Region.objects.count() == 8


def test_every_three_digit_postcode_prefix_belongs_to_exactly_one_active_dealer() -> None:
    seed_demo()

    territories = Territory.objects.filter(postcode_prefix__regex=r"^\d{3}$")
    assert sorted(territories.values_list("postcode_prefix", flat=True)) == ALL_PREFIXES
    assert not territories.filter(dealer__is_active=False).exists()


def test_a_prefix_goes_to_a_dealer_of_its_own_postcode_area_when_there_is_one() -> None:
    seed_demo()

    for dealer in Dealer.objects.filter(is_active=True):
        holder = Territory.objects.get(postcode_prefix=dealer.postcode[:3]).dealer
        assert holder.postcode[:2] == dealer.postcode[:2]


def test_every_dealer_has_an_admin_a_manager_and_at_least_three_salespeople() -> None:
    seed_demo()

    for dealer in Dealer.objects.all():
        roles = list(dealer.memberships.values_list("role", flat=True))
        assert roles.count(Membership.Role.DEALER_ADMIN) >= 1, dealer.number
        assert roles.count(Membership.Role.SALES_MANAGER) >= 1, dealer.number
        assert roles.count(Membership.Role.SALESPERSON) >= 3, dealer.number


def test_dealers_look_like_a_german_dealer_network() -> None:
    seed_demo()

    dealers = list(Dealer.objects.order_by("number"))
    assert [d.number for d in dealers] == [str(n) for n in range(10001, 10031)]
    assert len({d.name for d in dealers}) == len(dealers)
    for dealer in dealers:
        assert phonenumbers.is_valid_number(phonenumbers.parse(dealer.phone)), dealer.phone
        assert dealer.email.endswith(f".{DEMO_DOMAIN}")
        assert dealer.latitude is not None
        assert dealer.longitude is not None
        assert 47 < dealer.latitude < 55.1
        assert 5.8 < dealer.longitude < 15.1
        days = sorted(dealer.opening_hours.values_list("weekday", flat=True))
        assert days == [0, 1, 2, 3, 4, 5]  # closed on Sunday
    assert DealerGroup.objects.annotate(n=Count("dealers")).filter(n__lt=2).count() == 0
    assert not User.objects.exclude(email__endswith=DEMO_DOMAIN).exists()


def test_group_staff_switch_between_dealerships_of_their_own_group() -> None:
    seed_demo()

    switcher = User.objects.get(email="gruppe@10001.demo.crm.example")
    dealers = Dealer.objects.filter(memberships__user=switcher)
    assert dealers.count() >= 2
    assert dealers.values("group").distinct().count() == 1
    for user in User.objects.annotate(n=Count("memberships")).filter(n__gt=1):
        assert Dealer.objects.filter(memberships__user=user).values("group").distinct().count() == 1


def test_printed_logins_sign_in_with_the_printed_password() -> None:
    output = seed_demo()

    assert DEMO_PASSWORD in output
    for email in PRINTED:
        assert email in output
        signed_in = Client().post(reverse("login"), {"username": email, "password": DEMO_PASSWORD})
        staff = User.objects.get(email=email).is_staff
        # Dealership staff are in; manufacturer staff go on to set up their authenticator app.
        assert signed_in["Location"] == (reverse("login_enroll") if staff else "/"), email
    salesperson = User.objects.get(email="verkauf@10001.demo.crm.example")
    assert salesperson.memberships.get().role == Membership.Role.SALESPERSON
    assert User.objects.get(email="admin@demo.crm.example").is_superuser


def test_print_logins_only_prints() -> None:
    before = seed_demo("--print-logins")
    assert "No demo logins" in before
    assert not Dealer.objects.exists()

    seeded = seed_demo()
    after = seed_demo("--print-logins")

    assert all(email in after for email in PRINTED)
    assert after.strip() in seeded


@pytest.mark.parametrize("dealers", ["0", "1000", "-3", "many"])
def test_bad_arguments_are_refused_and_nothing_is_written(dealers: str) -> None:
    with pytest.raises(CommandError):
        call_command("seed_demo", "--dealers", dealers, stdout=StringIO())
    assert not Dealer.objects.exists()


def test_demo_users_are_refused_in_production(settings: Any) -> None:
    settings.PRODUCTION = True

    with pytest.raises(CommandError, match="production"):
        seed_demo()
    assert not User.objects.exists()


def test_names_fold_to_ascii_mail_addresses() -> None:
    assert ascii_fold("Jürgen Weiß") == "Juergen Weiss"
    assert ascii_fold("Öztürk Yılmaz René") == "Oeztuerk Yilmaz Rene"  # noqa: RUF001 - the dotless i is the point
