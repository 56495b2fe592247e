"""The one scoping rule: ``visible_to`` keeps each viewer inside their dealership."""

from __future__ import annotations

from dealers.models import AuditEvent, Membership
from dealers.scoping import SystemViewer
from tests.conftest import DealerSetup


def test_staff_of_one_dealer_never_see_another_dealers_rows(dealer_a: DealerSetup, dealer_b: DealerSetup) -> None:
    for membership in dealer_a.staff.values():
        visible = Membership.objects.visible_to(membership)
        assert set(visible.values_list("dealer_id", flat=True)) == {dealer_a.dealer.pk}
        assert not visible.filter(pk=dealer_b.other_salesperson.pk).exists()


def test_nobody_sees_anything_without_a_membership(dealer_a: DealerSetup) -> None:
    assert not Membership.objects.visible_to(None).exists()


def test_dealer_system_sees_its_whole_dealership(dealer_a: DealerSetup, dealer_b: DealerSetup) -> None:
    visible = Membership.objects.visible_to(SystemViewer(dealer_id=dealer_b.dealer.pk))
    assert visible.count() == Membership.objects.filter(dealer=dealer_b.dealer).count() == 4


def test_audit_events_are_scoped_like_everything_else(dealer_a: DealerSetup, dealer_b: DealerSetup) -> None:
    AuditEvent.objects.create(dealer=dealer_b.dealer, actor_label="x", action="prospect.viewed")
    assert not AuditEvent.objects.visible_to(dealer_a.staff["dealer_admin"]).exists()
    assert AuditEvent.objects.visible_to(dealer_b.staff["dealer_admin"]).count() == 1
