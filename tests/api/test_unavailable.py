"""On a read-only database (a standby after failover) API writes answer 503 problem+json with Retry-After;
reads keep working, and an Idempotency-Key stays usable for the retry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection

from crm.models import Prospect
from dealers.models import IdempotencyRecord
from ha import readonly
from tests.api.conftest import ApiClient, assert_problem, make_key
from tests.conftest import DealerSetup
from tests.factories import ProspectFactory


def _reconnect() -> None:
    connection.close()
    if hasattr(connection, "close_pool"):
        connection.close_pool()


@pytest.fixture
def read_only_database(transactional_db: None) -> Iterator[None]:
    name = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    _reconnect()
    readonly._role_cache = (0.0, False)
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET default_transaction_read_only = off")
        cursor.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
    _reconnect()
    readonly._role_cache = (0.0, False)


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

    _writable_again()  # the failover is over (the fixture's teardown resets the same way)
    retry = api.post("/api/v1/prospects/", {"last_name": "Neu"}, headers={"Idempotency-Key": "failover-1"})
    assert retry.status_code == 201
    assert Prospect.objects.filter(last_name="Neu").count() == 1
    assert IdempotencyRecord.objects.filter(key="failover-1", completed_at__isnull=False).count() == 1


def _writable_again() -> None:
    name = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute("SET default_transaction_read_only = off")
        cursor.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
    _reconnect()
    readonly._role_cache = (0.0, False)
