"""A person working for several dealerships of a group switches between them."""

from __future__ import annotations

from django.urls import reverse

from dealers.models import Membership
from tests.conftest import DealerSetup
from tests.factories import DealerFactory, MembershipFactory


def test_switching_to_own_second_dealership_changes_the_active_one(dealer_a: DealerSetup, client_for) -> None:
    user = dealer_a.user("sales_manager")
    second = DealerFactory(name="Autohaus Zweitbetrieb")
    MembershipFactory(dealer=second, user=user, role=Membership.Role.SALESPERSON)
    client = client_for(user)

    response = client.post(reverse("switch_dealer"), {"dealer_id": second.pk, "next": "/"})

    assert response.status_code == 302
    page = client.get(reverse("dashboard"))
    assert page.context["membership"].dealer == second
    assert "Autohaus Zweitbetrieb" in page.content.decode()


def test_switching_to_a_foreign_dealership_is_404_and_changes_nothing(
    dealer_a: DealerSetup, dealer_b: DealerSetup, client_for
) -> None:
    client = client_for(dealer_a.user("salesperson"))

    response = client.post(reverse("switch_dealer"), {"dealer_id": dealer_b.dealer.pk})

    assert response.status_code == 404
    assert client.get(reverse("dashboard")).context["membership"].dealer == dealer_a.dealer


def test_switch_never_redirects_off_site(dealer_a: DealerSetup, client_for) -> None:
    client = client_for(dealer_a.user("salesperson"))
    response = client.post(reverse("switch_dealer"), {"dealer_id": dealer_a.dealer.pk, "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_garbage_dealer_id_is_not_a_500(dealer_a: DealerSetup, client_for) -> None:
    client = client_for(dealer_a.user("salesperson"))
    response = client.post(reverse("switch_dealer"), {"dealer_id": "abc"})
    assert response.status_code == 302
