"""``{% lead_quotes lead %}``: the lead page's card of its quotes (crm never imports this app's code)."""

from __future__ import annotations

from typing import Any

from django import template

from crm.quotes.selectors import quotes_of_lead

register = template.Library()


@register.inclusion_tag("quotes/_lead_card.html", takes_context=True)
def lead_quotes(context: template.Context, lead: Any) -> dict[str, Any]:
    membership = context.get("membership")
    return {
        "lead": lead,
        "quotes": quotes_of_lead(membership, lead),
        "can_quote": bool(context.get("can_act")) and not lead.is_closed,
    }
