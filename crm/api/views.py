"""The dealer systems' REST API, version 1 (integrator's guide: docs/api.md)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.schemas.inspectors import ViewInspector

from crm.api import representations as rep
from crm.api import serializers as s
from crm.api.base import ApiView
from crm.api.conditional import expected_version
from crm.api.errors import Conflict, PreconditionFailed
from crm.api.filters import ConsentFilterSet
from crm.api.idempotency import idempotent
from crm.api.permissions import AnyKey, requires_scopes
from crm.api.resources import DetailView, ListCreateView, ResourceMixin, staff_user_id
from crm.api.schema import (
    CREATE_ERRORS,
    IDEMPOTENCY_KEY,
    IF_MATCH,
    IF_NONE_MATCH,
    NOT_MODIFIED,
    READ_ERRORS,
    WRITE_ERRORS,
    ApiSchema,
    Operation,
    id_param,
)
from crm.filters import ActivityFilterSet, LeadFilterSet, ProspectFilterSet, TaskFilterSet
from crm.models import Activity, Consent, Lead, LostReason, Prospect, Task
from crm.read_audit import ReadAudit, record_read
from crm.selectors import activities_for, leads_for, prospects_for, tasks_for
from crm.services import activities as activity_services
from crm.services import consents as consent_services
from crm.services import erasure
from crm.services import leads as lead_services
from crm.services import prospects as prospect_services
from crm.services import tasks as task_services


class Documented:
    """The endpoint's OpenAPI operations come from its declarations (``summaries``, ``operations``)."""

    schema: ViewInspector | None = ApiSchema()
    # The standard operations of a resource (crm.api.schema.resource_operation) by HTTP method.
    summaries: ClassVar[dict[str, str]] = {}
    examples: ClassVar[tuple[OpenApiExample, ...]] = ()  # of a create body
    id_noun: ClassVar[str] = ""  # "The <id_noun>'s id."; empty: the resource's singular
    operations: ClassVar[dict[str, Operation]] = {}  # any other operation, by HTTP method


def _merged_conflict(prospect: Prospect) -> Conflict:
    return Conflict(
        _("This prospect was merged into %(id)s; change that one.") % {"id": prospect.merged_into_id},
        code="prospect_merged",
    )


# Prospects ---------------------------------------------------------------------------------------


class ProspectResource(Documented, ResourceMixin):
    resource = "prospects"
    representation = rep.PROSPECT
    detail_url_name = "api_prospect_detail"
    create_serializer = s.ProspectSerializer
    update_serializer = s.ProspectSerializer
    put_defaults: ClassVar[dict[str, Any]] = {"owner": None}
    queryset = Prospect.objects.none()

    def scoped(self: Any) -> QuerySet[Prospect]:
        return Prospect.objects.visible_to(self.viewer)  # tombstones (merged_into) stay readable

    def listed(self: Any) -> QuerySet[Prospect]:
        return prospects_for(self.viewer)  # active prospects only

    def prospect_data(self: Any, data: dict[str, Any]) -> dict[str, Any]:
        if "owner" in data:
            data["owner_id"] = staff_user_id(self.viewer, data.pop("owner"), "owner")
        return data


class ProspectListView(ProspectResource, ListCreateView):
    filterset_class = ProspectFilterSet

    summaries: ClassVar = {"get": "List prospects", "post": "Create a prospect"}
    examples: ClassVar = (
        OpenApiExample(
            "Person",
            value={
                "external_id": "DMS-4711",
                "salutation": "ms",
                "first_name": "Anna",
                "last_name": "Schmidt",
                "email": "anna.schmidt@example.com",
                "mobile": "+49 170 1234567",
                "postcode": "80331",
                "city": "München",
                "origin": "dms",
            },
            request_only=True,
        ),
    )

    def create(self, data: dict[str, Any]) -> Prospect:
        data = self.prospect_data(data)
        data.setdefault("origin", Prospect.Origin.DMS)  # not the UI's "showroom": the dealer system made it
        return prospect_services.create_prospect(dealer=self.dealer, actor=self.actor, data=data)


class ProspectDetailView(ProspectResource, DetailView):
    summaries: ClassVar = {
        "get": "Get a prospect",
        "patch": "Change some fields of a prospect",
        "put": "Replace a prospect",
    }

    def get(self, request: Request, pk: str) -> Response:
        response = super().get(request, pk)
        _record_prospect_read(self, request, response)
        return response

    def update(self, obj: Prospect, data: dict[str, Any], version: int | None) -> Prospect:
        if obj.merged_into_id:
            raise _merged_conflict(obj)
        return prospect_services.update_prospect(
            prospect=obj, actor=self.actor, data=self.prospect_data(data), expected_version=version
        )


def _record_prospect_read(view: Any, request: Request, response: Response) -> None:
    """An API read of one prospect that sent its data (not a 304) writes a read audit row."""
    if response.status_code == status.HTTP_200_OK and isinstance(response.data, dict) and "id" in response.data:
        prospect_id = response.data["id"]
        record_read(
            request,
            action=ReadAudit.Action.API_READ,
            object_type="crm.prospect",
            object_id=prospect_id,
            prospect_id=prospect_id,
            dealer_id=view.dealer_id,
        )


class ProspectEraseView(ProspectResource, ApiView):
    """Erase a prospect's personal data at the person's request (GDPR art. 17); needs ``prospects:erase``."""

    permission_classes: ClassVar = [requires_scopes("prospects:erase", dealer_key=True)]  # type: ignore[misc]
    operations: ClassVar = {
        "post": Operation(
            "erase_prospect",
            "Erase a prospect's personal data (right to erasure)",
            "prospects",
            {200: s.ProspectSerializer},
            (*WRITE_ERRORS, 422),
            request=s.ProspectEraseSerializer,
            parameters=(id_param("prospect"), IF_MATCH, IDEMPOTENCY_KEY),
            description="Anonymises the prospect and the free text of its leads, activities, tasks and consents, "
            "also in the change feed's earlier entries; counts, stages and dates stay. Every version grows, so "
            "ETags you hold stop matching, and `prospect.erased` is sent. The answer is the anonymised prospect "
            "(`erased: true`); erasing it again answers the same. A later create or upsert with the same email "
            "or phone is flagged in `previously_erased_at`. Needs the scope `prospects:erase`.",
        )
    }

    @idempotent
    def post(self, request: Request, pk: str) -> Response:
        prospect = self.scoped_or_404(pk)
        self.validated(s.ProspectEraseSerializer)
        version = expected_version(request)
        if version is not None and version != prospect.version:
            raise PreconditionFailed()
        if prospect.merged_into_id:
            raise _merged_conflict(prospect)
        with transaction.atomic():
            erasure.erase_prospect(prospect=prospect, actor=self.actor)
        return self.object_response(prospect.pk)


EXTERNAL_ID = OpenApiParameter(
    "external_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The prospect's id in the dealer system (1 to 100 characters).",
)


class ProspectByExternalIdView(ProspectResource, DetailView):
    """The dealer system's own id: read, or create-or-update (upsert) with PUT."""

    http_method_names = ["get", "put", "head", "options"]
    operations: ClassVar = {
        "get": Operation(
            "get_prospect_by_external_id",
            "Get a prospect by the dealer system's id",
            "prospects",
            {200: s.ProspectSerializer, 304: NOT_MODIFIED},
            READ_ERRORS,
            parameters=(EXTERNAL_ID, IF_NONE_MATCH),
        ),
        "put": Operation(
            "upsert_prospect_by_external_id",
            "Create or update a prospect by the dealer system's id (upsert)",
            "prospects",
            {200: s.ProspectSerializer, 201: s.ProspectSerializer},
            WRITE_ERRORS,
            request=s.ProspectSerializer,
            parameters=(
                EXTERNAL_ID,
                IF_MATCH,
                OpenApiParameter(
                    "If-None-Match",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    description="`*`: only create, else 412.",
                ),
            ),
            description="Fields in the body are written, fields left out stay as they are (on create: defaults). "
            "201 when created, 200 when updated. `If-Match` updates only that version of an existing prospect; "
            "`If-None-Match: *` only creates.",
        ),
    }

    def _external_id(self, raw: str) -> str:
        if not raw or len(raw) > 100 or "\x00" in raw:
            raise ValidationError({"external_id": [_("1 to 100 characters.")]})
        return raw

    def get(self, request: Request, external_id: str) -> Response:
        prospect = self.scoped().filter(external_id=self._external_id(external_id)).only("pk").first()
        if prospect is None:
            raise NotFound()
        response = super().get(request, str(prospect.pk))
        _record_prospect_read(self, request, response)
        return response

    def put(self, request: Request, external_id: str) -> Response:
        external_id = self._external_id(external_id)
        data = self.prospect_data(dict(self.validated(self.update_serializer, partial=True)))
        version = expected_version(request)
        if data.pop("external_id", external_id) != external_id:
            raise ValidationError({"external_id": [_("Must be left out or equal the id in the path.")]})
        existing = self.scoped().filter(external_id=external_id).first()
        if existing is not None and request.headers.get("If-None-Match", "").strip() == "*":
            raise PreconditionFailed(_("A prospect with this id exists (If-None-Match: *)."))
        if existing is None and request.headers.get("If-Match") is not None:
            raise PreconditionFailed(_("No prospect has this id (If-Match needs one)."))
        if existing is not None and existing.merged_into_id:
            raise _merged_conflict(existing)
        if existing is None:
            data.setdefault("origin", Prospect.Origin.DMS)  # as for POST; an update keeps the origin it has
        with transaction.atomic():
            if existing is not None and version is not None:
                prospect = prospect_services.update_prospect(
                    prospect=existing, actor=self.actor, data=data, expected_version=version
                )
                created = False
            else:
                prospect, created = prospect_services.upsert_prospect_by_external_id(
                    dealer=self.dealer, external_id=external_id, actor=self.actor, data=data
                )
        return self.object_response(prospect.pk, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


# Leads -------------------------------------------------------------------------------------------


class LeadResource(Documented, ResourceMixin):
    resource = "leads"
    representation = rep.LEAD
    detail_url_name = "api_lead_detail"
    create_serializer = s.LeadSerializer
    update_serializer = s.LeadUpdateSerializer
    queryset = Lead.objects.none()

    def scoped(self: Any) -> QuerySet[Lead]:
        return leads_for(self.viewer).select_related(None)


class LeadListView(LeadResource, ListCreateView):
    filterset_class = LeadFilterSet

    summaries: ClassVar = {"get": "List leads", "post": "Create a lead"}
    examples: ClassVar = (
        OpenApiExample(
            "New car",
            value={
                "prospect": "0190f1d2-8c3b-7a51-9e2a-3f4b5c6d7e8f",
                "external_id": "DMS-L-1001",
                "lead_type": "new_car",
                "source": "dms",
                "model_name": "Clio",
                "trim": "Techno",
                "powertrain": "hybrid",
                "owner": "verkauf@autohaus.example",
            },
            request_only=True,
        ),
    )

    def create(self, data: dict[str, Any]) -> Lead:
        prospect = self.named_prospect(data)
        owner_id = staff_user_id(self.viewer, data.pop("owner", None), "owner")
        return lead_services.create_lead(prospect=prospect, actor=self.actor, data=data, owner_id=owner_id)


class LeadDetailView(LeadResource, DetailView):
    summaries: ClassVar = {
        "get": "Get a lead",
        "patch": "Change some fields of a lead",
        "put": "Replace a lead's fields",
    }

    def update(self, obj: Lead, data: dict[str, Any], version: int | None) -> Lead:
        return lead_services.update_lead(lead=obj, actor=self.actor, data=data, expected_version=version)


class LeadStageView(LeadResource, ApiView):
    """Move a lead through the pipeline; won and lost close it (as in the UI)."""

    operations: ClassVar = {
        "post": Operation(
            "change_lead_stage",
            "Change a lead's stage, or close it as won or lost",
            "leads",
            {200: s.LeadSerializer},
            (*WRITE_ERRORS, 422),
            request=s.LeadStageSerializer,
            parameters=(id_param("lead"), IF_MATCH, IDEMPOTENCY_KEY),
            examples=(
                OpenApiExample(
                    "Lost",
                    value={"stage": "lost", "lost_reason": "price", "note": "Cheaper elsewhere"},
                    request_only=True,
                ),
                OpenApiExample("Won", value={"stage": "won", "note": "Order 2024-0815"}, request_only=True),
            ),
            description="`lost` needs `lost_reason` (a code from GET /api/v1/lost-reasons/), `won` a `note` "
            "(what was sold). Moving a closed lead to an open stage reopens it.",
        )
    }

    @idempotent
    def post(self, request: Request, pk: str) -> Response:
        lead = self.scoped_or_404(pk)
        data = self.validated(s.LeadStageSerializer)
        version = expected_version(request)
        reason = None
        if data.get("lost_reason"):
            reason = LostReason.objects.filter(code=data["lost_reason"], is_active=True).first()
            if reason is None:
                raise ValidationError({"lost_reason": [_("Unknown lost reason; see GET /api/v1/lost-reasons/.")]})
        try:
            with transaction.atomic():
                lead = lead_services.change_stage(
                    lead=lead,
                    to_stage=data["stage"],
                    actor=self.actor,
                    lost_reason=reason,
                    note=data.get("note", ""),
                    expected_version=version,
                )
        except DjangoValidationError as error:
            if hasattr(error, "error_dict") and "close_note" in error.error_dict:
                error.error_dict["note"] = error.error_dict.pop("close_note")
            raise
        return self.object_response(lead.pk)


class LeadAssignView(LeadResource, ApiView):
    operations: ClassVar = {
        "post": Operation(
            "assign_lead",
            "Assign a lead to a salesperson (or unassign it)",
            "leads",
            {200: s.LeadSerializer},
            (*CREATE_ERRORS, 404),
            request=s.LeadAssignSerializer,
            parameters=(id_param("lead"), IDEMPOTENCY_KEY),
        )
    }

    @idempotent
    def post(self, request: Request, pk: str) -> Response:
        lead = self.scoped_or_404(pk)
        data = self.validated(s.LeadAssignSerializer)
        owner_id = staff_user_id(self.viewer, data["owner"], "owner")
        with transaction.atomic():
            lead_services.assign_lead(lead=lead, to_user_id=owner_id, actor=self.actor, reason=data.get("reason", ""))
        return self.object_response(lead.pk)


class LostReasonListView(Documented, ApiView):
    resource = "leads"

    operations: ClassVar = {
        "get": Operation(
            "list_lost_reasons",
            "The lost reasons a lead can be closed with",
            "leads",
            {200: s.LostReasonListSerializer},
            (401, 403, 429, 503),
        )
    }

    def get(self, request: Request) -> Response:
        rows = LostReason.objects.order_by("position", "code").values("code", "label_de", "label_en", "is_active")
        return Response({"items": list(rows)})


# Activities --------------------------------------------------------------------------------------


class ActivityResource(Documented, ResourceMixin):
    resource = "activities"
    representation = rep.ACTIVITY
    detail_url_name = "api_activity_detail"
    create_serializer = s.ActivitySerializer
    update_serializer = s.ActivityUpdateSerializer
    queryset = Activity.objects.none()

    def scoped(self: Any) -> QuerySet[Activity]:
        return activities_for(self.viewer)


class ActivityListView(ActivityResource, ListCreateView):
    filterset_class = ActivityFilterSet

    summaries: ClassVar = {
        "get": "List activities",
        "post": "Record an activity (call, email, meeting, test drive, note)",
    }
    examples: ClassVar = (
        OpenApiExample(
            "Call",
            value={
                "prospect": "0190f1d2-8c3b-7a51-9e2a-3f4b5c6d7e8f",
                "kind": "call",
                "direction": "outbound",
                "outcome": "reached",
                "subject": "Rückruf Probefahrt",
                "occurred_at": "2024-05-02T08:30:00Z",
            },
            request_only=True,
        ),
    )

    def create(self, data: dict[str, Any]) -> Activity:
        prospect, lead = self.named_prospect(data), self.named_lead(data)
        return activity_services.log_activity(prospect=prospect, actor=self.actor, data=data, lead=lead)


class ActivityDetailView(ActivityResource, DetailView):
    summaries: ClassVar = {
        "get": "Get an activity",
        "patch": "Change some fields",
        "put": "Replace an activity's fields",
    }

    def update(self, obj: Activity, data: dict[str, Any], version: int | None) -> Activity:
        return activity_services.update_activity(activity=obj, actor=self.actor, data=data, expected_version=version)


# Tasks -------------------------------------------------------------------------------------------


class TaskResource(Documented, ResourceMixin):
    resource = "tasks"
    representation = rep.TASK
    detail_url_name = "api_task_detail"
    create_serializer = s.TaskSerializer
    update_serializer = s.TaskUpdateSerializer
    put_defaults: ClassVar[dict[str, Any]] = {"assignee": None, "done": False}
    queryset = Task.objects.none()

    def scoped(self: Any) -> QuerySet[Task]:
        return tasks_for(self.viewer)

    def task_data(self: Any, data: dict[str, Any]) -> dict[str, Any]:
        if "assignee" in data:
            data["assignee_id"] = staff_user_id(self.viewer, data.pop("assignee"), "assignee")
        return data


class TaskListView(TaskResource, ListCreateView):
    filterset_class = TaskFilterSet

    summaries: ClassVar = {"get": "List tasks", "post": "Create a follow-up task"}
    examples: ClassVar = (
        OpenApiExample(
            "Call back",
            value={
                "prospect": "0190f1d2-8c3b-7a51-9e2a-3f4b5c6d7e8f",
                "title": "Angebot nachfassen",
                "due_at": "2024-05-06T09:00:00Z",
                "assignee": "verkauf@autohaus.example",
            },
            request_only=True,
        ),
    )

    def create(self, data: dict[str, Any]) -> Task:
        data = self.task_data(data)
        prospect, lead = self.named_prospect(data), self.named_lead(data)
        done = data.pop("done", False)
        task = task_services.create_task(dealer=self.dealer, actor=self.actor, data=data, prospect=prospect, lead=lead)
        return task_services.complete_task(task=task, actor=self.actor) if done else task


class TaskDetailView(TaskResource, DetailView):
    summaries: ClassVar = {
        "get": "Get a task",
        "patch": "Change some fields (done: complete)",
        "put": "Replace a task's fields",
    }

    def update(self, obj: Task, data: dict[str, Any], version: int | None) -> Task:
        data = self.task_data(data)
        done = data.pop("done", None)
        task = task_services.update_task(task=obj, actor=self.actor, data=data, expected_version=version)
        if done is not None:
            task = task_services.complete_task(task=task, actor=self.actor, done=done)
        return task


# Consents ----------------------------------------------------------------------------------------


class ConsentResource(Documented, ResourceMixin):
    resource = "consents"
    representation = rep.CONSENT
    detail_url_name = "api_consent_detail"
    create_serializer = s.ConsentSerializer
    versioned = False
    queryset = Consent.objects.none()

    def scoped(self: Any) -> QuerySet[Consent]:
        return Consent.objects.visible_to(self.viewer)


class ConsentListView(ConsentResource, ListCreateView):
    """The consent ledger: entries are appended, never changed (a withdrawal is a new entry)."""

    filterset_class = ConsentFilterSet
    time_field = "at"

    summaries: ClassVar = {"get": "List consent ledger entries", "post": "Record a consent or its withdrawal"}
    examples: ClassVar = (
        OpenApiExample(
            "Granted with double opt-in",
            value={
                "prospect": "0190f1d2-8c3b-7a51-9e2a-3f4b5c6d7e8f",
                "purpose": "marketing_email",
                "status": "granted",
                "channel": "web_form",
                "source": "dealer website",
                "text_version": "2024-01",
                "double_opt_in_at": "2024-05-02T08:31:00Z",
                "evidence": {"ip": "203.0.113.7"},
            },
            request_only=True,
        ),
    )

    def create(self, data: dict[str, Any]) -> Consent:
        return consent_services.record_consent(prospect=self.named_prospect(data), actor=self.actor, **data)


class ConsentDetailView(ConsentResource, DetailView):
    http_method_names = ["get", "head", "options"]

    summaries: ClassVar = {"get": "Get a consent ledger entry"}
    id_noun = "consent entry"


# The key itself ----------------------------------------------------------------------------------


class MeView(Documented, ApiView):
    permission_classes: ClassVar = [AnyKey]  # type: ignore[misc]

    operations: ClassVar = {
        "get": Operation(
            "get_me",
            "The calling key: its dealership and scopes",
            "key",
            {200: s.MeSerializer},
            (401, 429, 503),
            examples=(
                OpenApiExample(
                    "Dealership key",
                    value={
                        "dealer": {"number": "12345", "name": "Autohaus Beispiel GmbH"},
                        "scopes": ["prospects:read", "prospects:write", "changes:read"],
                        "key": {
                            "prefix": "crmd_k3x9a7q2mz",
                            "name": "DMS",
                            "created_at": "2024-05-01T10:00:00Z",
                            "expires_at": None,
                        },
                    },
                    response_only=True,
                ),
            ),
        )
    }

    def get(self, request: Request) -> Response:
        key = self.client.api_key
        dealer = key.dealer
        return Response(
            {
                "dealer": {"number": dealer.number, "name": dealer.name} if dealer else None,
                "scopes": list(key.scopes),
                "key": {
                    "prefix": key.prefix,
                    "name": key.name,
                    "created_at": rep.timestamp(key.created_at),
                    "expires_at": rep.timestamp(key.expires_at),
                },
            }
        )
