"""Rate limit per key: 429 with Retry-After once the window's budget is spent; other keys are unaffected."""

from __future__ import annotations

from tests.api.conftest import ApiClient, assert_problem, make_key
from tests.conftest import DealerSetup


def test_a_key_over_its_limit_gets_429_with_retry_after(dealer_a: DealerSetup, settings) -> None:
    settings.API_RATE_LIMIT = "3/hour"  # an hour window: the test never straddles its end
    api = ApiClient(make_key(dealer_a.dealer))
    answers = [api.get("/api/v1/me/") for _ in range(4)]

    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert [a["RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
    body = assert_problem(answers[3], 429)
    assert body["type"].endswith("/rate-limited")
    assert 1 <= int(answers[3]["Retry-After"]) <= 3600

    other = ApiClient(make_key(dealer_a.dealer))
    assert other.get("/api/v1/me/").status_code == 200
