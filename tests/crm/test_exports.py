"""CSV exports: what the viewer sees as filtered, streamed, audited, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io

from django.urls import reverse

from crm.models import Lead
from dealers.models import AuditEvent
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory


def _csv(response) -> list[dict[str, str]]:
    assert response.streaming
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))


def test_salesperson_exports_only_own_prospects_and_it_is_audited(
    dealer_a: DealerSetup, dealer_b: DealerSetup, client_for
) -> None:
    seller = dealer_a.user("salesperson")
    ProspectFactory.create(dealer=dealer_a.dealer, owner=seller, last_name="Müller", email="m@example.org")
    ProspectFactory.create(dealer=dealer_a.dealer, owner=dealer_a.other_salesperson.user, last_name="Fremd")
    ProspectFactory.create(dealer=dealer_b.dealer, last_name="Anderer")

    response = client_for(seller).get(reverse("prospect_export"), {"q": "Mueller"})

    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = _csv(response)
    assert [(r["last_name"], r["email"]) for r in rows] == [("Müller", "m@example.org")]
    audit = AuditEvent.objects.get(action="prospects.exported")
    assert (audit.actor_id, audit.dealer_id, audit.data) == (seller.pk, dealer_a.dealer.pk, {"q": ["Mueller"]})


def test_manager_exports_the_dealerships_leads_as_filtered(dealer_a: DealerSetup, client_for) -> None:
    prospect = ProspectFactory.create(dealer=dealer_a.dealer)
    LeadFactory.create(prospect=prospect, model_name="Austral", stage="new")
    LeadFactory.create(prospect=prospect, model_name="Clio", stage="contacted", owner=dealer_a.other_salesperson.user)

    rows = _csv(client_for(dealer_a.user("sales_manager")).get(reverse("lead_export"), {"stage": "contacted"}))

    assert [r["model"] for r in rows] == ["Clio"]
    assert AuditEvent.objects.filter(action="leads.exported", dealer=dealer_a.dealer).count() == 1


def test_cells_that_look_like_formulas_are_defused(dealer_a: DealerSetup, client_for) -> None:
    ProspectFactory.create(dealer=dealer_a.dealer, last_name="=HYPERLINK(1)", company="+SUM(A1)", first_name="-x")
    rows = _csv(client_for(dealer_a.user("sales_manager")).get(reverse("prospect_export")))
    assert (rows[0]["last_name"], rows[0]["company"], rows[0]["first_name"]) == ("'=HYPERLINK(1)", "'+SUM(A1)", "'-x")


def test_export_streams_a_large_list_in_constant_queries(
    dealer_a: DealerSetup, client_for, django_assert_max_num_queries
) -> None:
    prospect = ProspectFactory.create(dealer=dealer_a.dealer)
    Lead.objects.bulk_create([Lead(dealer=dealer_a.dealer, prospect=prospect, model_name=f"M{i}") for i in range(2500)])
    client = client_for(dealer_a.user("sales_manager"))
    with django_assert_max_num_queries(15):
        rows = _csv(client.get(reverse("lead_export")))
    assert len(rows) == 2500


def test_the_export_lists_names_in_german_order(dealer_a: DealerSetup, client_for) -> None:
    for name in ("Zimmermann", "Özdemir", "Busch", "Böhm", "Bauer"):
        ProspectFactory.create(dealer=dealer_a.dealer, last_name=name)
    rows = _csv(client_for(dealer_a.user("sales_manager")).get(reverse("prospect_export")))
    assert [r["last_name"] for r in rows] == ["Bauer", "Böhm", "Busch", "Özdemir", "Zimmermann"]
