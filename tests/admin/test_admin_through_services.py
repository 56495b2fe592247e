"""Issue 10: the dealer network's admin pages change dealerships, territories and staff only through
dealers.services, so a change made in the admin is validated and audited exactly as the service does it.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from dealers import services
from dealers.actors import Actor
from dealers.models import AuditEvent, Dealer, Territory, User
from dealers.roles import NETWORK_ADMIN
from tests.admin.admin_forms import form_data
from tests.admin.snapshot import database_rows
from tests.conftest import DealerSetup
from tests.factories import DealerFactory, TerritoryFactory


def _audit(event: AuditEvent) -> tuple[Any, ...]:
    """What an audit row says, apart from which row it names."""
    return (event.action, event.dealer_id, event.actor_id, event.actor_label, event.object_type, event.data)


def _last_audit() -> AuditEvent:
    return AuditEvent.objects.order_by("-pk").first()  # type: ignore[return-value]


def test_a_territory_moved_in_the_admin_is_audited_as_the_service_audits_it(
    dealer_a: DealerSetup, dealer_b: DealerSetup, staff_in, client_for
):
    me: User = staff_in(NETWORK_ADMIN)
    through_admin, through_service = (TerritoryFactory.create(dealer=dealer_a.dealer) for _ in range(2))
    url = reverse("admin:dealers_territory_change", args=[through_admin.pk])
    client = client_for(me)

    response = client.post(url, form_data(client.get(url), dealer=str(dealer_b.dealer.pk)))
    admin_audit = _audit(_last_audit())
    through_service.dealer = dealer_b.dealer
    services.save_network_record(record=through_service, actor=Actor.for_user(me))

    assert response.status_code == 302
    through_admin.refresh_from_db()
    assert through_admin.dealer_id == dealer_b.dealer.pk
    assert admin_audit == _audit(_last_audit())
    assert admin_audit[:2] == ("territory.changed", dealer_b.dealer.pk)
    assert admin_audit[-1] == {"dealer_id": [dealer_a.dealer.pk, dealer_b.dealer.pk]}


def test_a_dealership_changed_in_the_admin_is_audited_as_the_service_audits_it(
    dealer_a: DealerSetup, staff_in, client_for
):
    me: User = staff_in(NETWORK_ADMIN)
    other = Dealer.objects.get(pk=DealerFactory.create(first_contact_minutes=120).pk)  # as the database holds it
    url = reverse("admin:dealers_dealer_change", args=[dealer_a.dealer.pk])
    client = client_for(me)
    assert dealer_a.dealer.first_contact_minutes == 120

    response = client.post(url, form_data(client.get(url), first_contact_minutes="90"))
    admin_events = list(AuditEvent.objects.filter(object_type="dealers.dealer"))
    other.first_contact_minutes = 90
    services.save_network_record(record=other, actor=Actor.for_user(me))
    service_event = AuditEvent.objects.filter(object_type="dealers.dealer").exclude(pk__in=[e.pk for e in admin_events])

    assert response.status_code == 302
    assert [e.action for e in admin_events] == ["dealer.changed"]
    assert admin_events[0].data == {"first_contact_minutes": [120, 90]}
    assert admin_events[0].dealer_id == dealer_a.dealer.pk
    (service_event_row,) = service_event
    assert _audit(admin_events[0])[2:] == _audit(service_event_row)[2:]


def test_a_territory_added_on_the_dealership_page_is_audited_in_that_dealership(
    dealer_a: DealerSetup, staff_in, client_for
):
    client = client_for(staff_in(NETWORK_ADMIN))
    url = reverse("admin:dealers_dealer_change", args=[dealer_a.dealer.pk])
    page = client.get(url)
    data = form_data(page)
    prefix = next(f.formset.prefix for f in page.context["inline_admin_formsets"] if f.formset.model is Territory)
    total = int(data[f"{prefix}-TOTAL_FORMS"])
    data.update({f"{prefix}-TOTAL_FORMS": str(total + 1), f"{prefix}-{total}-postcode_prefix": "8044"})

    assert client.post(url, data).status_code == 302

    territory = Territory.objects.get(postcode_prefix="8044")
    event = AuditEvent.objects.get(action="territory.added")
    assert (event.dealer_id, event.object_id) == (dealer_a.dealer.pk, str(territory.pk))
    assert event.data == {"dealer_id": dealer_a.dealer.pk, "postcode_prefix": "8044"}


def test_territories_deleted_from_the_list_are_audited_with_what_they_held(dealer_a: DealerSetup, staff_in, client_for):
    territory = TerritoryFactory.create(dealer=dealer_a.dealer, postcode_prefix="8045")
    client = client_for(staff_in(NETWORK_ADMIN))

    client.post(
        reverse("admin:dealers_territory_changelist"),
        {"action": "delete_selected", "_selected_action": [territory.pk], "post": "yes"},
    )

    assert not Territory.objects.filter(pk=territory.pk).exists()
    event = AuditEvent.objects.get(action="territory.deleted")
    assert (event.dealer_id, event.data["postcode_prefix"]) == (dealer_a.dealer.pk, "8045")


def test_the_service_refuses_an_invalid_territory_and_writes_nothing(dealer_a: DealerSetup):
    before = database_rows()
    with pytest.raises(ValidationError):
        services.save_network_record(
            record=Territory(dealer=dealer_a.dealer, postcode_prefix="80a"), actor=Actor.system("test")
        )
    assert database_rows() == before


def test_a_deleted_dealership_stays_in_the_network_wide_audit(db: None):
    dealer = DealerFactory.create(number="45678")

    services.delete_network_record(record=dealer, actor=Actor.system("test"))

    assert not Dealer.objects.filter(pk=dealer.pk).exists()
    event = AuditEvent.objects.get(action="dealer.deleted")
    assert (event.dealer_id, event.data["number"]) == (None, "45678")


def test_saving_an_unchanged_dealership_audits_nothing(dealer_a: DealerSetup):
    services.save_network_record(record=Dealer.objects.get(pk=dealer_a.dealer.pk), actor=Actor.system("test"))
    assert not AuditEvent.objects.filter(object_type="dealers.dealer").exists()
