"""factory_boy factories; every dealer-owned factory has a ``SubFactory`` dealer."""

from __future__ import annotations

from datetime import UTC, time

import factory
from django.contrib.auth.hashers import make_password

from crm.models import Activity, Lead, Prospect, Task
from crm.normalize import fold
from dealers.models import Dealer, DealerGroup, Membership, OpeningHours, Region, Territory, User
from sync.models import Destination

TEST_PASSWORD = "test-Passwort-123"
_HASH = make_password(TEST_PASSWORD)


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"user{n}@test.crm.example")
    first_name = factory.Faker("first_name", locale="de_DE")
    last_name = factory.Faker("last_name", locale="de_DE")
    password = _HASH


class RegionFactory(factory.django.DjangoModelFactory[Region]):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"R{n:02d}")
    name = factory.Sequence(lambda n: f"Region {n}")


class DealerGroupFactory(factory.django.DjangoModelFactory[DealerGroup]):
    class Meta:
        model = DealerGroup

    name = factory.Sequence(lambda n: f"Autogruppe {n}")


class DealerFactory(factory.django.DjangoModelFactory[Dealer]):
    class Meta:
        model = Dealer

    number = factory.Sequence(lambda n: f"{20000 + n:05d}")
    name = factory.Sequence(lambda n: f"Autohaus Test {n} GmbH")
    region = factory.SubFactory(RegionFactory)
    street = "Hauptstraße 1"
    postcode = "80331"
    city = "München"
    latitude = 48.137
    longitude = 11.575


class OpeningHoursFactory(factory.django.DjangoModelFactory[OpeningHours]):
    class Meta:
        model = OpeningHours

    dealer = factory.SubFactory(DealerFactory)
    weekday = 0
    opens = time(9, 0)
    closes = time(18, 0)


class TerritoryFactory(factory.django.DjangoModelFactory[Territory]):
    class Meta:
        model = Territory

    dealer = factory.SubFactory(DealerFactory)
    postcode_prefix = factory.Sequence(lambda n: f"{n % 1000:03d}")


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    dealer = factory.SubFactory(DealerFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.SALESPERSON


class ProspectFactory(factory.django.DjangoModelFactory[Prospect]):
    """Built through the model, so ``search_text`` is filled like the service does."""

    class Meta:
        model = Prospect
        skip_postgeneration_save = True

    dealer = factory.SubFactory(DealerFactory)
    first_name = factory.Faker("first_name", locale="de_DE")
    last_name = factory.Faker("last_name", locale="de_DE")
    # Folded to ASCII: Django's email validator refuses umlauts in the local part (Börner -> boerner).
    email = factory.LazyAttribute(lambda p: f"{fold(p.first_name)}.{fold(p.last_name)}@kunde.example".replace(" ", ""))
    postcode = "80331"
    city = "München"

    @factory.post_generation
    def derived(obj, create, extracted, **kwargs):
        from crm.services.prospects import fill_search_fields

        fill_search_fields(obj)
        if create:
            obj.save(update_fields=list(Prospect.SEARCH_FIELDS))


class LeadFactory(factory.django.DjangoModelFactory[Lead]):
    class Meta:
        model = Lead

    prospect = factory.SubFactory(ProspectFactory)
    dealer = factory.SelfAttribute("prospect.dealer")
    model_name = "Clio"
    source = "website"


class ActivityFactory(factory.django.DjangoModelFactory[Activity]):
    class Meta:
        model = Activity

    prospect = factory.SubFactory(ProspectFactory)
    dealer = factory.SelfAttribute("prospect.dealer")
    kind = "note"
    subject = "Notiz"


class TaskFactory(factory.django.DjangoModelFactory[Task]):
    class Meta:
        model = Task

    prospect = factory.SubFactory(ProspectFactory)
    dealer = factory.SelfAttribute("prospect.dealer")
    title = "Rückruf"
    due_at = factory.Faker("future_datetime", tzinfo=UTC)


class DestinationFactory(factory.django.DjangoModelFactory[Destination]):
    """A webhook destination of the sync relay (sync.models.Destination)."""

    class Meta:
        model = "sync.Destination"

    dealer = factory.SubFactory(DealerFactory)
    name = "DMS"
    transport = "webhook"
    url = factory.LazyAttribute(lambda d: f"http://127.0.0.1:9/webhooks/{d.dealer.number}")
    secret = "whsec_ZGVhbGVyLWNybS10ZXN0LXNlY3JldC1zZWNyZXQ="
