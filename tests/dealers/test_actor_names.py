"""Actor labels (``system:routing``, ``api:<key prefix>``, a sign-in email) are shown in words everywhere
(issue 16 item 8): the import result page, detail pages (``{{ label|actor_name }}``) and the admin's lists
and change pages (dealers.admin_base.ActorNamesAdmin).
"""

from __future__ import annotations

from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

from crm.models import Activity
from dealers.actors import Actor, record_audit
from dealers.api_keys import create_api_key
from dealers.models import AuditEvent
from sync.inbound.imports import queue_upload
from tests.conftest import DealerSetup
from tests.factories import ActivityFactory, ProspectFactory

SYSTEM = Actor.system("test")
CSV = b"Kundennummer;Nachname\nK-1;Gut\n"


def _key(setup: DealerSetup) -> tuple[str, str]:
    """An API key of the dealership: its label and how people read it."""
    issued = create_api_key(dealer=setup.dealer, name="Autoline DMS", scopes=["prospects:read"], actor=SYSTEM)
    return f"api:{issued.api_key.prefix}", f"API key Autoline DMS ({setup.dealer.name})"


def test_the_import_result_page_names_the_api_key_and_the_system_in_words(dealer_a: DealerSetup, client_for) -> None:
    manager = dealer_a.staff["sales_manager"]
    label, in_words = _key(dealer_a)
    by_key = queue_upload(membership=manager, chunks=[CSV], filename="a.csv", actor=Actor(label=label))
    by_system = queue_upload(membership=manager, chunks=[CSV], filename="b.csv", actor=Actor.system("routing"))
    client = client_for(manager.user)

    key_page = client.get(reverse("inbound_import_detail", kwargs={"pk": by_key.pk}), HTTP_ACCEPT_LANGUAGE="en")
    system_page = client.get(reverse("inbound_import_detail", kwargs={"pk": by_system.pk}), HTTP_ACCEPT_LANGUAGE="en")

    assert in_words in key_page.content.decode()
    assert label not in key_page.content.decode()
    assert "Automatic routing" in system_page.content.decode()
    assert "system:routing" not in system_page.content.decode()


def test_the_filter_names_a_person_by_name_and_leaves_a_blank_blank(dealer_a: DealerSetup) -> None:
    user = dealer_a.user("salesperson")
    user.first_name, user.last_name = "Petra", "Sommer"
    user.save(update_fields=["first_name", "last_name"])
    template = Template("{% load actors %}[{{ person|actor_name }}|{{ system|actor_name }}|{{ blank|actor_name }}]")

    context = {"person": user.email, "system": "system:file-import:10001", "blank": ""}
    with translation.override("en"):
        shown = template.render(Context(context))
    with translation.override("de"):
        shown_in_german = template.render(Context(context))

    assert shown == "[Petra Sommer|File import|]"
    assert shown_in_german == "[Petra Sommer|Dateiimport|]"


def test_admin_lists_and_change_pages_show_actors_in_words(
    dealer_a: DealerSetup, manufacturer_admin, client_for
) -> None:
    label, in_words = _key(dealer_a)
    prospect = ProspectFactory.create(dealer=dealer_a.dealer)
    ActivityFactory.create(prospect=prospect, subject="Vom DMS", author_label=label)
    ActivityFactory.create(prospect=prospect, subject="Zugewiesen", author_label="system:routing")
    record_audit(actor=Actor.system("routing"), action="lead.assigned", dealer_id=dealer_a.dealer.pk)
    run = queue_upload(
        membership=dealer_a.staff["sales_manager"], chunks=[CSV], filename="a.csv", actor=Actor(label=label)
    )
    admin = client_for(manufacturer_admin)

    activities = admin.get(reverse("admin:crm_activity_changelist"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    activity = Activity.objects.get(author_label=label)
    activity_page = admin.get(reverse("admin:crm_activity_change", args=[activity.pk]), HTTP_ACCEPT_LANGUAGE="en")
    import_page = admin.get(reverse("admin:sync_importrun_change", args=[run.pk]), HTTP_ACCEPT_LANGUAGE="en")
    audit = AuditEvent.objects.get(action="lead.assigned")
    audit_page = admin.get(reverse("admin:dealers_auditevent_change", args=[audit.pk]), HTTP_ACCEPT_LANGUAGE="en")

    assert in_words in activities
    assert "Automatic routing" in activities
    assert label not in activities
    assert "system:routing" not in activities
    for page in (activity_page, import_page):
        assert page.status_code == 200
        assert in_words in page.content.decode()
        assert label not in page.content.decode()
    assert "Automatic routing" in audit_page.content.decode()
    assert "system:routing" not in audit_page.content.decode()
