"""Staff join a dealership by accepting an emailed invitation, never by a dealer administrator naming them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from dealers.models import AuditEvent, Invitation, Membership, User
from tests.conftest import DealerSetup

LINK = re.compile(r"https?://[^/\s]+(/invitations/[^/\s]+/)")


def _memberships() -> list[tuple[int, int, str, bool]]:
    return sorted(Membership.objects.values_list("dealer_id", "user_id", "role", "is_active"))


def _invite(client, email: str, role: str, capture) -> str:
    """The dealer administrator's client invites ``email``; returns the path of the emailed link."""
    mail.outbox.clear()
    with capture(execute=True):
        response = client.post(reverse("staff_list"), {"email": email, "role": role})
    assert response.status_code == 302, response.content[:500]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [email.lower()]
    match = LINK.search(mail.outbox[0].body)
    assert match, mail.outbox[0].body
    return match.group(1)


@pytest.fixture
def admin_a(dealer_a: DealerSetup, client_for):
    return client_for(dealer_a.user("dealer_admin"))


def test_inviting_another_dealers_staff_does_not_make_them_a_member(
    dealer_a: DealerSetup, dealer_b: DealerSetup, admin_a, django_capture_on_commit_callbacks
) -> None:
    target = dealer_b.user("sales_manager")
    before = _memberships()

    _invite(admin_a, target.email, "dealer_admin", django_capture_on_commit_callbacks)

    assert _memberships() == before
    assert not Membership.objects.filter(dealer=dealer_a.dealer, user=target).exists()
    assert Invitation.objects.get(dealer=dealer_a.dealer).email == target.email


def test_inviting_the_superuser_does_not_make_them_a_member(
    dealer_a: DealerSetup, admin_a, manufacturer_admin: User, django_capture_on_commit_callbacks
) -> None:
    before = _memberships()
    _invite(admin_a, manufacturer_admin.email.upper(), "salesperson", django_capture_on_commit_callbacks)
    assert _memberships() == before
    assert not manufacturer_admin.memberships.exists()


def test_invited_person_joins_by_accepting_while_signed_in_as_that_address(
    dealer_a: DealerSetup, dealer_b: DealerSetup, admin_a, client_for, django_capture_on_commit_callbacks
) -> None:
    person = dealer_b.user("salesperson")
    link = _invite(admin_a, person.email, "sales_manager", django_capture_on_commit_callbacks)
    client = client_for(person)

    page = client.get(link)
    assert page.status_code == 200
    assert dealer_a.dealer.name in page.content.decode()
    assert not Membership.objects.filter(dealer=dealer_a.dealer, user=person).exists()

    response = client.post(link)

    assert response.status_code == 302
    member = Membership.objects.get(dealer=dealer_a.dealer, user=person)
    assert (member.role, member.is_active) == ("sales_manager", True)
    assert Membership.objects.get(dealer=dealer_b.dealer, user=person).role == "salesperson"
    invitation = Invitation.objects.get(dealer=dealer_a.dealer)
    assert invitation.accepted_by == person
    assert invitation.accepted_at is not None
    assert AuditEvent.objects.filter(action="staff.added", object_id=str(member.pk), actor=person).exists()


def test_accepting_as_a_different_signed_in_user_fails(
    dealer_a: DealerSetup, dealer_b: DealerSetup, admin_a, client_for, django_capture_on_commit_callbacks
) -> None:
    invited = dealer_b.user("salesperson")
    link = _invite(admin_a, invited.email, "dealer_admin", django_capture_on_commit_callbacks)
    before = _memberships()

    for intruder in (dealer_b.user("dealer_admin"), dealer_a.user("salesperson")):
        client = client_for(intruder)
        assert client.get(link).status_code == 403
        assert client.post(link).status_code == 403

    assert _memberships() == before
    invitation = Invitation.objects.get(dealer=dealer_a.dealer)
    assert invitation.accepted_at is None
    assert invitation.accepted_by is None
    # The invited person still can.
    assert client_for(invited).post(link).status_code == 302


def test_a_link_works_only_once(
    dealer_a: DealerSetup, dealer_b: DealerSetup, admin_a, client_for, django_capture_on_commit_callbacks
) -> None:
    person = dealer_b.user("salesperson")
    link = _invite(admin_a, person.email, "salesperson", django_capture_on_commit_callbacks)
    client = client_for(person)
    assert client.post(link).status_code == 302
    Membership.objects.filter(dealer=dealer_a.dealer, user=person).update(is_active=False)  # later deactivated

    again = client.post(link)

    assert again.status_code == 404
    assert Membership.objects.get(dealer=dealer_a.dealer, user=person).is_active is False


def test_an_expired_link_is_refused(
    dealer_a: DealerSetup, dealer_b: DealerSetup, admin_a, client_for, django_capture_on_commit_callbacks
) -> None:
    person = dealer_b.user("salesperson")
    link = _invite(admin_a, person.email, "salesperson", django_capture_on_commit_callbacks)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    before = _memberships()

    assert client_for(person).post(link).status_code == 404
    assert _memberships() == before


def test_a_revoked_or_replaced_link_is_refused(
    dealer_a: DealerSetup, dealer_b: DealerSetup, admin_a, client_for, django_capture_on_commit_callbacks
) -> None:
    person = dealer_b.user("salesperson")
    first = _invite(admin_a, person.email, "salesperson", django_capture_on_commit_callbacks)
    second = _invite(admin_a, person.email, "dealer_admin", django_capture_on_commit_callbacks)
    invitation = Invitation.objects.get(dealer=dealer_a.dealer, revoked_at__isnull=True)

    listed = admin_a.get(reverse("staff_list"))
    assert list(listed.context["invitations"]) == [invitation]
    assert admin_a.get(reverse("staff_invitation_revoke", args=[invitation.pk])).status_code == 200
    assert admin_a.post(reverse("staff_invitation_revoke", args=[invitation.pk])).status_code == 302
    before = _memberships()

    client = client_for(person)
    assert client.post(first).status_code == 404
    assert client.post(second).status_code == 404
    assert _memberships() == before
    assert list(admin_a.get(reverse("staff_list")).context["invitations"]) == []
    assert AuditEvent.objects.filter(action="staff.invitation_revoked", object_id=str(invitation.pk)).exists()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
        lambda token: token.split(":", 1)[0] + ":AAAAAA:AAAAAAAAAAAAAAAAAAAAAAAAAAA",
        lambda token: "not-a-token",
    ],
    ids=["signature", "payload", "garbage"],
)
def test_a_tampered_link_is_refused(
    tamper, dealer_a: DealerSetup, dealer_b: DealerSetup, admin_a, client_for, django_capture_on_commit_callbacks
) -> None:
    person = dealer_b.user("salesperson")
    link = _invite(admin_a, person.email, "salesperson", django_capture_on_commit_callbacks)
    token = link.split("/")[2]
    before = _memberships()

    response = client_for(person).post(reverse("invitation_accept", args=[tamper(token)]))

    assert response.status_code == 404
    assert _memberships() == before


def test_a_new_address_creates_its_account_and_joins(
    dealer_a: DealerSetup, admin_a, client, django_capture_on_commit_callbacks
) -> None:
    link = _invite(admin_a, "Neu@Test.crm.example", "salesperson", django_capture_on_commit_callbacks)

    form = client.get(link)
    assert form.status_code == 200
    assert form["Cache-Control"] == "no-store"
    weak = client.post(link, {"first_name": "Jana", "last_name": "Neu", "password1": "123", "password2": "123"})
    assert weak.status_code == 200
    assert "password1" in weak.context["form"].errors
    assert not User.objects.filter(email="neu@test.crm.example").exists()

    password = "Lenkrad-Sommer-2026!"
    response = client.post(
        link, {"first_name": "Jana", "last_name": "Neu", "password1": password, "password2": password}
    )

    assert response.status_code == 302
    user = User.objects.get(email="neu@test.crm.example")
    assert user.check_password(password)
    assert Membership.objects.get(dealer=dealer_a.dealer, user=user).role == "salesperson"
    assert client.get(reverse("dashboard")).status_code == 200  # signed in


def test_an_existing_account_is_sent_to_sign_in_and_cannot_be_taken_over(
    dealer_a: DealerSetup, dealer_b: DealerSetup, admin_a, client, django_capture_on_commit_callbacks
) -> None:
    person = dealer_b.user("salesperson")
    link = _invite(admin_a, person.email, "salesperson", django_capture_on_commit_callbacks)
    password_before = User.objects.get(pk=person.pk).password
    before = _memberships()

    page = client.get(link)
    post = client.post(
        link, {"first_name": "X", "last_name": "Y", "password1": "Lenkrad-99-x!", "password2": "Lenkrad-99-x!"}
    )

    for response in (page, post):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert User.objects.get(pk=person.pk).password == password_before
    assert _memberships() == before


def test_inviting_a_current_member_is_an_inline_error(dealer_a: DealerSetup, admin_a) -> None:
    response = admin_a.post(
        reverse("staff_list"), {"email": dealer_a.other_salesperson.user.email, "role": "salesperson"}
    )
    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    assert not Invitation.objects.exists()
    assert len(mail.outbox) == 0


def test_an_admin_of_another_dealership_cannot_see_or_revoke_the_invitation(
    dealer_a: DealerSetup, dealer_b: DealerSetup, admin_a, client_for, django_capture_on_commit_callbacks
) -> None:
    _invite(admin_a, "neu@test.crm.example", "salesperson", django_capture_on_commit_callbacks)
    invitation = Invitation.objects.get()
    admin_b = client_for(dealer_b.user("dealer_admin"))

    assert list(admin_b.get(reverse("staff_list")).context["invitations"]) == []
    assert admin_b.post(reverse("staff_invitation_revoke", args=[invitation.pk])).status_code == 404
    invitation.refresh_from_db()
    assert invitation.revoked_at is None
