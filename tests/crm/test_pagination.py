"""Keyset pagination: every row exactly once, in order, whatever the ties; a bad cursor starts over."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from crm.models import Prospect
from crm.selectors import search_prospects
from crm.ui import pagination
from crm.ui.pagination import KeysetPage, encode_cursor, keyset_page
from tests.conftest import DealerSetup
from tests.factories import ProspectFactory


@pytest.fixture
def rows(dealer_a: DealerSetup) -> list[Prospect]:
    # Many equal names: the unique id at the end of the key must break the ties.
    return [
        ProspectFactory.create(dealer=dealer_a.dealer, last_name=f"Name{i % 4}", first_name="Gleich") for i in range(23)
    ]


@pytest.mark.parametrize(
    "ordering", [("last_name", "first_name", "id"), ("-created_at", "-id"), ("-last_name", "first_name", "-id")]
)
def test_walking_all_pages_yields_every_row_once_in_order(
    ordering: tuple[str, ...], rows: list[Prospect], dealer_a: DealerSetup
) -> None:
    qs = Prospect.objects.for_dealer(dealer_a.dealer.pk)
    seen: list[Prospect] = []
    cursor = None
    for _ in range(10):
        page = keyset_page(qs, ordering=ordering, cursor=cursor, size=5)
        seen += page.items
        if not page.has_next:
            break
        cursor = page.next_cursor
    assert seen == list(qs.order_by(*ordering))
    assert len(seen) == 23


def test_the_last_page_has_no_next(rows: list[Prospect], dealer_a: DealerSetup) -> None:
    page = keyset_page(Prospect.objects.for_dealer(dealer_a.dealer.pk), ordering=("id",), cursor=None, size=23)
    assert (len(page), page.has_next, page.is_first) == (23, False, True)


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "%%%",
        "bm90IGpzb24",
        encode_cursor(["a"]),
        encode_cursor(["x", "y", "not-a-uuid"]),
        encode_cursor([{"dt": "nope"}, 1]),
    ],
)
def test_a_bad_cursor_gives_the_first_page(cursor: str, rows: list[Prospect], dealer_a: DealerSetup) -> None:
    qs = Prospect.objects.for_dealer(dealer_a.dealer.pk)
    page = keyset_page(qs, ordering=("last_name", "first_name", "id"), cursor=cursor, size=5)
    assert page.is_first
    assert page.items == list(qs.order_by("last_name", "first_name", "id")[:5])


def test_pages_use_no_offset_and_no_count(
    rows: list[Prospect], dealer_a: DealerSetup, django_assert_num_queries
) -> None:
    qs = Prospect.objects.for_dealer(dealer_a.dealer.pk)
    first = keyset_page(qs, ordering=("last_name", "first_name", "id"), cursor=None, size=5)
    with django_assert_num_queries(1) as captured:
        keyset_page(qs, ordering=("last_name", "first_name", "id"), cursor=first.next_cursor, size=5)
    sql = captured.captured_queries[0]["sql"].upper()
    assert "OFFSET" not in sql
    assert "COUNT(" not in sql


@pytest.mark.parametrize(
    ("ordering", "comparison"),
    [(("last_name", "first_name", "id"), ") > ("), (("-created_at", "-id"), ") < (")],
)
def test_the_next_page_starts_with_one_row_value_comparison(
    ordering: tuple[str, ...], comparison: str, rows: list[Prospect], dealer_a: DealerSetup, django_assert_num_queries
) -> None:
    # (a, b, id) > (x, y, z) is a range of the (dealer_id, a, b, id) index; OR terms are not (issue 15).
    qs = Prospect.objects.for_dealer(dealer_a.dealer.pk)
    first = keyset_page(qs, ordering=ordering, cursor=None, size=5)
    with django_assert_num_queries(1) as captured:
        keyset_page(qs, ordering=ordering, cursor=first.next_cursor, size=5)
    where = captured.captured_queries[0]["sql"].split(" WHERE ", 1)[1]
    assert comparison in where
    assert " OR " not in where


@pytest.fixture
def searchable(dealer_a: DealerSetup) -> None:
    # "Becker" on one row in three, "Eberhardt" on two rows late in name order, one name on a row alone.
    for i in range(60):
        last_name = "Becker" if i % 3 == 0 else f"Name{i:02d}"
        ProspectFactory.create(dealer=dealer_a.dealer, last_name=last_name, first_name=f"Vorname{i % 7}")
    for first_name in ("Anna", "Berta"):
        ProspectFactory.create(dealer=dealer_a.dealer, last_name="Zeberhardt", first_name=first_name)
    # Change times with ties and fractions of every length, as the "recently changed" order meets them.
    base = timezone.now().replace(microsecond=0)
    for i, pk in enumerate(
        Prospect.objects.filter(dealer=dealer_a.dealer).order_by("last_name", "id").values_list("pk", flat=True)
    ):
        at = base - timedelta(seconds=i % 7, microseconds=(0, 500000, 123456, 50)[i % 4])
        Prospect.objects.filter(pk=pk).update(updated_at=at)


ORDERINGS = [("last_name", "first_name", "id"), ("-updated_at", "-id")]


@pytest.mark.parametrize(("walk_first", "walk_most"), [(1, 1), (1, 30), (2, 10), (4, 1000), (300, 2000)])
@pytest.mark.parametrize("query", ["becke", "eberh", "name0", "xqzvyw", "Vorname3"])
@pytest.mark.parametrize("ordering", ORDERINGS)
def test_a_search_walked_or_sorted_gives_the_pages_of_its_matches_in_order(
    ordering: tuple[str, ...],
    query: str,
    walk_first: int,
    walk_most: int,
    searchable: None,
    dealer_a: DealerSetup,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pagination, "SEARCH_WALK_FIRST", walk_first)
    monkeypatch.setattr(pagination, "SEARCH_WALK_MOST", walk_most)
    visible = Prospect.objects.for_dealer(dealer_a.dealer.pk).active()
    found = search_prospects(visible, query, dealer_id=dealer_a.dealer.pk)
    pages, cursor = [], None
    for _ in range(30):
        page = keyset_page(found, ordering=ordering, cursor=cursor, size=4, searched=visible)
        pages.append(page.items)
        if not page.has_next:
            break
        cursor = page.next_cursor
    expected = list(found.order_by(*ordering))
    assert [row for items in pages for row in items] == expected
    assert all(len(items) == 4 for items in pages[:-1])


def _first_search_page(
    setup: DealerSetup, word: str, statements: int, assert_num_queries: Any
) -> tuple[KeysetPage[Prospect], list[str]]:
    """The name-sorted first page of a search for ``word`` (4 rows), and the statements it took (``statements``)."""
    visible = Prospect.objects.for_dealer(setup.dealer.pk).active()
    found = search_prospects(visible, word, dealer_id=setup.dealer.pk)
    with assert_num_queries(statements, info=None) as captured:
        page = keyset_page(found, ordering=("last_name", "first_name", "id"), cursor=None, size=4, searched=visible)
    return page, [query["sql"] for query in captured.captured_queries]


# How the sorted matches name their first key: an expression no index provides (pagination._unindexed).
SORTED_BY_NAME = 'ORDER BY COALESCE("crm_prospect"."last_name", "crm_prospect"."last_name")'


def test_a_common_word_fills_its_page_by_walking_and_never_sorts_every_match(
    searchable: None, dealer_a: DealerSetup, django_assert_num_queries, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pagination, "SEARCH_WALK_FIRST", 20)
    # the walk's last key; then, in a savepoint without bitmap scans (so not the search index), the walk
    page, statements = _first_search_page(dealer_a, "becke", 6, django_assert_num_queries)
    assert [p.last_name for p in page.items] == ["Becker"] * 4
    assert "set_config('enable_bitmapscan', 'off', true)" in statements[2]
    assert ") <= (" in statements[3]
    assert SORTED_BY_NAME not in statements[3]
    assert "set_config('enable_bitmapscan', 'on', true)" in statements[4]


def test_a_page_walks_on_as_far_as_the_matches_seen_say_it_needs(
    dealer_a: DealerSetup, django_assert_num_queries, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "Kari" on every fourth of 40 rows: 2 matches in the first 8 say a page of 5 needs 12 rows more.
    for i in range(40):
        ProspectFactory.create(
            dealer=dealer_a.dealer, last_name=f"Mitte{i:03d}", first_name="Kari" if i % 4 == 0 else "Olaf"
        )
    monkeypatch.setattr(pagination, "SEARCH_WALK_FIRST", 8)
    monkeypatch.setattr(pagination, "SEARCH_WALK_MOST", 100)
    page, statements = _first_search_page(dealer_a, "kari", 12, django_assert_num_queries)  # two walks, no sort
    assert [p.last_name for p in page.items] == ["Mitte000", "Mitte004", "Mitte008", "Mitte012"]
    assert page.has_next
    assert not any(SORTED_BY_NAME in sql for sql in statements)


def test_a_rare_word_sorts_the_matches_beyond_the_walk(
    searchable: None, dealer_a: DealerSetup, django_assert_num_queries, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pagination, "SEARCH_WALK_FIRST", 20)
    # the walk (6 statements), then the sorted rest in a savepoint of its own without plain index scans
    page, statements = _first_search_page(dealer_a, "eberh", 11, django_assert_num_queries)
    assert [(p.last_name, p.first_name) for p in page.items] == [("Zeberhardt", "Anna"), ("Zeberhardt", "Berta")]
    assert "set_config('enable_indexscan', 'off', true)" in statements[-4]
    assert SORTED_BY_NAME in statements[-3]
    assert ") > (" in statements[-3]
    assert "set_config('enable_indexscan', 'on', true)" in statements[-2]


@pytest.mark.parametrize("ordering", [("last_name", "first_name", "id"), ("-last_name", "first_name", "-id")])
def test_a_search_gives_the_same_pages_walked_sorted_or_unsearched(
    ordering: tuple[str, ...], rows: list[Prospect], dealer_a: DealerSetup
) -> None:
    # Mixed directions have no row value to bound a walk by: those pages sort the matches instead.
    qs = Prospect.objects.for_dealer(dealer_a.dealer.pk)
    pages: dict[bool, list[list[Prospect]]] = {}
    for searching in (False, True):
        cursor, pages[searching] = None, []
        while True:
            page = keyset_page(qs, ordering=ordering, cursor=cursor, size=5, searched=qs if searching else None)
            pages[searching].append(page.items)
            if not page.has_next:
                break
            cursor = page.next_cursor
    assert pages[True] == pages[False]
    assert sum(len(items) for items in pages[True]) == 23
