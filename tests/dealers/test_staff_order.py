"""A dealership's staff are listed in German order, whatever the database's collation."""

from __future__ import annotations

from crm.filters import dealership_staff
from dealers.models import Membership
from dealers.selectors import staff_of
from tests.conftest import DealerSetup
from tests.factories import UserFactory

# As German name lists sort (DIN 5007-2): Ö as Oe, so Özdemir before Ohm, and Böhm before Brandt.
NAMES = [("Böhm", "Jan"), ("Brandt", "Ina"), ("Özdemir", "Can"), ("Ohm", "Eva"), ("Ünal", "Ali"), ("Zander", "Bo")]


def _hire(dealer_a: DealerSetup) -> list[str]:
    for last, first in reversed(NAMES):
        user = UserFactory.create(last_name=last, first_name=first, email=f"{first.lower()}@a.test.crm.example")
        Membership.objects.create(user=user, dealer=dealer_a.dealer, role=Membership.Role.SALESPERSON)
    return [last for last, _first in NAMES]


def test_the_staff_page_and_every_staff_picker_list_people_in_german_order(dealer_a: DealerSetup) -> None:
    """Under the C collation "Özdemir" and "Ünal" came after "Zander"."""
    expected = _hire(dealer_a)
    picked = [u.last_name for u in dealership_staff(dealer_a.dealer.pk) if u.last_name in expected]
    assert picked == expected
    listed = [m.user.last_name for m in staff_of(dealer_a.staff["dealer_admin"]) if m.user.last_name in expected]
    assert listed == expected
