"""The manufacturer's campaigns in the admin: network-wide ones are made and changed here (through the services),
the dealerships' own are shown read-only; the results page counts every dealership's campaign leads."""

from __future__ import annotations

from copy import copy
from datetime import timedelta
from typing import Any, ClassVar

from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from crm.campaigns import reports, services
from crm.campaigns.forms import CampaignForm
from crm.campaigns.models import Campaign
from crm.campaigns.selectors import selection_by_dealership
from crm.models import Lead, Prospect
from dealers.actors import Actor
from dealers.admin_base import ExtraPagesAdmin

RESULTS_DAYS = 365


class CampaignAdminForm(CampaignForm):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        trial = copy(self.instance)
        for name, value in self.service_data().items():
            setattr(trial, name, services.normalise_code(value) if name == "code" else value)
        try:
            services.validate(trial)
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                self.add_error(name if name in self.fields else None, messages)
        return cleaned


@admin.register(Campaign)
class CampaignAdmin(ExtraPagesAdmin):
    form = CampaignAdminForm
    list_display = ("name", "code", "dealer", "channel", "starts_on", "ends_on", "vehicle_model", "selection")
    list_filter = ("channel", ("dealer", admin.EmptyFieldListFilter))
    search_fields = ("name", "code", "=dealer__number")
    list_select_related = ("dealer", "vehicle_model")
    ordering = ("-starts_on", "name")
    extra_pages: ClassVar = (
        ("results/", "results_view", "campaigns_campaign_results"),
        ("<path:object_id>/selection/", "selection_view", "campaigns_campaign_selection"),
    )

    @admin.display(description=_("Selection"))
    def selection(self, obj: Campaign) -> str:
        url = reverse("admin:campaigns_campaign_selection", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("by dealership"))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A dealership's own campaign is its managers' to change; the manufacturer reads it.
        return super().has_change_permission(request, obj) and (obj is None or obj.dealer_id is None)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # leads carry the code: a campaign ends, it is not deleted

    def save_model(self, request: HttpRequest, obj: Campaign, form: Any, change: bool) -> None:
        actor = Actor.for_user(request.user)
        data = form.service_data()
        if change:
            services.update_campaign(campaign=obj, data=data, actor=actor)
            return
        saved = services.create_campaign(dealer_id=None, data=data, actor=actor)
        obj.pk, obj.code, obj.dealer_id = saved.pk, saved.code, None
        obj._state.adding = False

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Nothing beside the campaign: the service saved it."""

    def selection_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """How many prospects a campaign reaches per dealership now (counts only, no person)."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        campaign = self.get_object(request, object_id)
        if campaign is None:
            raise Http404
        prospects = self.admin_site._registry[Prospect].get_queryset(request)  # the admin's audited scope
        rows = selection_by_dealership(prospects, campaign)
        context = {"campaign": campaign, "rows": rows, "total": sum(n for _number, _name, n in rows)}
        return self.render_page(request, "admin/campaigns/selection.html", _("Selection by dealership"), context)

    def results_view(self, request: HttpRequest) -> HttpResponse:
        """Leads per campaign and dealership in the last 12 months, network-wide (the admin's audited scope)."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        since = timezone.now() - timedelta(days=RESULTS_DAYS)
        leads = self.admin_site._registry[Lead].get_queryset(request)  # the admin's audited manufacturer scope
        rows = reports.campaign_results(leads, since)
        names = {
            (d, code.upper()): name
            for d, code, name in self.get_queryset(request).values_list("dealer_id", "code", "name")
        }
        context = {
            "rows": [(row, names.get((row.dealer_id, row.code)) or names.get((None, row.code), "")) for row in rows],
            "days": RESULTS_DAYS,
        }
        return self.render_page(request, "admin/campaigns/results.html", _("Campaign results"), context)
