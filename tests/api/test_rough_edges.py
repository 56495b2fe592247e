"""Phone numbers over the API (issue 16, item 8): any common format in, E.164 out, a clear error for a bad one."""

from __future__ import annotations

from crm.models import Prospect
from tests.api.conftest import ApiClient, assert_problem
from tests.conftest import DealerSetup

LIST = "/api/v1/prospects/"


def test_a_phone_number_too_short_to_dial_is_a_400_naming_the_field(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    body = assert_problem(api_a.post(LIST, {"last_name": "Kurz", "phone": "12"}), 400, "phone")
    assert "12" in str(body["errors"]["phone"])
    assert not Prospect.objects.filter(dealer=dealer_a.dealer).exists()


def test_a_phone_number_as_people_write_it_comes_back_in_e164(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    response = api_a.post(LIST, {"last_name": "Lang", "phone": "+49 (0) 89 / 123 456-78", "mobile": "0170 1234567"})
    assert response.status_code == 201, response.content
    assert (response.json()["phone"], response.json()["mobile"]) == ("+498912345678", "+491701234567")
