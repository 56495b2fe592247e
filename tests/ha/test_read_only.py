"""When the database turns read-only (a standby after failover), writes get 503 with Retry-After, not a 500."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection
from django.urls import reverse

from dealers.models import Membership
from ha import readonly
from tests.conftest import DealerSetup


def test_ui_write_on_read_only_database_is_503_with_retry_after(
    transactional_db: None, dealer_a: DealerSetup, client_for, request
) -> None:
    client = client_for(dealer_a.user("dealer_admin"))
    member = dealer_a.other_salesperson
    request.getfixturevalue("read_only_database")

    response = client.post(
        reverse("staff_edit", args=[member.pk]), {"role": "sales_manager", "is_active": "on", "lead_capacity": "5"}
    )

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    member.refresh_from_db()
    assert member.role == Membership.Role.SALESPERSON


def test_read_only_error_is_recognised_as_unavailable(read_only_database: None) -> None:
    with pytest.raises(DatabaseError) as error, connection.cursor() as cursor:
        cursor.execute("INSERT INTO dealers_region (code, name) VALUES ('x', 'y')")
    assert readonly.is_unavailable_error(error.value)


def test_draining_node_refuses_writes_with_503_but_still_serves_reads(
    dealer_a: DealerSetup, client_for, settings, tmp_path
) -> None:
    from ha.probe import drain_flag

    settings.HA_STATE_DIR = tmp_path
    drain_flag().touch()
    client = client_for(dealer_a.user("dealer_admin"))
    member = dealer_a.other_salesperson

    write = client.post(
        reverse("staff_edit", args=[member.pk]), {"role": "sales_manager", "is_active": "on", "lead_capacity": "5"}
    )
    api_write = client.post("/api/v1/prospects/", {}, content_type="application/json")

    assert (write.status_code, write["Retry-After"]) == (503, "5")
    assert api_write.status_code == 503
    assert api_write["Content-Type"] == "application/problem+json"
    assert client.get(reverse("staff_list")).status_code == 200
    member.refresh_from_db()
    assert member.role == Membership.Role.SALESPERSON


def test_a_node_just_drained_still_serves_writes_while_the_load_balancer_notices(
    dealer_a: DealerSetup, client_for, settings, tmp_path
) -> None:
    """For HA_DRAIN_GRACE_SECONDS /ha/ready is already 503 but writes still succeed: no error answers at a drain."""
    from ha.probe import drain_flag

    settings.HA_STATE_DIR = tmp_path
    settings.HA_DRAIN_GRACE_SECONDS = 60
    drain_flag().touch()
    client = client_for(dealer_a.user("dealer_admin"))
    member = dealer_a.other_salesperson

    write = client.post(
        reverse("staff_edit", args=[member.pk]), {"role": "sales_manager", "is_active": "on", "lead_capacity": "5"}
    )

    assert client.get("/ha/ready").status_code == 503
    assert write.status_code == 302
    member.refresh_from_db()
    assert member.role == Membership.Role.SALES_MANAGER
