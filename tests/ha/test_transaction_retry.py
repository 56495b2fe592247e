"""Whole-transaction retry (ha/retry.py): a broken or read-only connection makes a request slow, not failed.

In-process, against the real test database: connections are really terminated with
``pg_terminate_backend`` and the database is really turned read-only (a standby's answer, SQLSTATE
25006). Restarts of a real server, a Celery task and a lost COMMIT answer: test_transaction_retry_servers.py.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from crm.models import Prospect
from dealers.models import IdempotencyRecord, Membership, Region
from ha.probe import direct_connection
from ha.retry import WriteLedger, is_retryable_error
from tests.api.conftest import ApiClient, assert_problem, make_key
from tests.conftest import DealerSetup

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def short_budget(settings) -> None:
    settings.HA_RETRY_SECONDS = 0.8
    settings.HA_RETRY_FIRST_PAUSE = 0.05
    settings.HA_RETRY_MAX_PAUSE = 0.2


@pytest.fixture
def retries(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Captures the ``transaction_retry`` events (one per attempt that was run again)."""
    with caplog.at_level(logging.INFO, logger="ha.retry"):
        yield caplog


def _retried(caplog: pytest.LogCaptureFixture) -> int:
    return sum(1 for record in caplog.records if record.getMessage() == "transaction_retry")


def _cut_sessions() -> int:
    """What a primary restart does to this process's connections, this thread's included: they are all cut."""
    name = connection.settings_dict["NAME"]
    with direct_connection() as killer:
        rows = killer.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        ).fetchall()
    return len(rows)


def _terminate_other_sessions() -> int:
    """Cut every session; the pool keeps its dead connections, the test's own code starts afresh."""
    cut = _cut_sessions()
    connection.close()  # the test thread's own (now dead) connection goes back to the pool, which discards it
    return cut


def _set_read_only(read_only: bool) -> None:
    name = connection.settings_dict["NAME"]
    verb = "SET default_transaction_read_only = on" if read_only else "RESET default_transaction_read_only"
    with direct_connection() as admin:
        admin.execute("SET default_transaction_read_only = off")  # this session may have started read-only
        admin.execute(f'ALTER DATABASE "{name}" {verb}')


def _warm_pool(api: ApiClient) -> None:
    """Open (and pool) connections, so that the next request takes one the 'restart' has cut."""
    assert api.get("/api/v1/prospects/").status_code == 200


def test_an_api_write_rides_through_cut_connections_without_an_error(
    dealer_a: DealerSetup, short_budget: None, retries: pytest.LogCaptureFixture
) -> None:
    api = ApiClient(make_key(dealer_a.dealer))
    _warm_pool(api)
    assert _terminate_other_sessions() >= 1

    response = api.post("/api/v1/prospects/", {"last_name": "Durchgehalten"})

    assert response.status_code == 201, response.content[:300]
    assert Prospect.objects.filter(last_name="Durchgehalten").count() == 1
    assert _retried(retries) >= 1


def test_a_ui_write_rides_through_cut_connections(
    dealer_a: DealerSetup, client_for, short_budget: None, retries: pytest.LogCaptureFixture
) -> None:
    client = client_for(dealer_a.user("dealer_admin"))
    client.raise_request_exception = False  # as under gunicorn: the session's load fails in a middleware first
    member = dealer_a.other_salesperson
    assert client.get(reverse("staff_list")).status_code == 200
    _terminate_other_sessions()

    response = client.post(
        reverse("staff_edit", args=[member.pk]), {"role": "sales_manager", "is_active": "on", "lead_capacity": "5"}
    )

    assert response.status_code == 302, response.content[:300]
    member.refresh_from_db()
    assert member.role == Membership.Role.SALES_MANAGER
    assert _retried(retries) >= 1


def test_a_write_meeting_a_standby_is_retried_then_answered_503_with_retry_after(
    dealer_a: DealerSetup, short_budget: None, retries: pytest.LogCaptureFixture, request
) -> None:
    api = ApiClient(make_key(dealer_a.dealer))
    request.getfixturevalue("read_only_database")

    started = time.monotonic()
    response = api.post("/api/v1/prospects/", {"last_name": "Standby"}, headers={"Idempotency-Key": "sb-1"})
    took = time.monotonic() - started

    body = assert_problem(response, 503)
    assert body["type"].endswith("/unavailable")
    assert response["Retry-After"] == "5"
    assert took >= 0.8  # the whole budget was spent trying
    assert _retried(retries) >= 3
    assert not Prospect.objects.filter(last_name="Standby").exists()


def test_a_write_meeting_a_standby_succeeds_once_the_primary_is_back_within_the_budget(
    dealer_a: DealerSetup, settings, retries: pytest.LogCaptureFixture
) -> None:
    settings.HA_RETRY_SECONDS = 10
    settings.HA_RETRY_FIRST_PAUSE = 0.05
    settings.HA_RETRY_MAX_PAUSE = 0.2
    api = ApiClient(make_key(dealer_a.dealer))
    _set_read_only(True)
    _terminate_other_sessions()  # pooled sessions started writable; new ones are read-only, as on a standby
    promoted = threading.Timer(0.7, _set_read_only, args=[False])
    promoted.start()
    try:
        response = api.post("/api/v1/prospects/", {"last_name": "Befoerdert"}, headers={"Idempotency-Key": "sb-2"})
    finally:
        promoted.join()
        _set_read_only(False)

    assert response.status_code == 201, response.content[:300]
    assert Prospect.objects.filter(last_name="Befoerdert").count() == 1
    assert IdempotencyRecord.objects.filter(key="sb-2", completed_at__isnull=False).count() == 1
    assert _retried(retries) >= 1


def test_reads_ride_through_cut_connections_too(
    dealer_a: DealerSetup, short_budget: None, retries: pytest.LogCaptureFixture
) -> None:
    api = ApiClient(make_key(dealer_a.dealer))
    _warm_pool(api)
    _terminate_other_sessions()

    assert api.get("/api/v1/prospects/").status_code == 200
    assert _retried(retries) >= 1


# The ledger: may the attempt be run again? Only when nothing it wrote can have been committed.


def _ledger() -> WriteLedger:
    return WriteLedger()


def test_reads_leave_the_attempt_free_to_run_again() -> None:
    ledger = _ledger()
    with connection.execute_wrapper(ledger):
        list(Region.objects.all())
    assert ledger.may_rerun


def test_a_committed_autocommit_write_forbids_running_again() -> None:
    ledger = _ledger()
    with connection.execute_wrapper(ledger):
        Region.objects.create(code="L1", name="Ledger")
    assert ledger.committed
    assert not ledger.may_rerun


def test_a_write_in_a_rolled_back_transaction_does_not_count_but_a_committed_one_does() -> None:
    def rolled_back() -> None:
        with transaction.atomic():
            Region.objects.create(code="L2", name="Rolled back")
            raise RuntimeError

    ledger = _ledger()
    with connection.execute_wrapper(ledger):
        with pytest.raises(RuntimeError):
            rolled_back()
        assert ledger.may_rerun
        with transaction.atomic():
            Region.objects.create(code="L3", name="Committed")
    assert ledger.committed
    assert not ledger.may_rerun


def test_a_refused_write_on_a_standby_leaves_nothing_in_doubt(read_only_database: None) -> None:
    ledger = _ledger()
    with connection.execute_wrapper(ledger), pytest.raises(DatabaseError) as refused:
        Region.objects.create(code="L4", name="Refused")
    assert is_retryable_error(refused.value)
    assert ledger.may_rerun


@pytest.fixture
def fresh_connections() -> Iterator[None]:
    """After a test that cut every session behind Django's back: a new pool, so teardown finds live connections."""
    yield
    connection.close()
    connection.close_pool()


def test_a_connection_lost_during_commit_leaves_the_write_in_doubt(fresh_connections: None) -> None:
    """The server may have committed before the answer was lost: only an Idempotency-Key makes a re-run safe."""

    def commit_meets_a_cut_connection() -> None:
        with transaction.atomic():
            Region.objects.create(code="L5", name="In doubt")
            _cut_sessions()  # our own session too: COMMIT now meets a closed connection

    ledger = _ledger()
    with connection.execute_wrapper(ledger), pytest.raises(DatabaseError) as lost:
        commit_meets_a_cut_connection()
    connection.close()
    assert is_retryable_error(lost.value)
    assert not ledger.committed
    assert not ledger.may_rerun


def test_a_connection_lost_during_an_autocommit_write_leaves_it_in_doubt(fresh_connections: None) -> None:
    Region.objects.exists()  # connect
    _cut_sessions()
    ledger = _ledger()
    with connection.execute_wrapper(ledger), pytest.raises(DatabaseError) as lost:
        Region.objects.create(code="L6", name="In doubt too")
    connection.close()
    assert is_retryable_error(lost.value)
    assert ledger.in_doubt
    assert not ledger.may_rerun


def test_statement_timeouts_are_not_retried() -> None:
    def too_slow() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = '10ms'")
            cursor.execute("SELECT pg_sleep(1)")

    with pytest.raises(DatabaseError) as cancelled:
        too_slow()
    assert not is_retryable_error(cancelled.value)


def test_a_rerun_resumes_its_own_claim_instead_of_answering_409(dealer_a: DealerSetup) -> None:
    """The claim's release failed with the connection: the re-run (same request) takes its claim up again."""
    from django.utils import timezone

    from crm.api.errors import Conflict
    from crm.api.idempotency import claim
    from dealers.models import ApiKey

    make_key(dealer_a.dealer)
    api_key = ApiKey.objects.get(dealer=dealer_a.dealer)
    started = timezone.now()
    first, _replay = claim(api_key=api_key, key="own-1", fingerprint="f", now=started, mine=[started])

    with pytest.raises(Conflict):  # another request with the same key: in flight
        claim(api_key=api_key, key="own-1", fingerprint="f")
    again, replay = claim(api_key=api_key, key="own-1", fingerprint="f", now=timezone.now(), mine=[started])

    assert replay is None
    assert again.pk == first.pk
    assert IdempotencyRecord.objects.filter(key="own-1").count() == 1


def test_the_pool_tries_to_reconnect_within_a_quarter_second_and_backs_off_gently() -> None:
    """A 5 s switchover must not leave the pool waiting 7 s for psycopg_pool's 1, 2, 4 s pauses (ha.apps)."""
    from psycopg_pool.base import AttemptWithBackoff

    attempt = AttemptWithBackoff(timeout=300)
    pauses = []
    for _ in range(12):
        attempt.update_delay(0.0)
        pauses.append(attempt.delay)

    assert 0.2 <= pauses[0] <= 0.3
    # Still trying at least every 1.5 s five seconds into an outage, yet not hammering a long one.
    within_five_seconds = [p for i, p in enumerate(pauses) if sum(pauses[:i]) < 5.0]
    assert max(within_five_seconds) < 1.5
    assert pauses[-1] > 2 * pauses[0]
