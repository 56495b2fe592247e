"""Where an erasure starts: the prospect page, the admin (one prospect or a pasted list), the API, the command."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from crm.models import Change, Prospect
from dealers.models import AuditEvent
from dealers.roles import ANALYST, DATA_PROTECTION
from tests.api.conftest import ApiClient, make_key
from tests.conftest import DealerSetup, signed_in_client
from tests.factories import ProspectFactory, UserFactory

pytestmark = pytest.mark.django_db


def _person(setup: DealerSetup, **fields: Any) -> Prospect:
    defaults = {"first_name": "Max", "last_name": "Mustermann", "email": "max@kunde.example", "phone": "+49891234567"}
    prospect = ProspectFactory.create(dealer=setup.dealer, **{**defaults, **fields})
    return prospect


def _erased(prospect: Prospect) -> bool:
    return Prospect.objects.get(pk=prospect.pk).erased_at is not None


# The prospect page ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["sales_manager", "dealer_admin"])
def test_a_manager_sees_the_consequences_then_erases(dealer_a: DealerSetup, role: str) -> None:
    prospect = _person(dealer_a)
    client = signed_in_client(dealer_a.user(role))
    url = reverse("prospect_erase", args=[prospect.pk])

    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert b"cannot be undone" in page.content
    assert b"prospect.erased" in page.content
    assert (
        b"Erase personal data"
        in client.get(reverse("prospect_detail", args=[prospect.pk]), HTTP_ACCEPT_LANGUAGE="en").content
    )

    unconfirmed = client.post(url, {}, HTTP_ACCEPT_LANGUAGE="en")
    assert unconfirmed.status_code == 200
    assert not _erased(prospect)

    assert client.post(url, {"confirm": "on"}).status_code == 302
    assert _erased(prospect)
    audit = AuditEvent.objects.get(action="prospect.erased", object_id=str(prospect.pk))
    assert audit.actor_id == dealer_a.user(role).pk
    assert "Mustermann" not in str(audit.data)
    assert audit.data["leads"] == 0


def test_a_salesperson_may_not_erase(dealer_a: DealerSetup) -> None:
    prospect = _person(dealer_a, owner_id=dealer_a.user("salesperson").pk)
    client = signed_in_client(dealer_a.user("salesperson"))
    assert client.post(reverse("prospect_erase", args=[prospect.pk]), {"confirm": "on"}).status_code == 403
    assert not _erased(prospect)
    page = client.get(reverse("prospect_detail", args=[prospect.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert b"Erase personal data" not in page.content


def test_erasing_needs_the_password_again(dealer_a: DealerSetup) -> None:
    prospect = _person(dealer_a)
    client = signed_in_client(dealer_a.user("dealer_admin"), confirmed_ago=20 * 60)
    response = client.post(reverse("prospect_erase", args=[prospect.pk]), {"confirm": "on"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("reauthenticate"))
    assert not _erased(prospect)


def test_a_returning_person_is_flagged_on_the_page(dealer_a: DealerSetup) -> None:
    from crm.services.erasure import erase_prospect
    from crm.services.prospects import create_prospect
    from dealers.actors import Actor

    erase_prospect(prospect=_person(dealer_a), actor=Actor.system("test"))
    again = create_prospect(dealer=dealer_a.dealer, actor=Actor.system("test"), data={"email": "MAX@kunde.example"})
    page = signed_in_client(dealer_a.user("salesperson")).get(
        reverse("prospect_detail", args=[again.pk]), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert b"This person's data was erased on" in page.content


# The admin: the data protection officer -----------------------------------------------------------


def _staff(role: str) -> Any:
    user = UserFactory(email=f"{role.split()[0].lower()}@hq.test.crm.example", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return signed_in_client(user)


def test_the_dpo_pastes_emails_and_phones_sees_matches_in_every_dealership_and_confirms(
    dealer_a: DealerSetup, dealer_b: DealerSetup
) -> None:
    at_a = _person(dealer_a)
    at_b = _person(dealer_b, email="other@kunde.example", phone="", mobile="+4917012345678")
    bystander = _person(dealer_a, email="someone@else.example", phone="+4930123456")
    client = _staff(DATA_PROTECTION)
    url = reverse("admin:crm_prospect_erase_by_contact")
    contacts = "MAX@kunde.example\n0170 12345678, nobody@nowhere.example"

    assert url.encode() in client.get(reverse("admin:crm_prospect_changelist")).content
    assert client.get(url).status_code == 200
    found = client.post(url, {"contacts": contacts}, HTTP_ACCEPT_LANGUAGE="en")
    assert found.status_code == 200
    assert [p.pk for p in found.context["prospects"]] == sorted(
        [at_a.pk, at_b.pk], key=lambda pk: Prospect.objects.get(pk=pk).dealer.number
    )
    assert not _erased(at_a)  # finding erases nothing

    done = client.post(url, {"contacts": contacts, "post": "yes", "prospect": [str(at_a.pk), str(at_b.pk)]})
    assert done.status_code == 302
    assert _erased(at_a)
    assert _erased(at_b)
    assert not _erased(bystander)
    assert Change.objects.filter(type="prospect.erased", dealer=dealer_b.dealer).count() == 1


def test_the_dpo_erases_selected_prospects_with_the_admin_action(dealer_a: DealerSetup) -> None:
    prospect = _person(dealer_a)
    client = _staff(DATA_PROTECTION)
    changelist = reverse("admin:crm_prospect_changelist")
    selected = {"action": "erase_selected", "_selected_action": [str(prospect.pk)]}

    confirm = client.post(changelist, selected, HTTP_ACCEPT_LANGUAGE="en")
    assert confirm.status_code == 200
    assert b"cannot be undone" in confirm.content
    assert not _erased(prospect)
    client.post(changelist, {**selected, "post": "yes"})
    assert _erased(prospect)


def test_other_manufacturer_roles_cannot_erase_in_the_admin(dealer_a: DealerSetup) -> None:
    prospect = _person(dealer_a)
    client = _staff(ANALYST)
    url = reverse("admin:crm_prospect_erase_by_contact")
    assert url.encode() not in client.get(reverse("admin:crm_prospect_changelist")).content
    assert client.get(url).status_code == 403
    assert (
        client.post(url, {"contacts": "max@kunde.example", "post": "yes", "prospect": [str(prospect.pk)]}).status_code
        == 403
    )
    client.post(
        reverse("admin:crm_prospect_changelist"),
        {"action": "erase_selected", "_selected_action": [str(prospect.pk)], "post": "yes"},
    )
    assert not _erased(prospect)


# The API --------------------------------------------------------------------------------------------


def test_the_api_erases_with_the_scope_and_refuses_without_it(dealer_a: DealerSetup) -> None:
    prospect = _person(dealer_a)
    url = f"/api/v1/prospects/{prospect.pk}/erase"
    without = ApiClient(make_key(dealer_a.dealer, ["prospects:read", "prospects:write"]))

    refused = without.post(url)
    assert refused.status_code == 403
    assert "prospects:erase" in refused.json()["detail"]
    assert not _erased(prospect)

    api = ApiClient(make_key(dealer_a.dealer, ["prospects:read", "prospects:erase"]))
    etag = api.get(f"/api/v1/prospects/{prospect.pk}/")["ETag"]
    erased = api.post(url)
    assert erased.status_code == 200
    body = erased.json()
    assert (body["erased"], body["email"], body["last_name"]) == (True, "", "")
    assert erased["ETag"] != etag
    assert api.post(url).status_code == 200  # again: the same answer, nothing more happens
    assert Change.objects.filter(object_id=prospect.pk, type="prospect.erased").count() == 1


def test_the_api_cannot_erase_another_dealerships_prospect(dealer_a: DealerSetup, dealer_b: DealerSetup) -> None:
    prospect = _person(dealer_b)
    api = ApiClient(make_key(dealer_a.dealer, ["prospects:erase"]))
    assert api.post(f"/api/v1/prospects/{prospect.pk}/erase").status_code == 404
    assert not _erased(prospect)


# The command ----------------------------------------------------------------------------------------


def test_the_command_erases_by_id_or_by_email_and_says_so(dealer_a: DealerSetup, dealer_b: DealerSetup) -> None:
    by_id = _person(dealer_a, email="a@kunde.example")
    by_email = [_person(dealer_a), _person(dealer_a, phone="")]
    elsewhere = _person(dealer_b)
    out = io.StringIO()

    call_command("erase_prospect", "--dealer", dealer_a.dealer.number, "--id", str(by_id.pk), stdout=out)
    call_command("erase_prospect", "--dealer", dealer_a.dealer.number, "--email", "Max@Kunde.example", stdout=out)

    assert sorted(out.getvalue().split()) == sorted(str(p.pk) for p in [by_id, *by_email])
    assert all(_erased(p) for p in [by_id, *by_email])
    assert not _erased(elsewhere)


def test_the_command_fails_when_nothing_matches(dealer_a: DealerSetup) -> None:
    with pytest.raises(CommandError, match="no prospect"):
        call_command("erase_prospect", "--dealer", dealer_a.dealer.number, "--email", "nobody@kunde.example")
    with pytest.raises(CommandError, match="no dealership"):
        call_command("erase_prospect", "--dealer", "99999", "--email", "max@kunde.example")


def test_a_returning_person_is_flagged_on_their_lead_and_in_the_lists(dealer_a: DealerSetup) -> None:
    from crm.services.erasure import erase_prospect
    from crm.services.leads import create_lead
    from crm.services.prospects import create_prospect
    from dealers.actors import Actor

    erase_prospect(prospect=_person(dealer_a), actor=Actor.system("test"))
    again = create_prospect(
        dealer=dealer_a.dealer, actor=Actor.system("test"), data={"email": "MAX@kunde.example", "last_name": "Neu"}
    )
    salesperson = dealer_a.user("salesperson")
    lead = create_lead(prospect=again, actor=Actor.system("test"), data={"model_name": "Clio"}, owner_id=salesperson.pk)
    client = signed_in_client(salesperson)

    lead_page = client.get(reverse("lead_detail", args=[lead.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert b"This person's data was erased on" in lead_page.content
    for listing in ("lead_list", "prospect_list"):
        page = client.get(reverse(listing), HTTP_ACCEPT_LANGUAGE="en")
        assert page.status_code == 200
        assert page.content.count(b">erased before</span>") == 1, listing
