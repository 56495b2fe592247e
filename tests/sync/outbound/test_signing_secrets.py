"""Webhook signing secrets are shown once, when issued, and otherwise only as a fingerprint (issue 9, item 5)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dealers.actors import Actor
from sync.models import Destination
from sync.outbound import services
from sync.outbound.transports import signing_secrets
from tests.factories import DestinationFactory

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")
OLD = "whsec_b2xkLXNpZ25pbmctc2VjcmV0LW9mLXRoZS1kZWFsZXI="
PREVIOUS = "whsec_cHJldmlvdXMtc2lnbmluZy1zZWNyZXQtb2YtZGVhbGVy"


def _destination(dealer, **fields) -> Destination:
    return DestinationFactory.create(
        dealer=dealer,
        secret=OLD,
        previous_secret=PREVIOUS,
        previous_secret_expires_at=timezone.now() + timedelta(hours=3),
        **fields,
    )


def _pages(client: Client, destination: Destination, *, admin: bool) -> dict[str, str]:
    """Every page that shows the destination, by name."""
    if admin:
        urls = {
            "changelist": reverse("admin:sync_destination_changelist"),
            "change": reverse("admin:sync_destination_change", args=[destination.pk]),
            "history": reverse("admin:sync_destination_history", args=[destination.pk]),
            "delete": reverse("admin:sync_destination_delete", args=[destination.pk]),
            "overview": reverse("admin:sync_destination_overview"),
            "search": reverse("admin:sync_destination_changelist") + f"?q={OLD[:12]}",
        }
    else:
        urls = {
            "settings": reverse("sync_settings"),
            "destination": reverse("sync_destination", kwargs={"pk": destination.pk}),
        }
    pages = {}
    for name, url in urls.items():
        response = client.get(url)
        assert response.status_code == 200, name
        pages[name] = response.content.decode()
    return pages


def test_dealer_admin_pages_show_a_fingerprint_never_the_secret(dealer_a, client_for):
    destination = _destination(dealer_a.dealer)

    pages = _pages(client_for(dealer_a.user("dealer_admin")), destination, admin=False)

    for name, html in pages.items():
        assert OLD not in html, name
        assert PREVIOUS not in html, name
        assert OLD.removeprefix("whsec_") not in html, name
    assert destination.secret_fingerprint in pages["destination"]
    assert destination.secret_fingerprint == "sha256:" + hashlib.sha256(OLD.encode()).hexdigest()[:12]


def test_admin_views_show_a_fingerprint_never_the_secret(dealer_a, manufacturer_admin, client_for):
    destination = _destination(dealer_a.dealer)

    pages = _pages(client_for(manufacturer_admin), destination, admin=True)

    for name, html in pages.items():
        assert OLD not in html, name
        assert PREVIOUS not in html, name
    assert destination.secret_fingerprint in pages["change"]
    assert destination.previous_secret_fingerprint in pages["change"]


def test_rotating_on_the_page_shows_the_new_secret_in_that_response_only(dealer_a, client_for):
    destination = _destination(dealer_a.dealer)
    client = client_for(dealer_a.user("dealer_admin"))

    response = client.post(reverse("sync_destination_action", kwargs={"pk": destination.pk, "action": "rotate_secret"}))

    destination.refresh_from_db()
    new = destination.secret
    assert new not in (OLD, PREVIOUS)
    assert response.status_code == 200
    assert response.content.decode().count(new) == 1
    assert OLD not in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    for name, html in _pages(client, destination, admin=False).items():
        assert new not in html, name
        assert OLD not in html, name


def test_rotation_keeps_the_old_secret_signing_for_the_overlap(dealer_a):
    destination = _destination(dealer_a.dealer)

    rotated = services.rotate_secret(destination=destination, actor=ACTOR)

    assert signing_secrets(rotated) == [rotated.secret, OLD]
    assert rotated.previous_secret_expires_at is not None
    assert rotated.previous_secret_expires_at > timezone.now() + timedelta(hours=23)
    rotated.previous_secret_expires_at = timezone.now() - timedelta(seconds=1)
    assert signing_secrets(rotated) == [rotated.secret]


def test_creating_on_the_page_shows_the_secret_in_that_response_only(dealer_a, client_for):
    client = client_for(dealer_a.user("dealer_admin"))

    response = client.post(
        reverse("sync_settings"), {"name": "DMS", "transport": "webhook", "url": "https://1.1.1.1/h"}
    )

    destination = Destination.objects.get(dealer=dealer_a.dealer)
    assert response.status_code == 200
    assert response.content.decode().count(destination.secret) == 1
    assert "no-store" in response["Cache-Control"]
    for name, html in _pages(client, destination, admin=False).items():
        assert destination.secret not in html, name


def test_admin_rotate_action_shows_each_new_secret_once_then_never(dealer_a, dealer_b, manufacturer_admin, client_for):
    first, second = _destination(dealer_a.dealer), _destination(dealer_b.dealer)
    client = client_for(manufacturer_admin)

    response = client.post(
        reverse("admin:sync_destination_changelist"),
        {"action": "rotate_secret", "_selected_action": [first.pk, second.pk]},
    )

    first.refresh_from_db()
    second.refresh_from_db()
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count(first.secret) == 1
    assert html.count(second.secret) == 1
    assert OLD not in html
    assert "no-store" in response["Cache-Control"]
    for destination in (first, second):
        for name, page in _pages(client, destination, admin=True).items():
            assert first.secret not in page, name
            assert second.secret not in page, name
            assert OLD not in page, name


def test_admin_add_form_proposes_a_fresh_secret_that_is_not_shown_after_saving(
    dealer_a, manufacturer_admin, client_for
):
    client = client_for(manufacturer_admin)
    proposed = client.get(reverse("admin:sync_destination_add"))
    assert proposed.status_code == 200
    assert 'name="secret"' in proposed.content.decode()

    secret = "whsec_bmV1ZXMtc2lnbmluZy1zZWNyZXQtZnVlci1kZW4taGFuZGVs"
    added = client.post(
        reverse("admin:sync_destination_add"),
        {
            "dealer": dealer_a.dealer.pk,
            "name": "DMS",
            "transport": "webhook",
            "url": "https://1.1.1.1/h",
            "event_types": "[]",
            "secret": secret,
        },
    )

    assert added.status_code == 302
    destination = Destination.objects.get(dealer=dealer_a.dealer)
    assert destination.secret == secret
    for name, page in _pages(client, destination, admin=True).items():
        assert secret not in page, name
