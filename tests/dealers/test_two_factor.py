"""Two-factor authentication: required for manufacturer staff and the admin, available to dealership staff.

The attacks: a stolen staff password alone (UI and admin), guessing codes, replaying a used
recovery code, a staff session that never gave a code, a dealership user turning it off for staff.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from dealers.models import User
from dealers.two_factor import PENDING_KEY
from tests.conftest import DealerSetup, signed_in_client
from tests.factories import TEST_PASSWORD, UserFactory


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The authenticator app's code now (or ``steps_ahead`` periods later: a used code is refused)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def password_step(client: Client, user: User, next_url: str = "") -> Any:
    data = {"username": user.email, "password": TEST_PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post(reverse("login"), data)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def staff(db: None) -> User:
    return UserFactory.create(email="netadmin@hq.test.crm.example", is_staff=True, is_superuser=True)


def enrolled(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


def test_a_staff_password_alone_signs_nobody_in(staff: User) -> None:
    client = Client()
    response = password_step(client, staff, next_url="/admin/")

    assert response.status_code == 302
    assert response["Location"] == reverse("login_enroll")
    assert not signed_in(client)
    assert client.get(reverse("admin:index"))["Location"].startswith(reverse("admin:login"))


def test_staff_without_a_device_sets_one_up_with_qr_code_and_one_code_then_reaches_the_admin(staff: User) -> None:
    client = Client()
    password_step(client, staff, next_url="/admin/")

    page = client.get(reverse("login_enroll"))
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    html = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in html
    assert "<script" not in html.split("<main", 1)[1]
    assert re.search(r"[A-Z2-7]{4}( [A-Z2-7]{4}){7}", html)  # the secret, for typing in by hand
    assert "no-store" in page["Cache-Control"]

    wrong = client.post(reverse("login_enroll"), {"otp_token": "000000" if code_for(device) != "000000" else "111111"})
    assert wrong.status_code == 200
    assert not signed_in(client)

    time.sleep(1.1)  # django-otp throttles the device for a second after a wrong code
    done = client.post(reverse("login_enroll"), {"otp_token": code_for(device)})
    assert done.status_code == 201
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", done.content.decode())
    assert len(codes) == 10
    assert signed_in(client)
    assert client.get(reverse("admin:index")).status_code == 200
    device.refresh_from_db()
    assert device.confirmed


def test_staff_with_a_device_must_give_the_code_and_guesses_are_cut_off(staff: User) -> None:
    device = enrolled(staff)
    client = Client()
    assert password_step(client, staff)["Location"] == reverse("login_verify")

    for guess in ("123456", "654321", "111111", "222222"):
        response = client.post(reverse("login_verify"), {"otp_token": guess})
        assert response.status_code == 200
        assert not signed_in(client)
    fifth = client.post(reverse("login_verify"), {"otp_token": "333333"})

    assert fifth["Location"] == reverse("login")  # the password must be given again
    assert client.post(reverse("login_verify"), {"otp_token": code_for(device)})["Location"] == reverse("login")
    assert not signed_in(client)


def test_the_right_code_signs_in_and_verifies_the_session(staff: User) -> None:
    device = enrolled(staff)
    client = Client()
    password_step(client, staff, next_url="/admin/")

    response = client.post(reverse("login_verify"), {"otp_token": code_for(device)})

    assert response["Location"] == "/admin/"
    assert signed_in(client)
    assert client.get("/admin/").status_code == 200


def test_a_used_code_cannot_be_replayed(staff: User) -> None:
    device = enrolled(staff)
    code = code_for(device)
    first = Client()
    password_step(first, staff)
    first.post(reverse("login_verify"), {"otp_token": code})

    second = Client()
    password_step(second, staff)
    response = second.post(reverse("login_verify"), {"otp_token": code})
    assert response.status_code == 200
    assert not signed_in(second)


def new_recovery_codes(client: Client) -> list[str]:
    page = client.post(reverse("recovery_codes_regenerate")).content.decode()
    return re.findall(r"<code>([a-z2-7]{8})</code>", page)


def test_a_recovery_code_signs_in_once(staff: User) -> None:
    enrolled(staff)
    codes = new_recovery_codes(signed_in_client(staff))
    assert len(codes) == 10

    first = Client()
    password_step(first, staff)
    assert first.post(reverse("login_verify"), {"otp_token": codes[0].upper()}).status_code == 302
    assert signed_in(first)

    again = Client()
    password_step(again, staff)
    assert again.post(reverse("login_verify"), {"otp_token": codes[0]}).status_code == 200
    assert not signed_in(again)
    assert StaticToken.objects.filter(device__user=staff).count() == 9


def test_new_recovery_codes_replace_the_old_ones(staff: User) -> None:
    enrolled(staff)
    client = signed_in_client(staff)
    old = new_recovery_codes(client)
    new = new_recovery_codes(client)

    assert set(StaticToken.objects.filter(device__user=staff).values_list("token", flat=True)) == set(new)
    assert not set(old) & set(new)


def test_the_pending_sign_in_expires_after_five_minutes(staff: User) -> None:
    device = enrolled(staff)
    client = Client()
    password_step(client, staff)
    session = client.session
    session[PENDING_KEY] = {**session[PENDING_KEY], "at": time.time() - 301}
    session.save()

    response = client.post(reverse("login_verify"), {"otp_token": code_for(device)})
    assert response["Location"] == reverse("login")
    assert not signed_in(client)


def test_the_admin_refuses_a_staff_session_that_gave_no_code(staff: User) -> None:
    enrolled(staff)
    client = signed_in_client(staff, verified=False)

    index = client.get(reverse("admin:index"))
    assert index.status_code == 302
    login = client.get(index["Location"])
    assert login["Location"].startswith(reverse("reauthenticate"))
    assert client.get(reverse("admin:dealers_user_changelist")).status_code == 302


def test_a_staff_session_without_any_device_is_sent_to_set_one_up(staff: User) -> None:
    client = signed_in_client(staff, verified=False)

    login = client.get(client.get(reverse("admin:index"))["Location"])
    assert login["Location"].startswith(reverse("account_enroll"))


def test_dealership_staff_are_shown_no_admin_login_form(dealer_a: DealerSetup) -> None:
    client = signed_in_client(dealer_a.user("dealer_admin"))
    response = client.get(reverse("admin:login"))
    assert response.status_code == 403


def test_dealership_staff_sign_in_with_the_password_alone_until_they_opt_in(dealer_a: DealerSetup) -> None:
    seller = dealer_a.user("salesperson")
    client = Client()
    assert password_step(client, seller)["Location"] == "/"
    assert signed_in(client)

    page = client.get(reverse("account_enroll"))
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=seller, confirmed=False)
    assert client.post(reverse("account_enroll"), {"otp_token": code_for(device)}).status_code == 201
    client.post(reverse("logout"))

    again = Client()
    assert password_step(again, seller)["Location"] == reverse("login_verify")
    assert not signed_in(again)
    assert again.post(reverse("login_verify"), {"otp_token": code_for(device, steps_ahead=1)}).status_code == 302
    assert signed_in(again)


def test_dealership_staff_may_turn_it_off_but_manufacturer_staff_may_not(dealer_a: DealerSetup, staff: User) -> None:
    seller = dealer_a.user("salesperson")
    enrolled(seller)
    TOTPDevice.objects.filter(user=seller).update(confirmed=True)
    enrolled(staff)

    signed_in_client(seller).post(reverse("two_factor_disable"))
    signed_in_client(staff).post(reverse("two_factor_disable"))

    assert not TOTPDevice.objects.filter(user=seller).exists()
    assert TOTPDevice.objects.filter(user=staff, confirmed=True).exists()


def test_the_security_page_shows_the_state_and_no_secret(dealer_a: DealerSetup) -> None:
    seller = dealer_a.user("salesperson")
    client = signed_in_client(seller)
    off = client.get(reverse("account_security"))
    device = enrolled(seller)
    on = client.get(reverse("account_security"))

    assert off.status_code == on.status_code == 200
    assert reverse("account_enroll") in off.content.decode()
    assert reverse("two_factor_disable") in on.content.decode()
    assert device.key not in on.content.decode()


def test_the_admin_shows_no_authenticator_keys_or_recovery_codes(staff: User) -> None:
    client = signed_in_client(staff)
    device = TOTPDevice.objects.get(user=staff)
    codes = new_recovery_codes(client)
    recovery = staff.staticdevice_set.get()

    pages = [
        client.get(reverse("admin:otp_totp_totpdevice_changelist")),
        client.get(reverse("admin:otp_totp_totpdevice_change", args=[device.pk])),
        client.get(reverse("admin:otp_static_staticdevice_change", args=[recovery.pk])),
        client.get(f"/admin/otp_totp/totpdevice/{device.pk}/qrcode/"),
    ]

    assert [page.status_code for page in pages[:3]] == [200, 200, 200]
    assert pages[3].status_code in (302, 404)  # django-otp's QR code view is not offered
    html = "".join(page.content.decode() for page in pages)
    assert device.key not in html
    assert not [code for code in codes if code in html]
