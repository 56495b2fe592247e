"""Admin pages for the inbound side: intake documents, the lead desk's queue of unrouted leads, routings, imports.

Read-only, except the lead desk's one write: assigning a waiting lead to a dealership, through
``sync.inbound.lead_desk.assign_unrouted`` (the same route as automatic routing).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from crm.models import Lead
from crm.routing_decisions import routing_summary
from dealers.admin_base import ActorNamesAdmin, ChoicesFilter, ReadOnlyAdmin
from dealers.models import Region
from sync.inbound.lead_desk import assign_unrouted
from sync.models import ImportRowError, ImportRun, IntakeDocument, LeadRouting, UnroutedLead


@admin.register(IntakeDocument)
class IntakeDocumentAdmin(ReadOnlyAdmin):
    list_display = (
        "received_at",
        "status",
        "format",
        "source",
        "external_reference",
        "api_key_prefix",
        "reason",
        "dealer",
    )
    list_filter = ("status", "format", "source")
    search_fields = ("external_reference", "api_key_prefix", "reason", "idempotency_key", "=id")
    date_hierarchy = "received_at"
    list_select_related = ("dealer",)
    fields = (
        "id",
        "received_at",
        "status",
        "reason",
        "errors",
        "format",
        "content_type",
        "size",
        "truncated",
        "api_key",
        "api_key_prefix",
        "idempotency_key",
        "source",
        "external_reference",
        "dealer",
        "lead",
        "body_display",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).defer("body")

    @admin.display(description=_("body as received"))
    def body_display(self, obj: IntakeDocument) -> str:
        return format_html(
            '<pre style="white-space: pre-wrap; max-height: 40em; overflow: auto">{}</pre>', obj.body_text
        )


class MyRegionFilter(admin.SimpleListFilter):
    """The regions the signed-in regional manager looks after, or any one region."""

    title = _("region")
    parameter_name = "region"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        regions = [(str(r.pk), f"{r.code} {r.name}") for r in Region.objects.order_by("code")]
        if Region.objects.filter(manager_id=request.user.pk).exists():
            return [("mine", _("my regions")), *regions]
        return regions

    def queryset(self, request: HttpRequest, queryset: QuerySet[LeadRouting]) -> QuerySet[LeadRouting]:
        if self.value() == "mine":
            return queryset.filter(dealer__region__manager_id=request.user.pk)
        if self.value() and self.value() != "mine":
            return queryset.filter(dealer__region_id=str(self.value()))
        return queryset


class EscalationOpenFilter(admin.SimpleListFilter):
    """Escalated leads still waiting for their first contact: what the regional manager chases."""

    title = _("first contact")
    parameter_name = "contact"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("waiting", _("still waiting")), ("made", _("made"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[LeadRouting]) -> QuerySet[LeadRouting]:
        waiting = Q(lead__first_contacted_at__isnull=True, lead__stage__in=Lead.OPEN_STAGES)
        if self.value() == "waiting":
            return queryset.filter(waiting)
        if self.value() == "made":
            return queryset.exclude(waiting)
        return queryset


@admin.register(LeadRouting)
class LeadRoutingAdmin(ReadOnlyAdmin):
    """Routed leads and their first-contact escalation; a regional manager filters on level 2 and "my regions"."""

    list_display = (
        "lead_link",
        "dealer",
        "region",
        "method",
        "first_contact_due_at",
        "escalation_level",
        "last_escalated_at",
        "next_escalation_at",
        "first_contacted",
    )
    list_filter = ("escalation_level", MyRegionFilter, EscalationOpenFilter, "method")
    search_fields = ("=lead__id", "dealer__number")
    list_select_related = ("dealer__region", "lead__prospect")

    @admin.display(description=_("lead"), ordering="lead__created_at")
    def lead_link(self, obj: LeadRouting) -> str:
        url = reverse("admin:crm_lead_change", args=[obj.lead_id])
        return format_html('<a href="{}">{}</a>', url, obj.lead)

    @admin.display(description=_("region"), ordering="dealer__region__code")
    def region(self, obj: LeadRouting) -> str:
        return obj.dealer.region.code

    @admin.display(description=_("first contacted"), ordering="lead__first_contacted_at")
    def first_contacted(self, obj: LeadRouting) -> Any:
        return obj.lead.first_contacted_at or "-"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*super().get_readonly_fields(request, obj), "summary"]

    @admin.display(description=_("summary"))
    def summary(self, obj: LeadRouting) -> str:
        if not obj.decisions:  # a routing recorded without its decisions: nothing to summarise, not an error page
            return "-"
        return format_html("<pre>{}</pre>", "\n".join(routing_summary(obj.decisions)))


def suggestion_text(suggestion: dict[str, Any] | None) -> str:
    """The routing steps' best guess with its evidence, in the reader's language."""
    if not suggestion:
        return gettext("none: no address, city or landline number to go by")
    evidence = suggestion.get("evidence", {})
    towns = ", ".join(evidence.get("towns", []))
    if suggestion.get("method") == "area_code":
        basis = gettext("landline area code %(code)s (%(towns)s)") % {"code": evidence.get("area_code"), "towns": towns}
    else:
        basis = gettext("city %(city)s (%(towns)s)") % {"city": evidence.get("city"), "towns": towns}
    candidates = evidence.get("candidates", [])
    if candidates:
        held = gettext("%(n)s postcodes in territories %(territories)s") % {
            "n": candidates[0]["postcodes"],
            "territories": ", ".join(candidates[0]["territories"]),
        }
        if len(candidates) > 1:
            held += "; " + gettext("also: %(others)s") % {
                "others": ", ".join(f"{c['dealer']} ({c['postcodes']})" for c in candidates[1:4])
            }
    else:
        held = gettext("no territory holds its postcodes; nearest dealership, %(km)s km") % {
            "km": (evidence.get("nearest") or {}).get("distance_km", "?")
        }
    return f"{suggestion['dealer']} {suggestion['name']}: {basis}; {held}"


class WaitingFilter(ChoicesFilter):
    title = _("state")
    parameter_name = "state"
    narrowings: ClassVar = {
        "waiting": (_("waiting"), lambda rows: rows.filter(assigned_at__isnull=True)),
        "overdue": (
            _("waiting, past deadline"),
            lambda rows: rows.filter(assigned_at__isnull=True, due_at__lt=timezone.now()),
        ),
        "assigned": (_("assigned"), lambda rows: rows.filter(assigned_at__isnull=False)),
    }


class AssignForm(ActionForm):
    dealer_number = forms.CharField(
        label=_("Dealer number"),
        required=False,
        max_length=5,
        help_text=_("Empty: each lead goes to its suggested dealership."),
    )


@admin.register(UnroutedLead)
class UnroutedLeadAdmin(ReadOnlyAdmin):
    """The lead desk's queue: valid leads no routing step could place, with the steps' best guess."""

    list_display = (
        "received_at",
        "customer_name",
        "city",
        "source",
        "suggested",
        "due_at",
        "desk_alerted_at",
        "assigned_at",
        "dealer",
    )
    list_filter = (WaitingFilter, "source")
    search_fields = ("customer_name", "city", "=id", "=document__id")
    list_select_related = ("dealer",)
    fields = (
        "id",
        "received_at",
        "source",
        "customer_name",
        "city",
        "suggested",
        "routing_display",
        "due_at",
        "desk_alerted_at",
        "assigned_at",
        "assigned_by",
        "dealer",
        "lead",
        "document",
        "payload_display",
    )
    readonly_fields = fields
    action_form = AssignForm
    actions = ("assign_to_dealership",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The list's action needs the lead desk's change permission; a single entry stays read-only.
        return obj is None and super(ReadOnlyAdmin, self).has_change_permission(request, obj)

    @admin.display(description=_("suggested dealership"))
    def suggested(self, obj: UnroutedLead) -> str:
        return suggestion_text(obj.suggestion)

    @admin.display(description=_("routing steps"))
    def routing_display(self, obj: UnroutedLead) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.routing, indent=2, ensure_ascii=False))

    @admin.display(description=_("intake payload"))
    def payload_display(self, obj: UnroutedLead) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False))

    @admin.action(
        description=_("Assign to the dealership (the number given, else the suggestion)"), permissions=["change"]
    )
    def assign_to_dealership(self, request: HttpRequest, queryset: QuerySet[UnroutedLead]) -> None:
        number = request.POST.get("dealer_number") or ""
        done = 0
        for unrouted in queryset.filter(assigned_at__isnull=True).order_by("received_at"):
            try:
                assign_unrouted(unrouted_id=unrouted.pk, dealer_number=number, user=request.user)  # type: ignore[arg-type]
            except ValidationError as error:
                self.message_user(request, f"{unrouted}: {' '.join(error.messages)}", messages.ERROR)
            else:
                done += 1
        self.message_user(
            request,
            ngettext("%(n)d lead assigned.", "%(n)d leads assigned.", done) % {"n": done},
            messages.SUCCESS if done else messages.WARNING,
        )


class ImportRowErrorInline(admin.TabularInline):
    model = ImportRowError
    fields = ("line", "field", "message", "row")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False


@admin.register(ImportRun)
class ImportRunAdmin(ActorNamesAdmin, ReadOnlyAdmin):
    actor_fields = ("actor_label",)  # "File import", "API key DMS (...)" or the person (dealers.admin_base)
    list_display = (
        "started_at",
        "dealer",
        "filename",
        "kind",
        "origin",
        "status",
        "rows_total",
        "rows_ok",
        "rows_failed",
    )
    list_filter = ("status", "kind", "origin")
    search_fields = ("filename", "dealer__number", "sha256")
    date_hierarchy = "started_at"
    list_select_related = ("dealer",)
    fields = (
        "dealer",
        "filename",
        "kind",
        "origin",
        "status",
        "error",
        "rows_total",
        "rows_ok",
        "rows_failed",
        "encoding",
        "delimiter",
        "size",
        "sha256",
        "stored_path",
        "actor_label",
        "started_at",
        "finished_at",
    )
    readonly_fields = fields
    inlines = (ImportRowErrorInline,)

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).defer("content")
