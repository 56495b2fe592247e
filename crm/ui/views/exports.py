"""CSV exports of the prospect and lead lists as filtered on screen: scoped, audited, streamed."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from crm import exports, replica
from crm.read_audit import ReadAudit, record_read
from crm.selectors import leads_for, prospects_for
from crm.services import subject_access
from crm.ui.views.common import actor, lead_filterset, prospect_filterset, prospect_or_404, viewer
from dealers.access import DEALER_ADMINS, membership_required
from dealers.actors import record_audit
from dealers.models import Membership

logger = logging.getLogger(__name__)
Q = TypeVar("Q", bound=Model)


def _filters(request: HttpRequest) -> dict[str, list[str]]:
    return {key: request.GET.getlist(key)[:20] for key in list(request.GET)[:30] if key != "after"}


def _from_replica_if_fresh(rows: QuerySet[Q]) -> tuple[QuerySet[Q], int]:
    """The export's rows on the server that streams them, with their count from the same server.

    A list exported as filtered on screen may lag the primary by the replica's bound (crm/replica.py);
    the count is taken there so the audit row names what was exported. Streaming reads after the view
    returns, so a replica that fails mid-download ends it early (as a failing primary would).
    """
    return replica.read_with_fallback(lambda using: (rows.using(using), rows.using(using).count()))


def _record_export(request: HttpRequest, membership: Membership, object_type: str, count: int) -> None:
    """One read audit row per export, with its row count and filters (never one row per exported row)."""
    record_read(
        request,
        action=ReadAudit.Action.EXPORT,
        dealer_id=membership.dealer_id,
        data={"object_type": object_type, "count": count, "filters": _filters(request)},
    )


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
    rows, count = _from_replica_if_fresh(filterset.qs)
    _record_export(request, membership, "crm.prospect", count)
    logger.info("prospects_exported", extra={"dealer_id": membership.dealer_id, "user_id": membership.user_id})
    return _csv_response(exports.prospect_rows(rows), exports.filename("prospects"))


@membership_required()
def lead_export(request: HttpRequest) -> HttpResponse:
    membership = viewer(request)
    filterset = lead_filterset(request, leads_for(membership))
    record_audit(actor=actor(request), action="leads.exported", dealer_id=membership.dealer_id, data=_filters(request))
    rows, count = _from_replica_if_fresh(filterset.qs)
    _record_export(request, membership, "crm.lead", count)
    logger.info("leads_exported", extra={"dealer_id": membership.dealer_id, "user_id": membership.user_id})
    return _csv_response(exports.lead_rows(rows), exports.filename("leads"))


@membership_required(*DEALER_ADMINS)
def prospect_personal_data(request: HttpRequest, pk: Any) -> HttpResponse:
    """GDPR Art. 15/20: this dealership's data about the person, as a ZIP of JSON and CSV (dealer admins)."""
    prospect = prospect_or_404(request, pk)
    export = subject_access.export_for_dealership(request=request, membership=viewer(request), prospect=prospect)
    logger.info("personal_data_exported", extra={"dealer_id": prospect.dealer_id, "user_id": request.user.pk})
    response = HttpResponse(export.content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["Cache-Control"] = "no-store"
    return response
