"""Operations on destinations inside one transaction: secrets, leases, replay arguments."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ValidationError

from crm.models import Change
from crm.services.prospects import create_prospect
from dealers.actors import Actor
from sync.models import Destination
from sync.outbound import relay, services
from sync.outbound.transports import signing_secrets

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")


def test_rotate_secret_keeps_the_old_one_signing_for_the_overlap(dealer_a):
    destination = services.create_destination(
        dealer=dealer_a.dealer, actor=ACTOR, transport="webhook", url="https://dms.example/hook"
    )
    first = destination.secret
    rotated = services.rotate_secret(destination=destination, actor=ACTOR)

    assert rotated.secret != first
    assert signing_secrets(rotated) == [rotated.secret, first]
    Destination.objects.filter(pk=rotated.pk).update(previous_secret_expires_at="2000-01-01T00:00:00Z")
    assert signing_secrets(Destination.objects.get(pk=rotated.pk)) == [rotated.secret]


def test_a_claimed_destination_is_not_claimed_again_until_released(dealer_a):
    destination = services.create_destination(
        dealer=dealer_a.dealer, actor=ACTOR, transport="webhook", url="https://dms.example/hook"
    )
    # due since long ago (inside this test's transaction, SQL now() is the transaction's start)
    Destination.objects.filter(pk=destination.pk).update(next_attempt_at="2000-01-01T00:00:00Z")
    first, second = uuid.uuid4(), uuid.uuid4()

    assert [d.pk for d in relay.claim(dealer_a.dealer.pk, first)] == [destination.pk]
    assert relay.claim(dealer_a.dealer.pk, second) == []
    relay.release(destination, first)
    assert [d.pk for d in relay.claim(dealer_a.dealer.pk, second)] == [destination.pk]


def test_replay_refuses_an_unknown_point(dealer_a, dealer_b):
    destination = services.create_destination(
        dealer=dealer_a.dealer, actor=ACTOR, transport="webhook", url="https://dms.example/hook"
    )
    foreign = create_prospect(dealer=dealer_b.dealer, actor=ACTOR, data={"first_name": "A", "last_name": "B"})
    foreign_event = Change.objects.get(object_id=foreign.pk).event_id
    for since in ("yesterday", str(uuid.uuid4()), str(foreign_event)):
        with pytest.raises(ValidationError) as caught:
            services.replay(destination=destination, actor=ACTOR, since=since)
        assert "since" in caught.value.message_dict
