"""Sign-in, password reset and the language switch."""

from __future__ import annotations

from django.core import mail
from django.urls import reverse

from tests.conftest import DealerSetup
from tests.factories import TEST_PASSWORD


def test_login_page_renders_in_german_by_default(client, db) -> None:
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert "Anmelden" in response.content.decode()


def test_staff_signs_in_with_email_and_reaches_their_dashboard(dealer_a: DealerSetup, client) -> None:
    user = dealer_a.user("salesperson")
    response = client.post(reverse("login"), {"username": user.email.upper(), "password": TEST_PASSWORD}, follow=True)
    assert response.status_code == 200
    assert response.context["membership"].dealer == dealer_a.dealer


def test_wrong_password_shows_an_inline_error(dealer_a: DealerSetup, client) -> None:
    response = client.post(reverse("login"), {"username": dealer_a.user("salesperson").email, "password": "nope"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()


def test_password_reset_sends_a_link(dealer_a: DealerSetup, client) -> None:
    response = client.post(reverse("password_reset"), {"email": dealer_a.user("salesperson").email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "/accounts/password/reset/" in mail.outbox[0].body


def test_language_switch_to_english(dealer_a: DealerSetup, client_for) -> None:
    client = client_for(dealer_a.user("salesperson"))
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = client.get(reverse("dashboard")).content.decode()
    assert "Sign out" in page


def test_signing_in_uses_the_persons_saved_language(dealer_a: DealerSetup, client) -> None:
    user = dealer_a.user("salesperson")
    user.language = "en"
    user.save(update_fields=["language"])
    client.post(reverse("login"), {"username": user.email, "password": TEST_PASSWORD})
    assert "Sign out" in client.get(reverse("dashboard")).content.decode()


def test_switching_language_is_remembered_on_the_account(dealer_a: DealerSetup, client_for) -> None:
    user = dealer_a.user("salesperson")
    client_for(user).post(reverse("set_language"), {"language": "en", "next": "/"})
    user.refresh_from_db()
    assert user.language == "en"
