"""On a read-only database (a standby after failover) API writes answer 503 problem+json with Retry-After;
reads keep working, and an Idempotency-Key stays usable for the retry."""

from __future__ import annotations

from crm.models import Prospect
from dealers.models import IdempotencyRecord
from tests.api.conftest import ApiClient, assert_problem, make_key
from tests.conftest import DealerSetup
from tests.factories import ProspectFactory
from tests.support.database import set_database_read_only


def test_writes_are_503_with_retry_after_and_reads_still_work(
    transactional_db: None, dealer_a: DealerSetup, request
) -> None:
    api = ApiClient(make_key(dealer_a.dealer))
    prospect = ProspectFactory(dealer=dealer_a.dealer)
    request.getfixturevalue("read_only_database")

    write = api.post("/api/v1/prospects/", {"last_name": "Neu"}, headers={"Idempotency-Key": "failover-1"})
    body = assert_problem(write, 503)
    assert int(write["Retry-After"]) >= 1
    assert body["type"].endswith("/unavailable")
    assert_problem(api.patch(f"/api/v1/prospects/{prospect.pk}/", {"city": "Ulm"}), 503)
    assert api.get(f"/api/v1/prospects/{prospect.pk}/").status_code == 200
    assert api.get("/api/v1/prospects/").status_code == 200

    set_database_read_only(False)  # the failover is over (the fixture's teardown resets the same way)
    retry = api.post("/api/v1/prospects/", {"last_name": "Neu"}, headers={"Idempotency-Key": "failover-1"})
    assert retry.status_code == 201
    assert Prospect.objects.filter(last_name="Neu").count() == 1
    assert IdempotencyRecord.objects.filter(key="failover-1", completed_at__isnull=False).count() == 1
