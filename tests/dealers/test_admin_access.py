"""Only manufacturer staff enter the admin site; dealership staff are turned away."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from dealers.roles import ANALYST, MANUFACTURER_ROLES, NETWORK_ADMIN
from tests.conftest import DealerSetup
from tests.factories import UserFactory


@pytest.mark.parametrize("role", ["salesperson", "sales_manager", "dealer_admin"])
def test_dealership_staff_cannot_enter_the_admin(role: str, dealer_a: DealerSetup, client_for) -> None:
    client = client_for(dealer_a.user(role))
    for url in (reverse("admin:index"), reverse("admin:dealers_dealer_changelist")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_manufacturer_groups_exist_after_migrate(db: None) -> None:
    assert set(Group.objects.values_list("name", flat=True)) >= set(MANUFACTURER_ROLES)
    assert Group.objects.get(name=NETWORK_ADMIN).permissions.filter(codename="change_dealer").exists()
    assert not Group.objects.get(name=ANALYST).permissions.filter(codename="change_dealer").exists()


def test_analyst_may_view_but_not_change_dealers(dealer_a: DealerSetup, client_for) -> None:
    analyst = UserFactory(email="analyst@test.crm.example", is_staff=True)
    analyst.groups.add(Group.objects.get(name=ANALYST))
    client = client_for(analyst)

    listing = client.get(reverse("admin:dealers_dealer_changelist") + "?q=Autohaus")
    change = client.post(reverse("admin:dealers_dealer_change", args=[dealer_a.dealer.pk]), {"name": "Hacked"})

    assert listing.status_code == 200
    assert dealer_a.dealer.number in listing.content.decode()
    assert change.status_code == 403
    dealer_a.dealer.refresh_from_db()
    assert dealer_a.dealer.name == "Autohaus a"


@pytest.mark.parametrize("model", ["dealer", "dealergroup", "region", "territory", "membership", "user", "auditevent"])
def test_admin_changelists_render_with_search_and_filters(model: str, manufacturer_admin, dealer_a, client_for) -> None:
    response = client_for(manufacturer_admin).get(reverse(f"admin:dealers_{model}_changelist") + "?q=a")
    assert response.status_code == 200
