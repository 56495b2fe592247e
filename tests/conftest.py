"""Two dealerships with staff in every role: the set-up most tests start from."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.test import Client

from dealers.models import Dealer, Membership, User
from tests.factories import DealerFactory, MembershipFactory, UserFactory
from tests.support.database import set_database_read_only

ROLES = [role.value for role in Membership.Role]


@dataclass
class DealerSetup:
    dealer: Dealer
    staff: dict[str, Membership]  # role -> membership
    other_salesperson: Membership

    def user(self, role: str) -> User:
        return self.staff[role].user


def _dealer_setup(label: str) -> DealerSetup:
    dealer = DealerFactory(name=f"Autohaus {label}")
    staff = {
        role: MembershipFactory(dealer=dealer, role=role, user=UserFactory(email=f"{role}.{label}@test.crm.example"))
        for role in ROLES
    }
    other = MembershipFactory(
        dealer=dealer, role=Membership.Role.SALESPERSON, user=UserFactory(email=f"other.{label}@test.crm.example")
    )
    return DealerSetup(dealer=dealer, staff=staff, other_salesperson=other)


@pytest.fixture
def dealer_a(db: None) -> DealerSetup:
    return _dealer_setup("a")


@pytest.fixture
def dealer_b(db: None) -> DealerSetup:
    return _dealer_setup("b")


@pytest.fixture
def client_for():
    """``client_for(user)``: a test client signed in as ``user``."""

    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def manufacturer_admin(db: None) -> User:
    return User.objects.create_superuser(email="hq@test.crm.example", password="x-Passwort-123")


@pytest.fixture
def read_only_database(transactional_db: None) -> Iterator[None]:
    """Every new session of the test database is read-only, like one reaching a standby after failover."""
    set_database_read_only(True)
    yield
    set_database_read_only(False)
