"""Issue 9 item 1: every admin action and custom admin page needs the permission it implies.

The attacks come from the read-only analyst (and, for the sync overview, data protection, which has
no sync rights at all): each one must be refused and leave every row as it was.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealers.models import ApiKey
from dealers.roles import ANALYST, DATA_PROTECTION, LEAD_DESK, NETWORK_ADMIN
from tests.admin.conftest import make_api_key, make_dead_letter, make_destination
from tests.admin.snapshot import database_rows
from tests.conftest import DealerSetup

ACTIONS = [
    ("dealers", "apikey", "rotate_keys", make_api_key),
    ("dealers", "apikey", "revoke_keys", make_api_key),
    ("sync", "destination", "pause", make_destination),
    ("sync", "destination", "resume", make_destination),
    ("sync", "destination", "replay", make_destination),
    ("sync", "destination", "rotate_secret", make_destination),
    ("sync", "deadletter", "retry", lambda dealer: make_dead_letter(make_destination(dealer))),
    ("sync", "deadletter", "discard", lambda dealer: make_dead_letter(make_destination(dealer))),
]


@pytest.mark.parametrize(("app", "model", "action", "make"), ACTIONS, ids=[a[2] for a in ACTIONS])
def test_analyst_can_neither_see_nor_run_an_action(
    app, model, action, make, dealer_a: DealerSetup, staff_in, client_for
) -> None:
    obj = make(dealer_a.dealer)
    client = client_for(staff_in(ANALYST))
    changelist = reverse(f"admin:{app}_{model}_changelist")
    before = database_rows()

    page = client.get(changelist)
    response = client.post(
        changelist, {"action": action, "_selected_action": [obj.pk], "apply": "1", "since": "2020-01-01T00:00:00Z"}
    )

    assert page.status_code == 200
    assert f'value="{action}"' not in page.content.decode()
    assert "whsec_" not in response.content.decode()
    assert database_rows() == before


def test_analyst_is_not_shown_a_working_key_by_rotation(dealer_a: DealerSetup, staff_in, client_for) -> None:
    key = make_api_key(dealer_a.dealer)
    response = client_for(staff_in(ANALYST)).post(
        reverse("admin:dealers_apikey_changelist"), {"action": "rotate_keys", "_selected_action": [key.pk]}
    )
    assert response.status_code == 200  # the list again: the action is not among the choices
    assert response.context.get("issued") is None
    assert ApiKey.objects.count() == 1


@pytest.mark.parametrize("role", [NETWORK_ADMIN, LEAD_DESK])
def test_roles_with_change_rights_on_destinations_may_pause_them(
    role: str, dealer_a: DealerSetup, staff_in, client_for
) -> None:
    destination = make_destination(dealer_a.dealer)
    client_for(staff_in(role)).post(
        reverse("admin:sync_destination_changelist"), {"action": "pause", "_selected_action": [destination.pk]}
    )
    destination.refresh_from_db()
    assert destination.paused


def test_the_sync_overview_needs_the_right_to_view_destinations(dealer_a: DealerSetup, staff_in, client_for) -> None:
    make_destination(dealer_a.dealer)
    url = reverse("admin:sync_destination_overview")
    assert client_for(staff_in(DATA_PROTECTION)).get(url).status_code == 403
    assert client_for(staff_in(ANALYST)).get(url).status_code == 200


def test_only_roles_that_may_add_keys_reach_the_page_that_issues_one(
    dealer_a: DealerSetup, staff_in, client_for
) -> None:
    url = reverse("admin:dealers_apikey_add")
    data = {"dealer": dealer_a.dealer.pk, "name": "Angriff", "scopes": ["leads:read"], "expires_at": ""}
    for role in (ANALYST, LEAD_DESK, DATA_PROTECTION):
        client = client_for(staff_in(role))
        before = database_rows()
        assert client.get(url).status_code == 403
        assert client.post(url, data).status_code == 403
        assert database_rows() == before
    issued = client_for(staff_in(NETWORK_ADMIN)).post(url, data)
    assert issued.status_code == 200
    assert "no-store" in issued["Cache-Control"]
