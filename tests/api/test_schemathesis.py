"""Property-based test of the whole API against its own OpenAPI schema (Schemathesis), over real HTTP.

Every operation gets valid (positive) and invalid (negative) requests with a real key, once with
random ids and once with ids of existing objects. Nothing may answer 5xx; status codes, content
types, headers and bodies must be the documented ones. Bounded examples keep it under a minute.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from crm.services.consents import record_consent
from dealers.actors import Actor
from tests.api.conftest import make_key
from tests.conftest import DealerSetup
from tests.factories import ActivityFactory, LeadFactory, ProspectFactory, TaskFactory

pytestmark = pytest.mark.django_db(transaction=True)

# Per operation, mode and id set. CI keeps it short (the API grew to 40+ operations); explore deeper
# with API_FUZZ_EXAMPLES=100 API_FUZZ_RANDOM=1.
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "8"))
POSITIVE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
NEGATIVE_CHECKS = [*POSITIVE_CHECKS, negative_data_rejection]


def _seed(setup: DealerSetup) -> dict[str, dict[str, str]]:
    """Objects whose ids the second round uses, keyed by the path they belong to."""
    prospect = ProspectFactory(dealer=setup.dealer, external_id="DMS-1")
    lead = LeadFactory(prospect=prospect)
    activity = ActivityFactory(prospect=prospect)
    task = TaskFactory(prospect=prospect)
    consent = record_consent(prospect=prospect, purpose="marketing_email", status="granted", actor=Actor.system("t"))
    return {
        "/api/v1/prospects/{id}/": {"id": str(prospect.pk)},
        "/api/v1/prospects/by-external-id/{external_id}": {"external_id": "DMS-1"},
        "/api/v1/leads/{id}/": {"id": str(lead.pk)},
        "/api/v1/leads/{id}/stage/": {"id": str(lead.pk)},
        "/api/v1/leads/{id}/assign/": {"id": str(lead.pk)},
        "/api/v1/activities/{id}/": {"id": str(activity.pk)},
        "/api/v1/tasks/{id}/": {"id": str(task.pk)},
        "/api/v1/consents/{id}/": {"id": str(consent.pk)},
    }


def _run(operation: Any, mode: GenerationMode, base_url: str, headers: dict[str, str], path_parameters: Any) -> None:
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
    checks = POSITIVE_CHECKS if mode == GenerationMode.POSITIVE else NEGATIVE_CHECKS

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=os.environ.get("API_FUZZ_RANDOM") != "1",  # reproducible in CI; explore with =1
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        case.validate_response(response, checks=checks)

    check()


def test_api_answers_every_generated_request_as_its_schema_says(live_server, dealer_a: DealerSetup, settings) -> None:
    settings.API_RATE_LIMIT = "100000/minute"
    ids = _seed(dealer_a)
    headers = {"Authorization": f"Bearer {make_key(dealer_a.dealer)}"}
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25

    for operation in operations:
        if not operation.path.startswith("/api/v1/") or operation.path.startswith("/api/v1/intake/"):
            continue  # lead intake has its own tests (tests/sync/inbound)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _run(operation, mode, live_server.url, headers, None)
        if operation.path in ids:
            _run(operation, GenerationMode.POSITIVE, live_server.url, headers, ids[operation.path])
