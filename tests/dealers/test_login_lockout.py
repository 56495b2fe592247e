"""Password guessing is throttled per account and per address; Argon2 hashes the passwords.

Each test performs the attack (many wrong passwords, rotating addresses or spellings, a
spoofed proxy header, mass reset mails) against the real login and checks it stops working.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import make_password
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dealers.models import User
from tests.conftest import DealerSetup
from tests.factories import TEST_PASSWORD, UserFactory
from tests.security.production import PRODUCTION_ENV
from tests.support.settings_process import run_with_settings

LIMIT = 10  # settings.AXES_FAILURE_LIMIT
PRINT_FIRST_HASHER = "print(settings.PASSWORD_HASHERS[0])"


def _login(client: Client, email: str, password: str, **extra: str):
    return client.post(reverse("login"), {"username": email, "password": password}, **extra)


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def seller(dealer_a: DealerSetup) -> User:
    return dealer_a.user("salesperson")


def test_fifty_wrong_passwords_lock_the_account_and_even_the_right_one_is_refused(seller: User, client) -> None:
    statuses = [_login(client, seller.email, f"guess-{n}").status_code for n in range(50)]

    assert statuses[: LIMIT - 1] == [200] * (LIMIT - 1)  # the form with an error
    assert set(statuses[LIMIT:]) == {429}
    response = _login(client, seller.email, TEST_PASSWORD)
    assert response.status_code == 429
    assert not _signed_in(client)
    assert int(response["Retry-After"]) == 15 * 60


def test_lockout_page_says_when_to_try_again_in_german_and_english(seller: User, client) -> None:
    for n in range(LIMIT):
        _login(client, seller.email, f"guess-{n}")

    german = _login(client, seller.email, "again")
    client.cookies["django_language"] = "en"
    english = _login(client, seller.email, "again").content.decode()

    retry_at = timezone.localtime(timezone.now() + timedelta(minutes=15)).strftime("%H:%M")
    assert german.status_code == 429
    assert '<html lang="de">' in german.content.decode()
    assert "Too many attempts" in english
    assert f"Please try again after {retry_at}" in english


def test_spelling_the_email_differently_does_not_earn_more_guesses(seller: User, client) -> None:
    spellings = [seller.email.upper(), seller.email.title(), f"  {seller.email}  ", seller.email]
    for n in range(LIMIT):
        _login(client, spellings[n % len(spellings)], f"guess-{n}", REMOTE_ADDR=f"198.51.100.{n}")

    assert _login(Client(), seller.email, TEST_PASSWORD, REMOTE_ADDR="203.0.113.9").status_code == 429


def test_the_account_is_locked_whichever_address_the_guesses_come_from(seller: User) -> None:
    for n in range(LIMIT):
        _login(Client(), seller.email, f"guess-{n}", REMOTE_ADDR=f"198.51.100.{n}")

    client = Client()
    assert _login(client, seller.email, TEST_PASSWORD, REMOTE_ADDR="203.0.113.9").status_code == 429
    assert not _signed_in(client)


def test_one_address_guessing_many_accounts_is_locked_but_others_sign_in(seller: User) -> None:
    attacker = {"REMOTE_ADDR": "198.51.100.7"}
    for n in range(LIMIT):
        _login(Client(), f"nobody{n}@test.crm.example", "guess", **attacker)

    assert _login(Client(), seller.email, TEST_PASSWORD, **attacker).status_code == 429
    office = Client()
    assert _login(office, seller.email, TEST_PASSWORD, REMOTE_ADDR="203.0.113.9").status_code == 302
    assert _signed_in(office)


def test_unknown_and_known_accounts_get_the_same_answers(seller: User) -> None:
    def answers(email: str) -> list[tuple[int, str]]:
        client = Client(REMOTE_ADDR=f"192.0.2.{len(email) % 250}")
        out = []
        for n in range(LIMIT + 2):
            response = _login(client, email, f"guess-{n}")
            body = response.content.decode()
            # The lockout page names the time the pause ends: the two runs may straddle a minute.
            page = re.sub(r"\b\d{1,2}:\d{2}\b", "HH:MM", body[body.index("<main") :])
            out.append((response.status_code, page.replace(email, "EMAIL")))
        return out

    known = answers(seller.email)
    unknown = answers("nobody.here@test.crm.example")
    assert [status for status, _ in known] == [status for status, _ in unknown]
    assert [body.split("csrfmiddlewaretoken")[0] for _, body in known] == [
        body.split("csrfmiddlewaretoken")[0] for _, body in unknown
    ]


def test_a_spoofed_forwarded_for_header_does_not_reset_the_address_count(seller: User) -> None:
    for n in range(LIMIT):
        _login(Client(), f"nobody{n}@test.crm.example", "guess", HTTP_X_FORWARDED_FOR=f"10.9.8.{n}")

    response = _login(Client(), seller.email, TEST_PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert response.status_code == 429


def test_behind_a_configured_proxy_the_address_it_saw_counts(seller: User, settings) -> None:
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    settings.CLIENT_IP_PROXY_COUNT = 1
    for n in range(LIMIT):
        # The client may prepend anything; our proxy appends the address it saw (the last one).
        _login(Client(), f"nobody{n}@test.crm.example", "guess", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}, 198.51.100.7")

    locked = _login(Client(), seller.email, TEST_PASSWORD, HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7")
    other = Client()
    allowed = _login(other, seller.email, TEST_PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.9")
    assert locked.status_code == 429
    assert allowed.status_code == 302
    assert _signed_in(other)


def test_the_lockout_ends_after_the_cool_off(seller: User, client) -> None:
    for n in range(LIMIT):
        _login(client, seller.email, f"guess-{n}")
    assert _login(client, seller.email, TEST_PASSWORD).status_code == 429

    for attempt in AccessAttempt.objects.all():
        attempt.attempt_time -= timedelta(minutes=16)
        attempt.save(update_fields=["attempt_time"])

    assert _login(client, seller.email, TEST_PASSWORD).status_code == 302
    assert _signed_in(client)


def test_a_successful_sign_in_clears_earlier_failures(seller: User, client) -> None:
    for n in range(LIMIT - 1):
        _login(client, seller.email, f"guess-{n}")
    assert _login(client, seller.email, TEST_PASSWORD).status_code == 302
    client.post(reverse("logout"))

    assert _login(client, seller.email, "one-more-typo").status_code == 200
    assert _login(client, seller.email, TEST_PASSWORD).status_code == 302


def test_the_admin_login_checks_no_passwords_of_its_own(seller: User) -> None:
    """The admin's login form would be a second, separately throttled door: it only redirects."""
    staff = UserFactory(email="hq.staff@test.crm.example", is_staff=True, is_superuser=True)
    client = Client()
    statuses = set()
    for n in range(LIMIT + 5):
        response = client.post(reverse("admin:login"), {"username": staff.email, "password": f"guess-{n}"})
        statuses.add(response.status_code)
        assert response["Location"].startswith(reverse("login"))
    response = client.post(reverse("admin:login"), {"username": staff.email, "password": TEST_PASSWORD})
    assert statuses == {302}
    assert response.status_code == 302
    assert not _signed_in(client)
    assert client.get(reverse("admin:index"))["Location"].startswith(reverse("admin:login"))


def test_password_reset_requests_are_limited_per_address(seller: User) -> None:
    attacker = {"REMOTE_ADDR": "198.51.100.7"}
    statuses = [
        Client().post(reverse("password_reset"), {"email": f"victim{n}@test.crm.example"}, **attacker).status_code
        for n in range(30)
    ]

    assert statuses[:10] == [302] * 10
    assert set(statuses[10:]) == {429}
    ok = Client().post(reverse("password_reset"), {"email": seller.email}, REMOTE_ADDR="203.0.113.9")
    assert ok.status_code == 302
    assert len(mail.outbox) == 1


def test_mail_bombing_one_account_sends_at_most_three_reset_mails(seller: User) -> None:
    for n in range(8):
        response = Client().post(reverse("password_reset"), {"email": seller.email}, REMOTE_ADDR=f"198.51.100.{n}")
        assert response.status_code == 302  # the same answer whether a mail went out or not

    assert len(mail.outbox) == 3


def test_old_pbkdf2_hashes_still_sign_in_and_are_upgraded_to_argon2(seller: User, settings, client) -> None:
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    seller.password = make_password(TEST_PASSWORD, hasher="pbkdf2_sha256")
    seller.save(update_fields=["password"])

    assert _login(client, seller.email, TEST_PASSWORD).status_code == 302
    seller.refresh_from_db()
    assert seller.password.startswith("argon2$argon2id$")


@pytest.mark.parametrize("env", ["development", "production"])
def test_argon2_is_the_first_hasher_outside_tests(env: str) -> None:
    result = run_with_settings({**PRODUCTION_ENV, "DJANGO_ENV": env}, PRINT_FIRST_HASHER)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "django.contrib.auth.hashers.Argon2PasswordHasher"
