"""Keyset pagination: every row exactly once, in order, whatever the ties; a bad cursor starts over."""

from __future__ import annotations

import pytest

from crm.models import Prospect
from crm.ui.pagination import encode_cursor, keyset_page
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


@pytest.mark.parametrize("ordering", [("last_name", "first_name", "id"), ("-last_name", "first_name", "-id")])
def test_sorting_the_matches_gives_the_same_pages(
    ordering: tuple[str, ...], rows: list[Prospect], dealer_a: DealerSetup
) -> None:
    qs = Prospect.objects.for_dealer(dealer_a.dealer.pk)
    pages: dict[bool, list[list[Prospect]]] = {}
    for sort_matches in (False, True):
        cursor, pages[sort_matches] = None, []
        while True:
            page = keyset_page(qs, ordering=ordering, cursor=cursor, size=5, sort_matches=sort_matches)
            pages[sort_matches].append(page.items)
            if not page.has_next:
                break
            cursor = page.next_cursor
    assert pages[True] == pages[False]
    assert sum(len(items) for items in pages[True]) == 23
