"""The manufacturer's model catalogue: maintained in the admin, the lead form's pick list, the API's list."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.urls import reverse

from crm import catalogue
from crm.models import Lead, VehicleModel
from dealers.roles import ANALYST, LEAD_DESK, NETWORK_ADMIN
from tests.api.conftest import ApiClient, make_key
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory, UserFactory
from tests.support.app_role import app_url


def _staff(group: str):
    user = UserFactory.create(email=f"{group.split()[0].lower()}@hq.test.crm.example", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def _version(model_name: str, trim: str, powertrain: str) -> VehicleModel:
    return VehicleModel.objects.get(model_name=model_name, trim=trim, powertrain=powertrain)


def _vehicle_choices(response) -> set[str]:
    """The values the pick list offers (groups flattened)."""
    values: set[str] = set()
    for value, label in response.context["form"].fields["vehicle"].choices:
        if isinstance(label, list | tuple):  # an optgroup: (model name, [(value, label), ...])
            values.update(str(v) for v, _label in label)
        else:
            values.add(str(value))
    return values


@pytest.fixture
def seller(dealer_a: DealerSetup, client_for) -> Client:
    return client_for(dealer_a.user("salesperson"))


# The catalogue ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_migration_seeds_the_current_range_with_trims_powertrains_and_prices() -> None:
    names = {version.model_name for version in catalogue.active_models()}
    assert {"Clio", "Austral", "R5 E-Tech", "Master"} <= names
    clio = _version("Clio", "techno", "hybrid")
    assert (clio.list_price, clio.is_active) == (Decimal("24500.00"), True)
    assert not any(f.name == "dealer" for f in VehicleModel._meta.get_fields())  # network-wide, not a tenant table


@pytest.mark.django_db
def test_active_models_leave_retired_versions_out_and_group_by_model_in_catalogue_order() -> None:
    retired = _version("Clio", "evolution", "petrol")
    VehicleModel.objects.filter(pk=retired.pk).update(is_active=False)
    assert retired not in catalogue.active_models()
    groups = catalogue.grouped_by_model()
    assert groups[0][0] == "Clio"
    assert [name for name, _ in groups].count("Clio") == 1
    assert all(v.model_name == "Clio" for v in groups[0][1])


@pytest.mark.django_db
def test_defaults_reseed_an_empty_catalogue_only() -> None:
    from crm.defaults import ensure_defaults

    VehicleModel.objects.exclude(model_name="Clio").delete()
    VehicleModel.objects.filter(model_name="Clio").update(list_price=1)
    ensure_defaults()
    assert set(VehicleModel.objects.values_list("model_name", flat=True)) == {"Clio"}  # the manufacturer's edits stay
    VehicleModel.objects.all().delete()  # as a test flush leaves it
    ensure_defaults()
    assert _version("Clio", "techno", "hybrid").list_price == Decimal("24500.00")
    assert VehicleModel.objects.count() == 62  # every (model, powertrain, trim) of the range


@pytest.mark.django_db(transaction=True)
def test_the_application_role_reads_the_catalogue_without_a_dealership() -> None:
    VehicleModel.objects.create(model_name="Testmodell", trim="", powertrain="electric", list_price=1)
    with psycopg.connect(app_url(connection.settings_dict), autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM crm_vehiclemodel WHERE model_name = 'Testmodell'").fetchone()
    assert row == (1,)


# The admin ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_network_administration_adds_and_retires_versions_in_the_admin(client_for) -> None:
    client = client_for(_staff(NETWORK_ADMIN))
    response = client.post(
        reverse("admin:crm_vehiclemodel_add"),
        {"model_name": "Alpine A290", "trim": "GTS", "powertrain": "electric", "list_price": "44900", "position": 20},
    )
    assert response.status_code == 302, response.content[:2000]
    added = _version("Alpine A290", "GTS", "electric")
    assert added.is_active is False  # an unchecked box: the form decides, not the default
    response = client.post(
        reverse("admin:crm_vehiclemodel_changelist"), {"action": "activate", "_selected_action": [added.pk]}
    )
    assert response.status_code == 302
    added.refresh_from_db()
    assert added.is_active
    client.post(reverse("admin:crm_vehiclemodel_changelist"), {"action": "deactivate", "_selected_action": [added.pk]})
    added.refresh_from_db()
    assert not added.is_active
    from django.contrib.admin.models import LogEntry

    assert LogEntry.objects.filter(object_id=str(added.pk)).count() == 3  # added, activated, retired: audited


@pytest.mark.django_db
def test_the_changelist_searches_and_filters(client_for, manufacturer_admin) -> None:
    client = client_for(manufacturer_admin)
    response = client.get(reverse("admin:crm_vehiclemodel_changelist") + "?q=Austral&powertrain__exact=hybrid")
    assert response.status_code == 200
    rows = list(response.context["cl"].result_list)
    assert rows
    assert all((row.model_name, row.powertrain) == ("Austral", "hybrid") for row in rows)


@pytest.mark.django_db
@pytest.mark.parametrize("group", [LEAD_DESK, ANALYST])
def test_other_manufacturer_roles_may_not_change_the_catalogue(group: str, client_for) -> None:
    client = client_for(_staff(group))
    version = _version("Clio", "techno", "hybrid")
    assert client.get(reverse("admin:crm_vehiclemodel_add")).status_code == 403
    client.post(
        reverse("admin:crm_vehiclemodel_changelist"), {"action": "deactivate", "_selected_action": [version.pk]}
    )
    version.refresh_from_db()
    assert version.is_active


@pytest.mark.parametrize("role", ["salesperson", "sales_manager", "dealer_admin"])
def test_dealership_staff_cannot_reach_the_catalogue_admin(role: str, dealer_a: DealerSetup, client_for) -> None:
    client = client_for(dealer_a.user(role))
    version = _version("Clio", "techno", "hybrid")
    response = client.post(
        reverse("admin:crm_vehiclemodel_change", args=[version.pk]),
        {"model_name": "Clio", "trim": "techno", "powertrain": "hybrid", "list_price": "1", "position": 0},
    )
    assert response.status_code in (302, 403)
    assert "/admin/login/" in response.get("Location", "/admin/login/")
    version.refresh_from_db()
    assert (version.list_price, version.is_active) == (Decimal("24500.00"), True)


# The lead form -------------------------------------------------------------------------------------------


def test_the_lead_form_offers_the_active_range_only(dealer_a: DealerSetup, seller: Client) -> None:
    prospect = ProspectFactory.create(dealer=dealer_a.dealer, owner=dealer_a.user("salesperson"))
    retired = _version("Austral", "iconic", "petrol")
    VehicleModel.objects.filter(pk=retired.pk).update(is_active=False)
    response = seller.get(reverse("lead_create", args=[prospect.pk]))
    offered = _vehicle_choices(response)
    assert str(_version("Austral", "iconic", "hybrid").pk) in offered
    assert str(retired.pk) not in offered
    assert "current" not in offered  # a new lead has no vehicle to keep
    html = response.content.decode()
    assert '<optgroup label="Austral">' in html
    assert 'name="model_name"' not in html  # no free-text model any more


def test_saving_a_pick_fills_model_trim_powertrain_and_the_list_price(dealer_a: DealerSetup, seller: Client) -> None:
    prospect = ProspectFactory.create(dealer=dealer_a.dealer, owner=dealer_a.user("salesperson"))
    pick = _version("Rafale", "atelier Alpine", "phev")
    response = seller.post(
        reverse("lead_create", args=[prospect.pk]),
        {"lead_type": "new_car", "source": "showroom", "vehicle_condition": "new", "vehicle": str(pick.pk)},
    )
    assert response.status_code == 302
    lead = Lead.objects.get(prospect=prospect)
    assert (lead.model_name, lead.trim, lead.powertrain, lead.list_price) == (
        "Rafale",
        "atelier Alpine",
        "phev",
        pick.list_price,
    )


def test_a_pick_on_edit_replaces_the_vehicle_and_keeps_a_given_price(dealer_a: DealerSetup, seller: Client) -> None:
    user = dealer_a.user("salesperson")
    lead = LeadFactory.create(prospect=ProspectFactory.create(dealer=dealer_a.dealer, owner=user), owner=user)
    pick = _version("Symbioz", "techno", "hybrid")
    response = seller.post(
        reverse("lead_edit", args=[lead.pk]),
        {"lead_type": "new_car", "source": "website", "vehicle_condition": "new", "vehicle": str(pick.pk),
         "list_price": "33333", "version": lead.version},
    )  # fmt: skip
    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.model_name, lead.trim, lead.powertrain, lead.list_price) == ("Symbioz", "techno", "hybrid", 33333)


def test_a_retired_or_legacy_vehicle_stays_on_the_lead_as_the_current_choice(
    dealer_a: DealerSetup, seller: Client
) -> None:
    user = dealer_a.user("salesperson")
    retired = _version("Kangoo", "Rapid", "diesel")
    VehicleModel.objects.filter(pk=retired.pk).update(is_active=False)
    lead = LeadFactory.create(
        prospect=ProspectFactory.create(dealer=dealer_a.dealer, owner=user),
        owner=user,
        model_name="Kangoo",
        trim="Rapid",
        powertrain="diesel",
    )
    url = reverse("lead_edit", args=[lead.pk])
    response = seller.get(url)
    field = response.context["form"]["vehicle"]
    assert field.value() == "current"
    assert str(retired.pk) not in _vehicle_choices(response)
    assert "Kangoo Rapid (Diesel)" in response.content.decode()  # shown as the current value
    response = seller.post(
        url,
        {"lead_type": "new_car", "source": "website", "vehicle_condition": "new", "vehicle": "current",
         "rating": "hot", "version": lead.version},
    )  # fmt: skip
    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.model_name, lead.trim, lead.powertrain, lead.rating) == ("Kangoo", "Rapid", "diesel", "hot")


def test_a_lead_on_an_active_version_has_it_preselected(dealer_a: DealerSetup, seller: Client) -> None:
    user = dealer_a.user("salesperson")
    version = _version("Clio", "techno", "hybrid")
    lead = LeadFactory.create(
        prospect=ProspectFactory.create(dealer=dealer_a.dealer, owner=user),
        owner=user,
        model_name="Clio",
        trim="techno",
        powertrain="hybrid",
    )
    response = seller.get(reverse("lead_edit", args=[lead.pk]))
    assert response.context["form"]["vehicle"].value() == str(version.pk)
    assert "current" not in _vehicle_choices(response)


def test_a_pick_that_is_not_offered_is_refused(dealer_a: DealerSetup, seller: Client) -> None:
    prospect = ProspectFactory.create(dealer=dealer_a.dealer, owner=dealer_a.user("salesperson"))
    retired = _version("Trafic", "Combi", "diesel")
    VehicleModel.objects.filter(pk=retired.pk).update(is_active=False)
    response = seller.post(
        reverse("lead_create", args=[prospect.pk]),
        {"lead_type": "new_car", "source": "showroom", "vehicle_condition": "new", "vehicle": str(retired.pk)},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["vehicle"]
    assert not Lead.objects.filter(prospect=prospect).exists()


# The API -----------------------------------------------------------------------------------------------


def test_the_api_lists_the_active_range_to_any_valid_key(dealer_a: DealerSetup) -> None:
    retired = _version("Espace", "iconic", "hybrid")
    VehicleModel.objects.filter(pk=retired.pk).update(is_active=False)
    api = ApiClient(make_key(dealer_a.dealer, ["changes:read"]))  # no leads scope needed: reference data
    response = api.get("/api/v1/catalogue/models/")
    assert response.status_code == 200
    items = response.json()["items"]
    assert {"model_name": "Clio", "trim": "techno", "powertrain": "hybrid", "list_price": "24500.00"} in items
    assert not [i for i in items if (i["model_name"], i["trim"]) == ("Espace", "iconic")]
    assert len(items) == catalogue.active_models().count()


@pytest.mark.django_db
@pytest.mark.parametrize("key", [None, "crmd_nonsense"])
def test_the_api_list_needs_a_valid_key(key: str | None) -> None:
    response = ApiClient(key).get("/api/v1/catalogue/models/")
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/problem+json")
