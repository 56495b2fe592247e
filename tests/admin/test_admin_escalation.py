"""Issue 9 item 2: nobody raises their own rights in the admin, and only a superuser grants rights.

What the network administration may do with accounts: manage dealership staff (accounts that are
neither manufacturer staff nor superuser): names, e-mail, language, active, and their memberships.
It may not touch manufacturer accounts (its own included) beyond viewing them, set anyone's
password, or grant ``is_staff``, ``is_superuser``, groups or permissions; a superuser may.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from dealers.models import AuditEvent, Membership, User
from dealers.roles import ANALYST, NETWORK_ADMIN
from tests.admin.admin_forms import form_data
from tests.admin.snapshot import database_rows
from tests.conftest import DealerSetup

RIGHTS = ("is_staff", "is_superuser", "groups", "user_permissions")


def _change_url(user: User) -> str:
    return reverse("admin:dealers_user_change", args=[user.pk])


def _all_groups() -> list[str]:
    return [str(pk) for pk in Group.objects.values_list("pk", flat=True)]


def test_network_admin_cannot_make_himself_superuser(dealer_a: DealerSetup, staff_in, client_for, manufacturer_admin):
    me = staff_in(NETWORK_ADMIN)
    client = client_for(me)
    page = client_for(manufacturer_admin).get(_change_url(me))  # the full form, as a superuser sees it
    perm = Permission.objects.get(codename="change_group")
    before = database_rows()

    client.post(
        _change_url(me),
        form_data(page, is_superuser="on", groups=_all_groups(), user_permissions=[str(perm.pk)], first_name="Neu"),
    )

    me.refresh_from_db()
    assert not me.is_superuser
    assert list(me.groups.values_list("name", flat=True)) == [NETWORK_ADMIN]
    assert not me.user_permissions.exists()
    assert database_rows() == before


def test_network_admin_cannot_grant_rights_to_a_dealership_account(
    dealer_a: DealerSetup, staff_in, client_for, manufacturer_admin
):
    target = dealer_a.user("salesperson")
    page = client_for(manufacturer_admin).get(_change_url(target))
    client = client_for(staff_in(NETWORK_ADMIN))

    client.post(_change_url(target), form_data(page, is_staff="on", is_superuser="on", groups=_all_groups()))

    target.refresh_from_db()  # the account may be edited, its rights are not part of the form
    assert (target.is_staff, target.is_superuser, target.groups.exists()) == (False, False, False)
    assert not AuditEvent.objects.filter(action="user.rights_changed").exists()


def test_network_admin_sees_rights_but_cannot_edit_them(dealer_a: DealerSetup, staff_in, client_for):
    page = client_for(staff_in(NETWORK_ADMIN)).get(_change_url(dealer_a.user("salesperson")))
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert not set(RIGHTS) & set(form.fields)


def test_network_admin_may_edit_a_dealership_account(dealer_a: DealerSetup, staff_in, client_for):
    target = dealer_a.user("salesperson")
    client = client_for(staff_in(NETWORK_ADMIN))
    response = client.post(_change_url(target), form_data(client.get(_change_url(target)), last_name="Neuname"))
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.last_name == "Neuname"


@pytest.mark.parametrize("whose", ["own", "superuser", "other staff"])
def test_network_admin_cannot_change_manufacturer_accounts(
    whose: str, dealer_a: DealerSetup, staff_in, client_for, manufacturer_admin
):
    me = staff_in(NETWORK_ADMIN)
    target = {"own": me, "superuser": manufacturer_admin, "other staff": staff_in(ANALYST)}[whose]
    page = client_for(manufacturer_admin).get(_change_url(target))
    client = client_for(me)
    before = database_rows()

    change = client.post(_change_url(target), form_data(page, email="angreifer@example.com", is_active=None))
    password = client.post(
        reverse("admin:auth_user_password_change", args=[target.pk]),
        {"password1": "Angriff-Passwort-987", "password2": "Angriff-Passwort-987", "set_usable_password": "true"},
    )
    delete = client.post(reverse("admin:dealers_user_delete", args=[target.pk]), {"post": "yes"})

    assert (change.status_code, password.status_code, delete.status_code) == (403, 403, 403)
    assert database_rows() == before


def test_network_admin_cannot_set_a_dealership_accounts_password(dealer_a: DealerSetup, staff_in, client_for):
    target = dealer_a.user("dealer_admin")
    client = client_for(staff_in(NETWORK_ADMIN))
    before = database_rows()
    response = client.post(
        reverse("admin:auth_user_password_change", args=[target.pk]),
        {"password1": "Angriff-Passwort-987", "password2": "Angriff-Passwort-987", "set_usable_password": "true"},
    )
    assert response.status_code == 403
    assert database_rows() == before


def test_network_admin_cannot_delete_a_superuser_from_the_list(
    dealer_a: DealerSetup, staff_in, client_for, manufacturer_admin
):
    client = client_for(staff_in(NETWORK_ADMIN))
    before = database_rows()
    client.post(
        reverse("admin:dealers_user_changelist"),
        {"action": "delete_selected", "_selected_action": [manufacturer_admin.pk], "post": "yes"},
    )
    assert database_rows() == before


def test_network_admin_cannot_make_himself_dealer_admin(dealer_a: DealerSetup, staff_in, client_for):
    me = staff_in(NETWORK_ADMIN)
    client = client_for(me)
    before = database_rows()

    added = client.post(
        reverse("admin:dealers_membership_add"),
        {"user": me.pk, "dealer": dealer_a.dealer.pk, "role": "dealer_admin", "is_active": "on", "lead_capacity": 0},
    )
    moved = client.post(
        reverse("admin:dealers_membership_change", args=[dealer_a.staff["dealer_admin"].pk]),
        form_data(
            client.get(reverse("admin:dealers_membership_change", args=[dealer_a.staff["dealer_admin"].pk])),
            user=str(me.pk),
        ),
    )
    dealer_page = client.get(reverse("admin:dealers_dealer_change", args=[dealer_a.dealer.pk]))
    inline = form_data(dealer_page)
    prefix = next(
        f.formset.prefix for f in dealer_page.context["inline_admin_formsets"] if f.formset.model is Membership
    )
    total = int(inline[f"{prefix}-TOTAL_FORMS"])
    inline.update(
        {
            f"{prefix}-TOTAL_FORMS": str(total + 1),
            f"{prefix}-{total}-user": str(me.pk),
            f"{prefix}-{total}-role": "dealer_admin",
            f"{prefix}-{total}-is_active": "on",
            f"{prefix}-{total}-lead_capacity": "0",
        }
    )
    via_dealer = client.post(reverse("admin:dealers_dealer_change", args=[dealer_a.dealer.pk]), inline)

    assert added.status_code != 302
    assert moved.status_code != 302
    assert via_dealer.status_code != 302
    assert not Membership.objects.filter(user=me).exists()
    assert database_rows() == before


def test_network_admin_may_give_dealership_staff_a_membership(dealer_a: DealerSetup, dealer_b, staff_in, client_for):
    person = dealer_b.user("salesperson")
    response = client_for(staff_in(NETWORK_ADMIN)).post(
        reverse("admin:dealers_membership_add"),
        {
            "user": person.pk,
            "dealer": dealer_a.dealer.pk,
            "role": "dealer_admin",
            "is_active": "on",
            "lead_capacity": 0,
        },
    )
    assert response.status_code == 302
    assert Membership.objects.get(user=person, dealer=dealer_a.dealer).role == "dealer_admin"


def test_superuser_may_grant_rights_and_the_grant_is_audited(
    dealer_a: DealerSetup, staff_in, client_for, manufacturer_admin
):
    target = staff_in(ANALYST)
    client = client_for(manufacturer_admin)
    network = str(Group.objects.get(name=NETWORK_ADMIN).pk)
    response = client.post(_change_url(target), form_data(client.get(_change_url(target)), groups=[network]))
    assert response.status_code == 302
    assert list(target.groups.values_list("name", flat=True)) == [NETWORK_ADMIN]
    event = AuditEvent.objects.get(action="user.rights_changed", object_id=str(target.pk))
    assert event.actor_id == manufacturer_admin.pk
    assert event.data["groups"] == [[ANALYST], [NETWORK_ADMIN]]


def test_an_account_the_network_admin_creates_has_no_password_it_knows(staff_in, client_for, db):
    client = client_for(staff_in(NETWORK_ADMIN))
    password = "Bekannt-Passwort-987"
    url = reverse("admin:dealers_user_add")
    fields = {"email": "neu@autohaus.example", "password1": password, "password2": password, "usable_password": "true"}
    client.post(url, form_data(client.get(url), first_name="Nora", **fields))  # password fields added by hand
    account = User.objects.get(email="neu@autohaus.example")  # the person sets a password by reset
    assert not account.has_usable_password()
    assert (account.is_staff, account.is_superuser) == (False, False)


def test_a_superuser_may_create_an_account_with_a_password(manufacturer_admin, client_for):
    password = "Bekannt-Passwort-987"
    client = client_for(manufacturer_admin)
    url = reverse("admin:dealers_user_add")
    fields = {"email": "neu@hq.example", "password1": password, "password2": password, "usable_password": "true"}
    assert client.post(url, form_data(client.get(url), **fields)).status_code == 302
    assert User.objects.get(email="neu@hq.example").check_password(password)
