"""Dealer administrators manage their dealership's staff."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from dealers import services
from dealers.actors import Actor
from dealers.models import AuditEvent, Invitation, Membership
from tests.conftest import DealerSetup


def test_admin_invites_a_salesperson_and_the_invitation_is_audited(
    dealer_a: DealerSetup, client_for, django_capture_on_commit_callbacks
) -> None:
    admin = dealer_a.user("dealer_admin")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).post(
            reverse("staff_list"), {"email": "Neu.Verkauf@Test.crm.example", "role": "salesperson"}
        )
    assert response.status_code == 302
    invitation = Invitation.objects.get(dealer=dealer_a.dealer, email="neu.verkauf@test.crm.example")
    assert invitation.role == "salesperson"
    assert not Membership.objects.filter(user__email__iexact="neu.verkauf@test.crm.example").exists()
    event = AuditEvent.objects.get(action="staff.invited", object_id=str(invitation.pk))
    assert event.actor_id == admin.pk


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "not-an-email", "role": "salesperson"}, "email"),
        ({"email": "a@test.crm.example", "role": "boss"}, "role"),
        ({}, "email"),
    ],
)
def test_bad_staff_input_shows_inline_errors(data, field, dealer_a: DealerSetup, client_for) -> None:
    before = (Membership.objects.count(), Invitation.objects.count())
    response = client_for(dealer_a.user("dealer_admin")).post(reverse("staff_list"), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert (Membership.objects.count(), Invitation.objects.count()) == before


def test_bad_capacity_shows_inline_error(dealer_a: DealerSetup, client_for) -> None:
    member = dealer_a.other_salesperson
    response = client_for(dealer_a.user("dealer_admin")).post(
        reverse("staff_edit", args=[member.pk]), {"role": "salesperson", "lead_capacity": "-3"}
    )
    assert response.status_code == 200
    assert "lead_capacity" in response.context["form"].errors


def test_last_dealer_admin_cannot_demote_themselves(dealer_a: DealerSetup, client_for) -> None:
    admin = dealer_a.staff["dealer_admin"]
    response = client_for(admin.user).post(
        reverse("staff_edit", args=[admin.pk]), {"role": "salesperson", "is_active": "on", "lead_capacity": "10"}
    )
    assert response.status_code == 200
    assert "role" in response.context["form"].errors
    admin.refresh_from_db()
    assert admin.role == "dealer_admin"


def test_marking_absence_takes_salesperson_out_of_rotation(dealer_a: DealerSetup) -> None:
    member = services.update_staff_member(
        membership=dealer_a.other_salesperson,
        role="salesperson",
        is_active=True,
        is_available=False,
        lead_capacity=20,
        actor=Actor.system("test"),
    )
    assert member.is_available is False
    event = AuditEvent.objects.get(action="staff.changed", object_id=str(member.pk))
    assert event.data == {"is_available": [True, False], "lead_capacity": [50, 20]}


def test_demoting_one_of_two_admins_is_allowed(dealer_a: DealerSetup) -> None:
    second = dealer_a.other_salesperson
    services.update_staff_member(
        membership=second,
        role="dealer_admin",
        is_active=True,
        is_available=True,
        lead_capacity=5,
        actor=Actor.system("test"),
    )
    services.update_staff_member(
        membership=dealer_a.staff["dealer_admin"],
        role="sales_manager",
        is_active=True,
        is_available=True,
        lead_capacity=5,
        actor=Actor.system("test"),
    )
    with pytest.raises(ValidationError):
        services.update_staff_member(
            membership=second,
            role="salesperson",
            is_active=True,
            is_available=True,
            lead_capacity=5,
            actor=Actor.system("test"),
        )
