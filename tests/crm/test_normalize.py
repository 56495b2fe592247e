"""Keys derived from names: the order lists of people sort by."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection
from django.utils import timezone

from crm.models import Prospect
from crm.normalize import sort_name
from tests.conftest import DealerSetup
from tests.factories import ProspectFactory


def test_the_sort_name_orders_people_as_german_name_lists_do() -> None:
    people = [("Zimmermann", "Anna", ""), ("Özdemir", "Can", ""), ("Böhm", "Hannah", ""), ("Busch", "Antje", "")]
    people += [("Bauer", "Zoe", ""), ("Bauer", "Ali", ""), ("Müller", "Jan", ""), ("Mueller", "Ina", "")]
    people += [("", "", "Autohaus Ahrens GmbH")]  # a company without a contact person sorts by its name
    ordered = sorted(people, key=lambda person: sort_name(*person))
    assert ordered == [
        ("", "", "Autohaus Ahrens GmbH"),
        ("Bauer", "Ali", ""),
        ("Bauer", "Zoe", ""),
        ("Böhm", "Hannah", ""),
        ("Busch", "Antje", ""),
        ("Mueller", "Ina", ""),  # Müller and Mueller are one name, then by first name
        ("Müller", "Jan", ""),
        ("Özdemir", "Can", ""),
        ("Zimmermann", "Anna", ""),
    ]


@pytest.mark.django_db
def test_the_migration_backfills_every_prospect_as_the_services_do_and_leaves_the_erased_blank(
    dealer_a: DealerSetup,
) -> None:
    migration = importlib.import_module("crm.migrations.0022_prospect_sort_name")
    names = [("Müller-Lüdenscheidt", "Jörg", ""), ("Øster", "Åsa", ""), ("", "", "Gartenbau Vogel GmbH")]
    people = [
        ProspectFactory.create(dealer=dealer_a.dealer, last_name=last, first_name=first, company=company)
        for last, first, company in names
    ]
    erased = ProspectFactory.create(dealer=dealer_a.dealer, last_name="", erased_at=timezone.now())
    Prospect.objects.update(sort_name="")  # as the rows were before the column arrived

    with connection.schema_editor(atomic=False) as editor:
        migration.backfill(None, editor)

    keys = dict(Prospect.objects.values_list("pk", "sort_name"))
    assert [keys[p.pk] for p in people] == [sort_name(*name) for name in names]
    assert keys[people[0].pk] == "mueller luedenscheidt\tjoerg"
    assert keys[erased.pk] == ""
