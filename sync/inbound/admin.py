"""Admin pages for the inbound side: intake documents (lead desk), routings, file imports. Read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from crm.routing_decisions import routing_summary
from dealers.admin_base import ReadOnlyAdmin
from sync.models import ImportRowError, ImportRun, IntakeDocument, LeadRouting


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


@admin.register(LeadRouting)
class LeadRoutingAdmin(ReadOnlyAdmin):
    list_display = ("lead", "dealer", "method", "first_contact_due_at", "escalation_level", "next_escalation_at")
    list_filter = ("method", "escalation_level")
    search_fields = ("=lead__id", "dealer__number")
    list_select_related = ("dealer", "lead__prospect")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*super().get_readonly_fields(request, obj), "summary"]

    @admin.display(description=_("summary"))
    def summary(self, obj: LeadRouting) -> str:
        if not obj.decisions:  # a routing recorded without its decisions: nothing to summarise, not an error page
            return "-"
        return format_html("<pre>{}</pre>", "\n".join(routing_summary(obj.decisions)))


class ImportRowErrorInline(admin.TabularInline):
    model = ImportRowError
    fields = ("line", "field", "message", "row")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False


@admin.register(ImportRun)
class ImportRunAdmin(ReadOnlyAdmin):
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
