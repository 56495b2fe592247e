"""record_audit: an audit row belongs to the changed object's dealership unless the caller names one."""

from __future__ import annotations

import pytest

from dealers.actors import Actor, record_audit
from dealers.models import AuditEvent
from tests.factories import DealerFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")


def test_the_row_takes_the_objects_dealership() -> None:
    membership = MembershipFactory()
    record_audit(actor=ACTOR, action="staff.changed", obj=membership)
    event = AuditEvent.objects.get(action="staff.changed")
    assert event.dealer_id == membership.dealer_id
    assert (event.object_type, event.object_id) == ("dealers.membership", str(membership.pk))


def test_a_named_dealership_wins() -> None:
    membership, other = MembershipFactory(), DealerFactory()
    record_audit(actor=ACTOR, action="staff.added", dealer_id=other.pk, obj=membership)
    assert AuditEvent.objects.get(action="staff.added").dealer_id == other.pk


def test_an_object_of_no_dealership_and_no_object_give_a_network_wide_row() -> None:
    record_audit(actor=ACTOR, action="user.changed", obj=UserFactory())
    record_audit(actor=ACTOR, action="feed.epoch_started", data={"epoch": 2})
    assert set(AuditEvent.objects.values_list("action", "dealer_id")) == {
        ("user.changed", None),
        ("feed.epoch_started", None),
    }
