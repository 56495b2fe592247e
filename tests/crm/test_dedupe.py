"""Likely duplicates: the same email, phone, or name and postcode; never across dealerships, never merged ones."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection

from crm.dedupe import contact_keys, duplicate_groups, find_matches, name_key, person_lock_keys
from crm.models import Prospect
from crm.services import prospects
from dealers.actors import Actor
from tests.conftest import DealerSetup
from tests.support.app_role import index_conditions, plan_as_application

SYSTEM = Actor.system("test")


def _prospect(setup: DealerSetup, **data: str) -> Prospect:
    return prospects.create_prospect(dealer=setup.dealer, actor=SYSTEM, data=data)


def test_name_key_folds_umlauts_case_and_punctuation() -> None:
    assert name_key("Müller") == name_key("Mueller") == name_key("MÜLLER") == "mueller"
    assert name_key("Müller-Lüdenscheidt") == "muellerluedenscheidt"
    assert name_key("Lefèvre") == "lefevre"


def test_a_person_is_locked_by_every_key_a_match_may_use() -> None:
    contact = contact_keys(email="Erika@Kunde.example", phones=("089 1234567", None))
    keys = person_lock_keys(contact, last_name="Müller-Lüdenscheidt", postcode=" 80802 ")
    assert keys == ["email:erika@kunde.example", "name_postcode:muellerluedenscheidt|80802", "phone:+49891234567"]
    # name without postcode (or the reverse) matches nobody, so it locks nothing
    assert person_lock_keys([], last_name="Müller") == []
    assert person_lock_keys([], postcode="80802") == []


def test_email_matches_case_insensitively(dealer_a: DealerSetup) -> None:
    anna = _prospect(dealer_a, first_name="Anna", last_name="Schmidt", email="Anna.Schmidt@Example.org")
    _prospect(dealer_a, last_name="Schmidt", email="other@example.org")

    found = find_matches(dealer_id=dealer_a.dealer.pk, email=" anna.schmidt@example.ORG ")

    assert list(found) == [anna]
    assert found[0].match_score == 3


def test_phone_matches_phone_or_mobile_in_any_spelling(dealer_a: DealerSetup) -> None:
    by_phone = _prospect(dealer_a, last_name="Huber", phone="089 123456")
    by_mobile = _prospect(dealer_a, last_name="Maier", mobile="+49 170 1234567")

    assert list(find_matches(dealer_id=dealer_a.dealer.pk, phone="+49 89 123456")) == [by_phone]
    assert list(find_matches(dealer_id=dealer_a.dealer.pk, phone="0170/1234567")) == [by_mobile]


def test_name_and_postcode_match_across_umlaut_spellings(dealer_a: DealerSetup) -> None:
    mueller = _prospect(dealer_a, first_name="Jörg", last_name="Müller", postcode="80331")
    _prospect(dealer_a, last_name="Müller", postcode="10115")  # same name, other town: no match

    found = find_matches(dealer_id=dealer_a.dealer.pk, last_name="MUELLER", postcode="80331")

    assert list(found) == [mueller]
    assert found[0].match_score == 1


def test_name_without_postcode_matches_nothing(dealer_a: DealerSetup) -> None:
    _prospect(dealer_a, last_name="Müller", postcode="80331")
    assert not find_matches(dealer_id=dealer_a.dealer.pk, last_name="Müller").exists()
    assert not find_matches(dealer_id=dealer_a.dealer.pk).exists()


def test_best_key_comes_first(dealer_a: DealerSetup) -> None:
    by_name = _prospect(dealer_a, last_name="Weber", postcode="80331")
    by_email = _prospect(dealer_a, last_name="Wagner", email="k.weber@example.org")

    found = list(
        find_matches(dealer_id=dealer_a.dealer.pk, email="k.weber@example.org", last_name="Weber", postcode="80331")
    )

    assert found == [by_email, by_name]


def test_other_dealerships_merged_and_anonymised_prospects_never_match(
    dealer_a: DealerSetup, dealer_b: DealerSetup
) -> None:
    _prospect(dealer_b, last_name="Fischer", email="fischer@example.org")
    keep = _prospect(dealer_a, last_name="Fischer", email="fischer@example.org")
    duplicate = _prospect(dealer_a, last_name="Fischer", email="FISCHER@example.org")
    erased = _prospect(dealer_a, last_name="Fischer", email="fischer@example.org")
    prospects.merge_prospects(keep=keep, duplicate=duplicate, actor=SYSTEM)
    prospects.erase_prospect(prospect=erased, actor=SYSTEM)

    assert list(find_matches(dealer_id=dealer_a.dealer.pk, email="fischer@example.org")) == [keep]


def test_find_matches_narrows_to_a_given_queryset(dealer_a: DealerSetup) -> None:
    seller = dealer_a.user("salesperson")
    mine = _prospect(dealer_a, last_name="Koch", email="koch@example.org", owner_id=seller.pk)
    _prospect(dealer_a, last_name="Koch", email="koch@example.org", owner_id=dealer_a.other_salesperson.user_id)

    visible = Prospect.objects.visible_to(dealer_a.staff["salesperson"])
    found = find_matches(dealer_id=dealer_a.dealer.pk, email="koch@example.org", queryset=visible)

    assert list(found) == [mine]


def test_duplicate_groups_finds_each_key_once(dealer_a: DealerSetup, dealer_b: DealerSetup) -> None:
    a1 = _prospect(dealer_a, last_name="Schulz", email="schulz@example.org")
    a2 = _prospect(dealer_a, last_name="Schultz", email="SCHULZ@example.org")
    p1 = _prospect(dealer_a, last_name="Becker", phone="089 5555555")
    p2 = _prospect(dealer_a, last_name="Beck", mobile="+49895555555")
    n1 = _prospect(dealer_a, last_name="Hoffmann", postcode="80331")
    n2 = _prospect(dealer_a, last_name="HOFFMANN", postcode="80331")
    _prospect(dealer_a, last_name="Hoffmann", postcode="10115")
    # phone = mobile of one prospect is no duplicate; dealer B's twin is not A's duplicate
    _prospect(dealer_a, last_name="Solo", phone="089 7777777", mobile="089 7777777")
    _prospect(dealer_b, last_name="Schulz", email="schulz@example.org")

    groups = duplicate_groups(Prospect.objects.for_dealer(dealer_a.dealer.pk))

    found = {(g.reason, frozenset(p.pk for p in g.prospects)) for g in groups}
    assert found == {
        ("email", frozenset({a1.pk, a2.pk})),
        ("phone", frozenset({p1.pk, p2.pk})),
        ("name_postcode", frozenset({n1.pk, n2.pk})),
    }


def test_a_pair_found_by_two_keys_is_listed_once(dealer_a: DealerSetup) -> None:
    _prospect(dealer_a, last_name="Wolf", email="wolf@example.org", postcode="80331")
    _prospect(dealer_a, last_name="Wolf", email="wolf@example.org", postcode="80331")

    groups = duplicate_groups(Prospect.objects.for_dealer(dealer_a.dealer.pk))

    assert [g.reason for g in groups] == ["email"]


@pytest.mark.parametrize("rows", [2, 12])
def test_duplicate_groups_runs_a_constant_number_of_queries(
    rows: int, dealer_a: DealerSetup, django_assert_num_queries
) -> None:
    for index in range(rows):
        _prospect(dealer_a, last_name=f"Name{index // 2}", email=f"p{index // 2}@example.org")
    with django_assert_num_queries(4):
        groups = duplicate_groups(Prospect.objects.for_dealer(dealer_a.dealer.pk))
    assert len(groups) == rows // 2


def test_the_name_and_postcode_match_reads_an_index_under_row_level_security(dealer_a: DealerSetup) -> None:
    # A postcode of a large dealership holds thousands of prospects. Matched by an expression over the last
    # name, the intake read every one of them: row-level security keeps a condition with functions that are
    # not leakproof (replace, translate) out of the index, so it was a filter (19 ms for 2,561 rows).
    mueller = _prospect(dealer_a, first_name="Jörg", last_name="Müller", postcode="80331")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO crm_prospect (id, dealer_id, version, created_at, updated_at, kind, salutation, title,"
            " first_name, last_name, company, email, phone, mobile, street, postcode, city, country,"
            " preferred_channel, preferred_language, origin, search_text, email_normalized, name_key)"
            " SELECT gen_random_uuid(), %s, 1, now(), now(), 'person', '', '', 'Erika', 'Name' || n, '', '', '',"
            " '', '', '80331', '', 'DE', '', '', 'showroom', '', '', 'name' || n FROM generate_series(1, 3000) AS n",
            [dealer_a.dealer.pk],
        )
        cursor.execute("ANALYZE crm_prospect")
    found = find_matches(dealer_id=dealer_a.dealer.pk, email="joerg@example.org", last_name="MUELLER", postcode="80331")
    plan = plan_as_application(*found.query.sql_with_params(), dealer_id=dealer_a.dealer.pk)
    assert any("postcode" in c and "name_key" in c for c in index_conditions(plan)), plan
    assert [p.pk for p in found] == [mueller.pk]
    with connection.cursor() as cursor:  # the plan was asked as the application role; the test is the owner again
        cursor.execute("SELECT current_user = session_user")
        assert cursor.fetchone()[0]


def test_the_migrations_backfill_keys_every_prospect_as_the_services_do(dealer_a: DealerSetup) -> None:
    migration = importlib.import_module("crm.migrations.0019_prospect_name_key")
    names = ["Müller-Lüdenscheidt", "MÜLLER", "Lefèvre", "Øster Æbelø", "Straße", "Nguyễn", "O'Brien", ""]
    people = [_prospect(dealer_a, last_name=name, email=f"p{i}@example.org") for i, name in enumerate(names)]
    Prospect.objects.update(name_key="")  # as the rows were before the column arrived

    with connection.schema_editor(atomic=False) as editor:
        migration.backfill(None, editor)

    keys = dict(Prospect.objects.values_list("pk", "name_key"))
    assert [keys[p.pk] for p in people] == [name_key(name) for name in names]
    assert keys[people[0].pk] == "muellerluedenscheidt"
