"""Each resource's fields are declared once (crm/fieldspecs.py); every other place derives them.

The first tests read every place that names fields and compare it with the declaration; the last ones
follow the lead's contact channel, declared in one line, through the UI form, the API (answers,
writes and the OpenAPI schema), the change log and the export.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation

from crm import exports, fieldspecs
from crm.api import representations as rep
from crm.api import serializers as s
from crm.fieldspecs import ALWAYS, COMMON_FIELDS, NEVER, ON_CREATE, REFERENCE, STAFF, VALUE, Resource
from crm.models import Change, Lead
from crm.payloads import payload_for
from crm.services import activities as activity_services
from crm.services import leads as lead_services
from crm.services import prospects as prospect_services
from crm.services import tasks as task_services
from crm.ui import forms
from tests.api.conftest import ApiClient, make_key
from tests.conftest import DealerSetup
from tests.factories import ActivityFactory, LeadFactory, ProspectFactory, TaskFactory

RESOURCES = {
    "prospect": fieldspecs.PROSPECT,
    "lead": fieldspecs.LEAD,
    "activity": fieldspecs.ACTIVITY,
    "task": fieldspecs.TASK,
}
# Keys the payload adds after the value fields: references, by id or email address.
PAYLOAD_REFERENCES = {
    "prospect": ["owner", "erased", "merged_into"],
    "lead": ["prospect_id", "owner", "lost_reason"],
    "activity": ["prospect_id", "lead_id"],
    "task": ["prospect_id", "lead_id", "assignee"],
}
FACTORIES = {"prospect": ProspectFactory, "lead": LeadFactory, "activity": ActivityFactory, "task": TaskFactory}


def _staff_as_attribute(resource: Resource, names: list[str]) -> set[str]:
    return {resource[name].attribute for name in names}


@pytest.mark.parametrize(
    ("resource", "create", "update"),
    [
        (fieldspecs.PROSPECT, s.ProspectSerializer, s.ProspectSerializer),
        (fieldspecs.LEAD, s.LeadSerializer, s.LeadUpdateSerializer),
        (fieldspecs.ACTIVITY, s.ActivitySerializer, s.ActivityUpdateSerializer),
        (fieldspecs.TASK, s.TaskSerializer, s.TaskUpdateSerializer),
    ],
    ids=["prospect", "lead", "activity", "task"],
)
def test_the_api_answers_and_takes_exactly_the_declared_fields(resource: Resource, create, update) -> None:
    assert [rep.PROSPECT.names, rep.LEAD.names, rep.ACTIVITY.names, rep.TASK.names] == [
        rep.of(r).names for r in RESOURCES.values()
    ]
    declared = [*COMMON_FIELDS, *(spec.name for spec in resource.fields)]
    assert list(rep.of(resource).names) == declared
    assert list(create().fields) == declared
    assert list(update().fields) == declared
    writable_on_create = {name for name, field in create().fields.items() if not field.read_only}
    writable_on_update = {name for name, field in update().fields.items() if not field.read_only}
    assert writable_on_create == {"external_id", *(spec.name for spec in resource.fields if spec.edit != NEVER)}
    assert writable_on_update == {"external_id", *(spec.name for spec in resource.fields if spec.edit == ALWAYS)}


@pytest.mark.parametrize("name", RESOURCES)
def test_the_change_log_payload_holds_the_declared_values_then_the_references(db: None, name: str) -> None:
    resource = RESOURCES[name]
    values = [spec.attribute for spec in resource.fields if spec.kind == VALUE and spec.payload]
    payload = payload_for(FACTORIES[name]())
    assert list(payload) == [*COMMON_FIELDS, *values, *PAYLOAD_REFERENCES[name]]


@pytest.mark.parametrize(
    ("name", "service"),
    [
        ("prospect", prospect_services),
        ("lead", lead_services),
        ("activity", activity_services),
        ("task", task_services),
    ],
)
def test_the_services_change_the_declared_editable_fields(name: str, service) -> None:
    resource = RESOURCES[name]
    editable = [spec.name for spec in resource.fields if spec.edit == ALWAYS and spec.kind in (VALUE, STAFF)]
    assert {"external_id", *_staff_as_attribute(resource, editable)} == service.EDITABLE_FIELDS


def test_the_prospect_service_normalises_through_the_declared_normalisers() -> None:
    normalised = fieldspecs.PROSPECT.normalised({"first_name": "  Eva ", "mobile": "0170 1234567", "kind": " x "})
    assert normalised == {"first_name": "Eva", "mobile": "+491701234567", "kind": " x "}
    with pytest.raises(ValidationError) as error:
        fieldspecs.PROSPECT.normalised({"phone": "abc"})
    assert list(error.value.message_dict) == ["phone"]


def test_the_ui_forms_show_the_declared_fields_in_their_fieldsets(dealer_a: DealerSetup) -> None:
    manager = dealer_a.staff["sales_manager"]
    for form_class, resource in ((forms.ProspectForm, fieldspecs.PROSPECT), (forms.LeadForm, fieldspecs.LEAD)):
        form = form_class(membership=manager, creating=False)
        declared = [spec.name for spec in resource.fields if spec.form]
        shown = [name for name in form.fields if name not in ("version", "confirm_new")]
        if form_class is forms.LeadForm:
            declared.remove("owner")  # a lead changes hands through its own action, not the edit form
            # The catalogue's pick list ("vehicle") stands for the model name, trim and powertrain.
            declared = [name for name in declared if name not in forms.VEHICLE_FIELDS] + ["vehicle"]
        assert sorted(shown) == sorted(declared)
    created = forms.LeadForm(membership=manager, creating=True)
    fieldsets = {str(title): [bound.name for bound in fields] for title, fields in created.field_groups()}
    with translation.override("en"):
        titles = [str(title) for title in fieldspecs.LEAD.form_groups.values()]
    assert len(fieldsets) == len(titles) == 3
    assert [name for names in fieldsets.values() for name in names] == [
        *(
            "vehicle" if s.name == "model_name" else s.name
            for s in fieldspecs.LEAD.fields
            if s.form == fieldspecs.VEHICLE and s.name not in forms.VEHICLE_FIELDS[1:]
        ),
        *(s.name for s in fieldspecs.LEAD.fields if s.form == fieldspecs.TRADEIN),
        "owner",  # who works the lead leads its fieldset
        *(s.name for s in fieldspecs.LEAD.fields if s.form == fieldspecs.PIPELINE and s.kind == VALUE),
    ]
    activity = forms.ActivityForm()
    assert list(activity.fields) == [spec.name for spec in fieldspecs.ACTIVITY.fields if spec.form]


def test_the_exports_have_a_column_per_exported_field_and_keep_their_order() -> None:
    for columns, resource in ((exports.PROSPECT_COLUMNS, fieldspecs.PROSPECT), (exports.LEAD_COLUMNS, fieldspecs.LEAD)):
        headers = [name for name, _value in columns]
        assert len(headers) == len(set(headers))
        assert {spec.export_header for spec in resource.exported} <= set(headers)
        not_exported = {spec.name for spec in resource.fields if not spec.export} - {"prospect"}
        assert not (not_exported & set(headers)), not_exported & set(headers)
    assert [name for name, _value in exports.PROSPECT_COLUMNS][:4] == ["id", "salutation", "title", "first_name"]
    assert [name for name, _value in exports.LEAD_COLUMNS][-2:] == ["external_id", "contact_channel"]


def test_a_layout_naming_an_unknown_column_is_refused_at_import() -> None:
    with pytest.raises(ValueError, match="nonsense"):
        exports.columns(fieldspecs.LEAD, layout=("id", "nonsense"), computed={"id": lambda lead: lead.pk})


def test_the_merge_page_compares_the_declared_fields(dealer_a: DealerSetup, client_for) -> None:
    first = ProspectFactory(dealer=dealer_a.dealer, last_name="Huber", city="Ulm")
    second = ProspectFactory(dealer=dealer_a.dealer, last_name="Hubert", city="Neu-Ulm")
    client = client_for(dealer_a.user("sales_manager"))
    with translation.override("en"):
        response = client.get(reverse("prospect_merge", args=[first.pk, second.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    rows = response.context["rows"]
    assert len(rows) == len(fieldspecs.PROSPECT.merge_compared) == 9
    assert ("city", "Ulm", "Neu-Ulm") in rows


# The lead's preferred contact channel: one line in crm/fieldspecs.py reaches every place.


def test_contact_channel_is_in_the_lead_form_and_saved_from_it(dealer_a: DealerSetup, client_for) -> None:
    prospect = ProspectFactory(dealer=dealer_a.dealer, owner=dealer_a.user("salesperson"))
    seller: Client = client_for(dealer_a.user("salesperson"))
    page = seller.get(reverse("lead_create", args=[prospect.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert 'name="contact_channel"' in page.content.decode()
    assert "Preferred contact channel" in page.content.decode()
    response = seller.post(
        reverse("lead_create", args=[prospect.pk]),
        {"lead_type": "new_car", "source": "showroom", "vehicle_condition": "new", "contact_channel": "sms"},
    )
    assert response.status_code == 302
    lead = Lead.objects.get(prospect=prospect)
    assert lead.contact_channel == "sms"
    edit = seller.get(reverse("lead_edit", args=[lead.pk]))
    assert '<option value="sms" selected>' in edit.content.decode()
    detail = seller.get(reverse("lead_detail", args=[lead.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert "<dt>Preferred contact channel</dt><dd>SMS</dd>" in detail.content.decode()


def test_contact_channel_over_the_api_in_the_change_log_and_the_export(dealer_a: DealerSetup, client_for) -> None:
    api_a = ApiClient(make_key(dealer_a.dealer, None))
    prospect = ProspectFactory(dealer=dealer_a.dealer)
    created = api_a.post("/api/v1/leads/", {"prospect": str(prospect.pk), "contact_channel": "phone"})
    assert created.status_code == 201, created.content
    lead_id = created.json()["id"]
    assert api_a.get(f"/api/v1/leads/{lead_id}/").json()["contact_channel"] == "phone"
    changed = api_a.patch(f"/api/v1/leads/{lead_id}/", {"contact_channel": "email"})
    assert changed.json()["contact_channel"] == "email"
    refused = api_a.patch(f"/api/v1/leads/{lead_id}/", {"contact_channel": "pigeon"})
    assert refused.status_code == 400
    assert "contact_channel" in refused.json()["errors"]
    listed = api_a.get("/api/v1/leads/").json()["items"]
    assert [item["contact_channel"] for item in listed] == ["email"]

    log = Change.objects.filter(object_id=lead_id).order_by("id")
    assert [(c.type, c.data["contact_channel"]) for c in log] == [("lead.created", "phone"), ("lead.updated", "email")]
    assert log.last().data["changed"] == ["contact_channel"]

    with translation.override("en"):
        response = client_for(dealer_a.user("sales_manager")).get(reverse("lead_export"), HTTP_ACCEPT_LANGUAGE="en")
    text = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert [row["contact_channel"] for row in rows] == ["Email"]


def test_contact_channel_is_documented_in_the_openapi_schema(db: None) -> None:
    response = Client().get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})
    schemas = response.json()["components"]["schemas"]
    for component in ("Lead", "LeadRequest", "PatchedLeadUpdateRequest"):
        field = schemas[component]["properties"]["contact_channel"]
        choices = field.get("oneOf", [field])
        enums = [schemas[c["$ref"].rsplit("/", 1)[-1]] for c in choices if "$ref" in c]
        assert {"email", "phone", "sms", "letter"} <= {value for enum in enums for value in enum.get("enum", [])}


def test_every_reference_and_staff_field_is_read_from_its_related_column() -> None:
    columns = {name: column for name, column, _convert in rep.LEAD.fields}
    assert columns["owner"] == "owner__email"
    assert columns["lost_reason"] == "lost_reason__code"
    assert columns["prospect"] == "prospect_id"
    kinds = {spec.kind for resource in RESOURCES.values() for spec in resource.fields}
    assert kinds == {VALUE, STAFF, REFERENCE, fieldspecs.FLAG}
    assert {spec.edit for spec in fieldspecs.LEAD.fields} == {ALWAYS, ON_CREATE, NEVER}
