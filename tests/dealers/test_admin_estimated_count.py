"""Admin changelists of dealer data number their pages without COUNT(*) over a big table (issue 15)."""

from __future__ import annotations

import pytest
from django.contrib import admin

from crm.models import Prospect
from dealers.admin_base import EstimatedCountPaginator
from tests.architecture.test_tenant_indexes import tenant_models
from tests.conftest import DealerSetup
from tests.factories import ProspectFactory


@pytest.fixture
def prospects(dealer_a: DealerSetup) -> None:
    ProspectFactory.create_batch(30, dealer=dealer_a.dealer)


def test_a_big_list_is_counted_by_the_planners_estimate(prospects: None, django_assert_num_queries) -> None:
    class Big(EstimatedCountPaginator):
        exact_below = 0  # every list is "big"

    with django_assert_num_queries(1) as captured:
        count = Big(Prospect.objects.all(), 50).count
    assert captured.captured_queries[0]["sql"].startswith("EXPLAIN")
    assert "COUNT(" not in captured.captured_queries[0]["sql"].upper()
    assert count >= 1


def test_a_small_list_is_counted_exactly(prospects: None, django_assert_num_queries) -> None:
    class Small(EstimatedCountPaginator):
        exact_below = 10**9  # every list is "small" (whatever the table's statistics say)

    with django_assert_num_queries(2) as captured:
        count = Small(Prospect.objects.all(), 50).count
    assert count == 30
    assert "COUNT(" in captured.captured_queries[1]["sql"].upper()


# A dealership's configuration: a few rows each, tens of thousands network-wide at most; counted exactly.
SMALL = {
    "dealers.Territory",
    "dealers.Membership",
    "dealers.ApiKey",
    "sync.Destination",
    "campaigns.Campaign",  # a few a year per dealership
    "messaging.EmailTemplate",  # a handful per dealership
}


def test_every_changelist_of_dealer_data_avoids_the_full_count() -> None:
    admins = {model: admin.site._registry[model] for model in tenant_models() if model in admin.site._registry}
    assert Prospect in admins
    unbounded = {
        model._meta.label
        for model, model_admin in admins.items()
        if model_admin.show_full_result_count or not issubclass(model_admin.paginator, EstimatedCountPaginator)
    }
    assert unbounded == SMALL
