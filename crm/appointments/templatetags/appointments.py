"""``{% lead_appointments lead as appointments %}``: the lead page's appointments, as the viewer may see them."""

from __future__ import annotations

from typing import Any

from django import template

from crm.appointments.selectors import appointments_for

register = template.Library()


@register.simple_tag(takes_context=True)
def lead_appointments(context: dict[str, Any], lead: Any) -> list[Any]:
    membership = getattr(context.get("request"), "membership", None)
    if membership is None or lead is None:
        return []
    return list(appointments_for(membership).filter(lead_id=lead.pk).order_by("-starts_at")[:10])
