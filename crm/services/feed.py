"""The change feed's epoch: what an operator bumps after a restore or a lost history."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from crm import changes
from crm.models import FeedEpoch
from dealers.actors import Actor, record_audit
from dealers.models import Dealer

logger = logging.getLogger(__name__)


@transaction.atomic
def start_new_feed_epoch(*, actor: Actor, reason: str) -> int:
    """Old feed cursors answer 410 Gone from now on, and every dealer system is told to resync.

    Each active dealership's stream gets a ``sync.resync_required`` event in the same transaction,
    so webhook receivers learn of it the way they learn of everything else.
    """
    epoch, _created = FeedEpoch.objects.select_for_update().get_or_create(id=1, defaults={"epoch": 1})
    FeedEpoch.objects.filter(pk=epoch.pk).update(epoch=F("epoch") + 1, changed_at=timezone.now())
    epoch.refresh_from_db()
    for dealer_id in Dealer.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True):
        changes.record_dealer_event(
            dealer_id=dealer_id,
            type="sync.resync_required",
            version=epoch.epoch,
            data={"epoch": epoch.epoch, "reason": reason},
        )
    record_audit(actor=actor, action="feed.epoch_started", data={"epoch": epoch.epoch, "reason": reason})
    logger.info("feed_epoch_started", extra={"epoch": epoch.epoch})
    return epoch.epoch
