"""The rough edges a new user hit in the dealership UI (issue 16, item 8): each test failed before its fix."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import Prospect
from crm.services import prospects
from dealers.actors import Actor
from tests.conftest import DealerSetup
from tests.factories import ActivityFactory, LeadFactory, ProspectFactory, TaskFactory

SYSTEM = Actor.system("test")


def _seller(dealer_a: DealerSetup, client_for) -> Client:
    return client_for(dealer_a.user("salesperson"))


def test_the_duplicate_warning_offers_a_checkbox_to_create_anyway(dealer_a: DealerSetup, client_for) -> None:
    seller = _seller(dealer_a, client_for)
    ProspectFactory.create(dealer=dealer_a.dealer, last_name="Müller", email="mueller@example.org")
    data = {"kind": "person", "last_name": "Mueller", "email": "mueller@example.org", "country": "DE",
            "preferred_language": "de", "origin": "showroom"}  # fmt: skip
    warned = seller.post(reverse("prospect_create"), data).content.decode()

    inputs = re.findall(r"<input[^>]*name=\"confirm_new\"[^>]*>", warned)
    assert len(inputs) == 1, inputs  # one control, not a second hidden copy
    assert 'type="checkbox"' in inputs[0]
    assert "checked" not in inputs[0]
    assert Prospect.objects.filter(dealer=dealer_a.dealer).count() == 1


NEW_PROSPECT = {"kind": "person", "last_name": "Neu", "country": "DE", "preferred_language": "de", "origin": "showroom",
                "confirm_new": "on"}  # fmt: skip


@pytest.mark.parametrize("number", ["12", "123", "+49 12"])
def test_a_phone_number_too_short_to_dial_is_a_field_error(number: str, dealer_a: DealerSetup, client_for) -> None:
    response = _seller(dealer_a, client_for).post(reverse("prospect_create"), {**NEW_PROSPECT, "phone": number})
    assert response.status_code == 200
    assert "phone" in response.context["form"].errors
    assert not Prospect.objects.filter(dealer=dealer_a.dealer).exists()


def test_a_phone_number_as_people_write_it_is_accepted_and_stored_in_e164(dealer_a: DealerSetup, client_for) -> None:
    seller = _seller(dealer_a, client_for)
    form = seller.get(reverse("prospect_create")).content.decode()
    phone_input = re.search(r"<input[^>]*name=\"phone\"[^>]*>", form)
    assert phone_input is not None
    maxlength = re.search(r'maxlength="(\d+)"', phone_input.group(0))
    assert maxlength is None or int(maxlength.group(1)) >= 40  # the browser must not cut the number short

    response = seller.post(reverse("prospect_create"), {**NEW_PROSPECT, "phone": "+49 (0) 89 / 123 456-78"})
    assert response.status_code == 302, response.context["form"].errors
    assert Prospect.objects.get(dealer=dealer_a.dealer).phone == "+498912345678"


def test_phone_numbers_read_the_same_on_every_page_and_in_exports(dealer_a: DealerSetup, client_for) -> None:
    manager = client_for(dealer_a.user("sales_manager"))
    first = ProspectFactory.create(dealer=dealer_a.dealer, last_name="Huber", phone="+498912345678", postcode="80331")
    ProspectFactory.create(dealer=dealer_a.dealer, last_name="Huber", phone="+498912345678", postcode="80331")
    shown = "+49 89 12345678"

    assert shown in manager.get(reverse("prospect_detail", args=[first.pk])).content.decode()
    assert shown in manager.get(reverse("prospect_list")).content.decode()
    assert shown in manager.get(reverse("duplicate_list")).content.decode()
    export = b"".join(manager.get(reverse("prospect_export")).streaming_content).decode("utf-8").lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(export), delimiter=";"))
    assert {row["phone"].lstrip("'") for row in rows} == {shown}


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        (
            {"email": "nö@", "phone": "12", "mobile": "keine Nummer", "kind": "alien"},
            {"email", "phone", "mobile", "kind"},
        ),
        ({"last_name": "", "kind": "alien", "salutation": "sir"}, {"last_name", "kind", "salutation"}),
    ],
)
def test_every_field_error_of_the_prospect_form_shows_at_once(data, fields, dealer_a: DealerSetup, client_for) -> None:
    response = _seller(dealer_a, client_for).post(reverse("prospect_create"), {**NEW_PROSPECT, **data})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == fields
    assert response.content.decode().count('class="error" role="alert"') == len(fields)
    assert not Prospect.objects.filter(dealer=dealer_a.dealer).exists()


def test_a_merged_prospects_old_address_leads_to_the_survivor_whose_timeline_shows_the_merge(
    dealer_a: DealerSetup, client_for
) -> None:
    manager_user = dealer_a.user("sales_manager")
    keep = ProspectFactory.create(dealer=dealer_a.dealer, first_name="Anna", last_name="Schmidt")
    duplicate = ProspectFactory.create(dealer=dealer_a.dealer, first_name="Anna", last_name="Schmitt")
    prospects.merge_prospects(keep=keep, duplicate=duplicate, actor=Actor.for_user(manager_user))
    manager = client_for(manager_user)

    response = manager.get(reverse("prospect_detail", args=[duplicate.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("prospect_detail", args=[keep.pk])

    page = manager.get(response["Location"]).content.decode()
    timeline = page[page.index('class="timeline"') :]
    entry = re.search(r'<li class="tl-merged">(.*?)</li>', timeline, re.S)
    assert entry is not None, timeline[:2000]
    assert "Anna Schmitt" in entry.group(1)
    assert (manager_user.get_full_name() or manager_user.email) in entry.group(1)


def test_a_merged_prospect_the_viewer_may_not_see_stays_a_404(dealer_a: DealerSetup, client_for) -> None:
    colleague = dealer_a.other_salesperson.user
    keep = ProspectFactory.create(dealer=dealer_a.dealer, owner=colleague)
    duplicate = ProspectFactory.create(dealer=dealer_a.dealer, owner=dealer_a.user("salesperson"))
    prospects.merge_prospects(keep=keep, duplicate=duplicate, actor=Actor.system("test"))
    assert _seller(dealer_a, client_for).get(reverse("prospect_detail", args=[duplicate.pk])).status_code == 404


def test_a_missing_page_is_a_404_in_the_apps_layout(dealer_a: DealerSetup, client_for) -> None:
    response = _seller(dealer_a, client_for).get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert response.status_code == 404
    assert 'class="topbar"' in page
    assert 'href="/"' in page
    assert "Page not found" in page
    german = _seller(dealer_a, client_for).get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Seite nicht gefunden" in german


def test_a_forbidden_page_is_a_403_in_the_apps_layout(dealer_a: DealerSetup, client_for) -> None:
    response = _seller(dealer_a, client_for).get(reverse("duplicate_list"), HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert response.status_code == 403
    assert 'class="topbar"' in page
    assert "not allowed" in page


def test_manufacturer_staff_land_on_a_page_that_says_what_they_can_do(manufacturer_admin, client_for) -> None:
    response = client_for(manufacturer_admin).get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert response.status_code == 200
    for url in (
        reverse("admin:index"),
        reverse("admin:dealers_dealer_changelist"),
        reverse("admin:sync_unroutedlead_changelist"),
        reverse("admin:sync_destination_overview"),
        "/api/docs/",
    ):
        assert f'href="{url}"' in page, url
    assert "does not belong to any active dealership" not in page


def test_the_duplicates_page_comes_in_pages(dealer_a: DealerSetup, client_for) -> None:
    for n in range(25):
        for _twin in range(2):
            ProspectFactory.create(dealer=dealer_a.dealer, last_name=f"Zwilling{n}", email=f"twin{n:02}@example.org")
    manager = client_for(dealer_a.user("sales_manager"))

    pages = [manager.get(reverse("duplicate_list"), {"page": n}).content.decode() for n in (1, 2, 3)]

    assert [page.count('class="card dup-group"') for page in pages] == [10, 10, 5]
    assert 'href="?page=2"' in pages[0]
    assert 'href="?page=3"' not in pages[2]


def test_the_task_list_names_each_tasks_customer_in_constant_queries(
    dealer_a: DealerSetup, client_for, django_assert_max_num_queries
) -> None:
    seller_user = dealer_a.user("salesperson")
    seller = _seller(dealer_a, client_for)
    TaskFactory.create(
        prospect=ProspectFactory.create(dealer=dealer_a.dealer, last_name="Warmup"), assignee=seller_user
    )
    seller.get(reverse("task_list"))  # session and caches warmed up
    with CaptureQueriesContext(connection) as few:
        seller.get(reverse("task_list"))
    for n in range(20):
        prospect = ProspectFactory.create(dealer=dealer_a.dealer, first_name="Kundin", last_name=f"Nummer{n}")
        TaskFactory.create(prospect=prospect, assignee=seller_user, title="Rückruf")

    with django_assert_max_num_queries(len(few)):
        page = seller.get(reverse("task_list")).content.decode()

    for n in range(20):
        assert f"Kundin Nummer{n}" in page


def test_the_sync_page_names_event_types_in_words(dealer_a: DealerSetup, client_for) -> None:
    page = client_for(dealer_a.user("dealer_admin")).get(reverse("sync_settings"), HTTP_ACCEPT_LANGUAGE="en")
    text = page.content.decode()
    assert "New lead (lead.created)" in text
    assert re.search(r">\s*lead\.created\s*<", text) is None  # never the bare code as a label


def test_timelines_name_the_system_and_api_keys_in_words(dealer_a: DealerSetup, client_for) -> None:
    from crm.models import LeadEvent
    from dealers.api_keys import create_api_key

    key = create_api_key(dealer=dealer_a.dealer, name="Autoline DMS", scopes=["activities:write"], actor=SYSTEM)
    seller_user = dealer_a.user("salesperson")
    prospect = ProspectFactory.create(dealer=dealer_a.dealer, owner=seller_user)
    lead = LeadFactory.create(prospect=prospect, owner=seller_user)
    LeadEvent.objects.create(dealer=dealer_a.dealer, lead=lead, kind="assigned", actor_label="system:routing", data={})
    api_label = f"api:{key.api_key.prefix}"
    ActivityFactory.create(prospect=prospect, lead=lead, subject="Vom DMS", author_label=api_label)
    seller = _seller(dealer_a, client_for)

    for url in (reverse("lead_detail", args=[lead.pk]), reverse("prospect_detail", args=[prospect.pk])):
        page = seller.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert f"API key Autoline DMS ({dealer_a.dealer.name})" in page, url
        assert "api:" not in page, url
        assert "system:" not in page, url
    lead_page = seller.get(reverse("lead_detail", args=[lead.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Automatic routing" in lead_page


def test_the_routing_summary_reads_in_the_readers_language(dealer_a: DealerSetup, client_for) -> None:
    from django.utils import timezone

    from crm.models import LeadEvent

    seller_user = dealer_a.user("salesperson")
    lead = LeadFactory.create(
        prospect=ProspectFactory.create(dealer=dealer_a.dealer, owner=seller_user), owner=seller_user
    )
    decisions = {
        "dealer": {"method": "territory", "territory": "80", "number": dealer_a.dealer.number, "name": "Autohaus a"},
        "prospect": {"matched": True, "by": "email"},
        "salesperson": {"user_id": seller_user.pk, "name": "Petra", "reason": {"code": "round_robin", "params": {}}},
        "first_contact": {"due_at": timezone.now().isoformat(), "working_minutes": 120},
    }
    LeadEvent.objects.create(
        dealer=dealer_a.dealer, lead=lead, kind="routed", actor_label="system:routing", data=decisions
    )
    seller = _seller(dealer_a, client_for)
    seller.post(reverse("set_language"), {"language": "en", "next": "/"})

    page = seller.get(reverse("lead_detail", args=[lead.pk])).content.decode()
    assert "postcode territory 80" in page
    assert "round robin" in page
    assert "Postleitzahl" not in page
    assert "Verkäufer" not in page


def test_a_call_nobody_answered_is_logged_and_a_call_back_is_planned_with_one_click(
    dealer_a: DealerSetup, client_for
) -> None:
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    from crm.models import Activity, Lead, Task
    from crm.services.activities import next_call_back

    seller_user = dealer_a.user("salesperson")
    prospect = ProspectFactory.create(dealer=dealer_a.dealer, owner=seller_user, first_name="Eva", last_name="Roth")
    lead = LeadFactory.create(prospect=prospect, owner=seller_user, stage="new")
    seller = _seller(dealer_a, client_for)
    assert 'name="outcome" value="not_reached"' in seller.get(reverse("lead_detail", args=[lead.pk])).content.decode()

    response = seller.post(reverse("lead_log_activity", args=[lead.pk]), {"outcome": "not_reached"})

    assert response.status_code == 302
    call = Activity.objects.get(lead=lead)
    assert (call.kind, call.direction, call.author_id) == ("call", "outbound", seller_user.pk)
    task = Task.objects.get(lead=lead)
    assert (task.assignee_id, task.done_at) == (seller_user.pk, None)
    assert "Eva Roth" in task.title
    assert task.due_at == next_call_back(call.occurred_at)
    unreached = Lead.objects.get(pk=lead.pk)
    assert (unreached.stage, unreached.first_contacted_at) == ("new", None)  # nobody was reached: the SLA runs on

    berlin = ZoneInfo("Europe/Berlin")
    saturday_evening = datetime(2026, 12, 5, 18, 30, tzinfo=berlin)
    assert next_call_back(saturday_evening) == datetime(2026, 12, 7, 10, 0, tzinfo=berlin)  # Monday morning
    wednesday = datetime(2026, 12, 2, 9, 0, tzinfo=berlin)
    assert next_call_back(wednesday).date() == wednesday.date().replace(day=3)
    assert next_call_back(wednesday).timetz().replace(tzinfo=None) == time(10, 0)


def test_the_audit_trail_names_the_system_and_api_keys_in_words(dealer_a: DealerSetup, manufacturer_admin, client_for):
    from dealers.actors import record_audit
    from dealers.api_keys import create_api_key

    key = create_api_key(dealer=dealer_a.dealer, name="Autoline DMS", scopes=["prospects:read"], actor=SYSTEM)
    record_audit(actor=Actor.system("routing"), action="lead.assigned", dealer_id=dealer_a.dealer.pk)
    record_audit(
        actor=Actor(label=f"api:{key.api_key.prefix}"), action="prospect.created", dealer_id=dealer_a.dealer.pk
    )

    admin = client_for(manufacturer_admin)
    page = admin.get(reverse("admin:dealers_auditevent_changelist"), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Automatic routing" in page
    assert f"API key Autoline DMS ({dealer_a.dealer.name})" in page
    assert f"api:{key.api_key.prefix}" not in page


def test_the_browser_finds_the_apps_icon_on_every_page_and_at_favicon_ico(dealer_a: DealerSetup, client_for) -> None:
    """Browsers ask for /favicon.ico on every page without an icon link: it was a 404 (and a warning in the log)."""
    page = _seller(dealer_a, client_for).get(reverse("dashboard")).content.decode()
    icon = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page)
    assert icon, "no icon link in the layout"

    anonymous = Client()
    asked = anonymous.get("/favicon.ico", follow=True)
    assert asked.status_code == 200
    assert asked.redirect_chain
    assert asked.redirect_chain[-1][0] == icon.group(1)
    assert asked["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(asked.streaming_content if asked.streaming else [asked.content])
