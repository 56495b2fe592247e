"""The data protection officer's retention rules and the reports of their runs (imported by crm/admin.py).

A rule is changed here; the periodic job (crm.tasks.apply_retention_rules) applies it. The dry-run
action writes a report of what the next run would take, without changing anything, and opens it.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from crm.models import RetentionRule, RetentionRun
from crm.services.retention import kinds, run_retention
from dealers.actors import Actor
from dealers.admin_base import ActorNamesAdmin, ReadOnlyAdmin


class RetentionRuleForm(forms.ModelForm):
    class Meta:
        model = RetentionRule
        fields = ("kind", "period", "unit", "action", "enabled", "note")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = kinds().get(data.get("kind", ""))
        if kind is not None and data.get("action") and data["action"] not in kind.actions:
            allowed = ", ".join(str(RetentionRule.Action(a).label) for a in sorted(kind.actions))
            self.add_error("action", _("This kind of data can only be: %(allowed)s.") % {"allowed": allowed})
        return data


@admin.register(RetentionRule)
class RetentionRuleAdmin(admin.ModelAdmin):
    form = RetentionRuleForm
    list_display = ("kind", "period", "unit", "action", "enabled", "changed_at")
    list_filter = ("enabled",)
    actions = ("dry_run", "run_now")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a rule is switched off, so its history of changes stays readable

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("kind", "changed_at") if obj is not None else ("changed_at",)

    def _report(self, request: HttpRequest, *, dry_run: bool) -> HttpResponseRedirect:
        run = run_retention(actor=Actor.for_user(request.user), trigger=RetentionRun.Trigger.ADMIN, dry_run=dry_run)
        self.message_user(
            request,
            _("%(what)s: %(count)d rows selected by the enabled rules.")
            % {"what": _("Dry run") if dry_run else _("Retention run"), "count": run.total},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:crm_retentionrun_change", args=[run.pk]))

    @admin.action(description=_("Dry run: show what the next run would do (all enabled rules)"), permissions=["change"])
    def dry_run(self, request: HttpRequest, queryset: QuerySet[RetentionRule]) -> HttpResponseRedirect:
        return self._report(request, dry_run=True)

    @admin.action(description=_("Run now (all enabled rules)"), permissions=["change"])
    def run_now(self, request: HttpRequest, queryset: QuerySet[RetentionRule]) -> HttpResponseRedirect:
        return self._report(request, dry_run=False)


@admin.register(RetentionRun)
class RetentionRunAdmin(ActorNamesAdmin, ReadOnlyAdmin):
    """Every run's report: counts and ids per rule, no personal values."""

    actor_fields = ("started_by",)  # "Retention rules" or the person's name, not system:retention job

    list_display = ("started_at", "dry_run", "trigger", "started_by", "total", "finished_at", "error")
    list_filter = ("dry_run", "trigger")
    readonly_fields = (
        "started_at",
        "finished_at",
        "dry_run",
        "trigger",
        "started_by",
        "counts",
        "report_json",
        "error",
    )
    exclude = ("report",)
    date_hierarchy = "started_at"

    @admin.display(description=_("rows per rule"))
    def counts(self, run: RetentionRun) -> str:
        return ", ".join(f"{kind}: {entry.get('count', 0)}" for kind, entry in run.report.items()) or "-"

    @admin.display(description=_("report"))
    def report_json(self, run: RetentionRun) -> str:
        return format_html("<pre>{}</pre>", json.dumps(run.report, indent=2, sort_keys=True))
