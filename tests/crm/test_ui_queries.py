"""List pages issue the same number of queries for 3 rows and for 30: no N+1 anywhere."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.models import Activity
from tests.conftest import DealerSetup
from tests.factories import ActivityFactory, LeadFactory, ProspectFactory, TaskFactory


def _rows(setup: DealerSetup, role: str, count: int) -> None:
    """``count`` prospects, each with a lead, an activity and an overdue task, as ``role`` would see them."""
    user = setup.user(role)
    for index in range(count):
        prospect = ProspectFactory.create(
            dealer=setup.dealer, owner=user, last_name=f"Kunde{index:03d}", phone="+4989123456"
        )
        lead = LeadFactory.create(
            prospect=prospect,
            owner=user,
            stage=["new", "contacted", "offer"][index % 3],
            first_contact_due_at=timezone.now(),
        )
        ActivityFactory.create(prospect=prospect, lead=lead, author=user, kind=Activity.Kind.CALL)
        TaskFactory.create(
            prospect=prospect, lead=lead, assignee=user, due_at=timezone.now() - timezone.timedelta(hours=1)
        )


PAGES: list[tuple[str, str]] = [
    ("dashboard", ""),
    ("lead_list", ""),
    ("lead_list", "?q=Kunde&sort=updated"),
    ("lead_board", ""),
    ("prospect_list", ""),
    ("prospect_list", "?q=Kunde"),
    ("task_list", ""),
    ("reports", ""),
    ("duplicate_list", ""),
]


# The duplicates page is for managers only; every other page is measured for both roles.
CASES = [
    (name, query, role)
    for name, query in PAGES
    for role in ("salesperson", "sales_manager")
    if not (name == "duplicate_list" and role == "salesperson")
]


@pytest.mark.parametrize(("name", "query", "role"), CASES)
def test_list_page_query_count_does_not_grow_with_rows(
    name: str, query: str, role: str, dealer_a: DealerSetup, client_for: Callable, django_assert_num_queries
) -> None:
    client = client_for(dealer_a.user(role))
    url = reverse(name) + query
    _rows(dealer_a, role, 3)
    client.get(url)  # warm caches (session, content types) outside the measurement
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    _rows(dealer_a, role, 27)
    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get(url)
    assert response.status_code == 200
