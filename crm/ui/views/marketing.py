"""A campaign's selection: the prospects whose consent ledger allows a marketing purpose, as CSV (managers).

Every row carries the person's withdrawal link, which each message of the campaign must include.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from crm import exports
from crm.models import Consent
from crm.read_audit import ReadAudit, record_read
from crm.selectors import MARKETING_CONTACT, marketing_audience
from crm.services.consents import withdrawal_url
from crm.ui.views.common import actor, viewer
from dealers.access import MANAGERS, membership_required
from dealers.actors import record_audit

logger = logging.getLogger(__name__)


@membership_required(*MANAGERS)
def marketing_export(request: HttpRequest) -> HttpResponse:
    purpose = request.GET.get("purpose") or Consent.Purpose.MARKETING_EMAIL
    if purpose not in MARKETING_CONTACT:
        return HttpResponse(status=400)
    membership = viewer(request)
    audience = marketing_audience(membership, purpose)
    base_url = request.build_absolute_uri("/")
    record_audit(
        actor=actor(request),
        action="prospects.marketing_exported",
        dealer_id=membership.dealer_id,
        data={"purpose": purpose},
    )
    record_read(
        request,
        action=ReadAudit.Action.EXPORT,
        dealer_id=membership.dealer_id,
        data={"object_type": "crm.prospect", "purpose": purpose, "count": audience.count()},
    )
    logger.info("marketing_exported", extra={"dealer_id": membership.dealer_id, "user_id": membership.user_id})
    rows = exports.marketing_rows(
        audience,
        purpose=purpose,
        withdrawal_url=lambda p: withdrawal_url(prospect=p, purpose=purpose, base_url=base_url),
    )
    response: Any = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{exports.filename(purpose.replace("_", "-"))}"'
    response["Cache-Control"] = "no-store"
    return response
