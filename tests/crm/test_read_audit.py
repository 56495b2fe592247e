"""Issue 13, item 5: reads of personal data leave an audit row (who, what, when, from where), append-only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from psycopg import errors

from crm.models import Prospect, ReadAudit
from crm.services.prospects import create_prospect
from dealers.actors import Actor
from dealers.roles import ANALYST, DATA_PROTECTION
from tests.api.conftest import ApiClient, make_key
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory, UserFactory
from tests.support.app_role import app_url, owner_url


def _person(setup: DealerSetup, first: str, email: str) -> Prospect:
    return create_prospect(
        dealer=setup.dealer,
        actor=Actor.system("test"),
        data={"first_name": first, "last_name": "Mustermann", "email": email, "street": "Lindenstraße 7"},
    )


def _staff_in(role: str) -> Any:
    user = UserFactory.create(email=f"{role.split()[0].lower()}@hq.test.crm.example", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def test_opening_a_prospect_page_writes_one_row_naming_who_what_and_where(
    dealer_a: DealerSetup, client_for: Any
) -> None:
    prospect = _person(dealer_a, "Max", "max@example.de")
    user = dealer_a.user("salesperson")

    response = client_for(user).get(reverse("prospect_detail", args=[prospect.pk]), REMOTE_ADDR="192.0.2.10")

    assert response.status_code == 200
    row = ReadAudit.objects.get()
    assert (row.action, row.object_type, row.object_id) == ("view", "crm.prospect", str(prospect.pk))
    assert (row.user_id, row.api_key_id, row.dealer_id) == (user.pk, None, dealer_a.dealer.pk)
    assert (row.prospect_id, row.ip, row.route) == (prospect.pk, "192.0.2.10", "prospect_detail")
    assert timezone.now() - row.at < timedelta(minutes=1)
    assert "Mustermann" not in str(row.data)
    assert "max@example.de" not in str(row.data)


def test_opening_a_lead_page_names_the_lead_and_its_person(dealer_a: DealerSetup, client_for: Any) -> None:
    lead = LeadFactory(prospect=ProspectFactory(dealer=dealer_a.dealer), owner=dealer_a.user("salesperson"))

    client_for(dealer_a.user("salesperson")).get(reverse("lead_detail", args=[lead.pk]))

    row = ReadAudit.objects.get()
    assert (row.object_type, row.object_id, row.prospect_id) == ("crm.lead", str(lead.pk), lead.prospect_id)
    assert row.route == "lead_detail"


def test_list_pages_are_not_audited_row_by_row(dealer_a: DealerSetup, client_for: Any) -> None:
    for n in range(3):
        ProspectFactory(dealer=dealer_a.dealer, owner=dealer_a.user("salesperson"), last_name=f"Liste{n}")
    client = client_for(dealer_a.user("dealer_admin"))
    assert client.get(reverse("prospect_list")).status_code == 200
    assert client.get(reverse("lead_list")).status_code == 200
    assert not ReadAudit.objects.exists()


def test_an_export_is_one_row_with_its_count_and_filters(dealer_a: DealerSetup, client_for: Any) -> None:
    for n in range(3):
        ProspectFactory(dealer=dealer_a.dealer, last_name=f"Export{n}")
    response = client_for(dealer_a.user("dealer_admin")).get(reverse("prospect_export"), {"sort": "name"})
    b"".join(response.streaming_content)

    row = ReadAudit.objects.get()
    assert (row.action, row.object_id, row.prospect_id) == ("export", "", None)
    assert row.data == {"object_type": "crm.prospect", "count": 3, "filters": {"sort": ["name"]}}


def test_the_address_comes_from_the_proxy_header_only_when_the_settings_trust_it(
    dealer_a: DealerSetup, client_for: Any, settings: Any
) -> None:
    prospect = _person(dealer_a, "Max", "max@example.de")
    client = client_for(dealer_a.user("dealer_admin"))
    url = reverse("prospect_detail", args=[prospect.pk])
    forwarded = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.9, 198.51.100.7"}

    settings.CLIENT_IP_HEADER = ""
    client.get(url, **forwarded)
    settings.CLIENT_IP_HEADER, settings.CLIENT_IP_PROXY_COUNT = "X-Forwarded-For", 1
    client.get(url, **forwarded)

    assert list(ReadAudit.objects.order_by("id").values_list("ip", flat=True)) == ["10.0.0.2", "198.51.100.7"]


def test_an_api_read_of_one_prospect_names_the_key_and_a_revalidation_does_not(dealer_a: DealerSetup) -> None:
    api_a = ApiClient(make_key(dealer_a.dealer))
    prospect = _person(dealer_a, "Max", "max@example.de")
    url = reverse("api_prospect_detail", kwargs={"pk": prospect.pk})

    first = api_a.get(url)
    again = api_a.get(url, headers={"If-None-Match": first["ETag"]})

    assert (first.status_code, again.status_code) == (200, 304)
    row = ReadAudit.objects.get()
    assert (row.action, row.user_id, row.route) == ("api_read", None, "api_prospect_detail")
    assert row.api_key is not None
    assert api_a.key is not None
    assert api_a.key.startswith(row.api_key.prefix)
    assert (row.prospect_id, row.dealer_id) == (prospect.pk, dealer_a.dealer.pk)
    assert not api_a.get(reverse("api_prospect_list")).status_code >= 400
    assert ReadAudit.objects.count() == 1  # the list is not audited


def test_an_admin_change_view_is_audited(dealer_a: DealerSetup, client_for: Any) -> None:
    prospect = _person(dealer_a, "Max", "max@example.de")
    officer = _staff_in(DATA_PROTECTION)

    response = client_for(officer).get(reverse("admin:crm_prospect_change", args=[prospect.pk]))

    assert response.status_code == 200
    row = ReadAudit.objects.get()
    assert (row.action, row.user_id, row.prospect_id) == ("admin_view", officer.pk, prospect.pk)
    assert row.route == "admin:crm_prospect_change"


def test_the_officer_sees_who_saw_max_mustermann_in_the_last_30_days(
    dealer_a: DealerSetup, dealer_b: DealerSetup, client_for: Any
) -> None:
    max_a = _person(dealer_a, "Max", "max@example.de")
    max_b = _person(dealer_b, "Max", "max@example.de")
    erika = _person(dealer_a, "Erika", "erika@example.de")
    client_for(dealer_a.user("dealer_admin")).get(reverse("prospect_detail", args=[max_a.pk]))
    client_for(dealer_b.user("salesperson")).get(reverse("prospect_detail", args=[max_b.pk]))
    client_for(dealer_a.user("sales_manager")).get(reverse("prospect_detail", args=[erika.pk]))
    long_ago = ReadAudit.objects.create(
        at=timezone.now() - timedelta(days=40), action="view", prospect_id=max_a.pk, dealer=dealer_a.dealer
    )
    officer = client_for(_staff_in(DATA_PROTECTION))
    changelist = reverse("admin:crm_readaudit_changelist")

    by_name = officer.get(changelist, {"q": "Max Mustermann", "within": "30"})
    by_email = officer.get(changelist, {"q": "MAX@example.de"})

    seen = {row.user_id for row in by_name.context["cl"].result_list}
    assert seen == {dealer_a.user("dealer_admin").pk, dealer_b.user("salesperson").pk}
    assert {row.pk for row in by_email.context["cl"].result_list} == {
        *ReadAudit.objects.filter(prospect_id__in=[max_a.pk, max_b.pk]).values_list("pk", flat=True)
    }
    assert long_ago.pk in {row.pk for row in by_email.context["cl"].result_list}


def test_other_manufacturer_roles_do_not_see_the_read_audit(dealer_a: DealerSetup, client_for: Any) -> None:
    analyst = client_for(_staff_in(ANALYST))
    assert analyst.get(reverse("admin:crm_readaudit_changelist")).status_code == 403


def test_the_app_role_adds_rows_but_can_neither_change_nor_delete_them(db: None) -> None:
    """A real connection as ``crm_app``: the database refuses, whatever the application code does."""
    marker = f"test:{uuid4()}"
    with psycopg.connect(app_url(connection.settings_dict), autocommit=True) as conn:
        conn.execute("SELECT set_config('app.scope', 'manufacturer', false)")
        (row_id,) = conn.execute(
            "INSERT INTO crm_readaudit (at, action, object_type, object_id, route, data) "
            "VALUES ('2000-01-01T00:00:00Z', 'view', 'crm.prospect', 'x', %s, '{}') RETURNING id",
            [marker],
        ).fetchone()
        try:
            for statement in (
                "UPDATE crm_readaudit SET route = 'changed' WHERE id = %s",
                "DELETE FROM crm_readaudit WHERE id = %s",
            ):
                with pytest.raises(errors.InsufficientPrivilege, match="append-only"):
                    conn.execute(statement, [row_id])
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute("TRUNCATE crm_readaudit")
            with pytest.raises(errors.InsufficientPrivilege):  # the retention path is the owner's
                conn.execute("SELECT crm_readaudit_purge('2000-01-02')")
            assert conn.execute("SELECT route FROM crm_readaudit WHERE id = %s", [row_id]).fetchone() == (marker,)
        finally:
            with psycopg.connect(owner_url(connection.settings_dict), autocommit=True) as owner:
                purged = owner.execute("SELECT crm_readaudit_purge('2000-01-02')").fetchone()
                left = owner.execute("SELECT count(*) FROM crm_readaudit WHERE id = %s", [row_id]).fetchone()
    assert (purged, left) == ((1,), (0,))


def test_on_a_read_only_database_a_read_still_answers_and_its_audit_row_goes_to_the_log(
    transactional_db: None, dealer_a: DealerSetup, request: Any, caplog: pytest.LogCaptureFixture
) -> None:
    api = ApiClient(make_key(dealer_a.dealer))
    prospect = ProspectFactory(dealer=dealer_a.dealer)
    request.getfixturevalue("read_only_database")

    with caplog.at_level("WARNING", logger="crm.read_audit"):
        assert api.get(f"/api/v1/prospects/{prospect.pk}/").status_code == 200

    logged = [r for r in caplog.records if r.getMessage() == "read_audit_logged_only"]
    assert len(logged) == 1
    assert (logged[0].object_id, logged[0].dealer_id) == (str(prospect.pk), dealer_a.dealer.pk)
    assert not ReadAudit.objects.filter(object_id=str(prospect.pk)).exists()
