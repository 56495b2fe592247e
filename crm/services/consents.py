"""The consent ledger: every grant and withdrawal is a new, unchangeable entry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from crm import changes
from crm.models import Consent, Prospect
from dealers.actors import Actor, record_audit


@transaction.atomic
def record_consent(
    *,
    prospect: Prospect,
    purpose: str,
    status: str,
    actor: Actor,
    channel: str = "",
    source: str = "",
    text_version: str = "",
    at: datetime | None = None,
    double_opt_in_at: datetime | None = None,
    evidence: dict[str, Any] | None = None,
) -> Consent:
    consent = Consent.objects.create(
        dealer_id=prospect.dealer_id,
        prospect=prospect,
        purpose=purpose,
        status=status,
        channel=channel,
        source=source,
        text_version=text_version,
        at=at or timezone.now(),
        double_opt_in_at=double_opt_in_at,
        evidence=evidence or {},
        recorded_by=actor.label,
    )
    changes.record(dealer_id=prospect.dealer_id, type="consent.recorded", obj=consent, actor=actor)
    record_audit(
        actor=actor, action=f"consent.{status}", dealer_id=prospect.dealer_id, obj=prospect, data={"purpose": purpose}
    )
    return consent
