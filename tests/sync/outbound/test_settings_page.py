"""The dealer admin's sync page and the admin's sync overview and actions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.models import Change
from crm.services.prospects import create_prospect
from dealers.actors import Actor
from sync.models import DeadLetter, Destination
from tests.factories import DestinationFactory

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")


def _dead_letter(destination: Destination) -> DeadLetter:
    prospect = create_prospect(dealer=destination.dealer, actor=ACTOR, data={"first_name": "A", "last_name": "B"})
    change = Change.objects.get(object_id=prospect.pk)
    return DeadLetter.objects.create(
        dealer=destination.dealer,
        destination=destination,
        change=change,
        event_id=change.event_id,
        type=change.type,
        attempts=11,
        last_error="HTTP 400",
    )


def test_dealer_admin_sees_status_and_dead_letters_of_own_dealership_only(dealer_a, dealer_b, client_for):
    own = DestinationFactory(dealer=dealer_a.dealer, name="Eigenes DMS")
    foreign = DestinationFactory(dealer=dealer_b.dealer, name="Fremdes DMS")
    letter = _dead_letter(own)
    _dead_letter(foreign)

    page = client_for(dealer_a.user("dealer_admin")).get(reverse("sync_settings"))

    assert page.status_code == 200
    html = page.content.decode()
    assert "Eigenes DMS" in html
    assert "Fremdes DMS" not in html
    assert str(letter.event_id) in html
    assert html.count("HTTP 400") == 1


def test_dealer_admin_adds_a_webhook_destination_with_a_generated_secret(dealer_a, client_for):
    client = client_for(dealer_a.user("dealer_admin"))
    response = client.post(
        reverse("sync_settings"),
        {"name": "Autoline", "transport": "webhook", "url": "https://dms.example/hooks", "event_types": []},
    )

    destination = Destination.objects.get(dealer=dealer_a.dealer)
    assert response.status_code == 200
    assert destination.secret.startswith("whsec_")
    assert destination.event_types == []
    assert destination.secret in response.content.decode()  # shown once, to whoever created it
    detail = client.get(reverse("sync_destination", kwargs={"pk": destination.pk}))
    assert destination.secret not in detail.content.decode()
    assert destination.secret_fingerprint in detail.content.decode()


def test_webhook_without_url_gets_an_inline_error_and_nothing_is_saved(dealer_a, client_for):
    response = client_for(dealer_a.user("dealer_admin")).post(
        reverse("sync_settings"), {"name": "X", "transport": "webhook", "url": ""}
    )

    assert response.status_code == 400
    assert "Ein Webhook braucht eine URL." in response.content.decode()
    assert not Destination.objects.filter(dealer=dealer_a.dealer).exists()


@pytest.mark.parametrize("role", ["salesperson", "sales_manager"])
def test_other_roles_cannot_act_on_destinations(role, dealer_a, client_for):
    destination = DestinationFactory(dealer=dealer_a.dealer)
    client = client_for(dealer_a.user(role))
    url = reverse("sync_destination_action", kwargs={"pk": destination.pk, "action": "pause"})

    assert client.post(url).status_code == 403
    assert client.post(reverse("sync_settings"), {"name": "X", "transport": "pull_only"}).status_code == 403
    destination.refresh_from_db()
    assert not destination.paused


def test_pause_resume_and_replay_from_the_page(dealer_a, client_for):
    destination = DestinationFactory(dealer=dealer_a.dealer)
    client = client_for(dealer_a.user("dealer_admin"))

    def act(action: str, **data: str):
        return client.post(reverse("sync_destination_action", kwargs={"pk": destination.pk, "action": action}), data)

    assert act("pause").status_code == 302
    destination.refresh_from_db()
    assert destination.paused
    assert act("resume").status_code == 302
    destination.refresh_from_db()
    assert not destination.paused

    bad = act("replay", since="last tuesday")
    assert bad.status_code == 400
    assert "ISO 8601" in bad.content.decode()
    assert act("replay", since="2024-01-01T00:00:00Z").status_code == 302
    assert act("explode").status_code == 404


def test_foreign_destination_and_dead_letter_are_404(dealer_a, dealer_b, client_for):
    foreign = DestinationFactory(dealer=dealer_b.dealer)
    letter = _dead_letter(foreign)
    client = client_for(dealer_a.user("dealer_admin"))

    for action in ("pause", "resume", "rotate_secret", "replay"):
        url = reverse("sync_destination_action", kwargs={"pk": foreign.pk, "action": action})
        assert client.post(url, {"since": "2024-01-01"}).status_code == 404
    for action in ("retry", "discard"):
        url = reverse("sync_dead_letter_action", kwargs={"pk": letter.pk, "action": action})
        assert client.post(url).status_code == 404
    foreign.refresh_from_db()
    letter.refresh_from_db()
    assert not foreign.paused
    assert letter.status == DeadLetter.Status.DEAD


def test_dead_letter_retry_and_discard_from_the_page(dealer_a, client_for):
    destination = DestinationFactory(dealer=dealer_a.dealer)
    retried, discarded = _dead_letter(destination), _dead_letter(destination)
    client = client_for(dealer_a.user("dealer_admin"))

    client.post(reverse("sync_dead_letter_action", kwargs={"pk": retried.pk, "action": "retry"}))
    client.post(reverse("sync_dead_letter_action", kwargs={"pk": discarded.pk, "action": "discard"}))

    retried.refresh_from_db()
    discarded.refresh_from_db()
    assert retried.status == DeadLetter.Status.RETRYING
    assert discarded.status == DeadLetter.Status.DISCARDED
    assert discarded.resolved_by == dealer_a.user("dealer_admin").email


def test_admin_overview_lists_every_dealership_worst_first(dealer_a, dealer_b, manufacturer_admin, client_for):
    healthy = DestinationFactory(dealer=dealer_a.dealer)
    troubled = DestinationFactory(dealer=dealer_b.dealer)
    _dead_letter(troubled)

    page = client_for(manufacturer_admin).get(reverse("admin:sync_destination_overview"))

    assert page.status_code == 200
    html = page.content.decode()
    assert html.index(troubled.dealer.number) < html.index(healthy.dealer.number)


def test_admin_replay_action_asks_for_the_point_then_replays(dealer_a, manufacturer_admin, client_for):
    destination = DestinationFactory(dealer=dealer_a.dealer, cursor_txid=10**12, cursor_change_id=10**12)
    client = client_for(manufacturer_admin)
    url = reverse("admin:sync_destination_changelist")

    ask = client.post(url, {"action": "replay", "_selected_action": [destination.pk]})
    assert ask.status_code == 200
    assert "Erneut zustellen ab" in ask.content.decode()
    done = client.post(
        url, {"action": "replay", "_selected_action": [destination.pk], "apply": "1", "since": "2020-01-01T00:00:00Z"}
    )
    assert done.status_code == 302
    destination.refresh_from_db()
    assert destination.cursor_change_id < 10**12


def test_admin_pause_action(dealer_a, manufacturer_admin, client_for):
    destination = DestinationFactory(dealer=dealer_a.dealer)
    client_for(manufacturer_admin).post(
        reverse("admin:sync_destination_changelist"), {"action": "pause", "_selected_action": [destination.pk]}
    )
    destination.refresh_from_db()
    assert destination.paused
