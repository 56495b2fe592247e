"""Sessions expire, and minting keys, revealing secrets and changing roles need the password again.

The attack: someone holding a signed-in session (an unlocked browser, a stolen cookie) but not
the password (and code) tries to create or rotate keys, rotate webhook secrets or raise rights,
in the UI and the admin. Each test shows the refusal changes nothing, then that the person
who confirms their password may go on.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from dealers.actors import Actor
from dealers.api_keys import create_api_key
from dealers.models import ApiKey, Membership, User
from dealers.reauth import SEEN_PREFIX, STARTED_KEY
from dealers.roles import ANALYST, NETWORK_ADMIN
from sync.models import Destination
from tests.conftest import DealerSetup, signed_in_client
from tests.dealers.test_two_factor import code_for
from tests.factories import TEST_PASSWORD, DestinationFactory, UserFactory

STALE = 20 * 60  # seconds since the password was given: beyond the 15-minute window
ACTOR = Actor.system("test")


def is_sent_to_confirm(response: Any) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("reauthenticate"))


@pytest.fixture
def dealer_admin(dealer_a: DealerSetup) -> User:
    return dealer_a.user("dealer_admin")


@pytest.fixture
def network_admin(db: None) -> User:
    user = UserFactory.create(email="network@hq.test.crm.example", is_staff=True)
    user.groups.add(Group.objects.get(name=NETWORK_ADMIN))
    return user


# --- Dealership UI -----------------------------------------------------------------------------


def test_a_stale_session_cannot_create_an_api_key(dealer_admin: User) -> None:
    client = signed_in_client(dealer_admin, confirmed_ago=STALE)

    response = client.post(reverse("api_keys"), {"name": "Stolen", "scopes": ["leads:read"]})

    assert is_sent_to_confirm(response)
    assert not ApiKey.objects.exists()
    assert client.get(reverse("api_keys")).status_code == 200  # looking at the list needs nothing more


def test_after_confirming_the_password_the_key_is_created(dealer_admin: User) -> None:
    client = signed_in_client(dealer_admin, confirmed_ago=None)
    confirm = client.post(
        reverse("reauthenticate") + "?next=/dealership/api-keys/",
        {"password": TEST_PASSWORD, "next": "/dealership/api-keys/"},
    )
    assert confirm["Location"] == "/dealership/api-keys/"

    created = client.post(reverse("api_keys"), {"name": "DMS", "scopes": ["leads:read"]})
    assert created.status_code == 201
    assert ApiKey.objects.count() == 1


def test_rotating_an_api_key_needs_a_recent_password(dealer_admin: User, dealer_a: DealerSetup) -> None:
    key = create_api_key(dealer=dealer_a.dealer, name="DMS", scopes=["leads:read"], actor=ACTOR).api_key
    client = signed_in_client(dealer_admin, confirmed_ago=STALE)

    assert is_sent_to_confirm(client.get(reverse("api_key_rotate", args=[key.pk])))
    assert is_sent_to_confirm(client.post(reverse("api_key_rotate", args=[key.pk]), {"overlap": "0"}))
    assert ApiKey.objects.count() == 1


def test_with_an_authenticator_the_password_alone_does_not_confirm(dealer_admin: User) -> None:
    device = TOTPDevice.objects.create(user=dealer_admin, name="authenticator", confirmed=True)
    client = signed_in_client(dealer_admin, confirmed_ago=STALE)
    url = reverse("reauthenticate") + "?next=/dealership/api-keys/"

    without_code = client.post(url, {"password": TEST_PASSWORD})
    assert without_code.status_code == 200
    assert is_sent_to_confirm(client.post(reverse("api_keys"), {"name": "X", "scopes": ["leads:read"]}))

    with_code = client.post(url, {"password": TEST_PASSWORD, "otp_token": code_for(device)})
    assert with_code.status_code == 302
    assert client.post(reverse("api_keys"), {"name": "X", "scopes": ["leads:read"]}).status_code == 201


def test_guessing_the_password_at_the_confirmation_locks_the_account(dealer_admin: User) -> None:
    client = signed_in_client(dealer_admin, confirmed_ago=STALE)
    statuses = [client.post(reverse("reauthenticate"), {"password": f"guess-{n}"}).status_code for n in range(12)]
    right = client.post(reverse("reauthenticate"), {"password": TEST_PASSWORD})

    assert statuses[:9] == [200] * 9
    assert statuses[-1] == 429
    assert right.status_code == 429
    assert is_sent_to_confirm(client.post(reverse("api_keys"), {"name": "X", "scopes": ["leads:read"]}))


def test_the_confirmation_never_sends_people_to_another_site(dealer_admin: User) -> None:
    client = signed_in_client(dealer_admin, confirmed_ago=STALE)
    response = client.post(reverse("reauthenticate"), {"password": TEST_PASSWORD, "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_a_stale_session_cannot_change_a_role_but_may_change_capacity(dealer_a: DealerSetup) -> None:
    member = dealer_a.other_salesperson
    client = signed_in_client(dealer_a.user("dealer_admin"), confirmed_ago=STALE)
    url = reverse("staff_edit", args=[member.pk])
    promote = {"role": "dealer_admin", "is_active": "on", "is_available": "on", "lead_capacity": "30"}

    assert is_sent_to_confirm(client.post(url, promote))
    member.refresh_from_db()
    assert member.role == Membership.Role.SALESPERSON

    capacity = client.post(url, {**promote, "role": "salesperson", "lead_capacity": "12"})
    assert capacity.status_code == 302
    member.refresh_from_db()
    assert member.lead_capacity == 12


def test_a_stale_session_cannot_invite_staff(dealer_admin: User) -> None:
    client = signed_in_client(dealer_admin, confirmed_ago=STALE)
    response = client.post(reverse("staff_list"), {"email": "new@test.crm.example", "role": "dealer_admin"})
    assert is_sent_to_confirm(response)


def test_a_stale_session_cannot_rotate_or_reveal_a_webhook_secret(dealer_admin: User, dealer_a: DealerSetup) -> None:
    destination = DestinationFactory(dealer=dealer_a.dealer)
    before = destination.secret
    client = signed_in_client(dealer_admin, confirmed_ago=STALE)

    rotate = client.post(reverse("sync_destination_action", args=[destination.pk, "rotate_secret"]))
    create = client.post(
        reverse("sync_settings"), {"name": "Second", "transport": "webhook", "url": "https://x.example/"}
    )

    assert is_sent_to_confirm(rotate)
    assert is_sent_to_confirm(create)
    destination.refresh_from_db()
    assert destination.secret == before
    assert Destination.objects.count() == 1


# --- Admin ------------------------------------------------------------------------------------


def test_a_stale_admin_session_cannot_raise_its_own_rights(network_admin: User) -> None:
    client = signed_in_client(network_admin, confirmed_ago=STALE)
    url = reverse("admin:dealers_user_change", args=[network_admin.pk])

    assert is_sent_to_confirm(client.get(url))
    response = client.post(
        url, {"email": network_admin.email, "is_staff": "on", "is_superuser": "on", "is_active": "on"}
    )
    assert is_sent_to_confirm(response)
    network_admin.refresh_from_db()
    assert not network_admin.is_superuser
    assert client.get(reverse("admin:dealers_user_changelist")).status_code == 200  # reading needs nothing more


def test_a_stale_admin_session_cannot_set_a_password_or_change_a_membership(
    network_admin: User, dealer_a: DealerSetup
) -> None:
    client = signed_in_client(network_admin, confirmed_ago=STALE)
    victim = dealer_a.user("dealer_admin")

    assert is_sent_to_confirm(client.get(reverse("admin:auth_user_password_change", args=[victim.pk])))
    assert is_sent_to_confirm(
        client.get(reverse("admin:dealers_membership_change", args=[dealer_a.staff["salesperson"].pk]))
    )
    assert is_sent_to_confirm(client.post(reverse("admin:dealers_dealer_change", args=[dealer_a.dealer.pk]), {}))


def test_a_stale_admin_session_cannot_issue_or_rotate_api_keys(network_admin: User, dealer_a: DealerSetup) -> None:
    key = create_api_key(dealer=dealer_a.dealer, name="DMS", scopes=["leads:read"], actor=ACTOR).api_key
    client = signed_in_client(network_admin, confirmed_ago=STALE)

    assert is_sent_to_confirm(client.get(reverse("admin:dealers_apikey_add")))
    rotate = client.post(
        reverse("admin:dealers_apikey_changelist"), {"action": "rotate_keys", "_selected_action": [key.pk]}
    )
    assert is_sent_to_confirm(rotate)
    assert ApiKey.objects.count() == 1


def test_a_stale_admin_session_cannot_rotate_webhook_secrets(db: None, dealer_a: DealerSetup) -> None:
    desk = UserFactory(email="desk@hq.test.crm.example", is_staff=True, is_superuser=True)
    destination = DestinationFactory(dealer=dealer_a.dealer)
    before = destination.secret
    client = signed_in_client(desk, confirmed_ago=STALE)

    response = client.post(
        reverse("admin:sync_destination_changelist"), {"action": "rotate_secret", "_selected_action": [destination.pk]}
    )
    assert is_sent_to_confirm(response)
    destination.refresh_from_db()
    assert destination.secret == before

    code = code_for(TOTPDevice.objects.get(user=desk))  # staff confirm with password and code
    client.post(reverse("reauthenticate"), {"password": TEST_PASSWORD, "otp_token": code})
    rotated = client.post(
        reverse("admin:sync_destination_changelist"), {"action": "rotate_secret", "_selected_action": [destination.pk]}
    )
    assert rotated.status_code == 200
    destination.refresh_from_db()
    assert destination.secret != before


# --- Session lifetime ---------------------------------------------------------------------------


def _signed_out(client: Client) -> bool:
    response = client.get(reverse("dashboard"))
    return response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_session_ends_ten_hours_after_sign_in_however_busy(dealer_a: DealerSetup) -> None:
    client = signed_in_client(dealer_a.user("salesperson"))
    assert client.get(reverse("dashboard")).status_code == 200
    session = client.session
    session[STARTED_KEY] = time.time() - 10 * 3600 - 1
    session.save()

    assert _signed_out(client)
    assert "_auth_user_id" not in client.session


def test_a_session_ends_after_thirty_idle_minutes(dealer_a: DealerSetup) -> None:
    client = signed_in_client(dealer_a.user("salesperson"))
    assert client.get(reverse("dashboard")).status_code == 200
    cache.set(f"{SEEN_PREFIX}{client.session.session_key}", time.time() - 29 * 60)
    assert client.get(reverse("dashboard")).status_code == 200  # 29 minutes: still there, clock restarts

    cache.set(f"{SEEN_PREFIX}{client.session.session_key}", time.time() - 31 * 60)
    assert _signed_out(client)


def test_view_only_staff_read_those_pages_without_confirming(dealer_a: DealerSetup) -> None:
    analyst = UserFactory(email="analyst@hq.test.crm.example", is_staff=True)
    analyst.groups.add(Group.objects.get(name=ANALYST))
    client = signed_in_client(analyst, confirmed_ago=STALE)

    user_page = client.get(reverse("admin:dealers_user_change", args=[dealer_a.user("salesperson").pk]))
    membership_page = client.get(reverse("admin:dealers_membership_change", args=[dealer_a.staff["salesperson"].pk]))

    assert user_page.status_code == 200
    assert membership_page.status_code == 200
