"""Issue 13, item 2: a person's data as a ZIP of JSON and CSV (prospect page, DPO admin, command)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from crm.models import Consent, Lead, Prospect, ReadAudit
from crm.services.activities import log_activity
from crm.services.consents import record_consent
from crm.services.leads import create_lead
from crm.services.prospects import create_prospect
from crm.services.subject_access import sections
from crm.services.tasks import create_task
from dealers.actors import Actor
from dealers.roles import ANALYST, DATA_PROTECTION
from sync.models import LeadRouting
from tests.conftest import DealerSetup
from tests.factories import DestinationFactory, UserFactory

ACTOR = Actor.system("test")
MAX_EMAIL = "max.mustermann@example.de"
MAX_MOBILE = "+49 170 1234567"
ERIKA_EMAIL = "erika.mustermann@example.de"


@dataclass
class Household:
    max_a: Prospect
    max_b: Prospect
    erika: Prospect
    lead_a: Lead
    lead_b: Lead
    erika_lead: Lead


def _person(setup: DealerSetup, first: str, email: str, mobile: str) -> tuple[Prospect, Lead]:
    prospect = create_prospect(
        dealer=setup.dealer,
        actor=ACTOR,
        data={
            "first_name": first,
            "last_name": "Mustermann",
            "email": email,
            "mobile": mobile,
            "street": "Lindenstraße 7",
            "postcode": "80331",
            "city": "München",
        },
    )
    lead = create_lead(prospect=prospect, actor=ACTOR, data={"lead_type": "new_car", "model_name": f"Clio {first}"})
    log_activity(prospect=prospect, lead=lead, actor=ACTOR, data={"kind": "call", "subject": f"Rückruf {first}"})
    create_task(
        dealer=setup.dealer,
        actor=ACTOR,
        prospect=prospect,
        lead=lead,
        data={"title": f"Angebot {first}", "due_at": timezone.now() + timedelta(days=1)},
    )
    record_consent(
        prospect=prospect, purpose=Consent.Purpose.MARKETING_EMAIL, status=Consent.Status.GRANTED, actor=ACTOR
    )
    return prospect, lead


@pytest.fixture
def household(dealer_a: DealerSetup, dealer_b: DealerSetup) -> Household:
    """Max at two dealerships (his email spelt differently at B) and Erika of the same household at A."""
    DestinationFactory(dealer=dealer_a.dealer)
    max_a, lead_a = _person(dealer_a, "Max", MAX_EMAIL, MAX_MOBILE)
    max_b, lead_b = _person(dealer_b, "Max", "Max.Mustermann@Example.DE", "0170 1234567")
    erika, erika_lead = _person(dealer_a, "Erika", ERIKA_EMAIL, "+49 171 7654321")
    for lead in (lead_a, erika_lead):
        LeadRouting.objects.create(
            lead=lead, dealer=lead.dealer, method=LeadRouting.Method.TERRITORY, decisions={"dealer": {"number": "x"}}
        )
    return Household(max_a, max_b, erika, lead_a, lead_b, erika_lead)


def _unzip(content: bytes) -> tuple[dict[str, Any], dict[str, list[list[str]]]]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = archive.namelist()
        data = json.loads(archive.read("subject.json"))
        tables = {
            name.removesuffix(".csv"): list(csv.reader(io.StringIO(archive.read(name).decode("utf-8-sig"))))
            for name in names
            if name.endswith(".csv")
        }
        assert "README.txt" in names
    return data, tables


def _assert_only_max(data: dict[str, Any], household: Household, *, prospects: set[Any]) -> None:
    assert {row["id"] for row in data["prospects"]} == {str(pk) for pk in prospects}
    text = json.dumps(data)
    assert "Erika" not in text
    assert ERIKA_EMAIL not in text
    assert str(household.erika.pk) not in text
    assert str(household.erika_lead.pk) not in text


def _assert_every_csv_has_its_header(tables: dict[str, list[list[str]]]) -> None:
    declared = {section.name: section.columns for section in sections()}
    assert set(tables) == set(declared)
    for name, rows in tables.items():
        assert rows[0] == declared[name], name


def _officer(client_for: Any) -> Any:
    officer = UserFactory.create(email="dsb@hq.test.crm.example", is_staff=True)
    officer.groups.add(Group.objects.get(name=DATA_PROTECTION))
    return officer, client_for(officer)


def test_the_officers_export_holds_both_dealerships_and_only_that_person(
    household: Household, client_for: Any, dealer_a: DealerSetup, dealer_b: DealerSetup
) -> None:
    officer, client = _officer(client_for)
    url = reverse("admin:crm_readaudit_subject_export")

    page = client.get(url, {"email": " MAX.Mustermann@example.de ", "phone": "", "dealer": ""})
    assert page.status_code == 200
    assert {p.pk for p in page.context["found"]} == {household.max_a.pk, household.max_b.pk}

    chosen = [str(household.max_a.pk), str(household.max_b.pk)]
    response = client.post(url, {"email": MAX_EMAIL, "phone": "", "dealer": "", "export": "yes", "prospect": chosen})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    data, tables = _unzip(response.content)
    _assert_only_max(data, household, prospects={household.max_a.pk, household.max_b.pk})
    _assert_every_csv_has_its_header(tables)
    assert data["dealer_ids"] == sorted([dealer_a.dealer.pk, dealer_b.dealer.pk])
    assert {row["id"] for row in data["leads"]} == {str(household.lead_a.pk), str(household.lead_b.pk)}
    assert {row["dealer_id"] for row in data["activities"]} == {dealer_a.dealer.pk, dealer_b.dealer.pk}
    assert len(data["tasks"]) == len(data["consents"]) == 2
    assert [row["lead_id"] for row in data["routing_decisions"]] == [str(household.lead_a.pk)]
    delivered = {(row["type"], row["object_id"]) for row in data["deliveries"]}
    assert ("prospect.created", str(household.max_a.pk)) in delivered
    assert ("lead.created", str(household.lead_a.pk)) in delivered
    assert {row["status"] for row in data["deliveries"]} == {"pending"}  # the relay has not run
    assert {row["object_id"] for row in data["audit_changes"]} <= {*chosen, *(r["id"] for r in data["leads"])} | {
        r["id"] for key in ("activities", "tasks", "consents") for r in data[key]
    }
    assert len(tables["leads"]) == 3  # header and two leads

    audited = ReadAudit.objects.filter(action=ReadAudit.Action.SUBJECT_EXPORT)
    assert {(row.prospect_id, row.user_id) for row in audited} == {
        (household.max_a.pk, officer.pk),
        (household.max_b.pk, officer.pk),
    }
    assert all(MAX_EMAIL not in json.dumps(row.data) for row in audited)


def test_the_officer_finds_the_person_by_phone_at_one_dealership(
    household: Household, client_for: Any, dealer_b: DealerSetup
) -> None:
    _officer_user, client = _officer(client_for)
    page = client.get(
        reverse("admin:crm_readaudit_subject_export"),
        {"email": "", "phone": "0170/1234567", "dealer": dealer_b.dealer.number},
    )
    assert [p.pk for p in page.context["found"]] == [household.max_b.pk]


def test_only_the_data_protection_role_reaches_the_subject_export(
    household: Household, client_for: Any, dealer_a: DealerSetup
) -> None:
    analyst = UserFactory.create(email="analyst@hq.test.crm.example", is_staff=True)
    analyst.groups.add(Group.objects.get(name=ANALYST))
    url = reverse("admin:crm_readaudit_subject_export")
    assert client_for(analyst).get(url, {"email": MAX_EMAIL}).status_code == 403
    response = client_for(analyst).post(url, {"email": MAX_EMAIL, "export": "yes", "prospect": [household.max_a.pk]})
    assert response.status_code == 403
    assert not ReadAudit.objects.exists()


def test_the_dealer_admins_export_holds_only_that_dealerships_part(
    household: Household, client_for: Any, dealer_a: DealerSetup
) -> None:
    client = client_for(dealer_a.user("dealer_admin"))
    page = client.get(reverse("prospect_detail", args=[household.max_a.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert b"Export personal data (GDPR Art. 15/20)" in page.content

    response = client.get(reverse("prospect_personal_data", args=[household.max_a.pk]))

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    data, tables = _unzip(response.content)
    _assert_only_max(data, household, prospects={household.max_a.pk})
    _assert_every_csv_has_its_header(tables)
    assert data["dealer_ids"] == [dealer_a.dealer.pk]
    assert {row["id"] for row in data["leads"]} == {str(household.lead_a.pk)}
    assert str(household.max_b.pk) not in json.dumps(data)
    assert ReadAudit.objects.filter(
        action=ReadAudit.Action.SUBJECT_EXPORT, prospect_id=household.max_a.pk, user=dealer_a.user("dealer_admin")
    ).exists()


@pytest.mark.parametrize("role", ["salesperson", "sales_manager"])
def test_salespeople_and_managers_cannot_export_a_person(
    role: str, household: Household, client_for: Any, dealer_a: DealerSetup
) -> None:
    client = client_for(dealer_a.user(role))
    page = client.get(reverse("prospect_detail", args=[household.max_a.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert b"Export personal data" not in page.content
    assert client.get(reverse("prospect_personal_data", args=[household.max_a.pk])).status_code == 403
    assert not ReadAudit.objects.filter(action=ReadAudit.Action.SUBJECT_EXPORT).exists()


def test_a_dealer_admin_cannot_export_another_dealerships_person(
    household: Household, client_for: Any, dealer_a: DealerSetup
) -> None:
    client = client_for(dealer_a.user("dealer_admin"))
    assert client.get(reverse("prospect_personal_data", args=[household.max_b.pk])).status_code == 404


def test_the_command_writes_the_persons_zip(household: Household, tmp_path: Path, dealer_a: DealerSetup) -> None:
    out = tmp_path / "max.zip"
    stdout = io.StringIO()

    call_command("export_person", "--phone", MAX_MOBILE, "--out", str(out), stdout=stdout)

    data, tables = _unzip(out.read_bytes())
    _assert_only_max(data, household, prospects={household.max_a.pk, household.max_b.pk})
    _assert_every_csv_has_its_header(tables)
    assert out.stat().st_mode & 0o777 == 0o600
    assert "2 prospect(s)" in stdout.getvalue()
    assert "Mustermann" not in stdout.getvalue()
    assert set(ReadAudit.objects.filter(action=ReadAudit.Action.SUBJECT_EXPORT).values_list("route", flat=True)) == {
        "command:export_person"
    }


def test_the_command_refuses_an_unknown_person_and_an_existing_file(household: Household, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no prospect"):
        call_command("export_person", "--email", "niemand@example.de", "--out", str(tmp_path / "x.zip"))
    assert not (tmp_path / "x.zip").exists()
    existing = tmp_path / "da.zip"
    existing.write_bytes(b"old")
    with pytest.raises(CommandError, match="exists"):
        call_command("export_person", "--email", MAX_EMAIL, "--out", str(existing))
    assert existing.read_bytes() == b"old"
