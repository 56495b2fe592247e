"""CSV exports of the prospect and lead lists as filtered on screen: scoped, audited, streamed."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from crm import exports
from crm.selectors import leads_for, prospects_for
from crm.ui.views.common import actor, viewer
from crm.ui.views.leads import lead_filterset
from crm.ui.views.prospects import prospect_filterset
from dealers.access import membership_required
from dealers.actors import record_audit

logger = logging.getLogger(__name__)


def _filters(request: HttpRequest) -> dict[str, list[str]]:
    return {key: request.GET.getlist(key)[:20] for key in list(request.GET)[:30] if key != "after"}


def _csv_response(rows: Iterator[str], name: str) -> Any:
    """A streamed CSV download (typed ``Any``: the access decorator is typed for plain HttpResponse views)."""
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@membership_required()
def prospect_export(request: HttpRequest) -> HttpResponse:
    membership = viewer(request)
    filterset = prospect_filterset(request, prospects_for(membership))
    record_audit(
        actor=actor(request), action="prospects.exported", dealer_id=membership.dealer_id, data=_filters(request)
    )
    logger.info("prospects_exported", extra={"dealer_id": membership.dealer_id, "user_id": membership.user_id})
    return _csv_response(exports.prospect_rows(filterset.qs), exports.filename("prospects"))


@membership_required()
def lead_export(request: HttpRequest) -> HttpResponse:
    membership = viewer(request)
    filterset = lead_filterset(request, leads_for(membership))
    record_audit(actor=actor(request), action="leads.exported", dealer_id=membership.dealer_id, data=_filters(request))
    logger.info("leads_exported", extra={"dealer_id": membership.dealer_id, "user_id": membership.user_id})
    return _csv_response(exports.lead_rows(filterset.qs), exports.filename("leads"))
