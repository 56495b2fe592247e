"""API keys: stored only hashed, shown once, rotated with overlap, revoked, last use recorded; UI and admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dealers.actors import Actor
from dealers.api_keys import (
    create_api_key,
    hash_key,
    prune_idempotency_records,
    revoke_api_key,
    rotate_api_key,
    verify_api_key,
)
from dealers.models import ApiKey, AuditEvent, IdempotencyRecord
from tests.api.conftest import ApiClient
from tests.conftest import DealerSetup

ACTOR = Actor.system("test")


def _issue(setup: DealerSetup, scopes: list[str] | None = None):
    return create_api_key(dealer=setup.dealer, name="DMS", scopes=scopes or ["prospects:read"], actor=ACTOR)


def test_key_is_prefixed_and_only_its_hash_is_stored(dealer_a: DealerSetup) -> None:
    issued = _issue(dealer_a)
    key = ApiKey.objects.get(pk=issued.api_key.pk)
    assert issued.plaintext.startswith(key.prefix + "_")
    assert key.prefix.startswith("crmd_")
    assert key.secret_hash == hash_key(issued.plaintext)
    secret = issued.plaintext.rsplit("_", 1)[1]
    assert all(secret not in str(value) for value in ApiKey.objects.filter(pk=key.pk).values().first().values())
    assert verify_api_key(issued.plaintext) == key
    assert verify_api_key(issued.plaintext[:-1] + ("A" if issued.plaintext[-1] != "A" else "B")) is None
    assert AuditEvent.objects.filter(action="api_key.created", object_id=str(key.pk)).exists()


def test_scopes_are_checked_against_the_kind_of_key(dealer_a: DealerSetup) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as dealer_error:
        create_api_key(dealer=dealer_a.dealer, name="x", scopes=["intake:write"], actor=ACTOR)
    assert "scopes" in dealer_error.value.message_dict
    with pytest.raises(ValidationError):
        create_api_key(dealer=None, name="x", scopes=["prospects:read"], actor=ACTOR)
    with pytest.raises(ValidationError):
        create_api_key(dealer=dealer_a.dealer, name="x", scopes=["prospects:delete"], actor=ACTOR)
    manufacturer = create_api_key(dealer=None, name="Website", scopes=["intake:write"], actor=ACTOR)
    assert manufacturer.plaintext.startswith("crmm_")


def test_rotation_keeps_the_old_key_working_until_the_overlap_ends(dealer_a: DealerSetup) -> None:
    old = _issue(dealer_a, ["prospects:read", "leads:read"])
    new = rotate_api_key(api_key=old.api_key, actor=ACTOR, overlap=timedelta(hours=1))

    assert new.api_key.scopes == ["prospects:read", "leads:read"]
    assert ApiClient(old.plaintext).get("/api/v1/me/").status_code == 200
    assert ApiClient(new.plaintext).get("/api/v1/me/").status_code == 200
    old_key = ApiKey.objects.get(pk=old.api_key.pk)
    assert old_key.replaced_by_id == new.api_key.pk
    assert old_key.expires_at is not None
    assert timezone.now() + timedelta(minutes=59) < old_key.expires_at <= timezone.now() + timedelta(hours=1)

    # Well in the past: the database compares with now() of the test's transaction, which began before this line.
    ApiKey.objects.filter(pk=old.api_key.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    assert ApiClient(old.plaintext).get("/api/v1/me/").status_code == 401
    assert ApiClient(new.plaintext).get("/api/v1/me/").status_code == 200


def test_revoked_key_stops_at_once(dealer_a: DealerSetup) -> None:
    issued = _issue(dealer_a)
    revoke_api_key(api_key=issued.api_key, actor=ACTOR)
    assert ApiClient(issued.plaintext).get("/api/v1/me/").status_code == 401


def test_key_of_an_inactive_dealership_is_refused(dealer_a: DealerSetup) -> None:
    issued = _issue(dealer_a)
    dealer_a.dealer.is_active = False
    dealer_a.dealer.save(update_fields=["is_active"])
    assert ApiClient(issued.plaintext).get("/api/v1/me/").status_code == 401


def test_last_use_is_written_at_most_once_a_minute(dealer_a: DealerSetup, django_assert_num_queries) -> None:
    issued = _issue(dealer_a)
    api = ApiClient(issued.plaintext)
    api.get("/api/v1/me/")
    first = ApiKey.objects.get(pk=issued.api_key.pk).last_used_at
    assert first is not None
    with django_assert_num_queries(1):  # only the key's lookup: no UPDATE within the minute
        api.get("/api/v1/me/")
    assert ApiKey.objects.get(pk=issued.api_key.pk).last_used_at == first

    ApiKey.objects.filter(pk=issued.api_key.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
    api.get("/api/v1/me/")
    later = ApiKey.objects.get(pk=issued.api_key.pk).last_used_at
    assert later is not None
    assert later > first


def test_me_answers_the_dealership_and_scopes(dealer_a: DealerSetup) -> None:
    issued = _issue(dealer_a, ["leads:read", "changes:read"])
    body = ApiClient(issued.plaintext).get("/api/v1/me/").json()
    assert body["dealer"] == {"number": dealer_a.dealer.number, "name": dealer_a.dealer.name}
    assert body["scopes"] == ["leads:read", "changes:read"]
    assert body["key"]["prefix"] == issued.api_key.prefix
    manufacturer = create_api_key(dealer=None, name="Web", scopes=["intake:write"], actor=ACTOR)
    assert ApiClient(manufacturer.plaintext).get("/api/v1/me/").json()["dealer"] is None


# Dealer administrators' pages ------------------------------------------------------------------


def test_dealer_admin_creates_a_key_and_sees_it_once(dealer_a: DealerSetup, client_for) -> None:
    client = client_for(dealer_a.user("dealer_admin"))
    response = client.post(reverse("api_keys"), {"name": "Autoline DMS", "scopes": ["prospects:read", "leads:write"]})
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    key = ApiKey.objects.get(dealer=dealer_a.dealer, name="Autoline DMS")
    page = response.content.decode()
    plaintext = next(word for word in page.split('"') if word.startswith(key.prefix + "_"))
    assert verify_api_key(plaintext) == key
    assert key.created_by == dealer_a.user("dealer_admin").email

    listing = client.get(reverse("api_keys")).content.decode()
    assert key.prefix in listing
    assert plaintext not in listing


def test_dealer_admin_cannot_grant_intake_or_unknown_scopes(dealer_a: DealerSetup, client_for) -> None:
    client = client_for(dealer_a.user("dealer_admin"))
    response = client.post(reverse("api_keys"), {"name": "X", "scopes": ["intake:write"]})
    assert response.status_code == 200
    assert "scopes" in response.context["form"].errors
    assert not ApiKey.objects.filter(dealer=dealer_a.dealer).exists()


def test_dealer_admin_rotates_and_revokes_only_own_keys(
    dealer_a: DealerSetup, dealer_b: DealerSetup, client_for
) -> None:
    client = client_for(dealer_a.user("dealer_admin"))
    own = _issue(dealer_a)
    foreign = _issue(dealer_b)

    rotated = client.post(reverse("api_key_rotate", args=[own.api_key.pk]), {"overlap": "24"})
    assert rotated.status_code == 201
    assert ApiKey.objects.filter(dealer=dealer_a.dealer).count() == 2
    assert client.post(reverse("api_key_revoke", args=[foreign.api_key.pk])).status_code == 404
    assert client.post(reverse("api_key_rotate", args=[foreign.api_key.pk]), {"overlap": "0"}).status_code == 404
    assert ApiKey.objects.get(pk=foreign.api_key.pk).revoked_at is None

    assert client.post(reverse("api_key_revoke", args=[own.api_key.pk])).status_code == 302
    assert ApiKey.objects.get(pk=own.api_key.pk).revoked_at is not None


@pytest.mark.parametrize("role", ["salesperson", "sales_manager"])
def test_other_roles_cannot_manage_keys(role: str, dealer_a: DealerSetup, client_for) -> None:
    client = client_for(dealer_a.user(role))
    assert client.post(reverse("api_keys"), {"name": "X", "scopes": ["prospects:read"]}).status_code == 403
    assert not ApiKey.objects.exists()


def test_nav_links_the_key_page_for_dealer_admins_only(dealer_a: DealerSetup, client_for) -> None:
    url = reverse("api_keys")
    assert url in client_for(dealer_a.user("dealer_admin")).get(reverse("dashboard")).content.decode()
    assert url not in client_for(dealer_a.user("sales_manager")).get(reverse("dashboard")).content.decode()


# Manufacturer admin ----------------------------------------------------------------------------


def test_admin_issues_a_manufacturer_key_and_shows_it_once(manufacturer_admin, client_for) -> None:
    client = client_for(manufacturer_admin)
    response = client.post(
        reverse("admin:dealers_apikey_add"), {"dealer": "", "name": "Website forms", "scopes": ["intake:write"]}
    )
    assert response.status_code == 200, response.content[:500]
    key = ApiKey.objects.get(name="Website forms")
    assert key.dealer_id is None
    plaintext = next(word for word in response.content.decode().split('"') if word.startswith(key.prefix + "_"))
    assert verify_api_key(plaintext) == key
    assert client.get(reverse("admin:dealers_apikey_changelist") + "?q=Website").status_code == 200
    assert client.get(reverse("admin:dealers_apikey_change", args=[key.pk])).status_code == 200


def test_admin_refuses_dealer_scopes_on_a_manufacturer_key(manufacturer_admin, client_for) -> None:
    response = client_for(manufacturer_admin).post(
        reverse("admin:dealers_apikey_add"), {"dealer": "", "name": "X", "scopes": ["prospects:read"]}
    )
    assert response.status_code == 200
    assert "scopes" in response.context["adminform"].form.errors
    assert not ApiKey.objects.exists()


def test_admin_actions_rotate_and_revoke(dealer_a: DealerSetup, manufacturer_admin, client_for) -> None:
    client = client_for(manufacturer_admin)
    issued = _issue(dealer_a)
    changelist = reverse("admin:dealers_apikey_changelist")
    rotated = client.post(changelist, {"action": "rotate_keys", "_selected_action": [issued.api_key.pk]})
    assert rotated.status_code == 200
    successor = ApiKey.objects.get(pk=issued.api_key.pk).replaced_by
    assert successor is not None
    assert successor.prefix in rotated.content.decode()

    client.post(changelist, {"action": "revoke_keys", "_selected_action": [successor.pk]})
    assert ApiKey.objects.get(pk=successor.pk).revoked_at is not None


def test_prune_deletes_only_idempotency_records_older_than_a_day(dealer_a: DealerSetup) -> None:
    key = _issue(dealer_a).api_key
    old = IdempotencyRecord.objects.create(api_key=key, key="old", fingerprint="x")
    IdempotencyRecord.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))
    fresh = IdempotencyRecord.objects.create(api_key=key, key="fresh", fingerprint="x")

    assert prune_idempotency_records() == 1
    assert list(IdempotencyRecord.objects.values_list("pk", flat=True)) == [fresh.pk]
