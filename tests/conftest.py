"""Two dealerships with staff in every role: the set-up most tests start from."""

from __future__ import annotations

import time
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


def signed_in_client(user: User, *, verified: bool = True, confirmed_ago: float | None = 0) -> Client:
    """A test client with a session as a full sign-in leaves it (dealers.two_factor, dealers.reauth).

    Manufacturer staff (``is_staff``) get a confirmed authenticator, and the session of anyone with
    one is verified by it, as the admin requires; everyone's password counts as confirmed ``confirmed_ago`` seconds ago,
    so re-authentication guards let the request through. Tests of those guards pass
    ``verified=False`` or ``confirmed_ago=None`` (never confirmed) or an old time.
    """
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from dealers.reauth import CONFIRMED_KEY, STARTED_KEY

    client = Client()
    client.force_login(user)
    session = client.session
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None and user.is_staff and verified:
        device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    if device is not None and verified:
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    now = time.time()
    session[STARTED_KEY] = now
    if confirmed_ago is not None:
        session[CONFIRMED_KEY] = now - confirmed_ago
    session.save()
    return client


@pytest.fixture
def client_for():
    """``client_for(user)``: a test client fully signed in as ``user`` (see ``signed_in_client``)."""

    def make(user: User) -> Client:
        return signed_in_client(user)

    return make


@pytest.fixture(autouse=True)
def _default_language() -> None:
    """Each test starts in the default language (German): a request of the test before, read in another
    language, would otherwise leave its language active in this thread, and a test would pass or fail
    by the order the tests ran in."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _fresh_password_reset_counters() -> None:
    """Password reset limits count per address in Redis for an hour; each test starts with none."""
    from dealers.login_throttle import clear_password_reset_counters

    clear_password_reset_counters()


@pytest.fixture
def manufacturer_admin(db: None) -> User:
    return User.objects.create_superuser(email="hq@test.crm.example", password="x-Passwort-123")


@pytest.fixture
def read_only_database(transactional_db: None) -> Iterator[None]:
    """Every new session of the test database is read-only, like one reaching a standby after failover."""
    set_database_read_only(True)
    yield
    set_database_read_only(False)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist, tests that start real servers (``worker``, ``browser``, ``servers``) join a group per kind.

    Each waits on subprocesses against wall-clock timeouts; ``--dist loadgroup`` sends one group to
    one worker, and the other workers meanwhile run the in-process tests (:func:`real_server_group`).
    Without xdist (``-p no:xdist``) there are no groups to join.
    """
    if not config.pluginmanager.hasplugin("xdist"):
        return
    grouped = []
    for item in items:
        group = real_server_group(item)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
            grouped.append(item)
    # The groups first: xdist hands out work in collection order, and a group that started last (the
    # Celery tests sort after everything in tests/sync) ran alone for minutes after the rest had finished.
    chosen = set(grouped)
    items[:] = grouped + [item for item in items if item not in chosen]


def real_server_group(item: pytest.Item) -> str | None:
    """The xdist group of a test that starts real servers: one group per kind of server, three in all.

    Within a group the tests run one after another; the three groups run side by side, each on its own
    xdist worker with its own PostgreSQL server (tests.support.worker_postgres). They spend most of their
    time waiting on subprocesses, so three at once fit two cores; one group of all of them ran for
    more than ten minutes alone. ``make run``'s embedded stack (tests/devstack) goes with the browser
    tests, away from the Celery tests it starved when it seeded beside an import being killed and resumed.
    """
    path = str(item.path)
    if item.get_closest_marker("browser") or "/tests/devstack/" in path:
        return "real_servers_browser"
    if item.get_closest_marker("servers"):
        return "real_servers_postgres"
    if item.get_closest_marker("worker"):
        return "real_servers_celery"
    return None
