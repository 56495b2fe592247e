"""The manufacturer's admin for the prospect and lead domain: network-wide reading, the lead desk, lost reasons.

Prospects, leads, activities, tasks, consents and the change log are read-only here: rows change only
through ``crm.services`` (the dealership UI, the API, sync). The lead desk's one write, taking a lead
back from a salesperson so the dealership reassigns it, is an admin action that calls the service.
The manufacturer maintains the list of lost reasons and the model catalogue.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from crm.models import Activity, Change, Consent, Lead, LeadEvent, LostReason, Prospect, Task, VehicleModel
from crm.read_audit import AuditedChangeView
from crm.services import erasure
from crm.services import leads as lead_services
from dealers.actors import Actor
from dealers.admin_base import ActorNamesAdmin, ChoicesFilter, ExtraPagesAdmin, ReadOnlyAdmin
from dealers.forms import bound_form
from dealers.reauth import confirmed_recently, reauthentication_redirect
from dealers.rls import manufacturer_wide


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LeadInline(ReadOnlyInline):
    model = Lead
    fk_name = "prospect"
    fields = ("created_at", "model_name", "source", "stage", "owner")
    readonly_fields = fields
    ordering = ("-created_at",)


class LeadEventInline(ActorNamesAdmin, ReadOnlyInline):
    model = LeadEvent
    actor_fields = ("actor_label",)  # shown in words, like every actor label (dealers.admin_base)
    fields = ("at", "kind", "from_stage", "to_stage", "actor_label", "data")
    readonly_fields = fields
    show_change_link = False


@admin.register(Prospect)
class ProspectAdmin(AuditedChangeView, ExtraPagesAdmin, ReadOnlyAdmin):
    list_display = ("display_name", "dealer", "email", "postcode", "city", "owner", "origin", "created_at")
    list_filter = ("origin", "kind", ("merged_into", admin.EmptyFieldListFilter), "dealer__region")
    search_fields = ("last_name", "first_name", "company", "email_normalized", "phone", "mobile", "=dealer__number")
    list_select_related = ("dealer", "owner")
    readonly_fields: ClassVar = [f.name for f in Prospect._meta.fields if f.name not in ("search_text",)]
    exclude = ("search_text",)
    inlines = (LeadInline,)
    actions = ("erase_selected",)
    extra_pages: ClassVar = (("erase-by-contact/", "erase_by_contact_view", "crm_prospect_erase_by_contact"),)

    def has_erase_permission(self, request: HttpRequest) -> bool:
        """The data protection officer's right (dealers/roles.py): erase a person at their request."""
        return bool(request.user.is_active and request.user.has_perm("crm.erase_prospect"))

    @admin.action(description=_("Erase personal data (right to erasure)"), permissions=["erase"])
    def erase_selected(self, request: HttpRequest, queryset: QuerySet[Prospect]) -> HttpResponse | None:
        """A confirmation naming the consequences, then the erasure of each selected prospect."""
        if not confirmed_recently(request):
            return reauthentication_redirect(request, reverse("admin:crm_prospect_changelist"))
        prospects = list(queryset.filter(erased_at__isnull=True, merged_into__isnull=True).select_related("dealer"))
        if request.POST.get("post") == "yes":
            self._erase(request, prospects)
            return None
        return self._confirmation(request, prospects, action="erase_selected")

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "can_erase": self.has_erase_permission(request)}
        return super().changelist_view(request, extra_context)

    def erase_by_contact_view(self, request: HttpRequest) -> HttpResponse:
        """The DPO pastes emails and phone numbers, sees the matching prospects of every dealership, confirms."""
        if not self.has_erase_permission(request):
            raise PermissionDenied
        form = bound_form(request, EraseByContactForm)
        if not form.is_valid():
            return self._render(request, "crm/admin/erase_by_contact.html", {"form": form})
        if not confirmed_recently(request):
            return reauthentication_redirect(request, request.path)
        with manufacturer_wide(reason="dpo_erasure"):
            found = erasure.prospects_matching(emails=form.cleaned_data["emails"], phones=form.cleaned_data["phones"])
            if request.POST.get("post") == "yes":
                chosen = set(request.POST.getlist("prospect"))
                self._erase(request, [p for p in found if str(p.pk) in chosen])
                return HttpResponseRedirect(reverse("admin:crm_prospect_changelist"))
            return self._confirmation(request, list(found), contacts=form.cleaned_data["contacts"])

    def _confirmation(self, request: HttpRequest, prospects: list[Prospect], **extra: Any) -> HttpResponse:
        return self._render(
            request,
            "crm/admin/erase_confirm.html",
            {
                "prospects": prospects,
                "counts": _counts(self.get_queryset(request), [p.pk for p in prospects]),
                **extra,
            },
        )

    def _render(self, request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
        return self.render_page(request, template, _("Erase personal data"), context)

    def _erase(self, request: HttpRequest, prospects: list[Prospect]) -> None:
        actor = Actor.for_user(request.user)
        for prospect in prospects:
            erasure.erase_prospect(prospect=prospect, actor=actor)
        self.message_user(
            request,
            ngettext("%(n)d person erased.", "%(n)d people erased.", len(prospects)) % {"n": len(prospects)},
            messages.SUCCESS,
        )


def _counts(prospects: QuerySet[Prospect], prospect_ids: list[Any]) -> dict[str, Any]:
    """Leads, activities and tasks the erasure keeps without the person (what the confirmation names)."""
    return prospects.filter(pk__in=prospect_ids).aggregate(
        leads=Count("leads", distinct=True),
        activities=Count("activities", distinct=True),
        tasks=Count("tasks", distinct=True),
    )


class EraseByContactForm(forms.Form):
    contacts = forms.CharField(
        label=_("Emails and phone numbers"),
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("One a line, or separated by commas."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        items = [item.strip() for item in re.split(r"[\n,;]+", data.get("contacts", "")) if item.strip()]
        data["emails"] = [item for item in items if "@" in item]
        data["phones"] = [item for item in items if "@" not in item]
        return data


_AWAITING_FIRST_CONTACT = Q(first_contacted_at__isnull=True, stage=Lead.Stage.NEW)


class FirstContactOverdueFilter(ChoicesFilter):
    title = _("first contact")
    parameter_name = "first_contact"
    narrowings: ClassVar = {
        "overdue": (
            _("overdue"),
            lambda leads: leads.filter(_AWAITING_FIRST_CONTACT, first_contact_due_at__lt=timezone.now()),
        ),
        "waiting": (
            _("waiting, in time"),
            lambda leads: leads.filter(_AWAITING_FIRST_CONTACT).exclude(first_contact_due_at__lt=timezone.now()),
        ),
        "done": (_("made"), lambda leads: leads.filter(first_contacted_at__isnull=False)),
    }


@admin.register(Lead)
class LeadAdmin(AuditedChangeView, ReadOnlyAdmin):
    """The manufacturer's lead desk: every lead of the network, where it stands, who works it."""

    list_display = (
        "created_at",
        "dealer",
        "prospect",
        "model_name",
        "source",
        "stage",
        "owner",
        "first_contact_due_at",
        "first_contacted_at",
    )
    list_filter = (
        "stage",
        FirstContactOverdueFilter,
        ("owner", admin.EmptyFieldListFilter),
        "source",
        "lead_type",
        "dealer__region",
        "lost_reason",
    )
    search_fields = ("prospect__last_name", "prospect__email_normalized", "model_name", "=dealer__number", "=id")
    list_select_related = ("dealer", "prospect", "owner", "lost_reason")
    date_hierarchy = "created_at"
    inlines = (LeadEventInline,)
    actions = ("return_to_dealership",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The list's action needs the lead desk's change permission; a single lead stays read-only.
        return obj is None and super(ReadOnlyAdmin, self).has_change_permission(request, obj)

    @admin.action(description=_("Take back from the salesperson (the dealership reassigns)"), permissions=["change"])
    def return_to_dealership(self, request: HttpRequest, queryset: QuerySet[Lead]) -> None:
        actor = Actor.for_user(request.user)
        done = 0
        for lead in queryset.filter(owner__isnull=False).exclude(stage__in=Lead.CLOSED_STAGES).order_by("pk"):
            try:
                lead_services.assign_lead(lead=lead, to_user_id=None, actor=actor, reason="lead desk")
            except ValidationError as error:
                self.message_user(request, f"{lead}: {' '.join(error.messages)}", messages.ERROR)
            else:
                done += 1
        self.message_user(
            request, ngettext("%(n)d lead taken back.", "%(n)d leads taken back.", done) % {"n": done}, messages.SUCCESS
        )


@admin.register(LostReason)
class LostReasonAdmin(admin.ModelAdmin):
    """The manufacturer's managed list; a reason in use is deactivated, never deleted."""

    list_display = ("code", "label_de", "label_en", "is_active", "position")
    list_editable = ("label_de", "label_en", "is_active", "position")
    search_fields = ("code", "label_de", "label_en")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("code",) if obj is not None else ()


@admin.register(VehicleModel)
class VehicleModelAdmin(admin.ModelAdmin):
    """The manufacturer's model range: what the pick lists offer. A retired version is deactivated, never
    deleted, so the admin's history (Django's log of who changed what) stays with it; leads copy the names."""

    list_display = ("model_name", "trim", "powertrain", "list_price", "is_active", "position")
    list_editable = ("list_price", "is_active", "position")
    list_filter = ("is_active", "powertrain", "model_name")
    search_fields = ("model_name", "trim")
    actions = ("activate", "deactivate")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Offer the selected versions in the pick lists"), permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[VehicleModel]) -> None:
        self._set_active(request, queryset, active=True)

    @admin.action(description=_("Retire the selected versions from the pick lists"), permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[VehicleModel]) -> None:
        self._set_active(request, queryset, active=False)

    def _set_active(self, request: HttpRequest, queryset: QuerySet[VehicleModel], *, active: bool) -> None:
        changed = [version for version in queryset.order_by("pk") if version.is_active != active]
        for version in changed:  # one by one, so each lands in the admin's history
            version.is_active = active
            version.save(update_fields=["is_active"])
            self.log_change(request, version, [{"changed": {"fields": ["is_active"]}}])
        self.message_user(
            request,
            ngettext("%(n)d version changed.", "%(n)d versions changed.", len(changed)) % {"n": len(changed)},
            messages.SUCCESS,
        )


@admin.register(Activity)
class ActivityAdmin(AuditedChangeView, ActorNamesAdmin, ReadOnlyAdmin):
    actor_fields = ("author_label",)
    list_display = ("occurred_at", "dealer", "prospect", "kind", "direction", "subject", "author_label")
    list_filter = ("kind", "direction")
    search_fields = ("subject", "prospect__last_name", "=dealer__number")
    list_select_related = ("dealer", "prospect")


@admin.register(Task)
class TaskAdmin(AuditedChangeView, ActorNamesAdmin, ReadOnlyAdmin):
    actor_fields = ("created_by_label",)
    list_display = ("due_at", "dealer", "title", "assignee", "done_at")
    list_filter = (("done_at", admin.EmptyFieldListFilter),)
    search_fields = ("title", "=dealer__number")
    list_select_related = ("dealer", "assignee")


@admin.register(Consent)
class ConsentAdmin(AuditedChangeView, ActorNamesAdmin, ReadOnlyAdmin):
    actor_fields = ("recorded_by",)
    list_display = ("at", "dealer", "prospect", "purpose", "status", "source", "double_opt_in_at")
    list_filter = ("purpose", "status")
    search_fields = ("prospect__last_name", "prospect__email_normalized", "=dealer__number")
    list_select_related = ("dealer", "prospect")


@admin.register(Change)
class ChangeAdmin(ReadOnlyAdmin):
    """The change log that the API's feed and sync's relay read; never edited."""

    list_display = ("id", "occurred_at", "dealer", "type", "object_type", "object_id", "version", "txid")
    list_filter = ("type", "object_type")
    search_fields = ("=object_id", "=event_id", "=dealer__number")
    list_select_related = ("dealer",)
    ordering = ("-id",)


# Admin pages that live beside their services: the retention rules and run reports (crm.services.retention),
# the DPO's read audit and subject export (crm.read_audit, crm.services.subject_access).
from crm import admin_data_protection, retention_admin  # noqa: E402, F401
