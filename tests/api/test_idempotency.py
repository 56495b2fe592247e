"""Idempotency-Key on POST: replay, mismatch 422, in flight 409, per key, released on errors, concurrency-safe."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from crm.models import Prospect
from dealers.models import IdempotencyRecord
from tests.api.conftest import ApiClient, assert_problem, make_key
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory

URL = "/api/v1/prospects/"


def _post(client: ApiClient, key: str, body: dict | None = None):
    return client.post(URL, body or {"last_name": "Idem"}, headers={"Idempotency-Key": key})


def test_same_key_and_body_replays_the_first_answer(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    first = _post(api_a, "k-1")
    again = _post(api_a, "k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again["Location"] == first["Location"]
    assert again["ETag"] == first["ETag"]
    assert "Idempotent-Replayed" not in first
    assert Prospect.objects.filter(last_name="Idem").count() == 1


def test_same_key_with_another_body_is_422_and_does_nothing(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    _post(api_a, "k-2")
    body = assert_problem(_post(api_a, "k-2", {"last_name": "Anders"}), 422)
    assert "Idempotency-Key" in body["detail"]
    assert not Prospect.objects.filter(last_name="Anders").exists()


def test_key_in_flight_is_409_with_retry_after(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    _post(api_a, "k-3")
    IdempotencyRecord.objects.filter(key="k-3").update(completed_at=None, started_at=timezone.now())
    response = _post(api_a, "k-3")
    assert_problem(response, 409)
    assert int(response["Retry-After"]) >= 1
    assert Prospect.objects.filter(last_name="Idem").count() == 1


def test_a_claim_abandoned_by_a_dead_process_is_taken_over(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    """Work and stored answer commit together, so an old in-flight claim did nothing: the retry does the work."""
    _post(api_a, "k-4")
    Prospect.objects.filter(last_name="Idem").delete()
    IdempotencyRecord.objects.filter(key="k-4").update(
        completed_at=None, response_body="", started_at=timezone.now() - timedelta(minutes=5)
    )
    response = _post(api_a, "k-4")
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Prospect.objects.filter(last_name="Idem").count() == 1


def test_a_failed_request_releases_the_key_for_a_corrected_retry(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    assert_problem(_post(api_a, "k-5", {"last_name": "X", "email": "kaputt"}), 400, "email")
    fixed = _post(api_a, "k-5", {"last_name": "X", "email": "x@example.com"})
    assert fixed.status_code == 201
    assert not IdempotencyRecord.objects.filter(key="k-5", completed_at__isnull=True).exists()


def test_keys_are_scoped_per_api_key(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    other = ApiClient(make_key(dealer_a.dealer))
    assert _post(api_a, "shared").json()["id"] != _post(other, "shared").json()["id"]
    assert Prospect.objects.filter(last_name="Idem").count() == 2


def test_records_older_than_24_hours_no_longer_replay(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    first = _post(api_a, "k-6")
    IdempotencyRecord.objects.filter(key="k-6").update(created_at=timezone.now() - timedelta(hours=25))
    second = _post(api_a, "k-6", {"last_name": "Neu"})
    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]


def test_a_malformed_idempotency_key_is_400(api_a: ApiClient) -> None:
    assert_problem(_post(api_a, "x" * 256), 400, "Idempotency-Key")
    assert_problem(_post(api_a, "ä-key"), 400, "Idempotency-Key")
    assert not Prospect.objects.exists()


def test_stage_changes_are_idempotent_too(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    lead = LeadFactory(prospect=ProspectFactory(dealer=dealer_a.dealer))
    url = f"/api/v1/leads/{lead.pk}/stage/"
    first = api_a.post(url, {"stage": "contacted"}, headers={"Idempotency-Key": "s-1"})
    again = api_a.post(url, {"stage": "contacted"}, headers={"Idempotency-Key": "s-1"})
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    lead.refresh_from_db()
    assert lead.version == 2


def _race(api_key: str, key: str, body: dict, threads: int) -> list[tuple[int, dict]]:
    """``threads`` clients POST the same request at the same moment; their answers."""
    barrier = threading.Barrier(threads)
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def call() -> None:
        try:
            client = ApiClient(api_key)
            barrier.wait()
            response = client.post(URL, body, headers={"Idempotency-Key": key})
            with lock:
                results.append((response.status_code, response.json()))
        finally:
            connection.close()

    workers = [threading.Thread(target=call) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_with_one_key_create_exactly_one_object(dealer_a: DealerSetup) -> None:
    api_key = make_key(dealer_a.dealer)
    for round_no in range(4):
        results = _race(api_key, str(uuid.uuid4()), {"last_name": f"Parallel {round_no}"}, threads=6)

        assert len(results) == 6
        assert {status for status, _ in results} <= {201, 409}
        created_ids = {body["id"] for status, body in results if status == 201}
        assert len(created_ids) == 1  # every 201 (first or replay) names the same object
        assert Prospect.objects.filter(last_name=f"Parallel {round_no}").count() == 1
