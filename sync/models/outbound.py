"""Outbound models: destinations, delivery state, dead letters.

The change log (``crm.models.Change``) is the outbox. Each :class:`Destination` keeps its own
position in its dealership's stream (``cursor_txid``, ``cursor_change_id``: the last change it is
done with, in ``(txid, id)`` order), the next attempt time of the change at its head, and a lease
so that exactly one worker delivers a destination's stream at a time. Nothing about pending work
lives in Redis: a lost or repeated Celery message only wakes the relay up, or not.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealers.fields import actor_label_field, created_field, dealership_field, updated_field
from dealers.scoping import DealerScopedQuerySet

__all__ = [
    "DEFAULT_EVENT_TYPES",
    "EVENT_TYPES",
    "EVENT_TYPE_LABELS",
    "DeadLetter",
    "DeliveryStats",
    "Destination",
    "event_type_label",
    "secret_fingerprint",
]


def secret_fingerprint(secret: str) -> str:
    """What pages show instead of a signing secret: the first 12 hex digits of its SHA-256.

    A dealer system can compute the same from the secret it holds to see which one it has
    (``hashlib.sha256(secret.encode()).hexdigest()[:12]``); it reveals nothing usable.
    """
    return f"sha256:{hashlib.sha256(secret.encode()).hexdigest()[:12]}" if secret else ""


# The event types of docs/sync.md: what a destination receives unless it chooses otherwise.
DEFAULT_EVENT_TYPES: tuple[str, ...] = (
    "lead.created",
    "lead.assigned",
    "lead.updated",
    "lead.closed",
    "prospect.created",
    "prospect.updated",
    "prospect.merged",
    "prospect.erased",
    "sync.resync_required",
)
# Types a destination may opt into besides the defaults (the change log also records these).
EXTRA_EVENT_TYPES: tuple[str, ...] = (
    "activity.created",
    "activity.updated",
    "task.created",
    "task.updated",
)
EVENT_TYPES: tuple[str, ...] = DEFAULT_EVENT_TYPES + EXTRA_EVENT_TYPES
# How people read them; the code stays beside the words, as the integrator's documentation names it.
EVENT_TYPE_LABELS: dict[str, Any] = {
    "lead.created": _("New lead"),
    "lead.assigned": _("Lead assigned"),
    "lead.updated": _("Lead changed"),
    "lead.closed": _("Lead won or lost"),
    "prospect.created": _("New prospect"),
    "prospect.updated": _("Prospect changed"),
    "prospect.merged": _("Prospects merged"),
    "prospect.erased": _("Prospect anonymised"),
    "sync.resync_required": _("Full resync needed"),
    "activity.created": _("New activity"),
    "activity.updated": _("Activity changed"),
    "task.created": _("New task"),
    "task.updated": _("Task changed"),
}


def event_type_label(code: str) -> str:
    """``New lead (lead.created)``: words first, the code for the integrator; an unknown code as it is."""
    label = EVENT_TYPE_LABELS.get(code)
    return f"{label} ({code})" if label else code


class Destination(models.Model):
    """Where one dealership's changes go, and how far that delivery has come."""

    class Transport(models.TextChoices):
        WEBHOOK = "webhook", _("Signed JSON webhook")
        ADF_WEBHOOK = "adf_webhook_for_lead_created", _("Signed webhook, ADF XML for new leads")
        FILE_DROP = "file_drop", _("File drop folder (CSV and ADF)")
        PULL_ONLY = "pull_only", _("Pull only (API change feed)")

    dealer = dealership_field(models.CASCADE, related_name="sync_destinations")
    name = models.CharField(_("name"), max_length=100, default="DMS")
    transport = models.CharField(_("transport"), max_length=40, choices=Transport.choices, default=Transport.WEBHOOK)
    url = models.URLField(_("webhook URL"), max_length=500, blank=True)
    secret = models.CharField(_("signing secret"), max_length=200, blank=True, help_text=_("whsec_..."))
    previous_secret = models.CharField(_("previous signing secret"), max_length=200, blank=True)
    previous_secret_expires_at = models.DateTimeField(_("previous secret valid until"), null=True, blank=True)
    event_types = models.JSONField(
        _("event types"), default=list, blank=True, help_text=_("Empty: the standard lead and prospect events.")
    )
    paused = models.BooleanField(_("paused"), default=False)
    paused_at = models.DateTimeField(_("paused at"), null=True, blank=True)

    # Stream position: the last change this destination is done with (delivered or dead-lettered).
    cursor_txid = models.BigIntegerField(_("cursor transaction id"), default=0)
    cursor_change_id = models.BigIntegerField(_("cursor change id"), default=0)
    # The change at the head of the stream: failed attempts so far and when to try again.
    attempts = models.PositiveIntegerField(_("failed attempts of the head event"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    # One worker at a time: a lease taken with FOR UPDATE SKIP LOCKED, expiring if the worker dies.
    lease_token = models.UUIDField(null=True, blank=True, editable=False)
    leased_until = models.DateTimeField(null=True, blank=True, editable=False)

    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True)
    last_failure_at = models.DateTimeField(_("last failure"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    delivered_total = models.BigIntegerField(_("delivered"), default=0)
    failed_total = models.BigIntegerField(_("failed attempts"), default=0)
    created_at = created_field()
    updated_at = updated_field()

    objects = DealerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("sync destination")
        verbose_name_plural = _("sync destinations")
        ordering: ClassVar = ["dealer_id", "id"]
        indexes: ClassVar = [models.Index(fields=["paused", "next_attempt_at"], name="sync_dest_due")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_transport_display()})"

    @property
    def secret_fingerprint(self) -> str:
        return secret_fingerprint(self.secret)

    @property
    def previous_secret_fingerprint(self) -> str:
        """The rotated-out secret's fingerprint while it still signs, else empty."""
        if (
            self.previous_secret
            and self.previous_secret_expires_at
            and self.previous_secret_expires_at > timezone.now()
        ):
            return secret_fingerprint(self.previous_secret)
        return ""

    @property
    def wanted_types(self) -> tuple[str, ...]:
        return tuple(self.event_types) if self.event_types else DEFAULT_EVENT_TYPES

    @property
    def delivers(self) -> bool:
        return self.transport != self.Transport.PULL_ONLY


class DeadLetterQuerySet(DealerScopedQuerySet):
    def open(self) -> DeadLetterQuerySet:
        return self.filter(status__in=[DeadLetter.Status.DEAD, DeadLetter.Status.RETRYING])


class DeadLetter(models.Model):
    """A change a destination gave up on after the retry schedule; its stream went on without it."""

    class Status(models.TextChoices):
        DEAD = "dead", _("Dead")
        RETRYING = "retrying", _("Retry requested")
        DELIVERED = "delivered", _("Delivered")
        DISCARDED = "discarded", _("Discarded")

    dealer = dealership_field(models.CASCADE)
    destination = models.ForeignKey(
        Destination, verbose_name=_("destination"), on_delete=models.CASCADE, related_name="dead_letters"
    )
    change = models.ForeignKey("crm.Change", verbose_name=_("change"), on_delete=models.CASCADE, related_name="+")
    event_id = models.UUIDField(_("event id"))
    type = models.CharField(_("event type"), max_length=40)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DEAD)
    created_at = models.DateTimeField(_("dead-lettered"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = actor_label_field(_("resolved by"))

    objects = DeadLetterQuerySet.as_manager()

    class Meta:
        verbose_name = _("dead letter")
        verbose_name_plural = _("dead letters")
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["destination", "change"], name="sync_deadletter_once"),
        ]
        indexes: ClassVar = [models.Index(fields=["dealer", "status"], name="sync_deadletter_open")]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"

    @property
    def type_label(self) -> str:
        return event_type_label(self.type)


class DeliveryStats(models.Model):
    """Deliveries, failures and latency of one destination in one hour (for rates and metrics)."""

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="stats")
    hour = models.DateTimeField()
    delivered = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    latency_ms_total = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("delivery statistics")
        verbose_name_plural = _("delivery statistics")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["destination", "hour"], name="sync_stats_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.destination_id} {self.hour:%Y-%m-%d %H}h"
