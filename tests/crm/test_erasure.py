"""The right to erasure, end to end: after ``erase_prospect`` no column of any table names the person.

The person comes in as a manufacturer intake lead (the document is kept as received), through a CSV
import (a row applied, a row refused), the API (an idempotent change whose answer is stored), staff
notes, a task, a closed lead and consent evidence. Their dealer system listens on a real loopback
HTTP receiver (the simulator).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from crm.models import ErasureTombstone, Lead, LostReason, Prospect, Task
from crm.services import activities, consents, erasure, leads, tasks
from dealers.actors import Actor, record_audit
from dealers.api_keys import create_api_key
from dealers.models import Membership
from dealers.rls import manufacturer_wide
from sync.inbound.imports import queue_upload, run_queued_import
from sync.models import ImportRowError, ImportRun, IntakeDocument
from sync.outbound import relay, services
from sync.simulator import DEMO_SECRET
from tests.factories import DealerFactory, MembershipFactory, TerritoryFactory, UserFactory
from tests.sync.outbound.conftest import simulator  # noqa: F401 -- the fixture
from tests.sync.outbound.harness import SimulatorProcess, settle

pytestmark = pytest.mark.django_db(transaction=True)
ACTOR = Actor.system("test")

NAME = ("Erika", "Musterfrau")
EMAIL = "erika.musterfrau@kunde.example"
PHONE_AS_SENT = "089 1234567"
PHONE = "+49891234567"
STREET = "Leopoldstraße 10"
INTAKE = {
    "source": "configurator",
    "external_reference": "CFG-ERASE-1",
    "customer": {
        "salutation": "Frau",
        "first_name": NAME[0],
        "last_name": NAME[1],
        "email": EMAIL,
        "phone": PHONE_AS_SENT,
        "street": STREET,
        "postcode": "80802",
        "city": "München",
    },
    "vehicle": {"model": "Mégane E-Tech", "powertrain": "electric"},
    "message": f"Bitte rufen Sie {NAME[0]} {NAME[1]} an, {STREET}.",
    "consents": [{"purpose": "marketing_email", "status": "granted", "text_version": "2026-01"}],
}
TEXT_TYPES = ("text", "character varying", "json", "jsonb", "bytea")


def _needles() -> list[str]:
    return [f"{NAME[0]} {NAME[1]}", NAME[1], EMAIL, PHONE, PHONE_AS_SENT, STREET]


def columns_mentioning(needles: list[str]) -> list[str]:
    """Every text, JSON and bytea column of every table of the schema, searched for each needle."""
    found = []
    with manufacturer_wide(reason="test"), connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND data_type = ANY(%s) ORDER BY table_name, column_name",
            [list(TEXT_TYPES)],
        )
        columns = cursor.fetchall()
        for table, column, data_type in columns:
            for needle in needles:
                param: str | bytes
                if data_type == "bytea":
                    where, param = f'position(%s::bytea in "{column}") > 0', needle.encode()
                else:
                    where, param = f'lower("{column}"::text) LIKE %s', f"%{needle.lower()}%"
                cursor.execute(f'SELECT count(*) FROM "{table}" WHERE {where}', [param])  # noqa: S608 -- catalogue names
                if cursor.fetchone()[0]:
                    found.append(f"{table}.{column}: {needle}")
    return found


def _intake(client: Client) -> dict[str, Any]:
    key = create_api_key(dealer=None, name="Website", scopes=["intake:write"], actor=ACTOR).plaintext
    response = client.post(
        "/api/v1/intake/leads/",
        data=json.dumps(INTAKE),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code in (200, 201), response.content
    return response.json()


def _import(admin: Membership) -> ImportRun:
    csv = (
        "external_id;first_name;last_name;email;phone;street;postcode;city\n"
        f"DMS-1;{NAME[0]};{NAME[1]};{EMAIL};{PHONE_AS_SENT};{STREET};80802;München\n"
        f"DMS-2;{NAME[0]};;;;{STREET};80802;München\n"  # no name, email or phone: refused, kept as a row error
    ).encode()
    run = queue_upload(membership=admin, chunks=[csv], filename="kunden.csv", actor=ACTOR)
    return run_queued_import(run_id=run.pk) or run


@pytest.fixture
def world(simulator: SimulatorProcess) -> dict[str, Any]:  # noqa: F811 -- the imported fixture
    dealer = DealerFactory()
    TerritoryFactory(dealer=dealer, postcode_prefix="80")
    MembershipFactory(dealer=dealer, role=Membership.Role.SALESPERSON, user=UserFactory())
    admin = MembershipFactory(dealer=dealer, role=Membership.Role.DEALER_ADMIN, user=UserFactory())
    services.create_destination(
        dealer=dealer, actor=ACTOR, transport="webhook", url=simulator.url_for(dealer.number), secret=DEMO_SECRET
    )
    return {"dealer": dealer, "admin": admin}


def test_after_erasure_no_column_of_any_table_names_the_person(
    world: dict[str, Any],
    simulator: SimulatorProcess,  # noqa: F811
) -> None:
    dealer = world["dealer"]
    answer = _intake(Client())
    prospect = Prospect.objects.get(pk=answer["prospect"]["id"])
    lead = Lead.objects.get(prospect=prospect)
    run = _import(world["admin"])
    assert ImportRowError.objects.filter(run=run).exists(), "the refused row must be kept to prove its scrub"
    activities.log_activity(
        prospect=prospect, actor=ACTOR, data={"kind": "call", "subject": f"Anruf {NAME[1]}", "body": f"Mail: {EMAIL}"}
    )
    tasks.create_task(
        dealer=dealer, actor=ACTOR, prospect=prospect, data={"title": f"{NAME[1]} anrufen", "due_at": timezone.now()}
    )
    second = leads.create_lead(prospect=prospect, actor=ACTOR, data={"model_name": "Clio"})
    leads.change_stage(
        lead=second,
        to_stage="lost",
        actor=ACTOR,
        lost_reason=LostReason.objects.create(code="erase-test", label_de="Preis", label_en="Price"),
        note=f"{NAME[0]} {NAME[1]} kauft woanders",
    )
    consents.record_consent(
        prospect=prospect,
        purpose="marketing_phone",
        status="granted",
        actor=ACTOR,
        evidence={"email": EMAIL, "form": "Probefahrt"},
    )
    record_audit(actor=ACTOR, action="prospects.exported", dealer_id=dealer.pk, data={"q": NAME[1]})
    key = create_api_key(dealer=dealer, name="DMS", scopes=["prospects:read", "prospects:write"], actor=ACTOR)
    api = Client(headers={"Authorization": f"Bearer {key.plaintext}"})
    changed = api.patch(
        f"/api/v1/prospects/{prospect.pk}/",
        data=json.dumps({"city": "München"}),
        content_type="application/json",
        headers={"Idempotency-Key": "erase-test-1"},
    )
    read = api.get(f"/api/v1/prospects/{prospect.pk}/")
    old_etag = read["ETag"]
    assert columns_mentioning(_needles()), "the set-up must put the person in the database, or the scan proves nothing"
    assert changed.status_code == 200

    # The person is this prospect and the one the import made: erasing the person erases both.
    found = erasure.prospects_matching(emails=[EMAIL], dealer_id=dealer.pk)
    assert len(found) == 2
    for each in found:
        erasure.erase_prospect(prospect=each, actor=ACTOR)

    assert columns_mentioning(_needles()) == []
    erased = Prospect.objects.get(pk=prospect.pk)
    assert (erased.postcode, Lead.objects.filter(prospect=prospect).count()) == ("80", 2)  # statistics stay
    assert Lead.objects.get(pk=lead.pk).stage == lead.stage
    assert IntakeDocument.objects.filter(lead=lead).exists()
    assert api.get(f"/api/v1/prospects/{prospect.pk}/", headers={"If-None-Match": old_etag}).status_code == 200

    settle()
    relay.relay_dealer(dealer_id=dealer.pk)
    book = simulator.book(dealer.number)
    assert "prospect.erased" in book["types"].values()

    # The same person comes back through the intake: a new prospect, flagged with the erasure's date.
    again = _intake(Client())
    returned = Prospect.objects.get(pk=again["prospect"]["id"])
    assert returned.pk != prospect.pk
    latest = max(Prospect.objects.filter(pk__in=[p.pk for p in found]).values_list("erased_at", flat=True))
    assert returned.previously_erased_at == latest
    assert api.get(f"/api/v1/prospects/{returned.pk}/").json()["previously_erased_at"] is not None


def test_a_tombstone_holds_only_keyed_hashes_and_flags_import_and_api_upserts(dealer_a: Any) -> None:
    dealer = dealer_a.dealer
    prospect = Prospect.objects.create(dealer=dealer, last_name="Weber", email="Weber@Example.org", mobile=PHONE)
    erasure.erase_prospect(prospect=prospect, actor=ACTOR)

    digests = set(ErasureTombstone.objects.filter(prospect_id=prospect.pk).values_list("kind", "digest"))
    assert digests == set(erasure.identity_digests(email="weber@example.org", phones=[PHONE]))
    assert not any("weber" in digest or PHONE in digest for _kind, digest in digests)
    from crm.services.prospects import create_prospect, upsert_prospect_by_external_id

    by_phone = create_prospect(dealer=dealer, actor=ACTOR, data={"last_name": "W.", "phone": "0 89 1234567"})
    upserted, _created = upsert_prospect_by_external_id(
        dealer=dealer, external_id="DMS-9", actor=ACTOR, data={"email": "weber@example.org"}
    )
    stranger = create_prospect(dealer=dealer, actor=ACTOR, data={"last_name": "Fremd", "email": "x@example.org"})
    assert by_phone.previously_erased_at is not None
    assert upserted.previously_erased_at is not None
    assert stranger.previously_erased_at is None


def test_a_person_erased_at_one_dealership_is_not_flagged_at_another(dealer_a: Any, dealer_b: Any) -> None:
    prospect = Prospect.objects.create(dealer=dealer_a.dealer, last_name="Weber", email="weber@example.org")
    erasure.erase_prospect(prospect=prospect, actor=ACTOR)
    from crm.services.prospects import create_prospect

    elsewhere = create_prospect(dealer=dealer_b.dealer, actor=ACTOR, data={"email": "weber@example.org"})
    assert elsewhere.previously_erased_at is None


def test_stored_documents_go_when_they_identify_the_person_not_when_they_share_a_surname(dealer_a: Any) -> None:
    prospect = Prospect.objects.create(
        dealer=dealer_a.dealer, first_name="Erika", last_name="Musterfrau", email=EMAIL, street=STREET
    )
    lead = leads.create_lead(prospect=prospect, actor=ACTOR, data={"model_name": "Clio"})
    # A task of the lead that names no prospect (the API allows one): found through its lead.
    task = Task.objects.create(
        dealer=dealer_a.dealer, lead=lead, title="Erika Musterfrau anrufen", due_at=timezone.now()
    )
    with manufacturer_wide(reason="test"):
        theirs = IntakeDocument.objects.create(body=f'{{"email": "{EMAIL}"}}'.encode(), status="rejected")
        accepted = IntakeDocument.objects.create(
            body=b"{}", status="accepted", lead=lead, dealer=dealer_a.dealer, contact_keys=[f"email:{EMAIL}"]
        )
        namesake = IntakeDocument.objects.create(
            body=b'{"last_name": "Musterfrau", "email": "b@x.example"}', status="rejected"
        )

    erasure.erase_prospect(prospect=prospect, actor=ACTOR)

    with manufacturer_wide(reason="test"):
        assert bytes(IntakeDocument.objects.get(pk=theirs.pk).body) == b""
        assert IntakeDocument.objects.get(pk=accepted.pk).contact_keys == []
        assert b"Musterfrau" in bytes(IntakeDocument.objects.get(pk=namesake.pk).body)
    assert Task.objects.filter(pk=task.pk).values_list("title", "version").get() == ("[erased]", 2)


def test_rotating_the_secret_key_keeps_every_tombstone(dealer_a: Any, settings: Any) -> None:
    """Tombstones are keyed by ERASURE_TOMBSTONE_KEY, which production requires: the env value was never read,
    so they were keyed by DJANGO_SECRET_KEY, and its rotation (docs/security.md) let an erased person back in."""
    settings.ERASURE_TOMBSTONE_KEY = "tombstone-key-" + "t" * 32
    prospect = Prospect.objects.create(dealer=dealer_a.dealer, last_name="Weber", email="weber@example.org")
    erasure.erase_prospect(prospect=prospect, actor=ACTOR)

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "rotated-" + "r" * 50, []
    assert erasure.erased_on(dealer_id=dealer_a.dealer.pk, email="weber@example.org") is not None
