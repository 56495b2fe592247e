"""``{% unread_notifications as count %}``: the header bell's count, for the active membership."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

from crm.notifications.selectors import unread_count

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notifications(context: dict[str, Any]) -> int:
    request = context.get("request")
    membership = getattr(request, "membership", None)
    return unread_count(membership) if membership else 0


@register.simple_tag
def notification_poll_seconds() -> float:
    """How often the bell asks for the count (``NOTIFICATIONS_POLL_SECONDS``, default 20)."""
    return settings.NOTIFICATIONS_POLL_SECONDS
