"""Reads of a person's notifications and preferences."""

from __future__ import annotations

from crm.notifications.models import Delivery, Kind, Notification, NotificationPreference, NotificationQuerySet
from dealers.scoping import Viewer


def notifications_for(viewer: Viewer | None) -> NotificationQuerySet:
    """The viewer's own notifications at the viewer's dealership, newest first, with what they link to."""
    return Notification.objects.visible_to(viewer).select_related("lead", "task")


def unread_count(viewer: Viewer | None) -> int:
    return Notification.objects.visible_to(viewer).unread().count()


def preferences_of(user_id: int) -> dict[str, str]:
    """``kind -> delivery`` for every kind; a kind without a row is shown only in the CRM."""
    chosen = dict(NotificationPreference.objects.filter(user_id=user_id).values_list("kind", "delivery"))
    return {kind: chosen.get(kind, Delivery.UI) for kind in Kind.values}
