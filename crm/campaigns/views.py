"""The dealership's campaign pages (managers): list, form, the selection's preview and its CSV export, and the
results per campaign (every role: a salesperson sees the figures of their own leads, like the reports page)."""

from __future__ import annotations

import logging
from datetime import UTC
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import exports, replica
from crm.campaigns import reports
from crm.campaigns.forms import CampaignForm
from crm.campaigns.models import Campaign
from crm.campaigns.selectors import PREVIEW_SIZE, campaigns_for, names_by_code, selection
from crm.campaigns.services import create_campaign, update_campaign
from crm.models import Prospect
from crm.read_audit import ReadAudit, record_read
from crm.selectors import leads_for
from crm.services.consents import withdrawal_url
from crm.ui.views.common import actor, done, submit, submitted, viewer
from crm.ui.views.reports import PERIODS, chosen_period
from dealers.access import MANAGERS, membership_required
from dealers.actors import record_audit

logger = logging.getLogger(__name__)


def _campaign_or_404(request: HttpRequest, pk: Any) -> Campaign:
    """A campaign the dealership sees (its own or the manufacturer's); any other is a 404."""
    return get_object_or_404(Campaign.objects.visible_to(viewer(request)).select_related("vehicle_model"), pk=pk)


@membership_required(*MANAGERS)
def campaign_list(request: HttpRequest) -> HttpResponse:
    campaigns = campaigns_for(viewer(request))
    return render(request, "campaigns/list.html", {"campaigns": campaigns, "today": timezone.localdate()})


def _form_page(request: HttpRequest, form: CampaignForm, *, title: str, campaign: Campaign | None) -> HttpResponse:
    return render(request, "campaigns/form.html", {"form": form, "title": title, "campaign": campaign})


@membership_required(*MANAGERS)
def campaign_create(request: HttpRequest) -> HttpResponse:
    membership = viewer(request)
    form = CampaignForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        campaign = submit(
            form,
            lambda: create_campaign(dealer_id=membership.dealer_id, data=form.service_data(), actor=actor(request)),
        )
        if campaign is not None:
            messages.success(request, _("Campaign saved."))
            return done(request, reverse("campaign_detail", args=[campaign.pk]))
    return _form_page(request, form, title=_("New campaign"), campaign=None)


@membership_required(*MANAGERS)
def campaign_edit(request: HttpRequest, pk: Any) -> HttpResponse:
    """The dealership's own campaigns; the manufacturer's are changed in the admin only."""
    campaign = _campaign_or_404(request, pk)
    if campaign.is_network:
        raise PermissionDenied
    form = CampaignForm(request.POST if request.method == "POST" else None, instance=campaign)
    saved = submitted(
        request,
        form,
        lambda: update_campaign(campaign=campaign, data=form.service_data(), actor=actor(request)),
        success=_("Campaign saved."),
        then=reverse("campaign_detail", args=[campaign.pk]),
    )
    return saved or _form_page(request, form, title=_("Edit campaign"), campaign=campaign)


def _selection(request: HttpRequest, pk: Any) -> tuple[Campaign, QuerySet[Prospect], int]:
    """The campaign (a 404 unless the dealership sees it), the prospects it selects now, and how many."""
    campaign = _campaign_or_404(request, pk)
    chosen = selection(viewer(request), campaign)
    return campaign, chosen, chosen.count()


@membership_required(*MANAGERS)
def campaign_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    """The campaign and its selection now: how many prospects, and the first of them."""
    campaign, chosen, count = _selection(request, pk)
    first = list(chosen.order_by(*Prospect.NAME_ORDER)[:PREVIEW_SIZE])
    record_read(
        request,
        action=ReadAudit.Action.VIEW,
        dealer_id=viewer(request).dealer_id,
        data={"object_type": "crm.prospect", "campaign": str(campaign.pk), "count": len(first)},
    )
    context = {"campaign": campaign, "count": count, "first": first, "preview_size": PREVIEW_SIZE}
    return render(request, "campaigns/detail.html", context)


@membership_required(*MANAGERS)
def campaign_export(request: HttpRequest, pk: Any) -> HttpResponse:
    """The selection as CSV: what the channel needs, the consent it rests on, each person's withdrawal link."""
    membership = viewer(request)
    campaign, chosen, count = _selection(request, pk)
    record_audit(
        actor=actor(request),
        action="campaign.exported",
        dealer_id=membership.dealer_id,
        obj=campaign,
        data={"code": campaign.code, "purpose": campaign.purpose, "count": count},
    )
    record_read(
        request,
        action=ReadAudit.Action.EXPORT,
        dealer_id=membership.dealer_id,
        data={"object_type": "crm.prospect", "campaign": str(campaign.pk), "purpose": campaign.purpose, "count": count},
    )
    logger.info("campaign_exported", extra={"dealer_id": membership.dealer_id, "user_id": membership.user_id})
    base_url = request.build_absolute_uri("/")
    purpose = campaign.purpose
    rows = exports.marketing_rows(
        chosen, purpose=purpose, withdrawal_url=lambda p: withdrawal_url(prospect=p, purpose=purpose, base_url=base_url)
    )
    response: Any = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    name = exports.filename(f"campaign-{campaign.code.lower()}")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@membership_required()
def campaign_report(request: HttpRequest) -> HttpResponse:
    """Leads per campaign and dealership: contacted, test drives, quotes, won (a salesperson: their own leads)."""
    period, since = chosen_period(request)
    who = viewer(request)
    leads = leads_for(who)
    if who.restricted_to_own:
        leads = leads.filter(owner_id=who.user_id)
    rows = replica.read_with_fallback(lambda using: reports.campaign_results(leads.using(using), since))
    known = names_by_code(who)
    context = {
        "period": period,
        "periods": list(PERIODS.items()),
        "rows": [(row, known.get(row.code)) for row in rows],
        "since": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),  # the lead list's created_after
    }
    return render(request, "campaigns/report.html", context)
