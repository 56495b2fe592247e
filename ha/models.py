"""The scheduler lease and periodic runs (the fence of periodic jobs), the cluster's nodes and operator alerts."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealers.fields import actor_label_field


class SchedulerLease(models.Model):
    """One row: who holds the scheduler lease and its epoch, bumped on every acquisition.

    The lease itself is a PostgreSQL advisory lock held by the scheduler's session on the
    primary; the epoch is the fencing token stamped on every job the holder sends.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    epoch = models.PositiveBigIntegerField(default=0)
    holder = models.CharField(max_length=200, blank=True)
    acquired_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"epoch {self.epoch} held by {self.holder or 'nobody'}"


class PeriodicRun(models.Model):
    """A periodic job's run for one schedule slot: inserted before the job acts, so each slot runs once."""

    task = models.CharField(max_length=200)
    slot = models.CharField(max_length=64)
    epoch = models.PositiveBigIntegerField()
    started_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["task", "slot"], name="periodic_run_once_per_slot")]
        indexes: ClassVar = [models.Index(fields=["started_at"], name="periodic_run_started")]

    def __str__(self) -> str:
        return f"{self.task}@{self.slot} (epoch {self.epoch})"


class ClusterNode(models.Model):
    """One application node as its last heartbeat described it (ha.nodes), and what an operator asked of it.

    Every web, worker and scheduler process of the node beats under the node's name (``HA_NODE_NAME``,
    else the host name). ``requested_state`` is the admin's drain or undrain for a node it cannot
    reach: the node applies it at its next heartbeat through the local drain flag, then clears it.
    """

    class RequestedState(models.TextChoices):
        DRAINING = "draining", _("draining")
        RUNNING = "running", _("running")

    name = models.CharField(_("node"), max_length=200, unique=True)
    role = models.CharField(_("database role"), max_length=16, default="unknown")
    release = models.CharField(_("release"), max_length=200, blank=True)
    state = models.CharField(_("node state"), max_length=16, default="running")
    processes = models.JSONField(_("processes"), default=dict, blank=True)
    first_seen_at = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now, db_index=True)
    requested_state = models.CharField(
        _("requested state"), max_length=16, choices=RequestedState.choices, blank=True, default=""
    )
    requested_at = models.DateTimeField(_("requested at"), null=True, blank=True)
    requested_by = actor_label_field(_("requested by"))

    class Meta:
        verbose_name = _("cluster node")
        verbose_name_plural = _("cluster")
        ordering: ClassVar = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def draining(self) -> bool:
        return self.state != "running"


class Alert(models.Model):
    """Something the operators were told (ha.alerts): one row per event, so each is sent once.

    ``key`` names the event (a failover's new timeline, a lease epoch, one episode of a threshold
    condition); inserting it is what decides that the alert goes out. ``resolved_at`` ends the
    episode of a condition, so that its next episode is told again.
    """

    key = models.CharField(_("event"), max_length=300, unique=True)
    kind = models.CharField(_("kind"), max_length=64)
    subject = models.CharField(_("concerns"), max_length=200, blank=True)
    summary = models.CharField(_("summary"), max_length=500)
    details = models.JSONField(_("details"), default=dict, blank=True)
    raised_at = models.DateTimeField(_("raised"), default=timezone.now, db_index=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)

    class Meta:
        verbose_name = _("operator alert")
        verbose_name_plural = _("operator alerts")
        ordering: ClassVar = ["-raised_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["kind", "subject"], condition=models.Q(resolved_at__isnull=True), name="alert_one_open_episode"
            )
        ]

    def __str__(self) -> str:
        return self.summary


class AlertDelivery(models.Model):
    """One alert on one channel (e-mail, webhook): sent once, retried a few times while the channel fails."""

    alert = models.ForeignKey(Alert, verbose_name=_("alert"), on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(_("channel"), max_length=32)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("alert delivery")
        verbose_name_plural = _("alert deliveries")
        constraints: ClassVar = [models.UniqueConstraint(fields=["alert", "channel"], name="alert_delivery_once")]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.channel}"


class ClusterFact(models.Model):
    """What the alert sweep saw last (database identity, scheduler lease holder), to notice when it moves."""

    name = models.CharField(max_length=64, primary_key=True)
    value = models.JSONField(default=dict)
    observed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name
