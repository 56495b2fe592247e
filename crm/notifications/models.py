"""A person's notifications (bell, list, e-mail) and how each kind reaches them.

A notification names the lead or task it is about and holds no customer data of its own: its text is
built when it is shown, from the record it links to. ``Notification`` rows are owned by one dealership
(row-level security, ``visible_to``); preferences and digest runs belong to the person, across the
dealerships they work for.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealers.fields import dealership_field, optional_link
from dealers.scoping import DealerScopedQuerySet, Viewer


class Kind(models.TextChoices):
    TASK_DUE = "task_due", _("Task due")
    LEAD_ASSIGNED = "lead_assigned", _("New lead assigned")
    SLA_WARNING = "sla_warning", _("First-contact deadline")


class Delivery(models.TextChoices):
    UI = "ui", _("Only in the CRM")
    IMMEDIATE = "immediate", _("Immediately by e-mail")
    DIGEST = "digest", _("Daily e-mail digest")


class NotificationQuerySet(DealerScopedQuerySet):
    owner_field = "recipient"

    def visible_to(self, viewer: Viewer | None) -> NotificationQuerySet:
        """A person's own notifications at the viewer's dealership; nobody else's, whatever their role."""
        if viewer is None or viewer.user_id is None:
            return self.none()
        return self.for_dealer(viewer.dealer_id).filter(recipient_id=viewer.user_id)

    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """Something a person should know about: a task coming due, a lead given to them, a deadline near."""

    Kind = Kind

    dealer = dealership_field()
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recipient"), on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    lead = optional_link("crm.Lead", _("lead"), on_delete=models.CASCADE)
    task = optional_link("crm.Task", _("task"), on_delete=models.CASCADE)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    digested_at = models.DateTimeField(_("sent in a digest"), null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            # The sweep's kinds fire once per person and record, however often it runs.
            models.UniqueConstraint(
                fields=["recipient", "kind", "task"], condition=Q(kind="task_due"), name="notification_task_due_once"
            ),
            models.UniqueConstraint(
                fields=["recipient", "kind", "lead"],
                condition=Q(kind="sla_warning"),
                name="notification_sla_warning_once",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["dealer", "recipient", "-created_at"], name="notification_inbox"),
            # The bell's count on every page: a person's unread ones only.
            models.Index(fields=["dealer", "recipient"], condition=Q(read_at__isnull=True), name="notification_unread"),
            # The digest: a person's notifications not yet sent in one (leads with a foreign key column).
            models.Index(
                fields=["recipient", "created_at"],
                condition=Q(digested_at__isnull=True),
                name="notification_undigested",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.created_at:%Y-%m-%d %H:%M})"


class NotificationPreference(models.Model):
    """How one kind of notification reaches a person; without a row: only in the CRM."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    delivery = models.CharField(_("delivery"), max_length=10, choices=Delivery.choices, default=Delivery.UI)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        constraints: ClassVar = [models.UniqueConstraint(fields=["user", "kind"], name="notification_preference_once")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.delivery}"


class DigestRun(models.Model):
    """One person's daily digest of one day: its row makes a repeated or concurrent run send nothing."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField(_("day"))
    sent_at = models.DateTimeField(_("sent"), default=timezone.now)
    notifications = models.PositiveIntegerField(_("notifications"), default=0)

    class Meta:
        verbose_name = _("digest run")
        verbose_name_plural = _("digest runs")
        constraints: ClassVar = [models.UniqueConstraint(fields=["user", "day"], name="digest_run_once_a_day")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day}"
